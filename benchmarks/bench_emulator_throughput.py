"""Emulated DAGMan throughput: N no-op nodes (/bin/true, vanilla universe) with 2 slots.

Baseline: real DAGMan's default submit rate, DAGMAN_MAX_SUBMITS_PER_INTERVAL = 100 jobs per
DAGMAN_USER_LOG_SCAN_INTERVAL = 5 s, i.e. at most 20 nodes/s. Also printed: the emulator's
own CPU time per node (this process only, not the jobs it forks), which other work on the
machine disturbs far less than the wall time. Run:
    python benchmarks/bench_emulator_throughput.py [--nodes 10000] [--repeats 3]
    python benchmarks/bench_emulator_throughput.py --nodes 1000 --repeats 5 --against /tmp/base
``--against`` runs the same benchmark, round by round, from another checkout (e.g. a
``git worktree`` of the base commit; its emulator may still be ``reprogrid.run.emulator``)
and this one, each round in a fresh process, and prints both medians and the load average.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    from reprogrid.emulator import dryrun
except ImportError:  # a checkout from before the emulator became its own package (--against)
    from reprogrid.run.emulator import dryrun  # type: ignore[no-redef]
from reprogrid.condor.pool import ads_from_json

SUBMIT = """universe = vanilla
executable = /bin/true
log = noop.log
request_cpus = 1
request_memory = 16
request_disk = 16
queue
"""
MACHINE = [{"Name": "slot1@bench", "Machine": "bench", "Arch": "X86_64", "OpSys": "LINUX", "Cpus": 2,
            "Memory": 4096, "Disk": 10000000, "HasFileTransfer": True, "Requirements": True}]


CPU: list = []


def run_once(nodes: int, slots: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "noop.sub").write_text(SUBMIT)
        (folder / "noop.dag").write_text("".join(f"JOB n{i} noop.sub\n" for i in range(nodes)))
        t0, c0 = time.perf_counter(), time.process_time()
        result = dryrun(folder / "noop.dag", slots=slots, machines=ads_from_json(MACHINE), progress=False)
        elapsed = time.perf_counter() - t0
        CPU.append((time.process_time() - c0) / nodes)
        assert result.exit_code == 0 and len(result.done) == nodes, result
        return elapsed


def _one_round(tree: Path, nodes: int, slots: int) -> tuple:
    """(nodes/s, emulator CPU ms per node) of one run of this script from the checkout ``tree``."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--nodes", str(nodes), "--slots", str(slots),
                          "--repeats", "1"], cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
                         capture_output=True, text=True, check=True).stdout
    rate = re.search(r"median of 1\)\s+[\d.]+\s+([\d.]+)", out)
    cpu = re.search(r"CPU per node \(median\): ([\d.]+) ms", out)
    return float(rate.group(1)), float(cpu.group(1))


def against(other: Path, nodes: int, slots: int, repeats: int) -> None:
    here = Path(__file__).resolve().parent.parent
    runs: dict = {str(other): [], str(here): []}
    loads = []
    for _ in range(repeats):
        for tree in (other, here):
            loads.append(os.getloadavg()[0])
            runs[str(tree)].append(_one_round(tree, nodes, slots))
    for tree, results in runs.items():
        rates = [r for r, _ in results]
        print(f"{tree}: nodes/s {', '.join(f'{r:.0f}' for r in rates)}; median {statistics.median(rates):.0f} "
              f"({statistics.median(rates) / 20:.1f}x DAGMan's 20/s); emulator CPU per node "
              f"{statistics.median(c for _, c in results):.2f} ms")
    print(f"load average (1 min) during the rounds: {min(loads):.1f}-{max(loads):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout to run interleaved with this one")
    args = parser.parse_args()
    if args.against is not None:
        against(args.against.resolve(), args.nodes, args.slots, args.repeats)
        return
    times = [run_once(args.nodes, args.slots) for _ in range(args.repeats)]
    med = statistics.median(times)
    rate = args.nodes / med
    baseline = 100 / 5
    print(f"{'what':40s} {'wall s':>8s} {'nodes/s':>9s}")
    print(f"{'real DAGMan default (100 submits / 5 s)':40s} {args.nodes / baseline:8.1f} {baseline:9.1f}")
    print(f"{'reprogrid dryrun, ' + str(args.slots) + ' slots (median of ' + str(args.repeats) + ')':40s} {med:8.1f} {rate:9.1f}")
    print(f"speed-up over the DAGMan default: {rate / baseline:.1f}x  (runs: {', '.join(f'{t:.1f}' for t in times)} s)")
    print(f"emulator CPU per node (median): {statistics.median(CPU) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
