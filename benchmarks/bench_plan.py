"""Benchmark: ``reprogrid plan`` over a condor_status -json capture of 50,000 slot ads.

Target: under 10 s. The capture is generated here: 48 kinds of machine (both vendors,
family/model numbers shared between kinds, x86_64-v2..v4, 16..256 logical CPUs, 8 of
them GPU hosts with one or two GPU models) spread over 50,000 partitionable slots, each
slot with its own name, memory and disk (as a real pool's slots differ), 40 sites.
Measured: the whole plan (read the capture, match the study's eligibility jobs against
every slot, group kinds, render and match every candidate pin, choose 8 CPU and 3 GPU
environments). Baseline named in the same run: ``reprogrid pool import``'s work on the
same file (``load_pool`` + ``summarize_pool``), the least any use of a capture costs.

    python benchmarks/bench_plan.py [--slots 50000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

from reprogrid.condor.pool import load_pool
from reprogrid.plan.planner import build_view, plan_hardware
from reprogrid.access.poolcheck import summarize_pool

_FAMILIES = [(23, 49, "x86_64-v3"), (25, 1, "x86_64-v3"), (25, 17, "x86_64-v4"), (6, 85, "x86_64-v4"),
             (6, 79, "x86_64-v3"), (6, 63, "x86_64-v3"), (6, 106, "x86_64-v4"), (6, 45, "x86_64-v2")]
_CPUS = [16, 32, 40, 48, 64, 96, 128, 256]
_GPUS = [("NVIDIA A100-SXM4-40GB", 8.0, 40960), ("NVIDIA A40", 8.6, 45634), ("Tesla V100-PCIE-16GB", 7.0, 16160),
         ("NVIDIA H100 80GB HBM3", 9.0, 81559), ("Tesla T4", 7.5, 15360)]


def _slot(i: int, kind: int, rng: random.Random) -> Dict[str, Any]:
    family, model, march = _FAMILIES[kind % len(_FAMILIES)]
    cpus = _CPUS[(kind // len(_FAMILIES)) % len(_CPUS)]
    host = f"host{i}.site{i % 40}.example"
    ad: Dict[str, Any] = {
        "MyType": "Machine", "Name": f"slot1@{host}", "Machine": host, "SlotType": "Partitionable",
        "PartitionableSlot": True, "Arch": "X86_64", "OpSys": "LINUX", "Cpus": cpus, "TotalCpus": cpus,
        "DetectedCpus": cpus, "Memory": rng.randrange(16_000, 512_000, 1000), "Disk": rng.randrange(10**7, 10**9, 10**6),
        "CpuFamily": family, "CpuModelNumber": model, "Microarch": march, "has_avx2": march != "x86_64-v2",
        "GLIDEIN_Site": f"Site{i % 40}", "HasFileTransfer": True, "HasContainer": True, "HasSingularity": True,
        "HasDockerURL": True, "HasFileTransferPluginMethods": "file,http,https,osdf",
        "START": True, "Requirements": "/Expr(START)/", "MyCurrentTime": 1_700_000_000,
    }
    if march == "x86_64-v4":
        ad["has_avx512f"] = True
    gpus: List[tuple] = []
    if kind >= 40:  # 8 GPU host kinds, two of them with two GPU models
        gpus = [_GPUS[kind % len(_GPUS)]] * 2 + ([_GPUS[(kind + 1) % len(_GPUS)]] if kind % 4 == 0 else [])
    refs = []
    for g, (device, cap, mem) in enumerate(gpus):
        key = f"GPUs_GPU_h{i}g{g}"
        ad[key] = {"Id": f"GPU-h{i}g{g}", "DeviceName": device, "Capability": cap, "GlobalMemoryMb": mem}
        refs.append(key)
    ad["GPUs"] = ad["TotalGPUs"] = len(gpus)
    ad["AvailableGPUs"] = "/Expr({ " + ", ".join(refs) + " })/"
    return ad


def capture(path: Path, slots: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    path.write_text(json.dumps([_slot(i, rng.randrange(48), rng) for i in range(slots)]))


def _time(fn) -> "tuple[float, float]":
    """(wall seconds, CPU seconds of this process): on a shared, loaded machine the CPU
    time is what the code costs; the wall time is what a user waits."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pool.json"
        capture(path, args.slots)
        size = path.stat().st_size / 1e6
        base, full = [], []
        for _ in range(args.repeat):
            base.append(_time(lambda: summarize_pool(load_pool(path))))
            full.append(_time(lambda: plan_hardware(build_view(str(path)), hardware=8, gpu=3)))
        plan = plan_hardware(build_view(str(path)), hardware=8, gpu=3)
    print(f"capture: {args.slots:,} slot ads, {size:.1f} MB; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs")
    for label, runs in (("baseline (pool import: load_pool + summarize_pool)", base),
                        ("plan (8 CPU + 3 GPU environments)", full)):
        wall, cpu = [w for w, _ in runs], [c for _, c in runs]
        print(f"{label:<52} wall median {statistics.median(wall):6.2f} s, CPU median {statistics.median(cpu):6.2f} s "
              f"(wall {', '.join(f'{t:.2f}' for t in wall)})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"chosen: {', '.join(f'{r.name} ({r.slots})' for r in plan.results)}")


if __name__ == "__main__":
    main()
