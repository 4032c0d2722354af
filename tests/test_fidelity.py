"""Fidelity with the real bindings: each hardware pin matches its machines and no others."""
from __future__ import annotations

import classad
import pytest

from reprogrid.condor.bindings import parse_expression, submit_to_job_ads
from reprogrid.render.pins import pin_for, study_warnings
from reprogrid.condor.inventory import builtin_machine_ads
from reprogrid.spec.presets import coakley2022, preset_study
from reprogrid.render import render_files
from reprogrid.spec import Pool, study_from_dict


@pytest.fixture(scope="module")
def preset_jobs(tmp_path_factory):
    """One job ad per (workload, software, hardware) cell of the original study, with its VARS."""
    study = preset_study("coakley2022")
    files = dict(render_files(study))
    iwd = tmp_path_factory.mktemp("iwd")
    jobs = {}
    for run in study.runs():
        if run.repeat == 4:
            text = files[f"cells/{run.cell}.sub"].decode()
            [ad] = submit_to_job_ads(text, iwd=iwd, vars={"run_id": run.run_id, "repeat": "4", "seed": str(run.seed)})
            jobs[run.run_id] = (run, ad)
    return jobs


def test_every_cell_matches_exactly_its_hardware(preset_jobs):
    machines = builtin_machine_ads()
    assert len(preset_jobs) == 3 * 4 * 13
    for run, job in preset_jobs.values():
        landed = sorted({m["ReprogridHardwareEnv"] for m in machines if job.symmetricMatch(m)})
        assert landed == [run.hardware.name], run.cell


def test_vars_and_tags_reach_the_job_ad(preset_jobs):
    run, job = next(iter(preset_jobs.values()))
    assert job["ReprogridRunId"] == run.run_id
    assert job["ReprogridRepeat"] == 4
    assert job["ReprogridCell"] == run.cell
    assert job["ContainerImage"] == run.software.image
    assert "--run-id " + run.run_id in job["Arguments"]


def test_cpu_jobs_ask_for_no_gpu_and_hide_gpus(preset_jobs):
    for run, job in preset_jobs.values():
        if run.hardware.device == "cpu":
            assert job.get("RequestGPUs", 0) in (0, None)
            assert "CUDA_VISIBLE_DEVICES=" in job["Environment"]
        else:
            assert job["RequestGPUs"] == 1


def test_gpu_pins_use_require_gpus():
    study = preset_study("coakley2022")
    a100 = next(h for h in study.hardware if h.name == "gpu-a100")
    pin = pin_for(a100, study.pool, 1)
    commands = dict(pin.gpu_commands)
    assert commands["require_gpus"] == 'DeviceName == "NVIDIA A100-PCIE-40GB"'
    assert commands["gpus_minimum_capability"] == commands["gpus_maximum_capability"] == "8.0"


def test_every_generated_requirement_parses_with_classad():
    study = preset_study("coakley2022")
    for hardware in study.hardware:
        for pool in (Pool("ospool-2022"), Pool("ospool")):
            pin = pin_for(hardware, pool)
            assert isinstance(parse_expression(pin.requirements), classad.ExprTree)


def test_todays_ospool_cannot_pin_a_model_and_says_why():
    raw = coakley2022()
    raw["pool"] = {"profile": "ospool"}
    warnings = study_warnings(study_from_dict(raw))
    assert len(warnings) == 10  # the 10 CPU environments pin a model string
    assert "OSGVO_CPU_MODEL" in warnings[0] and "September 2024" in warnings[0]
    assert "EPYC 7402" in warnings[0]  # the models sharing family/model 23/49


def test_on_todays_ospool_family_pins_are_loose_but_never_cross_vendor(tmp_path):
    raw = coakley2022()
    raw["pool"] = {"profile": "ospool"}
    study = study_from_dict(raw)
    files = dict(render_files(study))
    machines = builtin_machine_ads()
    run = next(r for r in study.runs() if r.hardware.name == "amd-epyc-7302")
    [job] = submit_to_job_ads(files[f"cells/{run.cell}.sub"].decode(), iwd=tmp_path, vars={"run_id": run.run_id, "repeat": "0", "seed": "1"})
    landed = sorted({m["ReprogridHardwareEnv"] for m in machines if job.symmetricMatch(m)})
    assert landed == ["amd-epyc-7302", "amd-epyc-7402", "amd-epyc-7f52"]


def test_every_node_of_the_rendered_dag_becomes_the_job_it_names(tmp_path):
    """Read the rendered DAG back (JOB + VARS, DAGMan's quoting), build each node's job ad."""
    from reprogrid.emulator.dagman.dagfile import parse_dag
    from reprogrid.render import render_study

    study = preset_study("coakley2022")
    render_study(study, tmp_path / "s")
    dag = parse_dag(tmp_path / "s" / "study.dag")
    runs = {r.run_id: r for r in study.runs()}
    assert set(dag.nodes) == set(runs) | {"gather"} and dag.final == "gather"
    machines = builtin_machine_ads()
    texts = {}
    for name, node in dag.nodes.items():
        if node.final:
            continue
        text = texts.setdefault(node.submit_file, (tmp_path / "s" / node.submit_file).read_text())
        [job] = submit_to_job_ads(text, iwd=tmp_path / "s", vars=node.vars_dict())
        run = runs[name]
        assert job["ReprogridRunId"] == name and job["ReprogridRepeat"] == run.repeat
        assert node.retry == study.retries and node.retry_unless_exit == 2
        if run.repeat == 0:  # matching is per cell; one node of each is enough
            landed = {m["ReprogridHardwareEnv"] for m in machines if job.symmetricMatch(m)}
            assert landed == {run.hardware.name}
