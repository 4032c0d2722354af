"""File-system faults are clear messages (exit 2, the path and the fix, no traceback);
long names work or are refused up front; printed commands are shell-quoted; data written
to Markdown and the terminal is escaped."""
from __future__ import annotations

import io
import os
import shlex
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from reprogrid.cli import main
from reprogrid.core.text import csv_cell, markdown_text, shown
from reprogrid.spec.presets import preset_yaml

sys.path.insert(0, str(Path(__file__).parent))
from test_gather import make_record, make_submit, write_parquet  # noqa: E402

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def run(*argv: str):
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(preset_yaml("demo"))
    return path


@pytest.fixture
def submit(tmp_path):
    root = make_submit(tmp_path / "submit", [dict(workload="mnist_convnet", software_env="dockerhub-2.8.0",
                                                 hardware_env="amd-epyc-7302", repeat=0)])
    rec = make_record(status="failed", error_type="ValueError", error_message="bad \x1b[2J\x07 value")
    write_parquet(root / "results" / f"{rec['run_id']}.parquet", [rec])
    return root


def _refused(code: int, err: str, *words: str) -> None:
    assert code == 2 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_render_into_a_file_s_subfolder(tmp_path, spec):
    (tmp_path / "afile").write_text("x")
    code, _, err = run("render", str(spec), "-o", str(tmp_path / "afile" / "sub"))
    _refused(code, err, str(tmp_path / "afile"), "is a file", "-o")


def test_render_into_a_folder_it_cannot_write(tmp_path, spec):
    code, _, err = run("render", str(spec), "-o", "/proc/reprogrid-test/sub")  # read-only even for root
    _refused(code, err, "/proc")
    if not ROOT_USER:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        code, _, err = run("render", str(spec), "-o", str(locked / "sub"))
        _refused(code, err, str(locked), "writable")
        assert list(locked.iterdir()) == []


def test_gather_into_a_submit_folder_it_cannot_write(tmp_path, submit):
    code, _, err = run("gather", str(submit), "-o", "/proc/reprogrid-test/ds")
    _refused(code, err, "/proc")
    if not ROOT_USER:
        os.chmod(submit, 0o555)
        try:
            code, _, err = run("gather", str(submit))
            _refused(code, err, str(submit), "writable")
        finally:
            os.chmod(submit, 0o755)


def test_gather_into_a_file_s_subfolder(tmp_path, submit):
    (tmp_path / "afile").write_text("x")
    code, _, err = run("gather", str(submit), "-o", str(tmp_path / "afile" / "ds"))
    _refused(code, err, "afile", "is a file")


@pytest.mark.parametrize("length", [200, 242, 255])
def test_long_output_names_work(tmp_path, spec, submit, length):
    out = tmp_path / ("r" * length)
    code, _, err = run("render", str(spec), "-o", str(out))
    assert code == 0, err
    code, _, err = run("gather", str(submit), "-o", str(tmp_path / ("d" * length)))
    assert code == 0, err


def test_too_long_output_names_are_refused_up_front(tmp_path, spec, submit):
    code, _, err = run("render", str(spec), "-o", str(tmp_path / ("r" * 256)))
    _refused(code, err, "256 bytes", "shorter")
    code, _, err = run("gather", str(submit), "-o", str(tmp_path / ("d" * 300)))
    _refused(code, err, "300 bytes", "shorter")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.yaml", "submit"]


def test_printed_commands_are_shell_quoted(tmp_path, spec):
    out = tmp_path / "my study; rm -rf ~"
    code, printed, err = run("render", str(spec), "-o", str(out))
    assert code == 0, err
    assert f"reprogrid dryrun {shlex.quote(str(out / 'study.dag'))}" in printed
    assert f"condor_submit_dag {shlex.quote(str(out / 'study.dag'))}" in printed


def test_terminal_output_escapes_control_characters(submit):
    code, printed, err = run("gather", str(submit))
    assert code == 0, err
    assert "\x1b" not in printed and "\x07" not in printed
    assert "bad \\x1b[2J\\x07 value" in printed


def test_markdown_table_escapes_html_and_pipes():
    from reprogrid.report.tables import md_table as _md_table

    df = pd.DataFrame({"cpu": ["<script>alert(1)</script>", "a|b", "x\x1b[31m", "mnist_convnet", "*bold*"]})
    md = _md_table(df)
    assert "<script>" not in md and "\\<script\\>" in md
    assert "a\\|b" in md and "\x1b" not in md and "| mnist_convnet |" in md and "\\*bold\\*" in md


def test_escaping_helpers():
    assert shown("a\rb\x1b[2J\u202e") == "a\\x0db\\x1b[2J\\u202e"
    assert markdown_text("<img src=x onerror=alert(1)>") == "\\<img src=x onerror=alert(1)\\>"
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("-1.5") == "-1.5" and csv_cell(3) == 3


def test_gather_refuses_when_an_old_render_hid_the_results(tmp_path, submit):
    """An earlier version's killed `render --force` left the records in .NAME.<random>.tmp/results."""
    hidden = tmp_path / ".submit.ab12cd34.tmp" / "results"
    hidden.mkdir(parents=True)
    for f in (submit / "results").iterdir():
        f.rename(hidden / f.name)
    code, _, err = run("gather", str(submit))
    _refused(code, err, str(hidden), "mv ")
    assert not (submit / "dataset").exists()
