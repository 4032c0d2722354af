"""A study with the demo's shape (3 workloads, 2 software stacks, 3 emulated machines, 2
repeats), its records written by the job side's own record writer: for report tests that
need a demo-like report without training for minutes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from reprogrid.job.record import write_record
from reprogrid.job.schema import COLUMN_NAMES

WORKLOADS = {"mnist_convnet": 0.9712, "imbalanced_classification": 0.9912, "bidirectional_lstm_imdb": 0.8123}
STACKS = {"dockerhub-2.8.0": ("2.15.1", "2.15.0"), "keras3-tf2.16": ("2.16.1", "3.3.3")}
MACHINES = {"amd-epyc-7302": 64, "amd-epyc-7402": 96, "intel-xeon-gold-6148": 80}
HOST = dict(cpu_vendor="GenuineIntel", cpu_model="Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", microarch="x86_64-v3",
            has_avx512f=False, has_avx2=True, cpu_logical_count=8, machine_name="laptop")


def demo_like_records() -> List[Dict[str, Any]]:
    rows = []
    for w, base in WORKLOADS.items():
        for k, (sw, (tf, keras)) in enumerate(STACKS.items()):
            for j, (hw, cpus) in enumerate(MACHINES.items()):
                ad = {"ReprogridEmulated": True, "DetectedCpus": cpus, "Microarch": "x86_64-v3", "CpuFamily": 23,
                      "CpuModelNumber": 49}
                for r in range(2):
                    nondet = w == "bidirectional_lstm_imdb" and hw == "intel-xeon-gold-6148" and k == 1
                    acc = base + 0.004 * k + 0.0013 * j + (0.002 * r if nondet else 0)
                    rec: Dict[str, Any] = {name: None for name in COLUMN_NAMES}
                    rec.update(HOST)
                    rec.update(workload=w, software_env=sw, hardware_env=hw, repeat=r, seed=1, status="ok",
                               test_accuracy=round(acc, 4), test_loss=round(1 - acc, 4), gpu_count=0,
                               predictions_sha256=f"{w}{sw}{hw}{r if nondet else ''}", sample_data=True,
                               tensorflow_version=tf, keras_version=keras, python_version="3.11.2",
                               intra_op_pool=cpus, inter_op_pool=cpus, study_name="demo",
                               fingerprint_json=json.dumps({"condor": {"machine": ad}}),
                               run_id=f"{w}--{sw}--{hw}--r{r}")
                    rows.append(rec)
    rows[0] = dict(rows[0], status="failed", test_accuracy=None, test_loss=None, error_type="MemoryError",
                   error_message="out of memory")
    return rows


def write_demo_like(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rec in demo_like_records():
        write_record(rec, str(folder), rec["run_id"], fmt="parquet")
    return folder
