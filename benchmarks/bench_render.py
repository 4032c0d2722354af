"""Benchmark: render a 100,000-run study (DAG + submit files + manifest + bundle).

Baseline, in the same run: ``htcondor.dags.write_dag`` writing a DAG with the same number
of nodes (JOB + VARS + RETRY per node, no submit files, no manifest), once with short
VARS (``r<i>``) and once with the same run ids reprogrid writes. Each measurement runs
in a fresh subprocess, so peak memory (ru_maxrss) is that task's own; medians of --repeat.

    python benchmarks/bench_render.py [--runs 100000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

RENDER = r"""
import sys, time
from reprogrid.render import render_study
from reprogrid.spec import study_from_dict
runs, out = int(sys.argv[1]), sys.argv[2]
software = [{"name": f"sw{i}", "image": f"docker://tensorflow/tensorflow:2.{i}.0"} for i in range(10)]
hardware = [{"name": f"hw{i}", "cpu": {"vendor": "amd", "family": 23, "model_number": i}} for i in range(10)]
repeats = runs // (2 * 10 * 10)
spec = {"name": "bench", "repeats": repeats, "workloads": ["mnist_convnet", "imbalanced_classification"],
        "software": software, "hardware": hardware, "data": {"sample": True},
        "throttles": {"max_jobs_per_hardware": 50}}
t0 = time.perf_counter()
study = study_from_dict(spec)
result = render_study(study, out)
import resource
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

DAGS = r"""
import sys, time, warnings
warnings.simplefilter("ignore")
import htcondor
from htcondor import dags
from pathlib import Path
runs, out, same_vars = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "same"
t0 = time.perf_counter()
dag = dags.DAG()
if same_vars:  # the run ids reprogrid writes, so both DAGs carry the same text
    cells = [f"{w}--sw{s}--hw{h}" for w in ("mnist_convnet", "imbalanced_classification") for s in range(10) for h in range(10)]
    ids = [(f"{c}--r{r}", r) for c in cells for r in range(runs // len(cells))]
else:
    ids = [(f"r{i}", i % 5) for i in range(runs)]
layer = dag.layer(
    name="run", submit_description=htcondor.Submit({"executable": "run_job.sh"}),
    vars=[{"run_id": run_id, "repeat": str(r), "seed": "1"} for run_id, r in ids],
    retries=2,
)
out.mkdir(parents=True, exist_ok=True)
dags.write_dag(dag, out, dag_file_name="study.dag")
import resource
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def measure(code: str, runs: int, *extra: str) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(runs), os.path.join(tmp, "out"), *extra],
            check=True, capture_output=True, text=True, env={**os.environ, "CONDOR_CONFIG": "/dev/null"},
        )
        seconds, peak_mb = map(float, proc.stdout.split()[:2])
        return seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {"reprogrid render": [], "htcondor.dags.write_dag": [], "htcondor.dags, same VARS": []}
    for _ in range(args.repeat):
        # Alternate, so both see the same machine conditions.
        results["reprogrid render"].append(measure(RENDER, args.runs))
        results["htcondor.dags.write_dag"].append(measure(DAGS, args.runs, "short"))
        results["htcondor.dags, same VARS"].append(measure(DAGS, args.runs, "same"))
    print(f"{args.runs} runs, median of {args.repeat} (wall time in the task, peak RSS of the process)")
    base = statistics.median(s for s, _ in results["htcondor.dags.write_dag"])
    for name, samples in results.items():
        wall = statistics.median(s for s, _ in samples)
        peak = statistics.median(m for _, m in samples)
        print(f"  {name:26s} {wall:7.3f} s   ratio {wall / base:5.2f}x   peak RSS {peak:6.0f} MB")
    print(json.dumps({k: [[round(s, 3), round(m)] for s, m in v] for k, v in results.items()}))


if __name__ == "__main__":
    main()
