"""columns.reduce_groups gives what the named ``.agg`` it replaces gives (values, dtypes,
index, column order), for a categorical multi-key group-by with missing values and for an
empty one."""
import numpy as np
import pandas as pd

from reprogrid.analysis.columns import reduce_groups

SPEC = dict(n=("value", "size"), mean=("value", "mean"), low=("value", "min"), n_hash=("hash", "count"),
            distinct=("hash", "nunique"), first=("hash", "first"))


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "workload": pd.Categorical(["a", "a", "b", "b", "b", "c"], categories=["c", "b", "a", "unused"]),
        "env": pd.Categorical(["x", "y", "x", "x", "y", "x"]),
        "value": [0.1, np.nan, 0.3, 0.30000000000000004, 0.5, 0.7],
        "hash": ["h1", None, "h2", "h2", None, "h3"],
    })


def test_reduce_groups_matches_named_agg():
    grouped = _frame().groupby(["workload", "env"], observed=True, sort=True)
    pd.testing.assert_frame_equal(reduce_groups(grouped, **SPEC), grouped.agg(**SPEC), check_exact=True)


def test_reduce_groups_of_nothing_matches_named_agg():
    grouped = _frame().iloc[:0].groupby(["workload", "env"], observed=True, sort=True)
    pd.testing.assert_frame_equal(reduce_groups(grouped, **SPEC), grouped.agg(**SPEC))
