"""Outcome groups: environments with identical outcomes, and the fingerprint attributes that separate them.

An *environment* here is what was observed, not what was requested: one workload in one
software environment, requested hardware environment, observed environment (machine,
logical CPUs, thread pools, stack; see ``columns.OBSERVED_KEY``) and seed. A loose pin
that ran on two kinds of machine is two environments, each with its own runs and value,
never their mean.

The explanation of a scope's groups is the smallest decision tree (depth <= 3) over every
fingerprint attribute that varies in the scope: fewest misplaced environments, then
fewest leaves. Ties go to the split attribute with fewer distinct values in the scope,
then to the alphabetically first name; attributes that split the environments exactly
alike are reported as aliases, and attributes that explain the groups exactly as well as the
chosen root (another tree rooted on them is as good) as equivalent: both are reported as a
*confounded set* ("cannot separate cpu_vendor from cpu_logical_count in these data"); an
attribute is named alone only when no other separates the groups as well.

A permutation test says whether the explanation is better than chance, with the
shuffles restricted to the design: an explanation by hardware attributes is tested by
shuffling the group labels within software stacks, one by software attributes within
hardware environments, a mixed one by both (the larger p counts), so that a real effect of
one factor never makes the other's noise significant; p = (1 + number of shuffles explained
at least as well) / (1 + shuffles). The shuffles are drawn and scored all at once
(``shuffles``), with the same draws and statistics as scoring them one by one.
Explanations are "identified" only when the tree is pure and the Benjamini-Hochberg
q-value (over the scopes of the table) is at most ``alpha``: the expected share of false
identifications among the identified is at most ``alpha``, and when nothing is really
explained (shuffled labels) the chance of identifying anything at all is at most ``alpha``.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from reprogrid.analysis.repeats import determinism
from reprogrid.analysis.shuffles import ShufflePlan, shuffled_labels
from reprogrid.analysis.columns import (CELL, ENV_KEYS, FINGERPRINT_ATTRIBUTES, LOCATION_LABELS, LOSS, _ok, prepare,
                                       reduce_groups)

SCOPE = ("workload", "device_class", "software_env")
#: Attributes fixed by the software stack (the container image), not by the machine: the
#: permutation test shuffles them within hardware environments (every other attribute is
#: the machine's, shuffled within software stacks).
SOFTWARE_ATTRIBUTES = frozenset((
    "software_env", "python_version", "tensorflow_version", "tensorflow_compiler", "keras_version", "keras_backend",
    "jax_version", "torch_version", "numpy_version", "cuda_version", "cudnn_version", "env_cuda_version",
    "env_cudnn_version", "nvidia_tensorflow_version", "tf_enable_onednn_opts", "tf_deterministic_ops", "xla_jit",
    "os_name", "container_runtime"))
PERMUTATIONS = 199
ALPHA = 0.05
MAX_DEPTH = 3


def environment_outcomes(df: pd.DataFrame, decimals: Optional[int] = None,
                         det: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """One row per observed environment of each workload: its value, signature and attributes.

    Keys: ``columns.ENV_KEYS``. ``value`` is the primary metric (the mean of the runs only
    for a nondeterministic environment, whose repeats differ; ``value_min``/``value_max``
    show their spread). The signature is the prediction hash where every run recorded one,
    else the metric and loss (rounded to ``decimals`` when given). Nondeterministic
    environments get no signature: they cannot be grouped by outcome.
    """
    df = _ok(prepare(df))
    det = determinism(df) if det is None else det
    env_keys = list(ENV_KEYS)
    attrs = [a for a in FINGERPRINT_ATTRIBUTES if a in df.columns and a not in env_keys]
    grouped = df.groupby(env_keys, observed=True)
    stats = reduce_groups(grouped,
        n=("value", "size"), value=("value", "mean"), value_min=("value", "min"), value_max=("value", "max"),
        loss=(LOSS, "mean"), n_hashes=("predictions_sha256", "count"), hash=("predictions_sha256", "first")).reset_index()
    # each environment's first run gives its attributes: its row found by the group numbers (the order of stats)
    _, first_row = np.unique(grouped.ngroup().to_numpy(), return_index=True)
    kept = (stats["n"] > 0).to_numpy()
    first = df[attrs + ["metric_name", "higher_is_better"]].take(first_row[kept]).reset_index(drop=True)
    stats = stats[kept]
    if stats.empty:
        return stats.assign(deterministic=pd.Series(dtype=bool), signature=pd.Series(dtype=object)).drop(columns=["hash", "n_hashes"])
    bad = det[det["deterministic"].eq(False).fillna(False).astype(bool)][list(CELL)].assign(_bad=True)
    stats = stats.merge(bad, on=list(CELL), how="left")
    val = stats["value"].round(decimals) if decimals is not None else stats["value"]
    loss = stats["loss"].round(decimals) if decimals is not None else stats["loss"]
    signature = np.where(stats["n_hashes"] == stats["n"], "hash:" + stats["hash"].astype(str),
                         "value:" + val.map(repr) + " loss:" + loss.map(repr))
    stats["deterministic"] = ~stats.pop("_bad").fillna(False).astype(bool).to_numpy()
    stats["signature"] = np.where(stats["deterministic"], signature, None)
    out = pd.concat([stats, first], axis=1)  # stats' rows after the merge above: 0..n-1, as first's
    for col in env_keys:
        if col != "seed":
            out[col] = out[col].astype(str)
    return out.drop(columns=["hash", "n_hashes"])


def outcome_groups(df: pd.DataFrame, within: Sequence[str] = SCOPE,
                   decimals: Optional[int] = None, det: Optional[pd.DataFrame] = None,
                   outcomes: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Environments whose outcomes are identical, grouped within each ``within`` scope.

    One row per observed environment with ``group`` (``G1`` = the best value in its scope,
    by the metric's direction; ``nondeterministic`` where the repeats disagreed) and
    ``n_groups`` of its scope. ``outcomes``: ``environment_outcomes`` already computed.
    """
    envs = environment_outcomes(df, decimals, det) if outcomes is None else outcomes
    if envs.empty:
        return envs.assign(group=pd.Series(dtype=str), n_groups=pd.Series(dtype=int))
    within = list(within)
    ok = envs.loc[envs["signature"].notna(), within + ["signature", "value", "higher_is_better"]]  # the columns read
    sig = reduce_groups(ok.groupby(within + ["signature"], observed=True),
                        value=("value", "mean"), hib=("higher_is_better", "first")).reset_index()
    sig["rank_key"] = np.where(sig["hib"].astype(bool), -sig["value"], sig["value"])
    sig = sig.sort_values(within + ["rank_key", "signature"])
    sig["group"] = "G" + (sig.groupby(within, observed=True).cumcount() + 1).astype(str)
    # each environment's group and its scope's number of groups, looked up by key (no merge copying the wide frame)
    group_of = dict(zip(zip(*(sig[c].tolist() for c in within + ["signature"])), sig["group"].tolist()))
    n_groups = sig.groupby(within, observed=True).size()
    count_of = dict(zip(n_groups.index.tolist() if len(within) > 1 else [(k,) for k in n_groups.index.tolist()],
                        n_groups.tolist()))
    scopes = list(zip(*(envs[c].tolist() for c in within)))
    out = envs.assign(
        group=[group_of.get((*scope, signature), "nondeterministic")
               for scope, signature in zip(scopes, envs["signature"].tolist())],
        n_groups=np.array([count_of.get(scope, 0) for scope in scopes], dtype=int))
    return out.sort_values(within + ["group", "hardware_env", "software_env", "observed_env"]).reset_index(drop=True)


