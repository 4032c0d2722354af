#!/usr/bin/env python3
"""``reprogrid status`` beside the bindings' bare read of the same job event log (issue 28).

A submit tree per size is generated once, deterministically (TZ=UTC, fixed times), with
the project's own event-log writer (``reprogrid.emulator.starter.eventlog``): per run a submit
(with ``DAG Node:``), execute, image-size and terminated event, so N runs = 4N events, and
a manifest naming every run. Then, whole processes, interleaved, ``--repeats`` rounds:

  - anchor: ``htcondor2.JobEventLog(log).events(0)`` iterated to the end (the bare read);
  - status cold: ``reprogrid status DIR`` with no cache (it is removed before each run);
  - status warm: the same with the cache the previous run left, the log unchanged;
  - start-up only: ``reprogrid status --help`` (what every status run pays before reading);

and the same two status runs from ``--base-root`` (another checkout, e.g. the base commit)
on its own copy of the tree. Whole processes include the CLI's start-up (issue 23's part);
``--in-process`` also times the library alone (``study_status``) against the bare read in
one interpreter, CPU seconds, so start-up is out of both. Medians; peak RSS per process.
Byte-code is cached for every process, both trees alike (as for a user; the untimed first
round writes it under a temporary ``PYTHONPYCACHEPREFIX``, whatever
``PYTHONDONTWRITEBYTECODE`` says), so no tree pays for compiling its sources.

    python benchmarks/bench_status.py [--runs 5000 19968 100000] [--repeats 5] [--base-root /tmp/base28]

Targets: cold within 1.5x and warm under 0.5x of the bare read (a few thousand runs);
100,000 runs cold under 2x with bounded memory.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _interleave import interleave, load, table  # noqa: E402

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC: every event time is T0 + a fixed offset
BARE = ("import sys, htcondor2\nn = 0\nfor event in htcondor2.JobEventLog(sys.argv[1]).events(0):\n    n += 1\n"
        "assert n == int(sys.argv[2]), n\n")


def generate(folder: Path, runs: int) -> Path:
    """A submit tree with ``runs`` finished runs (4 events each); reused when already there."""
    from reprogrid import tree
    try:
        from reprogrid.emulator.starter import eventlog
    except ImportError:  # a base checkout from before the emulator became its own package (--base-root)
        from reprogrid.run.emulator import eventlog  # type: ignore[no-redef]

    submit = folder / f"status-{runs}"
    log = submit / tree.LOG_FILE
    if (submit / tree.MANIFEST_FILE).is_file() and log.is_file():
        return submit
    log.parent.mkdir(parents=True, exist_ok=True)
    entries = []
    with open(log, "w") as handle:
        for i in range(runs):
            sw, hw, w = f"sw-{i % 4}", f"hw-{i % 6}", ("mnist", "imdb", "fraud")[i % 3]
            run_id = f"{w}--{sw}--{hw}--r{i}"
            entries.append({"run_id": run_id, "software_env": sw, "hardware_env": hw, "workload": w,
                            "repeat": i, "seed": 1})
            cluster, t = 100 + i, T0 + i // 4
            handle.write(eventlog.submit_event(cluster, 0, run_id, t))
            handle.write(eventlog.execute_event(cluster, 0, f"slot1_{i % 8}@bench", t + 1))
            handle.write(eventlog.image_size_event(cluster, 0, 20480 + i % 1000, t + 2))
            handle.write(eventlog.terminated_event(cluster, 0, 0 if i % 50 else 1, None, 3.0, 1, 2048, 1024, t + 3))
    manifest = {"schema": tree.MANIFEST_SCHEMA, "study": {"name": f"bench-{runs}"}, "runs": entries}
    (submit / tree.MANIFEST_FILE).write_text(json.dumps(manifest))
    return submit


def copy_tree(src: Path, dest: Path) -> Path:
    if not dest.is_dir():
        shutil.copytree(src, dest)
    return dest


def in_process(submit: Path, repeats: int) -> dict:
    """CPU seconds in one interpreter: bare read vs study_status cold and warm (library only)."""
    import htcondor2

    from reprogrid import tree
    try:
        from reprogrid.access import status
    except ImportError:  # a base checkout from before access/ (--base-root)
        from reprogrid.run import status  # type: ignore[no-redef]

    log, cache = submit / tree.LOG_FILE, submit / status.CACHE_NAME
    rows = {"bare read": [], "study_status cold": [], "study_status warm": []}
    for _ in range(repeats):
        t = time.process_time()
        for _event in htcondor2.JobEventLog(str(log)).events(0):
            pass
        rows["bare read"].append(time.process_time() - t)
        cache.unlink(missing_ok=True)
        t = time.process_time()
        status.study_status(submit)
        rows["study_status cold"].append(time.process_time() - t)
        t = time.process_time()
        status.study_status(submit)
        rows["study_status warm"].append(time.process_time() - t)
    import statistics

    return {k: statistics.median(v) for k, v in rows.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[5000, 19968, 100000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", default="/tmp/reprogrid-bench-status")
    parser.add_argument("--base-root", default="", help="another checkout to time beside this one")
    parser.add_argument("--in-process", action="store_true", help="also time the library alone, in one process")
    args = parser.parse_args()
    os.environ["TZ"] = "UTC"
    time.tzset()
    folder = Path(args.dir)
    cache = tempfile.mkdtemp(prefix="bench-status-pyc-")
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env = dict(plain, PYTHONPATH=str(ROOT), TZ="UTC", PYTHONPYCACHEPREFIX=cache)
    base_env = dict(env, PYTHONPATH=args.base_root)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.repeats} interleaved rounds")
    for runs in args.runs:
        submit = generate(folder, runs)
        new_tree = copy_tree(submit, folder / f"status-{runs}-new")
        log = submit / "logs" / "study.log"
        cases = [("bare JobEventLog read (anchor)", [sys.executable, "-c", BARE, str(log), str(4 * runs)]),
                 ("status cold (this tree)", [sys.executable, "-P", "-m", "reprogrid", "status", str(new_tree)]),
                 ("status warm (this tree)", [sys.executable, "-P", "-m", "reprogrid", "status", str(new_tree)])]
        cases.append(("start-up only: reprogrid status --help (this tree)",
                      [sys.executable, "-P", "-m", "reprogrid", "status", "--help"]))
        trees = {"this tree": new_tree}
        if args.base_root:
            trees["base"] = copy_tree(submit, folder / f"status-{runs}-base")
            cases += [("status cold (base)", [sys.executable, "-P", "-m", "reprogrid", "status", str(trees["base"])]),
                      ("status warm (base)", [sys.executable, "-P", "-m", "reprogrid", "status", str(trees["base"])])]

        def before(name: str) -> None:
            for label, where in trees.items():
                if name == f"status cold ({label})":
                    (where / "logs" / ".reprogrid-status.json").unlink(missing_ok=True)

        envs = {name: (base_env if name.endswith("(base)") else env) for name, _ in cases}
        before_load = load()
        for name, argv in cases:  # warm caches and file pages first (one untimed round)
            before(name)
            subprocess.run(argv, env=envs[name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results = interleave(cases, args.repeats, before_each=before, envs=envs, ok=(0, 1))  # 1: some runs failed (2% do)
        print(f"\n### {runs} runs ({4 * runs} events, {log.stat().st_size / 1e6:.1f} MB log); "
              f"load before {before_load}, after {load()}\n")
        print(table(results, cases[0][0]))
        if args.in_process:
            print("\nin one process, CPU s (library only):",
                  json.dumps({k: round(v, 3) for k, v in in_process(new_tree, args.repeats).items()}))
    shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
