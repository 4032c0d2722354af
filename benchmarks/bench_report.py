"""Benchmark: ``reprogrid report`` on the 825 reference runs, against ``reprogrid import`` of
the same runs (the anchor, measured in the same run).

Target (issue 28): the report within 2x of the import. Whole processes, as a user waits for
them; ``--repeat`` (>= 5) interleaved pairs, medians of wall time and of CPU time (user +
system of the child, from ``wait4``; CPU is what load on a shared machine blurs least). The
load average is printed with the figures.

    python benchmarks/bench_report.py [--csv ../shared/reference/coakley2022_runs.csv] [--repeat 5]
                                      [--tree PATH]   # PYTHONPATH of the reprogrid to measure
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]


def timed(argv: List[str], env: Dict[str, str]) -> Tuple[float, float]:
    """(wall s, CPU s) of one child process, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", default=str(REPO.parent / "shared" / "reference" / "coakley2022_runs.csv"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tree", action="append", default=[],
                        help="a reprogrid checkout to measure (its PYTHONPATH); repeat to compare trees in one run "
                             "(default: this checkout)")
    args = parser.parse_args()
    trees = args.tree or [str(REPO)]
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    rows: Dict[Tuple[str, str], List[Tuple[float, float]]] = {}
    try:
        data = work / "data"
        envs = {t: dict(os.environ, PYTHONPATH=t, MPLBACKEND="Agg") for t in trees}
        cli = [sys.executable, "-m", "reprogrid"]
        timed(cli + ["import", "coakley2022", args.csv, "-o", str(data)], envs[trees[0]])  # the report's input
        for t in trees:
            timed(cli + ["report", str(data), "-o", str(work / "warm"), "--quiet"], envs[t])  # warm the caches
        for i in range(args.repeat):
            for t in trees:  # interleaved: anchor and report of every tree in each round
                out = work / f"imp{i}"
                rows.setdefault((t, "import"), []).append(
                    timed(cli + ["import", "coakley2022", args.csv, "-o", str(out)], envs[t]))
                shutil.rmtree(out)
                rows.setdefault((t, "report"), []).append(
                    timed(cli + ["report", str(data), "-o", str(work / f"rep{i}"), "--quiet"], envs[t]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.repeat} interleaved rounds; load average {os.getloadavg()[0]:.1f} (1 min), "
          f"{os.getloadavg()[2]:.1f} (15 min) on {os.cpu_count()} CPUs")
    for t in trees:
        med = {k: (statistics.median(w for w, _ in rows[(t, k)]), statistics.median(c for _, c in rows[(t, k)]))
               for k in ("import", "report")}
        print(f"tree {t}")
        for name, (wall, cpu) in med.items():
            print(f"  {name:8s} median wall {wall:6.2f} s   CPU {cpu:6.2f} s")
        print(f"  report / import: wall {med['report'][0] / med['import'][0]:.2f}x, "
              f"CPU {med['report'][1] / med['import'][1]:.2f}x (target: 2x)")

if __name__ == "__main__":
    main()