EXPLAIN_COLUMNS = ["n_envs", "n_groups", "n_leaves", "attributes", "aliases", "confounded", "root", "rule", "pure",
                   "p_value",
                   "q_value", "identified", "status", "groups", "score", "perm_scores"]


def explain_groups(groups: pd.DataFrame, within: Sequence[str] = SCOPE, *, permutations: int = PERMUTATIONS,
                   alpha: float = ALPHA, seed: int = 0, max_depth: int = MAX_DEPTH) -> pd.DataFrame:
    """For each scope with more than one outcome group: the attributes that separate them, and
    whether chance separates a shuffled labelling as well (see the module docstring).

    Columns: ``n_envs``, ``n_groups``, ``n_leaves`` (leaves of the tree; as many leaves as
    groups is the most economical explanation), ``attributes`` (root first), ``aliases``
    (attribute -> attributes splitting the environments identically), ``confounded`` (list of
    sets of attributes the data cannot tell apart: aliases and equally good roots), ``rule``, ``pure``,
    ``p_value``, ``q_value``, ``identified``, ``status``, ``groups`` (members), and the
    permutation statistics ``score`` / ``perm_scores`` that ``explain_workloads`` combines.
    """
    within = list(within)
    if groups.empty:
        return pd.DataFrame(columns=within + EXPLAIN_COLUMNS)
    ok = groups[groups["group"] != "nondeterministic"].reset_index(drop=True)
    texts = _attribute_texts(ok, within)
    # the columns the scopes read, as text once for the table (each scope takes its positions)
    columns = {c: ok[c].astype(str).tolist() for c in ("group", "software_env", "hardware_env", "observed_env")
               if c in ok.columns}
    grouped = ok[within].groupby(within, observed=True, sort=True)
    number_of = grouped.ngroup().to_numpy()  # each row's scope, numbered in the scopes' (sorted) order
    rows = []
    for number, key in enumerate(grouped.size().index.tolist()):
        key = key if isinstance(key, tuple) else (key,)
        positions = np.flatnonzero(number_of == number).tolist()
        scope = {c: [values[i] for i in positions] for c, values in columns.items()}
        if len(set(scope["group"])) < 2:
            continue
        rng = np.random.default_rng([seed, number])
        rows.append({**dict(zip(within, key)),
                     **_explain_scope(scope, within, permutations, rng, max_depth, (texts, positions))})
    out = pd.DataFrame(rows, columns=within + EXPLAIN_COLUMNS)
    return _decide(out, alpha)


