"""The study spec: validation reports every problem with its path and fix; expansion is stable."""
from __future__ import annotations


import pytest

from reprogrid.core.errors import UserError
from reprogrid.spec.presets import coakley2022, demo, preset_study, preset_yaml
from reprogrid.spec import Study, load_study, study_from_dict, validate_study


def problems_of(raw) -> dict:
    with pytest.raises(UserError) as info:
        study_from_dict(raw)
    return {p.where: p.message for p in info.value.problems}


def test_preset_expands_to_the_original_780_runs():
    study = preset_study("coakley2022")
    runs = study.runs()
    assert len(runs) == 3 * 4 * 13 * 5 == 780
    assert len({r.run_id for r in runs}) == 780
    assert {r.seed for r in runs} == {1}
    assert sum(1 for h in study.hardware if h.device == "gpu") == 3


def test_run_ids_are_legal_node_and_file_names_and_stable():
    runs = preset_study("coakley2022").runs()
    for run in runs:
        assert all(ch.isalnum() or ch in "_-" for ch in run.run_id), run.run_id
    again = [r.run_id for r in study_from_dict(coakley2022()).runs()]
    assert [r.run_id for r in runs] == again
    assert runs[0].run_id == "mnist_convnet--dockerhub-2_8_0--amd-epyc-7302--r0"


def test_every_problem_is_reported_at_once_with_its_path():
    raw = coakley2022()
    raw["hardware"][3]["gpu"] = {"capability": "eight"}
    raw["repeats"] = 0
    raw["software"][1]["imag"] = "x"
    raw["workloads"].append("mnist_convnett")
    found = problems_of(raw)
    assert found["hardware[3].gpu.capability"] == 'expected a number like 8.0, got "eight"'
    assert "at least 1" in found["repeats"]
    assert "did you mean 'image'" in found["software[1].imag"]
    assert "did you mean 'mnist_convnet'" in found["workloads[3].name"]


def test_unknown_top_level_key_gets_did_you_mean():
    raw = coakley2022()
    raw["repeat"] = 3
    assert "did you mean 'repeats'" in problems_of(raw)["repeat"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "bad\nqueue"),
        ("name", 'a"b'),
        ("name", "x$(Cluster)"),
        ("name", "a b"),
        ("name", "a+b"),
        ("name", "a;b"),
        ("name", "a||b"),
        ("name", "#x"),
        ("name", "a--b"),
    ],
)
def test_names_that_could_inject_are_refused(field, value):
    raw = coakley2022()
    raw["hardware"][0][field] = value
    assert "hardware[0].name" in problems_of(raw)


def test_image_and_inputs_refuse_injection():
    raw = coakley2022()
    raw["software"][0]["image"] = "docker://x/y:1\nqueue 100"
    raw["data"]["inputs"][0] = "a.npz, /etc/passwd"
    found = problems_of(raw)
    assert "software[0].image" in found and "data.inputs[0]" in found


def test_raw_requirements_must_be_one_classad_expression():
    raw = coakley2022()
    raw["hardware"][0]["requirements"] = "x) || (true"
    assert "not one valid ClassAd expression" in problems_of(raw)["hardware[0].requirements"]


def test_missing_data_for_a_workload_names_the_fix():
    raw = coakley2022()
    raw["data"]["inputs"] = raw["data"]["inputs"][:1]
    message = problems_of(raw)["data.inputs"]
    assert "imdb.npz" in message or "creditcard.csv" in message
    assert "data.sample" in message


def test_sizes_accept_units():
    raw = demo()
    raw["resources"] = {"memory": "2 GiB", "disk": 500}
    study = study_from_dict(raw)
    assert study.resources.memory_mb == 2048 and study.resources.disk_mb == 500
    raw["resources"] = {"memory": "lots"}
    assert "8GB" in problems_of(raw)["resources.memory"]


def test_yaml_round_trip_is_a_fixed_point(tmp_path):
    study = preset_study("coakley2022")
    path = tmp_path / "study.yaml"
    path.write_text(study.to_yaml())
    assert load_study(path) == study
    path.write_text(preset_yaml("demo"))
    assert load_study(path) == preset_study("demo")


def test_python_api_goes_through_the_same_validation():
    study = preset_study("demo")
    broken = Study(**{**study.__dict__, "repeats": -1})
    with pytest.raises(UserError):
        validate_study(broken)


def test_bad_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nworkloads: [a\n")
    with pytest.raises(UserError) as info:
        load_study(path)
    assert f"{path}:" in str(info.value)
