"""reprogrid plan: honoured, distinguishable pins that cover what can move a result.

Pools are captures built here (mixed vendors, shared family/model numbers, a missing
attribute, GPUs of several capabilities) or the built-in 2022 inventory. Every pin the
planner prints is checked again independently: the study's own rendered job ads
(``run.poolcheck.job_ads_for_study``) matched against every slot of the pool with the
real ``Matchmaker``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from reprogrid.cli import main
from reprogrid.condor.matchmaking import Matchmaker
from reprogrid.condor.ospool_today import pool_ads
from reprogrid.plan.evidence import REFERENCE_EVIDENCE, compute_evidence, dimension_weights, parse_weights
from reprogrid.plan.planner import build_view, coverage, plan_hardware
from reprogrid.access.poolcheck import as_of_capture, job_ads_for_study
from reprogrid.spec.presets import coakley2022, demo
from reprogrid.spec.validate import load_study, study_from_dict

HERE = Path(__file__).resolve()
REFERENCES = [HERE.parents[2] / "shared" / "reference" / "coakley2022_runs.csv",
              HERE.parents[3] / "shared" / "reference" / "coakley2022_runs.csv"]


def _reference() -> Path:
    for path in REFERENCES:
        if path.exists():
            return path
    pytest.skip("the original study's data is not beside the checkout")


def _machine(name: str, family: int, model: int, cpus: int, march: str = "x86_64-v3", gpus: List[Dict] = (),
             **extra: Any) -> Dict[str, Any]:
    ad: Dict[str, Any] = {
        "MyType": "Machine", "Name": f"slot1@{name}", "Machine": name, "SlotType": "Partitionable",
        "Arch": "X86_64", "OpSys": "LINUX", "Cpus": cpus, "TotalCpus": cpus, "DetectedCpus": cpus,
        "Memory": 256000, "Disk": 500000000, "CpuFamily": family, "CpuModelNumber": model, "Microarch": march,
        "has_avx2": True, "GLIDEIN_Site": "Site", "HasFileTransfer": True,
        "HasFileTransferPluginMethods": "file,http,https,osdf", "HasContainer": True, "HasSingularity": True,
        "HasDockerURL": True, "START": True, "Requirements": "/Expr(START)/",
        "GPUs": len(gpus), "TotalGPUs": len(gpus),
    }
    if march == "x86_64-v4":
        ad["has_avx512f"] = True
    ids = []
    for i, (device, cap, mem) in enumerate(gpus):
        gid = f"{name.replace('-', '')}{i}"
        ad[f"GPUs_GPU_{gid}"] = {"Id": f"GPU-{gid}", "DeviceName": device, "Capability": cap, "GlobalMemoryMb": mem}
        ids.append(f"GPUs_GPU_{gid}")
    ad["AvailableGPUs"] = "/Expr({ " + ", ".join(ids) + " })/"
    for key, value in extra.items():
        if value is None:
            ad.pop(key, None)
        else:
            ad[key] = value
    return ad


def _capture(path: Path) -> Path:
    """Mixed vendors, two AMD kinds sharing 23/49 (told apart only by logical CPUs), a third
    sharing 23/49 *and* the count (indistinguishable), a slot that advertises no Microarch,
    ISA flags or DetectedCpus, and a GPU host whose GPUs have two capabilities."""
    ads = []
    for i in range(3):
        ads.append(_machine(f"amd7302-{i}", 23, 49, 64))
        ads.append(_machine(f"amd7f52-{i}", 23, 49, 32))
        ads.append(_machine(f"amd7402-{i}", 23, 49, 64))        # same as 7302 on every advertised attribute
        ads.append(_machine(f"intel6148-{i}", 6, 85, 80, "x86_64-v4"))
        ads.append(_machine(f"intel2650-{i}", 6, 63, 40))
    ads.append(_machine("old-0", 6, 45, 16, Microarch=None, has_avx2=None, DetectedCpus=None))
    ads.append(_machine("gpu-mixed-0", 25, 1, 96, gpus=[("Tesla T4", 7.5, 15360), ("NVIDIA A40", 8.6, 45634)]))
    ads.append(_machine("gpu-a100-0", 25, 1, 128, gpus=[("NVIDIA A100-SXM4-80GB", 8.0, 81920)] * 2))
    path.write_text(json.dumps(ads))
    return path


def _independent(entries: List[Dict[str, Any]], ads: List[Any], study: Dict[str, Any] = None) -> Dict[str, set]:
    """Per planned environment: the slot indexes the study's rendered job matches (all slots)."""
    data = dict(study or demo())
    data["hardware"] = entries
    data["workloads"], data["software"] = data["workloads"][:1], data["software"][:1]
    jobs = job_ads_for_study(study_from_dict(data))
    machines = as_of_capture(ads)
    maker = Matchmaker(machines)
    maker.note_job_refs(job for _, job in jobs.values())
    groups = maker.groups()
    out = {}
    for name, (_, job) in jobs.items():
        out[name] = {i for gi in maker.matching_groups(job) for i in groups[gi].members}
    return out


