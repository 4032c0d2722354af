"""Rendering: safe values, byte-identical re-renders, atomic output, template overrides."""
from __future__ import annotations

import json

import pytest

from reprogrid.condor.bindings import submit_to_job_ads
from reprogrid.core.errors import UserError
from reprogrid.condor.escaping import UnsafeValue, classad_string, dag_name, dag_vars_value, submit_value
from reprogrid.condor.inventory import builtin_machine_ads
from reprogrid.spec.presets import coakley2022, demo, preset_study
from reprogrid.render import render_files, render_study
from reprogrid.spec import study_from_dict


def test_escaping_filters():
    assert submit_value("a$(X)") == "a$(DOLLAR)(X)"
    assert classad_string('say "hi"') == '"say \\"hi\\""'
    assert dag_vars_value('a"b\\c') == '"a\\"b\\\\c"'
    for bad in ("a\nqueue", "a\rb"):
        with pytest.raises(UnsafeValue):
            submit_value(bad)
    for bad in ("a.b", "a+b", "x$(Cluster)", "parent"):
        with pytest.raises(UnsafeValue):
            dag_name(bad)
    with pytest.raises(UnsafeValue):
        classad_string("back\\slash")


def test_hostile_cpu_model_stays_one_literal_string(tmp_path):
    """A model string full of submit and ClassAd syntax cannot add a command or a clause."""
    hostile = 'EPYC" || true || "x $(Cluster) # ; queue 5'
    raw = demo()
    raw["hardware"][0]["cpu"]["model"] = hostile
    study = study_from_dict(raw)
    files = dict(render_files(study))
    run = study.runs()[0]
    text = files[f"cells/{run.cell}.sub"].decode()
    ads = submit_to_job_ads(text, iwd=tmp_path, vars={"run_id": run.run_id, "repeat": "0", "seed": "1"})
    assert len(ads) == 1  # no injected queue statement
    job = ads[0]
    req = str(job.lookup("Requirements"))
    assert '"EPYC\\" || true || \\"x $(Cluster) # ; queue 5"' in req
    # The real machine does not carry that model string, so nothing matches.
    assert not any(job.symmetricMatch(m) for m in builtin_machine_ads())


def test_rendered_tree_is_byte_identical_and_complete(tmp_path):
    study = preset_study("demo")
    a = render_study(study, tmp_path / "a")
    render_study(study, tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert a.runs == 3 * 2 * 3 * 2
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert len(manifest["runs"]) == a.runs
    assert (tmp_path / "a" / "bundle" / "run_job.sh").stat().st_mode & 0o111
    assert (tmp_path / "a" / "data" / "mnist.npz").exists()


def test_failed_render_writes_nothing(tmp_path):
    study = preset_study("demo")
    bad_templates = tmp_path / "tpl"
    bad_templates.mkdir()
    (bad_templates / "gather.sub.j2").write_text("{{ no_such_variable }}\n")
    out = tmp_path / "out"
    with pytest.raises(UserError) as info:
        render_study(study, out, template_dir=bad_templates)
    assert "gather.sub.j2" in str(info.value)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["tpl"]


def test_user_template_overrides_builtin(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "gather.sub.j2").write_text("# my gather {{ study.name }}\nexecutable = /bin/true\nqueue\n")
    files = dict(render_files(preset_study("demo"), template_dir=tpl))
    assert files["gather.sub"].startswith(b"# my gather demo")


def test_render_refuses_to_clobber_results(tmp_path):
    study = preset_study("demo")
    render_study(study, tmp_path / "s")
    (tmp_path / "s" / "results" / "x.parquet").write_bytes(b"data")
    with pytest.raises(UserError) as info:
        render_study(study, tmp_path / "s")
    assert "--force" in str(info.value)
    assert (tmp_path / "s" / "results" / "x.parquet").read_bytes() == b"data"
    render_study(study, tmp_path / "s", force=True)  # re-render, results carried over
    assert (tmp_path / "s" / "results" / "x.parquet").read_bytes() == b"data"
    assert (tmp_path / "s" / "study.dag").exists()


def test_dag_throttles_retries_and_final_node():
    raw = coakley2022()
    raw["throttles"] = {"max_jobs": 50, "max_idle": 10, "max_jobs_per_hardware": 3}
    raw["retries"] = 4
    files = dict(render_files(study_from_dict(raw)))
    dag = files["study.dag"].decode()
    assert dag.count("\nJOB ") == 780
    assert "RETRY mnist_convnet--dockerhub-2_8_0--amd-epyc-7302--r0 4 UNLESS-EXIT 2" in dag
    assert "MAXJOBS gpu-a100 3" in dag
    assert dag.rstrip().endswith("FINAL gather gather.sub")
    assert "NODE_STATUS_FILE study.dag.status" in dag
    config = files["study.dag.config"].decode()
    assert "DAGMAN_MAX_JOBS_SUBMITTED = 50" in config and "DAGMAN_MAX_JOBS_IDLE = 10" in config


def test_manifest_lists_every_run_as_the_study_expands_it():
    import json as _json

    from reprogrid import tree
    from reprogrid.render import manifest_text

    raw = coakley2022()
    raw["seed_per_repeat"] = True
    study = study_from_dict(raw)
    data = _json.loads(manifest_text(study))
    assert data["schema"] == tree.MANIFEST_SCHEMA
    assert [(r["run_id"], r["cell"], r["repeat"], r["seed"]) for r in data["runs"]] == \
        [(r.run_id, r.cell, r.repeat, r.seed) for r in study.runs()]
    assert all(r["submit_file"] == tree.cell_submit_file(r["cell"]) and r["result_stem"] == tree.result_stem(r["run_id"])
               for r in data["runs"])