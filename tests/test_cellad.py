"""The cell's job ad written without Jinja (``render.cellad``) equals the rendered template's.

The pool check and the planner judge pins with :func:`cell_submit_text`; ``job.sub.j2``
writes the submit file. Both go through the real bindings (``condor_submit``'s own
parser) here, for studies that exercise every command the template writes, and the job
ads must agree on every attribute.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reprogrid import tree
from reprogrid.access.poolcheck import job_ads_for_study
from reprogrid.condor.bindings import submit_to_job_ads
from reprogrid.condor.escaping import UnsafeValue
from reprogrid.core.errors import UserError
from reprogrid.render.cellad import cell_submit_text
from reprogrid.render.pins import pins_for_study
from reprogrid.render.study import submit_descriptions
from reprogrid.spec import study_from_dict
from reprogrid.spec.presets import coakley2022, demo


def _varied() -> dict:
    """GPU pins of every kind, sites, OS, raw requirements, URL and local inputs, an output
    destination, a user workload and workload options: every branch of the template."""
    raw = coakley2022()
    raw["hardware"] = raw["hardware"][:2] + [
        {"name": "gpu-exact", "gpu": {"device_name": "NVIDIA A40", "capability": 8.6, "count": 2}},
        {"name": "gpu-range", "gpu": {"min_capability": 7.0, "max_capability": 9.0, "min_memory_mb": 20000}},
        {"name": "gpu-any", "gpu": {}},
        {"name": "sited", "cpu": {"vendor": "amd", "flags": ["avx2"], "without_flags": ["avx512f"]},
         "sites": ["Nebraska", "Clemson"], "os": "el9", "requirements": "TARGET.Memory > 1000"},
    ]
    raw["pool"] = {"profile": "ospool"}
    raw["data"]["inputs"] = raw["data"]["inputs"] + ["extra/table.csv"]
    raw["output"] = {"destination": "osdf:///ospool/ap40/data/someone/out"}
    raw["resources"] = {"cpus": 4, "memory": "3GB", "disk": "7GB"}
    raw["workloads"] = [{"name": "lstm-narrow", "example": "bidirectional_lstm_imdb", "options": {"lstm_units": 32},
                         "epochs": 1, "max_samples": 50, "determinism": False},
                        {"name": "mine", "command": ["python", "train.py"], "files": ["train.py"],
                         "data": ["extra/table.csv"], "metrics": {"primary": "acc", "higher_is_better": True}}]
    return raw


def _attributes(ad) -> dict:
    return {key: str(ad.lookup(key)) for key in ad.keys()}


@pytest.mark.parametrize("make", [demo, coakley2022, _varied], ids=["demo", "coakley2022", "varied"])
def test_cell_job_ad_equals_the_rendered_templates(make, tmp_path):
    study = study_from_dict(make())
    rendered = submit_descriptions(study)
    pins = pins_for_study(study)
    assert study.cells()
    for cell in study.cells():
        values = {"run_id": f"{cell.cell}--r0", "repeat": "0", "seed": "7"}
        from_template = submit_to_job_ads(rendered[tree.cell_submit_file(cell.cell)].decode(), iwd=tmp_path, vars=values)
        direct = submit_to_job_ads(cell_submit_text(study, cell, pins[cell.hardware.name], Path(".")),
                                   iwd=tmp_path, vars=values)
        assert len(from_template) == len(direct) == 1
        assert _attributes(direct[0]) == _attributes(from_template[0]), cell.cell


def test_varied_study_reaches_every_command():
    study = study_from_dict(_varied())
    texts = [cell_submit_text(study, c, pins_for_study(study)[c.hardware.name], Path(".")) for c in study.cells()]
    joined = "\n".join(texts)
    for command in ("environment =", "output_destination =", "require_gpus =", "gpus_minimum_capability =",
                    "gpus_maximum_capability =", "gpus_minimum_memory =", "--no-determinism", "--option lstm_units=32",
                    "workloads/mine/"):
        assert command in joined, command


def test_an_unsafe_value_is_refused_as_the_template_refuses_it():
    """A value the validator would refuse (set here past it) still cannot add a submit command."""
    study = study_from_dict(demo())
    bad = dataclasses.replace(study, software=(dataclasses.replace(study.software[0], image="a\nqueue 9"),))
    with pytest.raises(UnsafeValue):
        cell_submit_text(bad, bad.cells()[0], pins_for_study(bad)[bad.cells()[0].hardware.name], Path("."))
    with pytest.raises(UserError) as checked:
        job_ads_for_study(bad)
    with pytest.raises(UserError) as rendered:
        submit_descriptions(bad)
    assert str(checked.value) == str(rendered.value) and "cannot be rendered safely" in str(checked.value)
    assert checked.value.problems == rendered.value.problems