def _run(capsys, *argv: str):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------ rules

def test_capture_plan_is_honoured_distinguishable_and_covers(tmp_path, capsys):
    capture = _capture(tmp_path / "pool.json")
    code, out, err = _run(capsys, "plan", "--pool", str(capture), "--hardware", "4", "--gpu", "2", "--min-slots", "1")
    assert code == 0, err
    entries = yaml.safe_load(out)["hardware"]
    assert len([e for e in entries if "gpu" not in e]) == 4 and len([e for e in entries if "gpu" in e]) == 2
    from reprogrid.condor.pool import load_pool
    ads = load_pool(capture)
    matched = _independent(entries, ads)
    names = list(matched)
    view = build_view(str(capture))
    plan = plan_hardware(view, hardware=4, gpu=2)
    assert [r.entry for r in plan.results] == entries
    for result in plan.results:   # the kinds' counts are the real matchmaking's over every slot
        assert len(matched[result.name]) == result.slots > 0
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not matched[a] & matched[b], f"{a} and {b} share slots"
    # both vendors, both ISA levels, and small and large logical CPU counts are covered
    cov = coverage(plan.results)
    assert {("vendor", "amd"), ("vendor", "intel"), ("avx512", "yes"), ("avx512", "no")} <= cov["cpu"]
    counts = {v for d, v in cov["cpu"] if d == "logical_cpus"}
    assert min(counts) == 32 and max(counts) == 80
    # the GPU host with a T4 and an A40: pins by capability get each GPU kind apart
    caps = {v for d, v in cov["gpu"] if d == "gpu_capability"}
    assert len(caps) == 2 and 8.0 in caps and caps & {7.5, 8.6}   # the mixed host gives one of its two
    assert "slots" in err and "coverage" in err and "uncovered: gpu_capability=" in err


def test_shared_family_model_cannot_be_told_apart(tmp_path):
    """EPYC 7302 and 7402 advertise the same 23/49 and 64 CPUs: at most one of them is chosen,
    and the chosen pin says it may land on either (it covers no CPU model)."""
    capture = _capture(tmp_path / "pool.json")
    plan = plan_hardware(build_view(str(capture)), hardware=None, gpu=0)
    sixty_four = [c.result for c in plan.classes["cpu"].choices if c.result.values.get("logical_cpus") == 64]
    assert len(sixty_four) == 1 and sixty_four[0].slots == 6   # both kinds' 3 slots: one environment