def _decide(out: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Benjamini-Hochberg q-values over the rows, ``identified`` and a one-line ``status``."""
    if out.empty:
        return out
    out["q_value"] = benjamini_hochberg(out["p_value"].to_numpy(dtype=float))
    out["identified"] = out["pure"].astype(bool) & (out["q_value"] <= alpha)
    out["status"] = [
        ("identified" if ident else
         "not identified: no tree of depth <= 3 separates the groups" if not pure else
         f"not identified: chance does as well (p = {p:.3g}, q = {q:.3g} > {alpha:g})")
        for ident, pure, p, q in zip(out["identified"], out["pure"], out["p_value"], out["q_value"])]
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up; controls the false discovery rate, and the
    family-wise error rate when no explanation is real)."""
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty(m)
    out[order] = q
    return out


def _explain_scope(scope: Dict[str, List[str]], within: List[str], permutations: int, rng: np.random.Generator,
                   max_depth: int, texts: Tuple[Dict[str, List[str]], List[int]]) -> Dict[str, Any]:
    """The tree, aliases and permutation test of one scope's environments (``scope``: its
    group, software_env, hardware_env and observed_env as text; ``texts``: the table's
    attribute texts and the scope's rows in it)."""
    labels = scope["group"]
    names = sorted(set(labels), key=_group_order)
    code = np.array([names.index(g) for g in labels])
    cands, aliases = _candidates(*texts)
    search = _TreeSearch(cands, len(labels), max_depth)
    impurity, leaves, node = search.best(code)
    rule = search.text(node, names)
    equivalent = search.equivalent_roots(node, (impurity, leaves))
    n = len(labels)
    score = impurity * (n + 1) + leaves
    used = _tree_attributes(node)
    plan = ShufflePlan(search._splits, n, max_depth)
    tests = [_permutation_test(plan, code, strata, impurity, leaves, score, permutations, rng)
             for strata in _design_strata(scope, used)]
    p_value, perm = max(tests, key=lambda t: t[0])  # a mixed tree must beat chance in both directions
    if "hardware_env" in within:
        label_of = scope["software_env"]
    else:
        label_of = [h if o == h else f"{h} [{o}]" for h, o in zip(scope["hardware_env"], scope["observed_env"])]
    by_group: Dict[str, List[str]] = {}
    for label, group in zip(label_of, labels):
        by_group.setdefault(group, []).append(label)
    members = "; ".join(f"{g}: {', '.join(sorted(by_group[g]))}" for g in names)
    confounded = [[a, *aliases.get(a, [])] for a in used]
    taken = {b for c in confounded for b in c}
    if confounded:  # an equally good root that the tree also uses is separated by it, not confounded
        confounded[0] += [b for r in equivalent if r not in taken for b in [r, *aliases.get(r, [])]
                          if b not in confounded[0]]
    return dict(n_envs=n, n_groups=len(names), n_leaves=leaves, attributes=used,
                aliases="; ".join(f"{a} = {', '.join(aliases[a])}" for a in used if aliases.get(a)),
                confounded=[c for c in confounded if len(c) > 1],
                root=used[0] if used else None, rule=rule, pure=impurity == 0,
                p_value=p_value, groups=members, score=score, perm_scores=perm)


def _design_strata(scope: Mapping[str, List[str]], used: List[str]) -> List[np.ndarray]:
    """The strata the labels are shuffled within, one array per test (module docstring):
    hardware attributes within software stacks, software attributes within hardware.
    ``scope``: the scope's columns as text (strata numbered by first appearance)."""
    hardware = [a for a in used if a not in SOFTWARE_ATTRIBUTES]
    software = [a for a in used if a in SOFTWARE_ATTRIBUTES]
    tests = []
    if hardware or not used:
        tests.append(pd.factorize(np.array(scope["software_env"], dtype=object))[0])
    if software:
        tests.append(pd.factorize(np.array(scope["hardware_env"], dtype=object))[0])
    return tests


def _permutation_test(plan: ShufflePlan, code: np.ndarray, strata: np.ndarray, impurity: int, leaves: int,
                      score: int, permutations: int, rng: np.random.Generator) -> Tuple[float, np.ndarray]:
    """p-value and shuffle scores, the labels shuffled within ``strata`` only (every shuffle
    scored at once: ``shuffles``)."""
    labels = shuffled_labels(code, strata, permutations, rng)
    if impurity == 0:  # a pure tree: is a shuffle separated by a pure tree with as few leaves? (capped at leaves + 1)
        perm = plan.pure_leaves(labels, leaves)
    else:
        perm = plan.scores(labels)
    perm = perm.astype(np.int64)
    return (1 + int((perm <= score).sum())) / (1 + permutations), perm


def _attribute_texts(frame: pd.DataFrame, within: Sequence[str]) -> Dict[str, List[str]]:
    """Each candidate attribute of ``frame`` as text ("?" where missing), in
    ``FINGERPRINT_ATTRIBUTES`` order: converted once for every scope of the table."""
    return {attr: ["?" if missing else str(v) for v, missing in zip(frame[attr].tolist(), frame[attr].isna().tolist())]
            for attr in FINGERPRINT_ATTRIBUTES if attr in frame.columns and attr not in within}


def _candidates(texts: Mapping[str, List[str]],
                rows: Sequence[int]) -> Tuple[List[Tuple[str, List[Tuple[str, int]]]], Dict[str, List[str]]]:
    """Varying attributes as (name, [(value, bitmask of environments)]), one per distinct split,
    in tie-break order (implementation factors before location labels, then fewer distinct
    values, then name); and each kept attribute's aliases. ``texts``: the table's
    ``_attribute_texts``; ``rows``: the scope's positions in it (environment i = rows[i])."""
    by_split: Dict[Tuple[int, ...], List[Tuple[int, str, List[Tuple[str, int]]]]] = {}
    for attr, column in texts.items():
        values = [column[i] for i in rows]
        distinct = sorted(set(values))
        if len(distinct) < 2:
            continue
        first: Dict[str, int] = {}
        canon = tuple(first.setdefault(v, len(first)) for v in values)
        masks = [(v, sum(1 << i for i, x in enumerate(values) if x == v)) for v in distinct]
        by_split.setdefault(canon, []).append((attr in LOCATION_LABELS, len(distinct), attr, masks))
    cands, aliases = [], {}
    for members in by_split.values():
        members.sort(key=lambda m: m[:3])
        label, n, attr, masks = members[0]
        cands.append((label, n, attr, masks))
        aliases[attr] = [m[2] for m in members[1:]]
    cands.sort(key=lambda c: c[:3])
    return [(attr, masks) for _, _, attr, masks in cands], aliases


class _TreeSearch:
    """Exhaustive smallest-tree search over bitmasks of environments (memoised per labelling):
    the observed labelling's tree; its splits lay out ``shuffles.ShufflePlan``."""

    def __init__(self, cands: List[Tuple[str, List[Tuple[str, int]]]], n: int, max_depth: int) -> None:
        self.cands, self.n, self.max_depth = cands, n, max_depth
        self.full = (1 << n) - 1

    def best(self, code: np.ndarray) -> Tuple[int, int, Any]:
        self.groups = [sum(1 << int(i) for i in np.flatnonzero(code == g)) for g in range(int(code.max()) + 1)]
        self.memo: Dict[Tuple[int, int], Tuple[int, int, Any]] = {}
        return self._search(self.full, self.max_depth)

    def _splits(self, subset: int) -> List[List[int]]:
        """The parts each candidate splits ``subset`` into (2+ parts only); the same for every
        labelling, so cached for the whole search."""
        cache = self.__dict__.setdefault("_split_cache", {})
        out = cache.get(subset)
        if out is None:
            out = cache[subset] = [parts for parts in ([subset & m for _, m in masks if subset & m]
                                                       for _, masks in self.cands) if len(parts) >= 2]
        return out

    def equivalent_roots(self, node: Any, best: Tuple[int, int]) -> List[str]:
        """Attributes other than ``node``'s root whose best tree (with them at the root)
        explains the last ``best`` labelling exactly as well: the data cannot tell them apart."""
        if node[0] != "split":
            return []
        out = []
        for attr, masks in self.cands:
            parts = [self.full & m for _, m in masks if self.full & m]
            if attr == node[1] or len(parts) < 2:
                continue
            impurity = leaves = 0
            for sub in parts:
                child = self._search(sub, self.max_depth - 1)
                impurity, leaves = impurity + child[0], leaves + child[1]
            if (impurity, leaves) == best:
                out.append(attr)
        return out

    def text(self, node: Any, names: List[str]) -> str:
        """The tree as ``attr: value -> G1; value -> (attr2: ...)`` (groups of the last ``best``)."""
        if node[0] == "leaf":
            return "+".join(name for name, g in zip(names, self.groups) if node[1] & g)
        return f"{node[1]}: " + "; ".join(
            f"{value} -> {self.text(child, names) if child[0] == 'leaf' else '(' + self.text(child, names) + ')'}"
            for value, child in node[2])

    def _search(self, subset: int, depth: int) -> Tuple[int, int, Any]:
        key = (subset, depth)
        if key in self.memo:
            return self.memo[key]
        counts = [(subset & g).bit_count() for g in self.groups]
        best = (subset.bit_count() - max(counts), 1, ("leaf", subset))
        if best[0] > 0 and depth > 0:
            for attr, masks in self.cands:
                parts = [(v, subset & m) for v, m in masks if subset & m]
                if len(parts) < 2:
                    continue
                impurity = leaves = 0
                children = []
                for value, sub in parts:
                    child = self._search(sub, depth - 1)
                    impurity, leaves = impurity + child[0], leaves + child[1]
                    children.append((value, child[2]))
                    if (impurity, leaves) >= best[:2]:
                        break
                else:
                    best = (impurity, leaves, ("split", attr, children))
        self.memo[key] = best
        return best


def _group_order(label: str) -> Tuple[int, str]:
    return (int(label[1:]), "") if label[1:].isdigit() else (10 ** 6, label)


def _tree_attributes(node: Any) -> List[str]:
    out: List[str] = []
    queue = [node]
    while queue:
        current = queue.pop(0)
        if current[0] == "split":
            if current[1] not in out:
                out.append(current[1])
            queue.extend(child for _, child in current[2])
    return out


def group_factors(explanations: pd.DataFrame) -> pd.DataFrame:
    """How often each attribute separates outcome groups, over all scopes (root and anywhere),
    and in how many of those scopes the explanation was identified (beats chance)."""
    if explanations.empty:
        return pd.DataFrame(columns=["attribute", "as_root", "anywhere", "identified"])
    roots = explanations["root"].dropna().value_counts()
    anywhere = pd.Series([a for attrs in explanations["attributes"] for a in attrs], dtype=object).value_counts()
    ident = explanations[explanations["identified"].astype(bool)] if "identified" in explanations else explanations.iloc[:0]
    identified = pd.Series([a for attrs in ident["attributes"] for a in attrs], dtype=object).value_counts()
    out = pd.DataFrame({"as_root": roots, "anywhere": anywhere, "identified": identified}).fillna(0).astype(int)
    out.index.name = "attribute"
    return out.sort_values(["identified", "as_root", "anywhere"], ascending=False).reset_index()


def explain_workloads(explanations: pd.DataFrame, by: Sequence[str] = ("workload", "device_class"),
                      alpha: float = ALPHA) -> pd.DataFrame:
    """One row per workload (and device class): which attributes explain its outcome groups
    over all its scopes, and one permutation test for them together.

    The combined statistic is the sum of the scopes' scores (misplaced environments, then
    leaves); shuffle b of every scope is summed the same way, so p = (1 + number of
    combined shuffles at least as good) / (1 + shuffles); q-values over the rows.
    """
    by = list(by)
    cols = by + ["n_scopes", "n_envs", "n_groups", "n_leaves", "attributes", "confounded", "pure_scopes", "p_value",
                 "q_value",
                 "identified", "status"]
    if explanations.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for key, part in explanations.groupby(by, observed=True, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        perms = np.vstack(part["perm_scores"].to_list())
        combined = perms.sum(axis=0)
        score = int(part["score"].sum())
        p_value = (1 + int((combined <= score).sum())) / (1 + perms.shape[1])
        sets = _merge_sets(c for sets in part["confounded"] for c in sets)
        label = {a: " | ".join(c) for c in sets for a in c}
        counts = pd.Series([label.get(a, a) for attrs in part["attributes"] for a in attrs], dtype=object)
        counts = counts.value_counts()
        rows.append({**dict(zip(by, key)), "n_scopes": len(part), "n_envs": int(part["n_envs"].sum()),
                     "n_groups": int(part["n_groups"].sum()), "n_leaves": int(part["n_leaves"].sum()),
                     "attributes": [f"{a} ({c}/{len(part)})" for a, c in counts.items()], "confounded": sets,
                     "pure": bool(part["pure"].all()), "pure_scopes": int(part["pure"].sum()), "p_value": p_value})
    out = pd.DataFrame(rows)
    out = _decide(out, alpha)
    return out[cols]


def _merge_sets(sets: Iterable[Sequence[str]]) -> List[List[str]]:
    """Confounded sets merged where they share an attribute (order of first appearance kept)."""
    out: List[List[str]] = []
    for new in sets:
        hit = [c for c in out if set(c) & set(new)]
        merged = [a for c in hit for a in c]
        merged += [a for a in new if a not in merged]
        out = [c for c in out if c not in hit] + [merged]
    return out


def confounded_text(sets: Iterable[Sequence[str]]) -> List[str]:
    """One sentence per confounded set: "cannot separate a from b in these data: perfectly confounded"."""
    return [f"cannot separate {c[0]} from {', '.join(c[1:])} in these data: perfectly confounded"
            for c in sets if len(c) > 1]
