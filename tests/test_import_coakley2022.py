"""The original study's published runs, imported and analysed: the paper's findings must come out.

Reads shared/reference/coakley2022_runs.csv beside the checkout (CI has it there). Every
number asserted here is computed by reprogrid.analysis from the imported table.
"""
from __future__ import annotations

import json

from pathlib import Path

import pandas as pd
import pytest

from reprogrid import analysis
from reprogrid.core.errors import UserError
from reprogrid.gather import load_dataset
from reprogrid.gather.importers import COAKLEY2022_PAPER_SOFTWARE, cpu_env_name, gpu_env_name, import_coakley2022
from reprogrid.job.schema import COLUMN_NAMES

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "coakley2022_runs.csv"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_file(), reason=f"the original study's data is not at {REFERENCE} (shared/ beside the checkout)")
LSTM, FRAUD, MNIST = "bidirectional_lstm_imdb", "imbalanced_classification", "mnist_convnet"


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    if not REFERENCE.is_file():
        pytest.skip(f"the original study's data is not at {REFERENCE}")
    return import_coakley2022(REFERENCE)


@pytest.fixture(scope="module")
def paper(runs) -> pd.DataFrame:
    return runs[runs["software_env"].isin(COAKLEY2022_PAPER_SOFTWARE)]


def test_names_of_hardware_environments():
    assert cpu_env_name("AMD EPYC 7302 16-Core Processor") == "amd-epyc-7302"
    assert cpu_env_name("Intel(R) Xeon(R) CPU E5-2640 v4 @ 2.40GHz") == "intel-xeon-e5-2640-v4"
    assert cpu_env_name("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz") == "intel-xeon-gold-6148"
    assert gpu_env_name("NVIDIA A100-PCIE-40GB") == "nvidia-a100"
    assert gpu_env_name("Tesla V100-PCIE-32GB") == gpu_env_name("Tesla V100-PCIE-16GB") == "nvidia-v100"


@needs_reference
def test_import_gives_the_result_schema_with_the_papers_780_runs(runs, paper):
    assert list(runs.columns) == COLUMN_NAMES
    assert runs["run_id"].is_unique and (runs["status"] == "ok").all()
    assert len(paper) == 780
    envs = paper.groupby(["software_env", "hardware_env"]).size()
    assert len(envs) == 4 * 13 and set(envs) == {15}  # 3 experiments x 5 runs per environment
    assert import_coakley2022(REFERENCE, paper_only=True).shape == paper.shape
    # the workload columns as the job side fills them for a built-in example
    assert set(runs["workload_kind"]) == {"builtin"} and (runs["task"] == runs["workload"]).all()
    assert set(runs["primary_metric"]) == {"test_accuracy"} and runs["higher_is_better"].all()
    assert (runs["primary_value"] == runs["test_accuracy"]).all()
    assert json.loads(runs["metrics_json"].iloc[0])["test_loss"] == runs["test_loss"].iloc[0]


@needs_reference
def test_accuracy_ranges_across_the_13_x_4_environments(paper):
    stats = analysis.metric_stats(paper)
    acc = stats[stats["metric"] == "test_accuracy"].set_index("workload")
    assert acc.loc[LSTM, "range_pp"] == pytest.approx(8.1, abs=0.05)
    assert acc.loc[FRAUD, "range_pp"] == pytest.approx(6.6, abs=0.05)
    assert acc.loc[MNIST, "range_pp"] < 0.1
    assert acc.loc[MNIST, "min"] > 0.99


