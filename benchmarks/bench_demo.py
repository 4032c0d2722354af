"""The demo's cost: first-time provisioning of its software stack, and the demo itself.

    python benchmarks/bench_demo.py [--repeat N] [--skip-provision] [--skip-baseline]

1. ``reprogrid envs build demo`` into a fresh ``$REPROGRID_ENVS`` with pip's cache off
   (a new machine), then again (the cached lookup every later demo pays).
2. ``reprogrid demo --fresh`` with the stack cached, then the same command again
   (resume: nothing is retrained), against the baseline of the same demo with both
   software environments on this interpreter (``--python tf-2.15-keras2=THIS_PYTHON``:
   the shape of the demo before it had a second real stack).

Each step runs as its own process; medians over ``--repeat`` runs; the load average is
printed with each figure because the development machine is shared.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]


def _timed(argv: List[str], env: Dict[str, str]) -> Dict[str, float]:
    load = os.getloadavg()[0]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {"wall_s": round(time.monotonic() - started, 1), "load_before": round(load, 1), "load_after": round(os.getloadavg()[0], 1)}


def _median(rows: List[Dict[str, float]]) -> Dict[str, float]:
    return {"wall_s": statistics.median(r["wall_s"] for r in rows), "runs": len(rows),
            "load": [r["load_before"] for r in rows]}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-provision", action="store_true", help="reuse $REPROGRID_ENVS as it is")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args(argv)
    reprogrid = [sys.executable, "-m", "reprogrid"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    work = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    results: Dict[str, Dict[str, float]] = {}
    if not args.skip_provision:
        first, cached = [], []
        for i in range(args.repeat):
            fresh = dict(env, REPROGRID_ENVS=str(work / f"envs{i}"), PIP_NO_CACHE_DIR="1")
            first.append(_timed(reprogrid + ["envs", "build", "demo", "-q"], fresh))
            cached.append(_timed(reprogrid + ["envs", "build", "demo", "-q"], fresh))
        env["REPROGRID_ENVS"] = str(work / "envs0")
        results["envs build demo, first time (no pip cache)"] = _median(first)
        results["envs build demo, cached"] = _median(cached)
    demo, resume, base = [], [], []
    for i in range(args.repeat):
        out = str(work / f"demo{i}")
        demo.append(_timed(reprogrid + ["demo", "-o", out, "--fresh"], env))
        resume.append(_timed(reprogrid + ["demo", "-o", out], env))
        if not args.skip_baseline:
            base.append(_timed(reprogrid + ["demo", "-o", out + "-base", "--fresh",
                                            "--python", f"tf-2.15-keras2={sys.executable}"], env))
    results["demo, stacks cached"] = _median(demo)
    results["demo again (resume)"] = _median(resume)
    if base:
        results["baseline: demo, both stacks this interpreter"] = _median(base)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
