"""``--plan`` matchmaking: 100,000 jobs (50 distinct kinds) against a 50,000-slot inventory.

Baseline, in the same run: a naive negotiator that evaluates every (job, slot) pair with the
same symmetric match, timed on a sample and scaled up to the full size. Run:
    python benchmarks/bench_emulator_plan.py [--jobs 100000] [--kinds 50] [--slots 50000]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from reprogrid.emulator import plan
from reprogrid.condor.matchmaking import symmetric_match
from reprogrid.condor.pool import ads_from_json
from reprogrid.emulator.schedd.jobads import node_job_ads

CPUS = [(23, 49, "x86_64-v3"), (25, 1, "x86_64-v3"), (6, 79, "x86_64-v3"), (6, 63, "x86_64-v3"), (6, 85, "x86_64-v4")]


def machines(n: int):
    ads = []
    for i in range(n):
        fam, model, arch = CPUS[i % len(CPUS)]
        cpus = (8, 16, 32, 64)[(i // len(CPUS)) % 4]
        ads.append({"Name": f"slot1@m{i}", "Machine": f"m{i}", "Arch": "X86_64", "OpSys": "LINUX",
                    "CpuFamily": fam, "CpuModelNumber": model, "Microarch": arch, "Cpus": cpus,
                    "Memory": cpus * 4000, "Disk": 100_000_000, "HasFileTransfer": True, "GPUs": 0,
                    "GLIDEIN_Site": f"site{i % 40}", "ReprogridHardwareEnv": f"fam{fam}-{model}-{cpus}c",
                    "START": True, "Requirements": "/Expr(START)/"})
    return ads_from_json(ads)


def submit_text(kind: int) -> str:
    fam, model, arch = CPUS[kind % len(CPUS)]
    cpus = 1 + kind // len(CPUS)  # 1..10 cpus: with the CPU pins, 50 distinct kinds
    return (f"executable = /bin/true\nrequest_cpus = {cpus}\nrequest_memory = {cpus * 1000}\nrequest_disk = 1000\n"
            f"requirements = (TARGET.CpuFamily == {fam}) && (TARGET.CpuModelNumber == {model})\nqueue\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--kinds", type=int, default=50)
    parser.add_argument("--slots", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-jobs", type=int, default=20)
    parser.add_argument("--sample-slots", type=int, default=2_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    inventory = machines(args.slots)
    t_inventory = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k in range(args.kinds):
            (folder / f"k{k}.sub").write_text(submit_text(k))
        (folder / "big.dag").write_text("".join(f"JOB j{i} k{i % args.kinds}.sub\n" for i in range(args.jobs)))
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = plan(folder / "big.dag", machines=inventory)
            times.append(time.perf_counter() - t0)
        assert len(result.nodes) == args.jobs and result.autoclusters == args.kinds, (result.autoclusters,)
        # naive all-pairs on a sample, same match function
        jobs = [node_job_ads(submit_text(k), iwd=folder)[0] for k in range(args.sample_jobs)]
        sample = inventory[: args.sample_slots]
        t0 = time.perf_counter()
        hits = sum(1 for j in jobs for m in sample if symmetric_match(j, m))
        t_pairs = time.perf_counter() - t0
    per_pair = t_pairs / (len(jobs) * len(sample))
    naive = per_pair * args.jobs * args.slots
    med = statistics.median(times)
    print(f"inventory: {args.slots} slot ads built in {t_inventory:.1f} s (not part of either figure)")
    print(f"{'what':52s} {'wall s':>10s}")
    print(f"{'naive all-pairs (' + str(len(jobs)) + ' x ' + str(len(sample)) + ' sample, scaled up)':52s} {naive:10.0f}")
    print(f"{'reprogrid plan: autoclusters x machine groups (median)':52s} {med:10.2f}")
    print(f"{result.autoclusters} autoclusters x {result.machine_groups} machine groups; "
          f"{per_pair * 1e6:.1f} us per pair; speed-up {naive / med:,.0f}x; runs {', '.join(f'{t:.2f}' for t in times)} s; sample hits {hits}")


if __name__ == "__main__":
    main()