@needs_reference
def test_cpu_runs_are_identical_and_lstm_gpu_determinism_follows_the_image(runs):
    det = analysis.determinism(runs)
    # no prediction hashes were published: judged on metrics, and the level says so
    assert set(det["level"]) <= {analysis.LEVEL_METRICS, analysis.LEVEL_DIFFERENT, analysis.LEVEL_ACCURACY}
    prepared = analysis.prepare(runs)
    gpu_hw = set(prepared.loc[prepared["device_class"] == "gpu", "hardware_env"].astype(str))
    cpu = det[~det["hardware_env"].isin(gpu_hw)]
    assert len(cpu) == 3 * 4 * 10 and cpu["deterministic"].all()
    bad = analysis.nondeterministic_cells(det)
    assert set(bad["workload"]) == {LSTM}  # only the LSTM ever differed run to run
    lstm_gpu = det[(det["workload"] == LSTM) & det["hardware_env"].isin(gpu_hw)]
    by_image = lstm_gpu.groupby("software_env")["deterministic"].agg(["all", "any"])
    for image in ("dockerhub-2.8.0", "dockerhub-2.9.1"):
        assert not by_image.loc[image, "any"], image  # every GPU differed run to run
    for image in ("ngc-22.03", "ngc-22.06", "dockerhub-2.9.1-cuda11.3-cudnn8.2"):
        assert by_image.loc[image, "all"], image


@needs_reference
def test_lstm_cpu_outcomes_group_by_vendor_and_avx512(paper):
    groups = analysis.outcome_groups(paper)
    lstm = groups[(groups["workload"] == LSTM) & (groups["device_class"] == "cpu")]
    for software, part in lstm.groupby("software_env"):
        amd = part[part["cpu_vendor"] == "AuthenticAMD"]
        assert amd["group"].nunique() == 1, software  # all AMD machines agree
        intel = part[part["cpu_vendor"] == "GenuineIntel"]
        avx512 = set(intel.loc[intel["has_avx512f"] == True, "group"])  # noqa: E712
        no_avx512 = set(intel.loc[intel["has_avx512f"] == False, "group"])  # noqa: E712
        assert not avx512 & no_avx512, software  # Intel with and without AVX-512 split
    expl = analysis.explain_groups(groups)
    lstm_expl = expl[(expl["workload"] == LSTM) & (expl["device_class"] == "cpu")].set_index("software_env")
    for software in ("dockerhub-2.8.0", "ngc-22.03"):
        assert lstm_expl.loc[software, "attributes"][:2] in (["cpu_vendor", "has_avx512f"], ["cpu_vendor", "microarch"])
        assert lstm_expl.loc[software, "pure"]
    factors = analysis.group_factors(lstm_expl.reset_index()).set_index("attribute")
    assert factors["anywhere"].idxmax() in ("cpu_vendor", "has_avx512f")


@needs_reference
def test_claims_and_verdicts_on_the_published_data(paper):
    claims = analysis.evaluate_claims(paper, ["mnist_convnet: accuracy > 0.99", "accuracy >= 0.85"]).set_index("claim")
    assert claims.loc["mnist_convnet: accuracy > 0.99", "holds_everywhere"]
    assert claims.loc["mnist_convnet: accuracy > 0.99", "n_envs"] == 52
    assert 0 < claims.loc["accuracy >= 0.85", "share"] < 1
    verdicts = analysis.verdicts(paper).set_index("workload")
    assert not verdicts["outcomes_reproducible"].any()
    assert verdicts.loc[MNIST, "analysis_reproducible"] and not verdicts.loc[LSTM, "analysis_reproducible"]
    assert verdicts.loc[LSTM, "nondeterministic_cells"] == 6


@needs_reference
def test_cli_import_writes_a_dataset_that_loads_back(tmp_path, capsys):
    from reprogrid.cli import main

    out = tmp_path / "coakley"
    assert main(["import", "coakley2022", str(REFERENCE), "-o", str(out), "--paper-only"]) == 0
    df = load_dataset(out)
    assert len(df) == 780 and list(df.columns) == COLUMN_NAMES
    assert "780" in capsys.readouterr().out