def test_missing_attribute_is_never_pinned_nor_covered(tmp_path):
    capture = _capture(tmp_path / "pool.json")
    view = build_view(str(capture))
    old = [k for k in view.kinds if k.host["cpu_family_model"] == "6/45"]
    assert old and old[0].host["microarch"] is None and old[0].host["logical_cpus"] is None
    assert old[0].host["avx512"] is None
    plan = plan_hardware(view, hardware=5, gpu=0)
    for choice in plan.classes["cpu"].choices:
        if choice.result.values.get("cpu_family_model") == "6/45":
            assert "microarch" not in choice.result.entry.get("cpu", {})
            assert "requirements" not in choice.result.entry


def test_gpus_of_several_capabilities(tmp_path):
    """A host with a T4 (7.5) and an A40 (8.6): a pin on one capability covers that capability
    only, and the two pins may not both take that host (they would share its slot)."""
    capture = _capture(tmp_path / "pool.json")
    view = build_view(str(capture))
    plan = plan_hardware(view, hardware=0, gpu=2)
    results = plan.classes["gpu"].choices
    assert len(results) == 2
    assert all("gpu_capability" in c.result.values for c in results)
    assert not results[0].result.kinds & results[1].result.kinds
    mixed_host = [k for k in view.kinds if len(set(k.gpus)) == 2]
    assert mixed_host


def test_min_slots_is_honoured(tmp_path):
    capture = _capture(tmp_path / "pool.json")
    plan = plan_hardware(build_view(str(capture)), hardware=2, gpu=0, min_slots=3)
    assert all(c.result.slots >= 3 for c in plan.classes["cpu"].choices)


def test_2022_plan_covers_at_least_what_the_paper_covered():
    view = build_view("ospool-2022")
    plan = plan_hardware(view, hardware=10, gpu=3)
    assert len(plan.entries) == 13
    paper = view.evaluate(coakley2022()["hardware"])
    mine, theirs = coverage(plan.results), coverage(paper)
    for dc in ("cpu", "gpu"):
        assert theirs[dc] <= mine[dc], sorted(theirs[dc] - mine[dc], key=str)
    ads, _ = pool_ads("ospool-2022")
    matched = _independent(plan.entries, ads)
    names = list(matched)
    assert all(len(matched[r.name]) == r.slots > 0 for r in plan.results)
    assert all(not matched[a] & matched[b] for i, a in enumerate(names) for b in names[i + 1:])


def test_printed_section_loads_back_as_a_study(capsys):
    code, out, _ = _run(capsys, "plan", "--hardware", "3", "--gpu", "1")
    assert code == 0
    data = demo()
    data["hardware"] = yaml.safe_load(out)["hardware"]
    study = study_from_dict(data)
    assert len(study.hardware) == 4


def test_without_a_budget_stops_when_nothing_adds(tmp_path):
    capture = _capture(tmp_path / "pool.json")
    plan = plan_hardware(build_view(str(capture)), hardware=None, gpu=None)
    assert all(c.gain > 0 for c in plan.classes["cpu"].choices)


# ------------------------------------------------------------------------------ --into

STUDY = """\
# my study: comments and layout outside hardware: are kept
name: mine
workloads:
  - {name: mnist_convnet, epochs: 1, max_samples: 100}
software:
  - name: tf
    image: docker://tensorflow/tensorflow:2.15.0
hardware:
  - name: anything
    cpu: {vendor: amd}
# resources come after hardware
resources: {cpus: 1, memory: 2GB, disk: 1GB}
data: {sample: true}
"""


def test_into_replaces_only_the_hardware_section(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY)
    code, out, err = _run(capsys, "plan", "--hardware", "3", "--gpu", "0", "--into", str(study))
    assert code == 0, err
    text = study.read_text()
    assert text.startswith("# my study: comments and layout outside hardware: are kept\nname: mine\n")
    assert "# resources come after hardware\nresources: {cpus: 1, memory: 2GB, disk: 1GB}\n" in text
    loaded = load_study(study)
    assert len(loaded.hardware) == 3 and "anything" not in {h.name for h in loaded.hardware}
    assert out == ""


