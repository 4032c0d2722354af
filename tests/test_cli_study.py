"""The init / validate / render commands as a user runs them: exit codes, messages, no debris."""
from __future__ import annotations

import subprocess
import sys

import yaml

from reprogrid.cli import main
from reprogrid.spec.presets import demo


def test_help_teaches(capsys):
    for argv in (["--help"], ["render", "--help"], ["validate", "--help"], ["init", "--help"]):
        try:
            main(argv)
        except SystemExit as stop:
            assert stop.code == 0
    out = capsys.readouterr().out
    assert "condor_submit_dag" in out and "examples:" in out


def test_init_validate_render_round_trip(tmp_path, capsys):
    spec = tmp_path / "demo.yaml"
    assert main(["init", "--preset", "demo", "-o", str(spec)]) == 0
    assert main(["validate", str(spec)]) == 0
    assert "36 runs" in capsys.readouterr().out
    assert main(["render", str(spec), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "study.dag").exists()
    assert main(["init", "--preset", "demo", "-o", str(spec)]) == 2  # refuses to overwrite


def test_invalid_spec_exits_2_names_every_field_and_writes_nothing(tmp_path, capsys):
    raw = demo()
    raw["hardware"][0]["cpu"]["family"] = "twenty-three"
    raw["hardware"][1]["name"] = "evil\nqueue 1000"
    raw["software"][0]["image"] = 'docker://x/y:1" || true'
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert main(["render", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "hardware[0].cpu.family: expected a whole number like 23" in err
    assert "hardware[1].name" in err and "software[0].image" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_console_script_runs_as_a_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reprogrid", "validate", str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "reprogrid init" in proc.stderr
