"""Benchmark: the analysis (reprogrid.analysis.summarize) of 1,000,000 synthetic runs.

Target: under 30 s. Synthetic study: 3 workloads x 20 software x 50 hardware environments
x ~333 repeats, fingerprints from a small machine table (vendor, AVX-512, logical CPUs),
some nondeterministic cells. Included: the permutation tests of every outcome-group
explanation (per scope and across all environments), the bootstrap intervals, the
variance decomposition, claim stability and the k-curve.
Baseline named in the same run: a plain pandas groupby of min/max per workload (the
least any analysis must do), to show the cost of the full analysis relative to it.

    python benchmarks/bench_analysis.py [--runs 1000000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from reprogrid import analysis
from reprogrid.job.schema import COLUMN_NAMES


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    workloads = np.array(["mnist_convnet", "bidirectional_lstm_imdb", "imbalanced_classification"])
    software = np.array([f"sw-{i}" for i in range(20)])
    vendors = np.array(["AuthenticAMD", "GenuineIntel"])
    hw = pd.DataFrame({
        "hardware_env": [f"hw-{i}" for i in range(50)],
        "cpu_vendor": vendors[np.arange(50) % 2],
        "cpu_model": [f"Model {i // 5}" for i in range(50)],
        "has_avx512f": (np.arange(50) % 4) == 3,
        "cpu_logical_count": np.array([32, 64, 96, 128, 40])[np.arange(50) % 5],
        "gpu_name": [("NVIDIA A100" if i % 10 == 0 else None) for i in range(50)],
    })
    w = rng.integers(0, 3, n)
    s = rng.integers(0, 20, n)
    h = rng.integers(0, 50, n)
    vendor_effect = (h % 2) * 0.01 + ((h % 4) == 3) * 0.005
    nondet = (hw["gpu_name"].notna().to_numpy()[h]) & (s < 5)
    acc = 0.85 + 0.05 * w + 0.001 * s + vendor_effect + np.where(nondet, rng.normal(0, 0.01, n), 0)
    df = pd.DataFrame({name: None for name in ("schema_version",)}, index=range(n))
    df = pd.DataFrame({
        "workload": workloads[w], "software_env": software[s], "hardware_env": hw["hardware_env"].to_numpy()[h],
        "repeat": np.arange(n) // 3000, "seed": 1, "status": np.where(rng.random(n) < 0.001, "failed", "ok"),
        "test_accuracy": acc.round(6), "test_loss": (1 - acc).round(6),
        "predictions_sha256": pd.util.hash_array(np.round(acc, 6)).astype(str),
        "cpu_vendor": hw["cpu_vendor"].to_numpy()[h], "cpu_model": hw["cpu_model"].to_numpy()[h],
        "has_avx512f": hw["has_avx512f"].to_numpy()[h], "gpu_name": hw["gpu_name"].to_numpy()[h],
        "cpu_logical_count": hw["cpu_logical_count"].to_numpy()[h],
        "gpu_count": hw["gpu_name"].notna().to_numpy()[h].astype(int), "sample_data": False,
    })
    for col in COLUMN_NAMES:
        if col not in df.columns:
            df[col] = None
    return df[COLUMN_NAMES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    df = synthetic(args.runs)
    claims = ["accuracy >= 0.85", "imbalanced_classification beats mnist_convnet"]
    base, full = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        df.groupby("workload")["test_accuracy"].agg(["min", "max"])
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        tables = analysis.summarize(df, claims=claims)
        full.append(time.perf_counter() - t)
    print(f"analysis of {args.runs:,} runs ({df.groupby(['software_env', 'hardware_env']).ngroups} environments), "
          f"median of {args.repeat}")
    print(f"{'what':<44}{'median s':>10}{'min s':>10}")
    print(f"{'baseline: pandas groupby min/max':<44}{statistics.median(base):>10.2f}{min(base):>10.2f}")
    print(f"{'reprogrid.analysis.summarize (all tables)':<44}{statistics.median(full):>10.2f}{min(full):>10.2f}")
    expl = tables["group_explanations"]
    print(f"nondeterministic cells found: {len(tables['nondeterministic'])}; "
          f"outcome-group scopes explained: {len(expl)} with {analysis.groups.PERMUTATIONS} permutations each "
          f"({int(expl['identified'].sum()) if len(expl) else 0} identified); target < 30 s: "
          f"{'met' if statistics.median(full) < 30 else 'MISSED'}")


if __name__ == "__main__":
    main()