def test_into_refuses_an_invalid_study_and_leaves_it(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.replace("name: mine", "name: 'bad name'"))
    before = study.read_bytes()
    code, _, err = _run(capsys, "plan", "--hardware", "2", "--gpu", "0", "--into", str(study))
    assert code == 2 and "name" in err
    assert study.read_bytes() == before


# ------------------------------------------------------------------------------ bad input

def test_capture_not_json(tmp_path, capsys):
    bad = tmp_path / "pool.json"
    bad.write_text("Name = slot1\n")
    code, out, err = _run(capsys, "plan", "--pool", str(bad), "--hardware", "2")
    assert code == 2 and str(bad) in err and "condor_status -json" in err and out == ""


def test_budget_impossible(tmp_path, capsys):
    capture = _capture(tmp_path / "pool.json")
    code, out, err = _run(capsys, "plan", "--pool", str(capture), "--hardware", "40", "--gpu", "0")
    assert code == 2 and "--hardware 40" in err and "lower --hardware to" in err and out == ""


def test_unknown_attribute_in_weights(capsys):
    code, out, err = _run(capsys, "plan", "--hardware", "2", "--weight", "colour=1")
    assert code == 2 and "--weight colour=1" in err and "logical_cpus" in err and out == ""
    with pytest.raises(Exception):
        parse_weights(["vendor=-1"])


def test_weight_override_changes_the_weights():
    assert dimension_weights(REFERENCE_EVIDENCE, "cpu", overrides=parse_weights(["vendor=0"]))["vendor"] == 0


# ------------------------------------------------------------------------------ evidence

def test_stored_evidence_agrees_with_the_reference_analysis():
    from reprogrid.gather.importers import import_coakley2022

    df = import_coakley2022(_reference(), paper_only=True)
    assert compute_evidence(df) == REFERENCE_EVIDENCE
    weights = dimension_weights(REFERENCE_EVIDENCE, "cpu")
    top = sorted(weights, key=weights.get, reverse=True)[:4]
    assert set(top) == {"vendor", "logical_cpus", "avx512", "microarch"}
    assert any(r.attribute == "gpu_name" and r.device_class == "gpu" for r in REFERENCE_EVIDENCE)
    assert any(r.attribute == "env_cudnn_version" and r.family == "determinism" for r in REFERENCE_EVIDENCE)


