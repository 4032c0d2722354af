#!/usr/bin/env python3
"""CLI start-up: ``reprogrid --help`` and ``reprogrid validate`` (the demo spec) beside
``python -c "import htcondor"``, measured in the same run.

Each round runs the anchor and every command once, in turn (interleaved, so machine load
hits them alike); the figures are medians over the rounds of each process's own CPU time
(user + system, from ``wait4``) and wall time, and the ratio to the anchor's median. The
load average at the start and end is printed with them. Byte-code caching is on (as for
a user), whatever ``PYTHONDONTWRITEBYTECODE`` says.

    python benchmarks/bench_startup.py [--rounds 7] [--baseline /path/to/other/checkout]

``--baseline`` adds the same two commands run from another checkout (e.g. the code before
a change), interleaved in the same rounds.

Target (issue 28): both commands within 2x of the anchor in CPU time.
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
from typing import Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reprogrid.spec.presets import preset_yaml  # noqa: E402

CLI = "import sys; from reprogrid.cli import main; sys.exit(main())"


def run_once(argv: Sequence[str], env: Dict[str, str]) -> Tuple[float, float]:
    """(CPU seconds, wall seconds) of one process running ``argv`` to its end.

    It runs in the checkout that ``env``'s PYTHONPATH names (``python -c`` puts the current
    folder first on ``sys.path``).
    """
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            cwd=env.get("PYTHONPATH") or None)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (at least 5)")
    parser.add_argument("--baseline", type=Path, help="another checkout whose commands run in the same rounds")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="bench-startup-pyc-")
    # As a user runs it: byte-code cached (the unmeasured first round writes it, under a
    # temporary prefix so no checkout is written to), else every start compiles reprogrid's
    # sources while the anchor, installed with its .pyc, would not.
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    base.update(PYTHONWARNINGS="ignore", PYTHONPYCACHEPREFIX=cache)
    env = dict(base, PYTHONPATH=str(ROOT))
    baseline_env = dict(base, PYTHONPATH=str(args.baseline)) if args.baseline else None
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "demo.yaml"
        spec.write_text(preset_yaml("demo"))
        cases = {
            'python -c "import htcondor"': ([sys.executable, "-c", "import htcondor"], env),
            "reprogrid --help": ([sys.executable, "-c", CLI, "--help"], env),
            "reprogrid validate demo.yaml": ([sys.executable, "-c", CLI, "validate", str(spec)], env),
        }
        if baseline_env:
            cases["baseline: reprogrid --help"] = ([sys.executable, "-c", CLI, "--help"], baseline_env)
            cases["baseline: reprogrid validate"] = ([sys.executable, "-c", CLI, "validate", str(spec)], baseline_env)
        results: Dict[str, List[Tuple[float, float]]] = {name: [] for name in cases}
        load_before = os.getloadavg()[0]
        for argv, case_env in cases.values():  # warm the file and byte-code caches once, unmeasured
            run_once(argv, case_env)
        for _ in range(max(args.rounds, 5)):
            for name, (argv, case_env) in cases.items():
                results[name].append(run_once(argv, case_env))
        load_after = os.getloadavg()[0]
    anchor_cpu = statistics.median(c for c, _ in results['python -c "import htcondor"'])
    anchor_wall = statistics.median(w for _, w in results['python -c "import htcondor"'])
    print(f"{max(args.rounds, 5)} interleaved rounds; load average {load_before:.1f} -> {load_after:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"{'command':34} {'CPU s':>7} {'x anchor':>9} {'wall s':>7} {'x anchor':>9}")
    for name, values in results.items():
        cpu = statistics.median(c for c, _ in values)
        wall = statistics.median(w for _, w in values)
        print(f"{name:34} {cpu:7.3f} {cpu / anchor_cpu:9.2f} {wall:7.3f} {wall / anchor_wall:9.2f}")
    shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
