"""Benchmark: ``reprogrid report`` on the 825 reference runs, against ``reprogrid import`` of
the same runs (the anchor, measured in the same run).

Target (issue 28): the report within 2x of the import. Whole processes, as a user waits for
them; ``--repeat`` (>= 5) interleaved pairs, medians of wall time and of CPU time (user +
system of the child, from ``wait4``; CPU is what load on a shared machine blurs least). The
load average is printed with the figures.

    python benchmarks/bench_report.py [--csv ../shared/reference/coakley2022_runs.csv] [--repeat 5]
                                      [--tree PATH]   # PYTHONPATH of the reprogrid to measure
                                      [--keep-env]    # bytecode as the shell has it (see child_env)
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _interleave import run_once  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def timed(argv: List[str], env: Dict[str, str], cwd: Path) -> Tuple[float, float]:
    """(wall s, CPU s) of one child process, which must succeed (``_interleave.run_once``)."""
    wall, cpu, _ = run_once(argv, str(cwd), env)
    return wall, cpu


def child_env(tree: str, work: Path, keep: bool) -> Dict[str, str]:
    """The children's environment: PYTHONPATH = the tree; and, unless ``keep``, bytecode
    cached as an installed package has it (pip compiles it; a checkout writes it on first
    import), in a folder of this run (PYTHONPYCACHEPREFIX: no checkout is written to),
    even where the shell sets PYTHONDONTWRITEBYTECODE. Without it every run compiles every
    reprogrid module it imports from source (about 0.2 s for the report's 55 modules), which
    no user's run does."""
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()), MPLBACKEND="Agg")
    if not keep:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def check_trees(envs: Dict[str, Dict[str, str]], cwd: Path) -> None:
    """Each tree's child imports reprogrid from that tree, and no two trees from the same
    place (else the comparison would measure one checkout twice)."""
    where = {}
    for t, env in envs.items():
        found = subprocess.run([sys.executable, "-P", "-c", "import reprogrid; print(reprogrid.__file__)"], env=env,
                               cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        if not Path(found).resolve().is_relative_to(Path(t).resolve()):
            raise SystemExit(f"tree {t}: the child imports reprogrid from {found}, not from the tree")
        where[t] = found
    if len(set(where.values())) < len(where):
        raise SystemExit(f"two trees import the same reprogrid: {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", default=str(REPO.parent / "shared" / "reference" / "coakley2022_runs.csv"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tree", action="append", default=[],
                        help="a reprogrid checkout to measure (its PYTHONPATH); repeat to compare trees in one run "
                             "(default: this checkout)")
    parser.add_argument("--keep-env", action="store_true",
                        help="run the children in this shell's environment as it is (e.g. PYTHONDONTWRITEBYTECODE=1: "
                             "every run compiles its modules)")
    args = parser.parse_args()
    trees = args.tree or [str(REPO)]
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    rows: Dict[Tuple[str, str], List[Tuple[float, float]]] = {}
    try:
        data = work / "data"
        envs = {t: child_env(t, work, args.keep_env) for t in trees}
        check_trees(envs, work)
        # -P: PYTHONPATH (the tree), not the working folder, decides which reprogrid is imported
        cli = [sys.executable, "-P", "-m", "reprogrid"]
        timed(cli + ["import", "coakley2022", args.csv, "-o", str(data)], envs[trees[0]], work)  # the report's input
        for t in trees:  # warm the caches (file cache; bytecode, see child_env) of both commands
            timed(cli + ["import", "coakley2022", args.csv, "-o", str(work / "warm-import")], envs[t], work)
            shutil.rmtree(work / "warm-import")
            timed(cli + ["report", str(data), "-o", str(work / "warm"), "--quiet"], envs[t], work)
        for i in range(args.repeat):
            for t in trees:  # interleaved: anchor and report of every tree in each round
                out = work / f"imp{i}"
                rows.setdefault((t, "import"), []).append(
                    timed(cli + ["import", "coakley2022", args.csv, "-o", str(out)], envs[t], work))
                shutil.rmtree(out)
                rows.setdefault((t, "report"), []).append(
                    timed(cli + ["report", str(data), "-o", str(work / f"rep{i}"), "--quiet"], envs[t], work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.repeat} interleaved rounds; load average {os.getloadavg()[0]:.1f} (1 min), "
          f"{os.getloadavg()[2]:.1f} (15 min) on {os.cpu_count()} CPUs; bytecode "
          + ("as the shell has it" if args.keep_env else "cached (warm-up run)"))
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