def test_after_a_pilot_weights_come_from_the_pilot(tmp_path, capsys):
    from reprogrid.gather.importers import import_coakley2022, write_imported

    df = import_coakley2022(_reference(), paper_only=True)
    keep = df["workload"].eq("mnist_convnet") & df["hardware_env"].isin(
        ["amd-epyc-7302", "amd-epyc-7f52", "intel-xeon-gold-6148", "intel-xeon-e5-2650-v3"])
    write_imported(df[keep].reset_index(drop=True), tmp_path / "pilot")
    code, out, err = _run(capsys, "plan", "--pool", "ospool-2022", "--after", str(tmp_path / "pilot"),
                          "--hardware", "2", "--gpu", "0")
    assert code == 0, err
    assert "pilot dataset" in out and "pilot:" in err
    chosen = yaml.safe_load(out)["hardware"]
    seen = {"AMD EPYC 7302 16-Core Processor", "AMD EPYC 7F52 16-Core Processor",
            "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "Intel(R) Xeon(R) CPU E5-2650 v3 @ 2.30GHz"}
    assert all(e.get("cpu", {}).get("model") not in seen for e in chosen)


# ------------------------------------------------------------------------------ software

def test_software_stacks_from_the_requirements(tmp_path, capsys):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("tensorflow>=2.14,<2.18\njax>=0.4\nnumpy\n")
    code, out, err = _run(capsys, "plan", "--software", "--requirements", str(reqs), "--stacks", "4")
    assert code == 0, err
    stacks = yaml.safe_load(out)["software"]
    versions = {s["versions"]["tensorflow"] for s in stacks}
    assert versions <= {"2.14.1", "2.15.1", "2.16.2", "2.17.1"} and {"2.14.1", "2.17.1"} <= versions
    assert {s["local"]["env"]["TF_ENABLE_ONEDNN_OPTS"] for s in stacks} == {"0", "1"}
    assert "curated table" in out
    data = demo()
    data["software"] = stacks
    assert len(study_from_dict(data).software) == 4


def test_software_versions_file_and_bad_requirements(tmp_path, capsys):
    versions = tmp_path / "versions.txt"
    versions.write_text("tensorflow 2.16.2 2.21.0\nkeras 3.12.0\n")
    code, out, _ = _run(capsys, "plan", "--software", "--versions", str(versions), "--stacks", "2")
    assert code == 0 and "2.21.0" in out
    reqs = tmp_path / "r.txt"
    reqs.write_text("tensorflow>>2\n")
    code, _, err = _run(capsys, "plan", "--software", "--requirements", str(reqs))
    assert code == 2 and f"{reqs}:1" in err


def test_into_a_flow_style_hardware_section(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.replace("hardware:\n  - name: anything\n    cpu: {vendor: amd}\n",
                                   "hardware: [{name: anything, cpu: {vendor: amd}}]\n"))
    code, _, err = _run(capsys, "plan", "--hardware", "2", "--gpu", "0", "--into", str(study))
    assert code == 0, err
    assert len(load_study(study).hardware) == 2
    assert study.read_text().endswith("# resources come after hardware\nresources: {cpus: 1, memory: 2GB, disk: 1GB}\n"
                                      "data: {sample: true}\n")


def test_software_without_requirements_says_where_versions_come_from(capsys):
    code, out, err = _run(capsys, "plan", "--software", "--stacks", "3")
    assert code == 0
    assert "no index is queried" in out and "note:" in err
    versions = [s["versions"]["tensorflow"] for s in yaml.safe_load(out)["software"]]
    assert "2.12.1" in versions and "2.20.0" in versions   # the oldest and the newest first


def test_one_budget_given_means_none_of_the_other_class(tmp_path, capsys):
    capture = _capture(tmp_path / "pool.json")
    view = build_view(str(capture))
    assert set(plan_hardware(view, hardware=2, gpu=None).classes) == {"cpu"}
    assert set(plan_hardware(view, hardware=None, gpu=1).classes) == {"gpu"}
    assert {"cpu", "gpu"} <= set(plan_hardware(view, hardware=None, gpu=None).classes)  # no budget: both, as before
    code, out, err = _run(capsys, "plan", "--pool", str(capture), "--hardware", "2")
    assert code == 0, err
    assert [h for h in yaml.safe_load(out)["hardware"] if "gpu" in h] == []
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    assert "as --gpu 0" in " ".join(capsys.readouterr().out.split())


def test_software_stacks_carry_the_other_requirements(tmp_path, capsys):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("tensorflow>=2.15,<2.17\npandas>=2.0\nscikit-learn==1.5.2\n")
    code, out, err = _run(capsys, "plan", "--software", "--requirements", str(reqs), "--stacks", "2")
    assert code == 0, err
    stacks = yaml.safe_load(out)["software"]
    assert len(stacks) == 2
    for stack in stacks:
        assert {"pandas>=2.0", "scikit-learn==1.5.2"} <= set(stack["local"]["packages"]), stack
        assert not any(p.startswith("tensorflow>=") for p in stack["local"]["packages"])
    data = demo()
    data["software"] = stacks
    assert len(study_from_dict(data).software) == 2


def test_software_requirements_without_a_framework_exit_2(tmp_path, capsys):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("numpy>=1.26\npandas\n")
    code, out, err = _run(capsys, "plan", "--software", "--requirements", str(reqs))
    assert code == 2 and out == ""
    assert "--software varies frameworks (TensorFlow/Keras/JAX/PyTorch) and none was found" in " ".join(err.split())
