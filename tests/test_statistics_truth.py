"""Statistics that never over-claim, on synthetic studies of known truth.

Each study's records are written by the job side's own record writer
(``reprogrid.job.record.write_record``), loaded as a dataset the way ``reprogrid report``
loads one, and analysed; the studies with a first-screen claim go through the CLI. Each
test failed before the rules of docs/statistics.md (confounded sets, permutation within the
design, minimum data, emulated only when emulated, exact zeros).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from reprogrid import analysis
from reprogrid.gather.dataset import load_dataset
from reprogrid.job.record import write_record
from reprogrid.job.schema import COLUMN_NAMES

STACKS = {"tf215": dict(tensorflow_version="2.15.1", keras_version="2.15.0", python_version="3.11.2"),
          "tf216": dict(tensorflow_version="2.16.1", keras_version="3.3.3", python_version="3.11.2")}
VENDORS = ("AuthenticAMD", "GenuineIntel")
#: the machine attributes of the null study (noise there)
MACHINE = ("cpu_vendor", "cpu_model", "cpu_logical_count", "cpu_affinity_count", "microarch", "hardware_env")


def record(workload: str, software: str, hardware: str, repeat: int, acc: float, sha: str, **extra: Any) -> Dict[str, Any]:
    rec: Dict[str, Any] = {name: None for name in COLUMN_NAMES}
    rec.update(workload=workload, software_env=software, hardware_env=hardware, repeat=repeat, seed=1, status="ok",
               test_accuracy=acc, test_loss=1 - acc, predictions_sha256=sha, gpu_count=0, sample_data=False,
               run_id=f"{workload}--{software}--{hardware}--r{repeat}", **STACKS.get(software, {}))
    rec.update(extra)
    return rec


def write(records: List[Dict[str, Any]], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rec in records:
        write_record(rec, str(folder), rec["run_id"], fmt="parquet")
    return folder


def report(folder: Path, out: Path) -> str:
    """``reprogrid report`` on the records; returns summary.md."""
    done = subprocess.run([sys.executable, "-m", "reprogrid", "report", str(folder), "-o", str(out), "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return (out / "summary.md").read_text()


def machine(i: int, rng: np.random.Generator) -> Dict[str, Any]:
    """Hardware environment i: attributes drawn at random (none of them matters in the null)."""
    vendor = VENDORS[int(rng.integers(2))]
    return dict(cpu_vendor=vendor, cpu_model=f"{vendor} model {int(rng.integers(3))}",
                cpu_logical_count=int(rng.choice([16, 32, 64, 96])), cpu_affinity_count=int(rng.choice([4, 8])),
                microarch=str(rng.choice(["x86_64-v3", "x86_64-v4"])))


def null_study(seed: int) -> List[Dict[str, Any]]:
    """A real software effect (+2 points on tf216); hardware has none: within a stack each
    environment lands on one of two outcomes at random (exchangeable over the hardware)."""
    rng = np.random.default_rng(seed)
    machines = [machine(i, rng) for i in range(8)]
    rows = []
    for software, base in (("tf215", 0.80), ("tf216", 0.82)):
        for i, m in enumerate(machines):
            flip = int(rng.integers(2))
            acc = base + 0.01 * flip
            rows += [record("w", software, f"hw{i}", r, acc, f"{software}{flip}", **m) for r in range(2)]
    return rows


def test_a_real_software_effect_never_makes_hardware_noise_identified(tmp_path):
    """False positives over 20 null data sets at or under the stated level (alpha = 0.05;
    49 shuffles per test). Shuffling over all environments identified hardware noise in 6."""
    alpha, seeds, false = 0.05, range(20), []
    within = ("workload", "device_class")
    for seed in seeds:
        df = load_dataset(write(null_study(seed), tmp_path / f"s{seed}"))
        groups = analysis.outcome_groups(df, within=within)
        across = analysis.explain_groups(groups, within=within, permutations=49, alpha=alpha, seed=seed)
        hardware = [a for attrs in across.loc[across["identified"].astype(bool), "attributes"] for a in attrs
                    if a in MACHINE]
        if hardware:
            false.append((seed, hardware))
    assert len(false) <= alpha * len(seeds), false


def confounded_study() -> List[Dict[str, Any]]:
    """Logical CPUs planted as the cause, perfectly confounded with the vendor (AMD = 64, Intel = 80)."""
    rows = []
    for i in range(8):
        amd = i % 2 == 0
        m = dict(cpu_vendor=VENDORS[0 if amd else 1], cpu_model=f"model {i}", cpu_logical_count=64 if amd else 80,
                 microarch="x86_64-v3")
        rows += [record("w", "tf215", f"hw{i}", r, 0.9 if amd else 0.8, "a" if amd else "b", **m) for r in range(2)]
    return rows


def test_confounded_attributes_are_reported_as_a_set_everywhere(tmp_path):
    folder = write(confounded_study(), tmp_path / "runs")
    tables = analysis.summarize(load_dataset(folder), permutations=99)
    expl = tables["group_explanations"].iloc[0]
    assert {"cpu_vendor", "cpu_logical_count"} <= set(expl["confounded"][0])
    factors = tables["factors"].set_index("factor")
    assert "logical CPUs / thread pool" in factors.loc["CPU vendor", "confounded_with"]
    summary = report(folder, tmp_path / "rep")
    assert "cannot separate cpu_logical_count from cpu_vendor in these data: perfectly confounded" in summary \
        or "cannot separate cpu_vendor from cpu_logical_count in these data: perfectly confounded" in summary
    page = (tmp_path / "rep" / "report.html").read_text()
    first = page[: page.index("<h2")]
    assert "cannot separate" in first  # on the first screen


def test_a_planted_separable_factor_is_named_alone(tmp_path):
    """The vendor is planted, crossed with the core counts: the data separate it."""
    rows = []
    for i in range(12):
        amd = i < 6
        m = dict(cpu_vendor=VENDORS[0 if amd else 1], cpu_model=f"model {i}", cpu_logical_count=[32, 64][i % 2])
        rows += [record("w", "tf215", f"hw{i}", r, 0.9 if amd else 0.8, "a" if amd else "b", **m) for r in range(2)]
    tables = analysis.summarize(load_dataset(write(rows, tmp_path / "runs")), permutations=99)
    expl = tables["group_explanations"].iloc[0]
    assert expl["attributes"] == ["cpu_vendor"] and expl["confounded"] == [] and expl["identified"]


def test_one_run_per_environment_is_not_enough_data(tmp_path):
    rows = [record("w", "tf215", f"hw{i}", 0, acc, f"h{i}", cpu_vendor=VENDORS[i], cpu_model=f"model {i}",
                   cpu_logical_count=[16, 32][i], microarch=["x86_64-v3", "x86_64-v4"][i])
            for i, acc in enumerate((0.80, 0.81))]
    folder = write(rows, tmp_path / "runs")
    tables = analysis.summarize(load_dataset(folder), permutations=99)
    assert set(tables["determinism"]["level"]) == {"unknown (1 run)"}
    s = tables["survival"].iloc[0]
    assert np.isnan(s["run_std"]) and s["repeated_envs"] == 0  # not a run-to-run std of 0
    v = tables["verdicts"].iloc[0]
    assert v["verdict"] == "not enough data" and v["outcomes_reproducible"] is None
    assert not tables["factors"]["moved_it"].any()  # every level is one environment
    summary = report(folder, tmp_path / "rep")
    assert "not enough data" in summary and "Moved by" not in summary and "outcomes yes" not in summary


def test_a_loose_pin_on_real_machines_is_not_emulated(tmp_path):
    epyc = dict(cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC 7302 16-Core Processor", cpu_logical_count=64)
    milan = dict(cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC 7713 64-Core Processor", cpu_logical_count=128)
    rows = []
    for hw, m in (("amd-epyc-7302", epyc), ("amd-epyc-7713", milan)):
        rows += [record("w", "tf215", hw, r, 0.9, "x", **m) for r in range(2)]
    rows += [record("w", "tf215", "amd-any", r, 0.9, "x", **(epyc if r < 2 else milan)) for r in range(4)]
    folder = write(rows, tmp_path / "runs")
    assert analysis.provenance(load_dataset(folder))["emulated_hardware_envs"] == []
    summary = report(folder, tmp_path / "rep")
    assert "EMULATED" not in summary


def test_float_residue_is_an_exact_zero_and_not_what_moved_it(tmp_path):
    """Two stacks whose accuracies differ by floating-point residue only."""
    rows = []
    for i in range(4):
        m = dict(cpu_vendor=VENDORS[i % 2], cpu_model=f"model {i}", cpu_logical_count=32)
        for software, acc in (("tf215", 0.1 + 0.2), ("tf216", 0.3)):
            rows += [record("w", software, f"hw{i}", r, acc if i else acc + 0.01, f"{i}{software}", **m)
                     for r in range(2)]
    tables = analysis.summarize(load_dataset(write(rows, tmp_path / "runs")), permutations=99)
    stack = tables["factors"].set_index("factor").loc["software stack"]
    assert stack["eta_sq"] == 0.0 and not stack["moved_it"]
