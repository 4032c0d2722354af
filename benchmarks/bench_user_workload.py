#!/usr/bin/env python3
"""What the job adds around a user's workload, beside the same workload run bare, in the same run.

Baseline: the examples as a user would run them by hand — ``python train.py --epochs 3``
(examples/numpy-command) with the contract's variables set, and a ``python -c`` that
imports examples/jax-entry/train_jax.py and calls ``main`` — each in a fresh process.
Measured: the same workloads through the job bundle (``reprogrid-job.pyz run --kind
command|entry``: reading the description, hashing the shipped files, the contract's
environment and seeding, checking metrics.json, hashing predictions, the fingerprint,
the Parquet record). Medians of several repetitions; overhead = job - bare.

    python benchmarks/bench_user_workload.py [--repeats 5]

Target: overhead under 1 s per run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reprogrid.render.bundle import build_job_bundle  # noqa: E402
from reprogrid.render.study import workload_description  # noqa: E402
from reprogrid.spec import load_study  # noqa: E402


def median_time(argv, cwd, env, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def sandbox(tmp: Path, example: str, pyz: Path) -> Path:
    """A folder laid out like a job's sandbox: the bundle, the workload's files and description."""
    spec = ROOT / "examples" / example / "study.yaml"
    workload = load_study(spec).workloads[0]
    box = tmp / example
    box.mkdir()
    for rel in workload.files:
        shutil.copy(spec.parent / rel, box / rel)
    (box / "reprogrid-workload.json").write_bytes(workload_description(workload))
    shutil.copy(pyz, box / pyz.name)
    return box


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-user-"))
    pyz = build_job_bundle(tmp / "bundle")
    out = tmp / "out"
    out.mkdir()
    env = dict(os.environ, REPROGRID_SEED="1", REPROGRID_DETERMINISM="1", REPROGRID_DATA_DIR=str(tmp),
               REPROGRID_OUTPUT_DIR=str(out), PYTHONHASHSEED="1", TF_CPP_MIN_LOG_LEVEL="2")
    py = sys.executable
    rows = []
    cases = [
        ("numpy-command", "command", [py, "train.py", "--epochs", "3"]),
        ("jax-entry", "entry", [py, "-c", "import train_jax; train_jax.main(seed=1, determinism=True, data_dir='.', output_dir='.')"]),
    ]
    for example, kind, bare_argv in cases:
        box = sandbox(tmp, example, pyz)
        job_argv = [py, pyz.name, "run", "--kind", kind, "--workload", "bench", "--run-id", "bench--r0",
                    "--seed", "1", "--data-dir", ".", "--output-dir", "results"]
        bare, bare_all = median_time(bare_argv, box, env, args.repeats)
        job, job_all = median_time(job_argv, box, env, args.repeats)
        rows.append({"example": example, "kind": kind, "bare_s": round(bare, 3), "job_s": round(job, 3),
                     "overhead_s": round(job - bare, 3), "bare_all": [round(t, 3) for t in bare_all],
                     "job_all": [round(t, 3) for t in job_all]})
    print(json.dumps({"repeats": args.repeats, "python": sys.version.split()[0], "rows": rows}, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