def test_bad_tables_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        import_coakley2022(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("software_env,device\nx,cpu\n")
    with pytest.raises(UserError, match="missing column"):
        import_coakley2022(bad)
    header = ("software_env,device,job,experiment,run,date_time,python_version,tensorflow_version,compiler_version,"
              "epochs,test_loss,test_accuracy,cpu_vendor,cpu_model,cpu_family,cpu_model_number,microarch,has_avx512f,"
              "gpu_name,driver_version,cuda_version,cudnn_version,site\n")
    bad.write_text(header + "sw,cpu,1,mnist_convnet,0,,3.8,2.8.0,,15,0.1,high,AuthenticAMD,AMD EPYC 7302,23,49,x86_64-v3,False,,,,,\n")
    with pytest.raises(UserError, match="line 2, column test_accuracy"):
        import_coakley2022(bad)


@needs_reference
def test_logical_cpus_and_omp_threads_are_mapped(runs):
    import json

    cpu = runs[runs["gpu_count"] == 0]
    by_model = cpu.groupby("cpu_model")["cpu_logical_count"].unique()
    assert list(by_model["AMD EPYC 7302 16-Core Processor"]) == [64]
    assert list(by_model["Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"]) == [80]
    assert set(cpu["omp_num_threads"]) == {"4"}
    assert json.loads(cpu["thread_env_json"].iloc[0]) == {"OMP_NUM_THREADS": "4"}
    assert runs["intra_op_pool"].isna().all()  # not recorded: not invented
    colab = runs[runs["software_env"] == "google-colab"]
    assert colab["omp_num_threads"].isna().all() and colab["thread_env_json"].isna().all()


def _cpu_explanations(df: pd.DataFrame, permutations: int = 199):
    groups = analysis.outcome_groups(df)
    scopes = analysis.explain_groups(groups, permutations=permutations)
    return scopes, analysis.explain_workloads(scopes).set_index(["workload", "device_class"])


def _shuffle_cpu_fingerprints(paper: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Give every CPU environment's runs the fingerprint of another CPU environment (same software)."""
    import numpy as np

    attrs = [c for c in analysis.FINGERPRINT_ATTRIBUTES if c != "software_env"]
    cpu = sorted(set(paper.loc[paper["gpu_count"] == 0, "hardware_env"]))
    moved = dict(zip(cpu, np.random.default_rng(seed).permutation(cpu)))
    out = paper.reset_index(drop=True).copy()
    fingerprints = out.drop_duplicates(["software_env", "hardware_env"]).set_index(["software_env", "hardware_env"])[attrs]
    mask = out["hardware_env"].isin(cpu)
    keys = list(zip(out.loc[mask, "software_env"], out.loc[mask, "hardware_env"].map(moved)))
    out.loc[mask, attrs] = fingerprints.loc[keys].to_numpy()
    return out


@needs_reference
def test_fingerprint_attributes_explain_the_cpu_groups_of_each_workload_beyond_chance(paper):
    scopes, workloads = _cpu_explanations(paper)
    for workload in (LSTM, FRAUD, MNIST):
        row = workloads.loc[(workload, "cpu")]
        assert row["identified"] and row["p_value"] <= 0.01, workload  # no shuffle of 199 did as well
        assert row["n_leaves"] == row["n_groups"]  # one leaf per group in every software environment
    assert any(a.startswith("has_avx512f") for a in workloads.loc[(LSTM, "cpu"), "attributes"])
    assert any(a.startswith("cpu_logical_count") for a in workloads.loc[(MNIST, "cpu"), "attributes"])
    # three GPU environments with three outcomes: any labelling is separated as well, so nothing is claimed
    assert not workloads.xs("gpu", level="device_class")["identified"].any()


@needs_reference
@pytest.mark.parametrize("seed", [0, 1])
def test_with_environment_labels_shuffled_nothing_is_identified(paper, seed):
    scopes, workloads = _cpu_explanations(_shuffle_cpu_fingerprints(paper, seed))
    assert not scopes["identified"].any() and not workloads["identified"].any()


@needs_reference
def test_a_loose_pin_over_the_reference_data_invents_no_accuracy(paper):
    import numpy as np

    relabel = paper["hardware_env"].isin(["amd-epyc-7302", "intel-xeon-gold-6148"])
    loose = paper.assign(hardware_env=paper["hardware_env"].where(~relabel, "cpu-any"))
    groups = analysis.outcome_groups(loose)
    lstm = groups[(groups["workload"] == LSTM) & (groups["software_env"] == "dockerhub-2.8.0")
                  & (groups["hardware_env"] == "cpu-any")]
    assert sorted(lstm["value"].round(5)) == [0.84256, 0.86168] and not np.isclose(groups["value"], 0.85212).any()
