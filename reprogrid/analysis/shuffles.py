"""The permutation test's shuffles, all at once: the shuffled labellings as one matrix, and
each one's best-tree statistic computed for every shuffle together with numpy.

``groups`` owns the test (what is shuffled within what, and the p-value); this module owns
how the shuffles are drawn and scored. A shuffle is drawn exactly as a loop over the
shuffles would draw it (``rng.permutation`` of each stratum's positions, stratum by
stratum, shuffle by shuffle), so a seed gives the same shuffles, the same statistics and so
the same p-values as scoring them one at a time; where the strata are of one size, one
``rng.permuted`` call makes those draws for every shuffle and stratum.

The statistic of a labelling is the smallest decision tree of depth <= ``max_depth`` over
the candidate splits (``groups._TreeSearch``): a dynamic programme over the subsets of
environments the splits can reach, which do not depend on the labelling. The subsets are
laid out once per scope (:class:`ShufflePlan`); the group counts of every subset under every
shuffle are one matrix product, and each depth of the programme is a gather, a segmented
sum (the parts of a split) and a segmented minimum (the splits of a subset).
"""
from __future__ import annotations

from typing import Callable, Dict, List

import numpy as np

#: the parts (subsets, as bitmasks of environments) each candidate splits a subset into
Splits = Callable[[int], List[List[int]]]


def shuffled_labels(code: np.ndarray, strata: np.ndarray, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``permutations`` x n matrix of labellings: ``code`` shuffled within each stratum,
    drawn in the order a shuffle-by-shuffle loop draws them (same seed, same shuffles)."""
    members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    order = np.concatenate(members)
    ends = np.cumsum([len(m) for m in members]).tolist()
    # a stratum of one position shuffles without a draw (Fisher-Yates makes none): left as it is
    spans = [(start, end) for start, end in zip([0] + ends[:-1], ends) if end - start > 1]
    drawn = np.tile(order, (permutations, 1))  # each row: the strata's positions, stratum after stratum
    if spans and len({end - start for start, end in spans}) == 1:
        # strata of one size: each (shuffle, stratum) a row of one matrix, in the loop's order; rng.permuted
        # shuffles its rows one after the other with the draws of rng.shuffle (tests hold it to the loop)
        columns = np.concatenate([np.arange(start, end) for start, end in spans])
        lanes = drawn[:, columns].reshape(permutations * len(spans), spans[0][1] - spans[0][0])
        drawn[:, columns] = rng.permuted(lanes, axis=1).reshape(permutations, len(columns))
    else:
        shuffle = rng.shuffle  # in place on each stratum's slice: the draws of rng.permutation(positions)
        for row in drawn:
            for start, end in spans:
                shuffle(row[start:end])
    index = np.empty_like(drawn)
    index[:, order] = drawn
    return code[index]


class ShufflePlan:
    """The subsets of environments reachable by a tree of depth <= ``max_depth`` from all
    ``n`` environments, per depth, with each subset's splits as positions into the depth
    below; scores many labellings at once."""

    def __init__(self, splits: Splits, n: int, max_depth: int) -> None:
        self.n, self.max_depth = n, max_depth
        full = (1 << n) - 1
        levels: List[List[int]] = [[full]]  # levels[k]: the subsets at depth max_depth - k
        # per depth from the root down: (the subsets that have a split, part positions, split starts, node starts)
        wiring = []
        for _ in range(max_depth):
            below: Dict[int, int] = {}
            has, parts, split_starts, node_starts = [], [], [], []
            for subset in levels[-1]:
                node_splits = splits(subset)
                has.append(bool(node_splits))
                if node_splits:
                    node_starts.append(len(split_starts))
                for split in node_splits:
                    split_starts.append(len(parts))
                    parts += [below.setdefault(part, len(below)) for part in split]
            wiring.append((np.flatnonzero(has), np.array(parts, dtype=np.intp),
                           np.array(split_starts, dtype=np.intp), np.array(node_starts, dtype=np.intp)))
            levels.append(list(below))
        subsets = sorted({s for level in levels for s in level})
        position = {s: i for i, s in enumerate(subsets)}
        self.level_rows = [np.array([position[s] for s in level], dtype=np.intp) for level in levels]
        self.wiring = wiring
        if n < 63:  # the bitmasks fit an int64: every bit of every subset at once
            bits = ((np.array(subsets, dtype=np.int64)[:, None] >> np.arange(n)) & 1).astype(np.float32)
        else:
            bits = np.array([[(s >> i) & 1 for i in range(n)] for s in subsets], dtype=np.float32)
        self.members = bits  # subsets x environments
        self.sizes = bits.sum(axis=1).astype(np.int64)
        # each subset's members, subset after subset (every subset has one), and each member's subset's first
        subset_of, self.member_envs = np.nonzero(bits)
        self.member_starts = np.flatnonzero(np.r_[True, subset_of[1:] != subset_of[:-1]])
        self.first_envs = self.member_envs[self.member_starts][subset_of]

    def _counts(self, labels: np.ndarray) -> np.ndarray:
        """shuffles x subsets x groups: how many environments of each group each subset holds
        (float32, exact)."""
        groups = int(labels.max()) + 1
        onehot = (labels[:, :, None] == np.arange(groups)).astype(np.float32)
        return np.matmul(self.members, onehot)  # small whole numbers: exact in float32

    def _solve(self, leaf: np.ndarray, cap: int) -> np.ndarray:
        """The programme: a subset's value is the smaller of its leaf value and, below the
        maximum depth, its best split's summed parts; ``leaf``: shuffles x subsets."""
        value = leaf[:, self.level_rows[-1]]
        for depth in range(self.max_depth - 1, -1, -1):  # from the level above the leaves up to the root
            has, parts, split_starts, node_starts = self.wiring[depth]
            value_here = leaf[:, self.level_rows[depth]]  # a new array (fancy indexing copies)
            if len(parts):
                sums = np.add.reduceat(value[:, parts], split_starts, axis=1)
                best = np.minimum.reduceat(sums, node_starts, axis=1)
                np.minimum(best, cap, out=best)
                value_here[:, has] = np.minimum(value_here[:, has], best, out=best)
            value = value_here
        return value[:, 0]

    def scores(self, labels: np.ndarray) -> np.ndarray:
        """Per labelling (rows of ``labels``): misplaced environments x (n + 1) + leaves of
        the best tree, as ``_TreeSearch.score`` gives for one."""
        counts = self._counts(labels)
        leaf = (self.sizes[None, :] - counts.max(axis=2).astype(np.int64)) * (self.n + 1) + 1
        return self._solve(leaf, cap=np.iinfo(np.int64).max // 4)

    def pure_leaves(self, labels: np.ndarray, budget: int) -> np.ndarray:
        """Per labelling: the fewest leaves of a pure tree when at most ``budget``, else
        ``budget + 1``."""
        never = self.n + 2  # more leaves than any tree over n environments has
        # a subset is pure when each member has its first member's label (no group counts needed)
        pure = np.logical_and.reduceat(labels[:, self.member_envs] == labels[:, self.first_envs], self.member_starts,
                                       axis=1)
        leaf = np.where(pure, 1, never)
        return np.minimum(self._solve(leaf, cap=never), budget + 1)

