"""A small study end to end: render -> emulated schedd (real TensorFlow jobs) -> gather -> report."""
from __future__ import annotations

import json

import htcondor2
import pytest

from reprogrid import emulator
from reprogrid.analysis import provenance
from reprogrid.gather import gather, load_dataset
from reprogrid.spec.presets import demo
from reprogrid.render import render_study
from reprogrid.report import build_report
from reprogrid.spec import study_from_dict

pytest.importorskip("tensorflow")  # the emulated jobs train real models, as the job tests do


def test_small_study_runs_end_to_end(tmp_path):
    raw = demo()
    raw["name"] = "e2e"
    raw["workloads"] = [{"name": "imbalanced_classification", "epochs": 1, "max_samples": 300}]
    raw["hardware"] = raw["hardware"][:2]
    for software in raw["software"]:  # both on this interpreter: the test provisions nothing
        software.pop("local", None)
    raw["repeats"] = 1
    study = study_from_dict(raw)
    submit = tmp_path / "submit"
    render_study(study, submit)

    run = emulator.dryrun(submit / "study.dag", slots=2, progress=False)
    assert run.exit_code == 0, (submit / "study.dag.dagman.out").read_text()[-2000:]
    assert sorted(run.done) == sorted(r.run_id for r in study.runs())

    # The FINAL node already ran `reprogrid gather .` the way it would on an access point.
    assert (submit / "dataset" / "_gather_report.json").exists()
    result = gather(submit)
    assert result.counts["complete"] == 4 and result.counts["missing"] == 0

    df = load_dataset(submit)
    assert len(df) == 4 and set(df["status"]) == {"ok"}
    assert df["sample_data"].all()
    # Same code, same seed: bitwise identical within an emulated machine, whose host's
    # logical CPUs (64 and 80 here) size TensorFlow's pools as on the real one.
    assert (df.groupby(["software_env", "hardware_env"])["weights_sha256"].nunique() == 1).all()
    facts = provenance(df)
    assert facts["emulated_hardware_envs"] == sorted(h.name for h in study.hardware)

    nodes = {e["LogNotes"].split("DAG Node: ")[-1] for e in htcondor2.JobEventLog(str(submit / "logs" / "study.log")).events(0)
             if e.type == htcondor2.JobEventType.SUBMIT and "LogNotes" in e}
    assert {r.run_id for r in study.runs()} <= nodes

    paths = build_report(df, tmp_path / "report", title="e2e", provenance={"emulated": True, "counts": result.counts})
    html = paths.html.read_text()
    assert "SAMPLE" in html.upper() and "<svg " in html  # the figures, inline
    assert json.loads((submit / "manifest.json").read_text())["study"]["name"] == "e2e"
