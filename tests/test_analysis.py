"""Analysis on small hand-built result tables: each case has one known right answer."""
from __future__ import annotations

from typing import Any, Dict, List

import pandas as pd
import pytest

from reprogrid import analysis
from reprogrid.core.errors import UserError
from reprogrid.job.schema import COLUMN_NAMES

MACHINES = {
    "amd-a": dict(cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC 7302 16-Core Processor", has_avx512f=False, microarch="x86_64-v3"),
    "amd-b": dict(cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC 7713 64-Core Processor", has_avx512f=False, microarch="x86_64-v3"),
    "intel-v3": dict(cpu_vendor="GenuineIntel", cpu_model="Intel(R) Xeon(R) CPU E5-2650 v3 @ 2.30GHz", has_avx512f=False, microarch="x86_64-v3"),
    "intel-v4": dict(cpu_vendor="GenuineIntel", cpu_model="Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", has_avx512f=True, microarch="x86_64-v4"),
    "gpu": dict(cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC 7413 24-Core Processor", has_avx512f=False, microarch="x86_64-v3",
                gpu_count=1, gpu_name="NVIDIA A40"),
}


def row(workload: str, software: str, hardware: str, repeat: int, acc: float, loss: float = 0.3,
        sha: Any = None, **extra: Any) -> Dict[str, Any]:
    record = {name: None for name in COLUMN_NAMES}
    record.update(workload=workload, software_env=software, hardware_env=hardware, repeat=repeat, seed=1,
                  status="ok", test_accuracy=acc, test_loss=loss, predictions_sha256=sha, gpu_count=0,
                  run_id=f"{workload}--{software}--{hardware}--r{repeat}", sample_data=True)
    record.update(MACHINES.get(hardware, {}))
    record.update(extra)
    return record


def frame(rows: List[Dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMN_NAMES)


def study() -> pd.DataFrame:
    """LSTM-like outcomes: AMD agree, Intel splits by AVX-512; the GPU is nondeterministic on sw1."""
    acc = {"amd-a": 0.80, "amd-b": 0.80, "intel-v3": 0.82, "intel-v4": 0.85}
    rows = []
    for sw in ("sw1", "sw2"):
        for hw, a in acc.items():
            for r in range(3):
                a_sw = a + (0.01 if sw == "sw2" else 0)
                rows.append(row("lstm", sw, hw, r, a_sw, sha=f"{sw}{a}"))  # same outcome, same hash
                rows.append(row("mnist", sw, hw, r, 0.99, sha=f"m{sw}"))
        for r in range(3):
            gpu_acc = 0.70 + 0.01 * r if sw == "sw1" else 0.75
            rows.append(row("lstm", sw, "gpu", r, gpu_acc, sha=f"g{sw}{r if sw == 'sw1' else 0}"))
            rows.append(row("mnist", sw, "gpu", r, 0.99, sha=f"mg{sw}"))
    rows.append(row("mnist", "sw1", "amd-a", 9, None, status="failed", error_type="OOM"))
    return frame(rows)


def test_metric_stats_ranges_in_percentage_points_and_by_device():
    df = study()
    stats = analysis.metric_stats(df).set_index(["workload", "metric"])
    assert stats.loc[("lstm", "test_accuracy"), "range_pp"] == pytest.approx(16.0)  # 0.70 .. 0.86
    assert stats.loc[("lstm", "test_accuracy"), "n"] == 30  # failed runs are left out
    assert stats.loc[("mnist", "test_accuracy"), "range_pp"] == pytest.approx(0.0)
    assert pd.isna(stats.loc[("lstm", "test_loss"), "range_pp"])
    assert ("lstm", "fraud_tp") not in stats.index  # never recorded: no row
    by_dev = analysis.metric_stats(df, by=("device_class",)).set_index(["workload", "device_class", "metric"])
    assert by_dev.loc[("lstm", "cpu", "test_accuracy"), "min"] == pytest.approx(0.80)
    assert by_dev.loc[("lstm", "gpu", "test_accuracy"), "max"] == pytest.approx(0.75)


def test_determinism_levels_use_hashes_and_fall_back_to_metrics():
    rows = [row("w", "s", "amd-a", r, 0.9, sha="same") for r in range(2)]                      # bitwise
    rows += [row("w", "s", "amd-b", r, 0.9, sha=None) for r in range(2)]                       # equal metrics
    rows += [row("w", "s", "intel-v3", r, 0.9, sha=f"h{r}") for r in range(2)]                 # accuracy only
    rows += [row("w", "s", "intel-v4", r, 0.9 + r / 100, sha=f"h{r}") for r in range(2)]       # different
    rows += [row("w", "s", "gpu", 0, 0.9, sha="x")]                                            # single run
    det = analysis.determinism(frame(rows)).set_index("hardware_env")
    assert det.loc["amd-a", "level"] == analysis.LEVEL_BITWISE
    assert det.loc["amd-b", "level"] == analysis.LEVEL_METRICS and det.loc["amd-b", "evidence"].startswith("metrics")
    assert det.loc["intel-v3", "level"] == analysis.LEVEL_ACCURACY
    assert det.loc["intel-v4", "level"] == analysis.LEVEL_DIFFERENT
    assert det.loc["gpu", "level"] == analysis.LEVEL_SINGLE and pd.isna(det.loc["gpu", "deterministic"])
    bad = analysis.nondeterministic_cells(analysis.determinism(frame(rows)))
    assert sorted(bad["hardware_env"]) == ["intel-v3", "intel-v4"]


def test_outcome_groups_are_explained_by_vendor_then_avx512():
    groups = analysis.outcome_groups(study())
    lstm = groups[(groups["workload"] == "lstm") & (groups["software_env"] == "sw1") & (groups["device_class"] == "cpu")]
    by_hw = dict(zip(lstm["hardware_env"], lstm["group"]))
    assert by_hw["amd-a"] == by_hw["amd-b"] and len({by_hw["amd-a"], by_hw["intel-v3"], by_hw["intel-v4"]}) == 3
    assert by_hw["intel-v4"] == "G1"  # G1 is the highest accuracy
    gpu = groups[(groups["workload"] == "lstm") & (groups["device_class"] == "gpu")].set_index("software_env")
    assert gpu.loc["sw1", "group"] == "nondeterministic" and gpu.loc["sw2", "group"] == "G1"
    expl = analysis.explain_groups(groups)
    e = expl[(expl["workload"] == "lstm") & (expl["software_env"] == "sw1") & (expl["device_class"] == "cpu")].iloc[0]
    assert e["attributes"] == ["cpu_vendor", "has_avx512f"] and e["pure"] and e["n_groups"] == 3
    assert "AuthenticAMD -> G" in e["rule"]
    assert expl[expl["workload"] == "mnist"].empty  # one outcome everywhere: nothing to explain
    factors = analysis.group_factors(expl).set_index("attribute")
    assert factors.loc["cpu_vendor", "as_root"] >= 2


def test_claims_share_of_environments_and_parse_errors():
    df = study()
    table = analysis.evaluate_claims(df, [
        "accuracy >= 0.80", "lstm: test_accuracy > 0.81", "mnist beats lstm", "lstm beats mnist on loss"]).set_index("claim")
    # lstm on sw1|gpu averages 0.71: fails; mnist everywhere 0.99
    assert table.loc["accuracy >= 0.80", "n_envs"] == 20 and table.loc["accuracy >= 0.80", "n_support"] == 18
    assert table.loc["lstm: test_accuracy > 0.81", "share"] == pytest.approx(4 / 10)  # intel-v3, intel-v4 on both
    assert table.loc["mnist beats lstm", "holds_everywhere"]
    assert table.loc["lstm beats mnist on loss", "n_support"] == 0  # equal loss: lower is better, never strictly
    assert "sw1 | gpu" in table.loc["lstm: test_accuracy > 0.81", "failing"]
    with pytest.raises(UserError, match=r"claim\[0\].*unknown workload 'nope'"):
        analysis.evaluate_claims(df, ["nope: accuracy > 0.5"])
    with pytest.raises(UserError, match="cannot read"):
        analysis.evaluate_claims(df, ["accuracy is great"])
    with pytest.raises(UserError, match="unknown metric"):
        analysis.evaluate_claims(df, ["f1 > 0.5"])


def test_verdicts_follow_the_stated_criteria_and_tolerances():
    df = study()
    v = analysis.verdicts(df).set_index("workload")
    assert v.loc["mnist", "outcomes_reproducible"] == False  # noqa: E712 - same accuracy, different hashes
    assert v.loc["mnist", "analysis_reproducible"] and not v.loc["lstm", "analysis_reproducible"]
    assert v.loc["lstm", "nondeterministic_cells"] == 1
    loose = analysis.verdicts(df, tolerances=analysis.Tolerances(analysis=0.2)).set_index("workload")
    assert loose.loc["lstm", "analysis_reproducible"]
    assert analysis.verdicts(df).set_index("workload").loc["lstm", "interpretation_reproducible"] is None  # no claims
    with_claim = analysis.verdicts(df, ["lstm: accuracy > 0.6"]).set_index("workload")
    assert with_claim.loc["lstm", "interpretation_reproducible"]
    assert "1 of 1 claim" in with_claim.loc["lstm", "interpretation_basis"]
    split = analysis.verdicts(df, ["lstm: accuracy > 0.81"]).set_index("workload")  # holds on Intel only
    assert split.loc["lstm", "interpretation_reproducible"] == False  # noqa: E712
    same = frame([row("w", "s", h, r, 0.9, sha="one") for h in ("amd-a", "amd-b", "intel-v4") for r in range(2)])
    assert analysis.verdicts(same).iloc[0]["outcomes_reproducible"]
    two = frame([row("w", "s", h, r, 0.9, sha="one") for h in ("amd-a", "intel-v4") for r in range(2)])
    assert analysis.verdicts(two).iloc[0]["verdict"] == "not enough data"  # the minimum-data rule
    assert "within 0 of one another" in analysis.Tolerances().criteria()["outcomes reproducible"]


def test_hardware_check_and_provenance_flag_emulated_environments():
    # a dry run: the requested environments all observed this laptop's CPU
    local = dict(cpu_vendor="GenuineIntel", cpu_model="Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", machine_name="laptop")
    rows = [row("w", "s", hw, 0, 0.9, **local) for hw in ("amd-epyc-7302", "intel-xeon-gold-6148")]
    check = analysis.hardware_check(frame(rows)).set_index("hardware_env")
    assert check["name_mismatch"].all() and check["shared"].all() and not check["agrees"].any()
    prov = analysis.provenance(frame(rows))
    assert prov["emulated_hardware_envs"] == ["amd-epyc-7302", "intel-xeon-gold-6148"]
    assert prov["data"] == "sample data" and prov["runs"] == 2
    real = frame([row("w", "s", "amd-epyc-7302", 0, 0.9, sample_data=False, cpu_model="AMD EPYC 7302 16-Core Processor"),
                  row("w", "s", "amd-epyc-7302", 1, 0.9, sample_data=False, cpu_model="AMD EPYC 7402 24-Core Processor")])
    check = analysis.hardware_check(real).set_index("hardware_env")
    assert check.loc["amd-epyc-7302", "loose_pin"] and check.loc["amd-epyc-7302", "n_machines"] == 2
    assert analysis.provenance(real)["data"] == "real data" and analysis.provenance(real)["emulated_hardware_envs"] == []


def test_summarize_gives_every_table_and_empty_input_works():
    tables = analysis.summarize(study(), claims=["accuracy > 0.5"])
    for key in ("stats", "determinism", "outcome_groups", "group_explanations", "claims", "verdicts", "cell_means",
                "hardware_check", "criteria", "provenance", "stats_by_observed", "verdicts_by_device"):
        assert isinstance(tables[key], pd.DataFrame), key
    prov = dict(zip(tables["provenance"]["item"], tables["provenance"]["value"]))
    assert prov["failed"] == 1 and prov["runs"] == 61
    empty = analysis.summarize(frame([]))
    assert empty["stats"].empty and empty["determinism"].empty


def test_verdicts_read_a_given_survival_table_as_they_would_compute_it():
    """summarize passes its survival tables (with their bootstrap) to verdicts: the verdicts
    are those of the survival computed without the bootstrap."""
    from reprogrid.analysis.variance import survival

    df = analysis.prepare(study())
    for by in (("workload",), ("workload", "device_class")):
        given = analysis.verdicts(df, by=by, surv=survival(df, by=by, seed=3))
        pd.testing.assert_frame_equal(given, analysis.verdicts(df, by=by), check_exact=True)
        assert len(given) >= 2
