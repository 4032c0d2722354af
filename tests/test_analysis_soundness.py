"""The analysis on new data cannot invent outcomes or over-claim: one hand-built table per defect.

Each test failed before the analysis keyed cells on the observed environment, tested its
explanations against chance and respected Gundersen's hierarchy.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from reprogrid import analysis
from test_analysis import frame, row

EPYC = dict(cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC 7302 16-Core Processor", has_avx512f=False,
            microarch="x86_64-v3", cpu_logical_count=64)
GOLD = dict(cpu_vendor="GenuineIntel", cpu_model="Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", has_avx512f=True,
            microarch="x86_64-v4", cpu_logical_count=80)


def test_a_loose_pin_is_two_outcomes_never_their_mean():
    rows = [row("lstm", "sw", "cpu-any", r, 0.86168, loss=0.35, **EPYC) for r in range(3)]
    rows += [row("lstm", "sw", "cpu-any", r, 0.84256, loss=0.37, **GOLD) for r in range(3, 6)]
    groups = analysis.outcome_groups(frame(rows))
    assert sorted(groups["value"].round(5)) == [0.84256, 0.86168]  # not one environment of 0.85212
    assert not np.isclose(groups["value"], 0.85212).any()
    assert set(groups["group"]) == {"G1", "G2"} and (groups["n"] == 3).all()
    assert analysis.determinism(frame(rows))["deterministic"].all()  # each machine agreed with itself
    envs = analysis.survival(frame(rows))
    assert envs.loc[0, "n_envs"] == 2 and envs.loc[0, "env_range"] == pytest.approx(0.01912)
    assert analysis.hardware_check(frame(rows)).loc[0, "loose_pin"]


def test_two_thread_counts_in_one_cell_are_two_cells_not_nondeterminism():
    rows = [row("w", "sw", "amd", 0, 0.91, sha="a", **dict(EPYC, cpu_logical_count=32, intra_op_pool=32)),
            row("w", "sw", "amd", 1, 0.92, sha="b", **dict(EPYC, cpu_logical_count=64, intra_op_pool=64))]
    det = analysis.determinism(frame(rows))
    assert len(det) == 2 and analysis.nondeterministic_cells(det).empty
    assert set(det["level"]) == {analysis.LEVEL_SINGLE}
    same_pool = [dict(r, cpu_logical_count=64, intra_op_pool=64) for r in rows]
    assert len(analysis.nondeterministic_cells(analysis.determinism(frame(same_pool)))) == 1  # still caught
    groups = analysis.outcome_groups(frame(rows))
    assert groups["group"].nunique() == 2 and "cpu_logical_count=32" in " ".join(groups["observed_env"])


def _vendor_study(shuffled: bool):
    """12 CPU machines, 6 AMD and 6 Intel; outcomes follow the vendor, or a shuffled labelling."""
    rows = []
    flip = [0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0]  # as many of each, unrelated to any attribute
    for i in range(12):
        amd = i < 6
        machine = dict(cpu_vendor="AuthenticAMD" if amd else "GenuineIntel", cpu_model=f"Model {i}",
                       cpu_logical_count=[32, 64, 96, 128][i % 4], microarch="x86_64-v3", has_avx512f=False)
        good = (flip[i] == 1) if shuffled else amd
        for r in range(2):
            rows.append(row("w", "sw", f"hw{i}", r, 0.9 if good else 0.8, sha="g" if good else "b", **machine))
    return frame(rows)


def test_explanations_must_beat_chance_and_shuffled_labels_identify_nothing():
    real = analysis.explain_groups(analysis.outcome_groups(_vendor_study(False))).iloc[0]
    assert real["attributes"] == ["cpu_vendor"] and real["n_leaves"] == 2 and real["n_groups"] == 2
    assert real["p_value"] < 0.01 and real["identified"] and real["status"] == "identified"
    shuffled = analysis.explain_groups(analysis.outcome_groups(_vendor_study(True))).iloc[0]
    assert shuffled["pure"]  # a tree over cpu_model always separates them ...
    assert shuffled["n_leaves"] > shuffled["n_groups"]  # ... with more leaves than groups ...
    assert shuffled["p_value"] > 0.05 and not shuffled["identified"]  # ... and chance does as well
    assert shuffled["status"].startswith("not identified: chance does as well")


def test_ties_are_broken_by_the_stated_rule_and_aliases_are_named():
    df = _vendor_study(False)
    df["glidein_site"] = np.where(df["cpu_vendor"] == "AuthenticAMD", "SiteA", "SiteB")  # splits exactly alike
    e = analysis.explain_groups(analysis.outcome_groups(df)).iloc[0]
    assert e["attributes"] == ["cpu_vendor"]  # two values each: the alphabetically first name wins
    assert "cpu_vendor = glidein_site" in e["aliases"]


def test_an_implementation_factor_wins_a_tie_with_a_location_label():
    # Emulated hosts: the thread pool follows the machine, and so does the machine's site
    # name ("glidein_resource" sorts before "intra_op_pool"); the pool is what moved the result.
    rows = []
    for i, (pool, good) in enumerate([(64, True), (40, False), (80, False), (64, True)]):
        machine = dict(EPYC, intra_op_pool=pool, glidein_resource=f"Res{pool}")  # one host, as emulated
        rows += [row("w", "sw", f"hw{i}", r, 0.9 if good else 0.8, sha="g" if good else f"b{pool}", **machine)
                 for r in range(2)]
    e = analysis.explain_groups(analysis.outcome_groups(frame(rows))).iloc[0]
    assert e["attributes"][0] == "intra_op_pool"
    assert "glidein_resource" in e["aliases"]


def test_a_claim_in_one_environment_respects_the_hierarchy():
    one = frame([row("w", "sw", "amd", r, 0.9, sha="x", **EPYC) for r in range(3)])
    assert analysis.verdicts(one, ["w: accuracy > 0.95"]).iloc[0]["verdict"] == "not enough data"
    three = frame([row("w", "sw", hw, r, 0.9, sha="x", **dict(m, cpu_logical_count=n))
                   for hw, m, n in (("amd", EPYC, 64), ("intel", GOLD, 80), ("amd32", EPYC, 32)) for r in range(2)])
    v = analysis.verdicts(three, ["w: accuracy > 0.95"]).iloc[0]
    assert v["outcomes_reproducible"] and v["analysis_reproducible"]
    assert v["interpretation_reproducible"] == True  # noqa: E712 - the claim fails, the same way everywhere
    claims = analysis.evaluate_claims(one, ["w: accuracy > 0.95"]).iloc[0]
    assert claims["decision"] == "fails" and claims["n_envs"] == 1
    assert claims["share_high"] < 1 and claims["share_low"] == 0  # one environment: a wide interval


def test_deterministic_repeats_count_once():
    rows = [row("w", "sw", "amd", r, 0.8, sha="x", **EPYC) for r in range(5)]
    rows += [row("w", "sw", "intel", 0, 0.9, sha="y", **GOLD)]
    s = analysis.survival(frame(rows)).iloc[0]
    assert s["env_std"] == pytest.approx(np.std([0.8, 0.9], ddof=1))  # not the std of six runs
    assert s["run_std"] == 0 and s["n_envs"] == 2 and s["n_runs"] == 6 and s["repeated_envs"] == 1
    assert s["env_std_low"] <= s["env_std"] <= s["env_std_high"]


def test_variance_factors_and_the_k_curve():
    rows = []
    for i, (vendor, acc) in enumerate([("AuthenticAMD", 0.80), ("AuthenticAMD", 0.80), ("GenuineIntel", 0.90),
                                       ("GenuineIntel", 0.85)]):
        rows.append(row("w", "sw", f"hw{i}", 0, acc, sha=str(acc), cpu_vendor=vendor, cpu_model=f"M{i}"))
    f = analysis.variance_decomposition(frame(rows)).set_index("factor")
    # between-vendor SS = 2*(0.8-0.8375)^2 + 2*(0.875-0.8375)^2; total SS = sum of squares about 0.8375
    total = sum((a - 0.8375) ** 2 for a in (0.8, 0.8, 0.9, 0.85))
    assert f.loc["CPU vendor", "eta_sq"] == pytest.approx(4 * 0.0375 ** 2 / total)
    assert f.loc["CPU vendor", "effect"] == pytest.approx(0.075) and f.loc["CPU vendor", "best_level"] == "GenuineIntel"
    assert f.loc["GPU", "note"] == "does not vary in these data"
    k = analysis.environments_needed(frame(rows)).set_index("k")
    # lowest value in 2 of 4 environments, highest in 1: P(2 drawn show both) = 2/6
    assert k.loc[2, "p_full_range"] == pytest.approx(2 / 6) and k.loc[4, "p_full_range"] == 1
    assert math.isnan(k.loc[1, "p_nondeterministic"]) and k["k_needed"].iloc[0] == 4


def test_claims_between_variants_of_a_task_with_rank_agreement():
    rows = []
    for i in range(5):
        a, b = (0.9, 0.8) if i < 4 else (0.7, 0.8)
        for name, acc in (("convnet", a), ("convnet_nodropout", b)):
            rows += [row(name, "sw", f"hw{i}", r, acc, sha=f"{name}{i}", task="mnist", cpu_model=f"M{i}")
                     for r in range(2)]
    rows.append(row("other", "sw", "hw0", 0, 0.5, sha="o", cpu_model="M0"))  # its own task: no claim
    table = analysis.claim_stability(frame(rows))
    assert len(table) == 1
    c = table.iloc[0]
    assert c["claim"] == "convnet beats convnet_nodropout" and c["task"] == "mnist"
    assert (c["n_envs"], c["n_support"], c["share"], c["decision"]) == (5, 4, 0.8, "unstable")
    assert c["share_low"] < 0.8 < c["share_high"]
    assert c["kendall_tau_mean"] == pytest.approx((4 - 1) / 5) and c["kendall_tau_min"] == -1
    v = analysis.verdicts(frame(rows)).set_index("workload")
    assert v.loc["convnet", "interpretation_reproducible"] == False  # noqa: E712 - the decision flips


def test_primary_metric_and_its_direction():
    rows = [row("reg", "sw", f"hw{i}", 0, None, sha=str(i), cpu_model=f"M{i}", primary_metric="rmse",
                primary_value=v, higher_is_better=False) for i, v in enumerate([0.30, 0.20, 0.25])]
    groups = analysis.outcome_groups(frame(rows)).set_index("hardware_env")
    assert groups.loc["hw1", "group"] == "G1"  # the lowest error is the best outcome
    s = analysis.survival(frame(rows)).iloc[0]
    assert s["metric"] == "rmse" and not s["higher_is_better"] and s["range"] == pytest.approx(0.10)
