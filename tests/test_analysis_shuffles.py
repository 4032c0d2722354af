"""The permutation tests score every shuffle at once (``analysis.shuffles``); these tests hold
them to the straightforward implementation kept here: one shuffle at a time
(``rng.permutation`` of each stratum's positions), each scored by a plain recursive
smallest-tree search. Same seed -> the same shuffle statistics and the same p-values."""
from __future__ import annotations

from functools import lru_cache
from typing import List, Tuple

import numpy as np
import pandas as pd
import pytest

from reprogrid import analysis
from reprogrid.analysis import groups as G
from reprogrid.analysis.shuffles import ShufflePlan, shuffled_labels
from test_analysis import frame, row

def straightforward_statistic(cands, n: int, code: np.ndarray, max_depth: int, pure_budget=None) -> int:
    """One labelling's statistic by plain recursion over the candidate splits: the best
    tree's misplaced x (n + 1) + leaves, or (``pure_budget``) the fewest leaves of a pure
    tree, capped at budget + 1."""
    groups = [sum(1 << int(i) for i in np.flatnonzero(code == g)) for g in range(int(code.max()) + 1)]

    def parts_of(subset: int) -> List[List[int]]:
        out = [[subset & m for _, m in masks if subset & m] for _, masks in cands]
        return [p for p in out if len(p) >= 2]

    @lru_cache(maxsize=None)
    def best(subset: int, depth: int) -> Tuple[int, int]:
        counts = [(subset & g).bit_count() for g in groups]
        found = (subset.bit_count() - max(counts), 1)
        if depth:
            for parts in parts_of(subset):
                kids = [best(p, depth - 1) for p in parts]
                found = min(found, (sum(k[0] for k in kids), sum(k[1] for k in kids)))
        return found

    @lru_cache(maxsize=None)
    def pure(subset: int, depth: int) -> float:
        if sum(1 for g in groups if subset & g) == 1:
            return 1
        if depth == 0:
            return float("inf")
        return min((sum(pure(p, depth - 1) for p in parts) for parts in parts_of(subset)), default=float("inf"))

    full = (1 << n) - 1
    if pure_budget is not None:
        return int(min(pure(full, max_depth), pure_budget + 1))
    impurity, leaves = best(full, max_depth)
    return impurity * (n + 1) + leaves


def straightforward_test(part: pd.DataFrame, within, permutations: int, rng: np.random.Generator):
    """A scope's p-value and shuffle statistics, one shuffle at a time."""
    labels = part["group"].astype(str).tolist()
    names = sorted(set(labels), key=G._group_order)
    code = np.array([names.index(g) for g in labels])
    cands, _ = G._candidates(G._attribute_texts(part, list(within)), range(len(part)))
    n = len(labels)
    impurity, leaves, node = G._TreeSearch(cands, n, G.MAX_DEPTH).best(code)
    used = G._tree_attributes(node)
    score = impurity * (n + 1) + leaves
    tests = []
    for strata in G._design_strata({c: part[c].astype(str).tolist() for c in ("software_env", "hardware_env")},
                                   used):
        members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
        perm = []
        for _ in range(permutations):
            shuffled = code.copy()
            for idx in members:
                shuffled[idx] = code[rng.permutation(idx)]
            perm.append(straightforward_statistic(cands, n, shuffled, G.MAX_DEPTH, leaves if impurity == 0 else None))
        perm = np.array(perm, dtype=np.int64)
        tests.append(((1 + int((perm <= score).sum())) / (1 + permutations), perm))
    return max(tests, key=lambda t: t[0])


def assert_same_as_straightforward(groups: pd.DataFrame, within, permutations: int, seed: int = 0) -> int:
    """explain_groups against the straightforward test on every scope; returns the scopes checked."""
    fast = G.explain_groups(groups, within, permutations=permutations, seed=seed)
    ok = groups[groups["group"] != "nondeterministic"]
    checked = 0
    for number, (key, part) in enumerate(ok.groupby(list(within), observed=True, sort=True)):
        if part["group"].nunique() < 2:
            continue
        key = key if isinstance(key, tuple) else (key,)
        got = fast[np.logical_and.reduce([fast[c] == k for c, k in zip(within, key)])].iloc[0]
        p_value, perm = straightforward_test(part, within, permutations, np.random.default_rng([seed, number]))
        assert got["p_value"] == p_value, key
        assert np.array_equal(got["perm_scores"], perm), key
        checked += 1
    return checked


