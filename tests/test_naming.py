"""Run ids and cell names: one module formats and parses them, and refuses what it cannot read back."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from reprogrid.core import naming
from reprogrid.spec import coakley2022, study_from_dict

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("parts", [("mnist_convnet", "dockerhub-2_8_0", "amd-epyc-7302", 0),
                                   ("a", "b", "c", 12), ("x-1_y", "Z9", "gpu-a100-40gb", 3)])
def test_parse_of_format_gives_back_the_parts(parts):
    name = naming.RunName(*parts)
    text = naming.format_run_id(name)
    assert naming.parse_run_id(text) == name
    assert naming.cell_of(text) == naming.cell_name(*parts[:3])


def test_every_run_of_the_reference_study_parses_back():
    study = study_from_dict(coakley2022())
    for run in study.runs():
        name = naming.parse_run_id(run.run_id)
        assert (name.repeat, naming.cell_of(run.run_id)) == (run.repeat, run.cell)
        assert naming.run_id(run.cell, run.repeat) == run.run_id


@pytest.mark.parametrize("workload", ["a--b", "a-", "-a", "a+b", "a b", ""])
def test_names_that_cannot_be_read_back_are_refused(workload):
    with pytest.raises(ValueError):
        naming.cell_name(workload, "sw", "hw")


@pytest.mark.parametrize("text", ["a--b--c", "a--b--c--r", "a--b--c--r01", "a--b--c--r-1", "a--b--r1",
                                  "a--b--c--d--r1", "a.b--c--d--r1", "a---b--c--r1"])
def test_texts_that_are_not_run_ids_are_refused(text):
    with pytest.raises(ValueError):
        naming.parse_run_id(text)


def test_a_name_ending_in_a_dash_is_refused_by_validation_with_the_field():
    from reprogrid.core.errors import UserError

    raw = coakley2022()
    raw["software"][0]["name"] = "dockerhub-"
    with pytest.raises(UserError) as err:
        study_from_dict(raw)
    assert "software[0].name" in str(err.value)


def test_run_id_format_is_spelled_in_one_module():
    """'--' + 'r' + repeat, the separator and the dot-to-underscore slug live in core/naming.py."""
    pattern = re.compile(r"""--r\{|--r%|['"]--r['"]|\.replace\(\s*['"]\.['"]\s*,\s*['"]_['"]\s*\)|f['"][^'"]*\}--\{""")
    spelled = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "reprogrid").rglob("*.py")
                     if pattern.search(p.read_text(encoding="utf-8")))
    assert spelled == ["reprogrid/core/naming.py"]