def _mixed_study(seed: int) -> pd.DataFrame:
    """Random outcomes over 3 stacks x 5 machines, some shared by machine, some by stack, some noise."""
    rng = np.random.default_rng(seed)
    machines = ["amd-a", "amd-b", "intel-v3", "intel-v4", "gpu"]
    rows = []
    for w, mode in (("by-machine", 0), ("by-stack", 1), ("noise", 2), ("few", 3)):
        for s, sw in enumerate(("sw1", "sw2", "sw3")):
            for h, hw in enumerate(machines):
                value = {0: 0.8 + 0.01 * (h % 3), 1: 0.7 + 0.01 * s, 2: 0.6 + 0.01 * int(rng.integers(0, 4)),
                         3: 0.5 + 0.01 * int(rng.integers(0, 2))}[mode]
                rows.append(row(w, sw, hw, 0, value, sha=f"{w}{value}",
                                tensorflow_version=f"2.{8 + s}.0", keras_version=f"2.{8 + s % 2}.0"))
    return frame(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_shuffle_at_once_gives_the_p_values_of_one_at_a_time(seed):
    df = _mixed_study(seed)
    checked = assert_same_as_straightforward(analysis.outcome_groups(df), G.SCOPE, permutations=49, seed=seed)
    groups_all = analysis.outcome_groups(df, within=("workload", "device_class"))
    checked += assert_same_as_straightforward(groups_all, ("workload", "device_class"), permutations=49, seed=seed)
    assert checked >= 6  # pure and impure trees, within stacks and across them


def test_the_reference_study_gets_the_p_values_of_one_shuffle_at_a_time(reference_csv, tmp_path):
    from reprogrid.cli import main
    from reprogrid.gather.dataset import load_dataset

    assert main(["import", "coakley2022", str(reference_csv), "-o", str(tmp_path / "data")]) == 0
    df = analysis.prepare(load_dataset(tmp_path / "data"))
    det = analysis.determinism(df)
    groups_all = analysis.outcome_groups(df, within=("workload", "device_class"), det=det)
    assert assert_same_as_straightforward(groups_all, ("workload", "device_class"), permutations=39) == 6
    assert assert_same_as_straightforward(analysis.outcome_groups(df, det=det), G.SCOPE, permutations=39) >= 20


def test_the_plan_scores_a_labelling_like_the_search_of_one():
    rng = np.random.default_rng(7)
    n = 9
    cands = []
    for a in range(4):  # random attributes with 2-3 values
        values = rng.integers(0, 2 + a % 2, n)
        cands.append((f"a{a}", [(str(v), sum(1 << i for i in range(n) if values[i] == v)) for v in sorted(set(values))]))
    cands = [(name, masks) for name, masks in cands if len(masks) > 1]
    search = G._TreeSearch(cands, n, G.MAX_DEPTH)
    plan = ShufflePlan(search._splits, n, G.MAX_DEPTH)
    code = rng.integers(0, 3, n)
    code[:3] = [0, 1, 2]
    labels = shuffled_labels(code, np.zeros(n, dtype=int), 30, rng)
    want = [straightforward_statistic(cands, n, lab, G.MAX_DEPTH) for lab in labels]
    assert plan.scores(labels).tolist() == want
    for budget in (1, 3, 6):
        want = [straightforward_statistic(cands, n, lab, G.MAX_DEPTH, budget) for lab in labels]
        assert plan.pure_leaves(labels, budget).tolist() == want


@pytest.mark.parametrize("n", [10, 62, 63, 70])
def test_the_plan_lays_out_subsets_of_any_number_of_environments(n):
    """Subsets are bitmasks: laid out with int64 arithmetic below 63 environments, bit by bit
    above; either way a pure split into halves scores 2 leaves, a mixed labelling more."""
    full, half = (1 << n) - 1, (1 << (n // 2)) - 1
    plan = ShufflePlan(lambda subset: [[half, full ^ half]] if subset == full else [], n, 2)
    expected = [[(s >> i) & 1 for i in range(n)] for s in sorted({half, full ^ half, full})]
    assert plan.members.tolist() == expected
    split = (np.arange(n) >= n // 2).astype(int)
    mixed = np.arange(n) % 2
    assert plan.pure_leaves(np.stack([split, mixed]), 5).tolist() == [2, 6]


@pytest.mark.parametrize("sizes", [[10], [4, 4, 4], [1, 3, 3, 1], [2, 3, 3], [1, 4, 5, 5], [1, 1]])
def test_shuffles_are_drawn_as_a_loop_draws_them(sizes):
    """Strata of one size (one rng.permuted call) or of several (a shuffle per stratum and
    row): the labellings of the loop over shuffles and strata, and the generator left where
    the loop leaves it."""
    strata = np.repeat(np.arange(len(sizes)), sizes)[::-1].copy()  # strata not in position order
    code = np.arange(len(strata)) % 3
    fast_rng, slow_rng = np.random.default_rng([5, len(sizes)]), np.random.default_rng([5, len(sizes)])
    fast = shuffled_labels(code, strata, 23, fast_rng)
    members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    slow = np.tile(code, (23, 1))
    for row in slow:
        for idx in members:
            row[idx] = code[slow_rng.permutation(idx)]
    assert np.array_equal(fast, slow)
    assert fast_rng.integers(1 << 60) == slow_rng.integers(1 << 60)
