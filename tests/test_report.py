"""Report: HTML + Markdown written atomically, provenance on the first screen, plots embedded."""
from __future__ import annotations

import re

import pytest

from reprogrid.core.errors import UserError
from reprogrid.report import build_report
from reprogrid.analysis import summarize
from test_analysis import frame, row, study
from test_gather import gather, make_submit, write_all


def test_report_states_sample_data_and_emulation_first_and_embeds_plots(tmp_path):
    local = dict(cpu_vendor="GenuineIntel", cpu_model="Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", has_avx512f=False,
                 machine_name="laptop")
    df = frame([row(w, s, h, r, 0.9 + (0.01 if s == "sw2" else 0), sha=f"{w}{s}", **local)
                for w in ("mnist_convnet", "lstm") for s in ("sw1", "sw2")
                for h in ("amd-epyc-7302", "intel-xeon-gold-6148") for r in range(2)])
    paths = build_report(df, tmp_path / "rep", title="Demo <study>", claims=["accuracy >= 0.85"],
                         provenance={"source": "submit/demo", "counts": {"missing": 2}})
    page = paths.html.read_text()
    first_screen = page[: page.index("<h2>")]
    assert "Demo &lt;study&gt;" in first_screen  # escaped
    assert "SAMPLE DATA" in first_screen and "EMULATED" in first_screen and "amd-epyc-7302" in first_screen
    assert "2 missing" in first_screen and "16 records" in first_screen
    images = re.findall(r"<svg [^>]*role='img'[^>]*>.*?</svg>", page, re.S)
    assert len(images) == 3  # the overview, the determinism matrix, the k-curve (heat maps are tables)
    for svg in images:  # accessible: a title and a description that says what the figure was computed from
        ident = re.search(r"id='([^']+)'", svg).group(1)
        assert f"aria-labelledby='{ident}-title'" in svg and f"<desc id='{ident}-desc'>" in svg
    assert "16 successful runs" in images[0] and "95% CI" in images[0]  # what it shows, and how sure
    assert "data:image" not in page  # no raster image: the page's figures are SVG text
    assert "accuracy &gt;= 0.85" in page and "outcomes reproducible" in page
    figures = sorted(p.name for p in (tmp_path / "rep" / "figures").iterdir())
    assert figures == ["determinism.svg", "overview.svg"]
    exported = (tmp_path / "rep" / "figures" / "overview.svg").read_text()
    assert exported.startswith("<?xml") and exported.strip().endswith(images[0])
    md = paths.markdown.read_text()
    assert md.startswith("# Demo \\<study\\>") and "SAMPLE DATA" in md and "## Verdicts" in md
    assert "| mnist_convnet |" in md


def test_report_png_draws_the_figures_with_matplotlib_too(tmp_path):
    paths = build_report(study(), tmp_path / "rep", png=True)
    assert sorted(p.name for p in paths.figures) == ["determinism.png", "determinism.svg", "overview.png",
                                                     "overview.svg"]
    assert (tmp_path / "rep" / "figures" / "overview.png").read_bytes().startswith(b"\x89PNG")


def test_the_report_command_imports_neither_matplotlib_nor_the_crate_writer(tmp_path):
    """The page's figures are SVG text and its input check reads crates only: no matplotlib,
    rocrate or requests in the process (they cost more than a second of the report's start)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    study().to_parquet(tmp_path / "data.parquet", index=False)
    code = ("import sys; from reprogrid.cli import main\n"
            f"rc = main(['report', {str(tmp_path / 'data.parquet')!r}, '-o', {str(tmp_path / 'rep')!r}, '--quiet'])\n"
            "print('LOADED', rc, sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'rocrate', 'requests'}))\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert "LOADED 0 []" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "rep" / "figures" / "overview.svg").is_file()


def test_bad_claim_fails_before_writing(tmp_path):
    with pytest.raises(UserError, match="claim"):
        build_report(study(), tmp_path / "rep", claims=["accuracy is fine"])
    assert not (tmp_path / "rep" / "report.html").exists()


def test_summarize_is_the_notebook_api():
    tables = summarize(study())
    assert {"stats", "verdicts", "determinism", "outcome_groups"} <= set(tables)


def test_cli_report_of_a_gathered_submit_dir(tmp_path, capsys):
    from reprogrid.cli import main

    submit = make_submit(tmp_path / "sub")
    write_all(submit)
    gather(submit)
    assert main(["report", str(submit), "--claim", "mnist_convnet beats imbalanced_classification", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert (submit / "report" / "report.html").is_file() and "report.html" in out
    assert "beats" in (submit / "report" / "summary.md").read_text()
    assert main(["report", str(submit), "--claim", "nonsense claim"]) == 2
    assert main(["report", str(tmp_path / "missing")]) == 2


def test_first_screen_names_the_factor_that_moved_the_result(tmp_path):
    from test_analysis import frame, row

    from reprogrid.report import build_report

    rows = [row("w", sw, hw, r, acc, sha=f"{sw}-{hw}", tensorflow_version=tf, keras_version=keras)
            for sw, tf, keras, acc in (("old", "2.15.1", "2.15.0", 0.745), ("new", "2.21.0", "3.15.1", 0.535))
            for hw in ("amd-a", "intel-v4") for r in range(2)]
    paths = build_report(frame(rows), tmp_path / "r")
    page = paths.html.read_text()
    screen = page[: page.index("<h2>")]
    assert "moved by software stack (100%, 21.00 pp)" in screen
    assert "No verdict" not in page and "<span class='word no'>no</span>" in screen  # real stacks, real machines


def test_the_figures_from_the_notebook_api(tmp_path):
    from reprogrid.report import determinism_figure, export_figures, overview_figure
    from reprogrid.analysis import determinism

    df = study()
    fig = overview_figure(df)
    assert [ax.get_yticklabels()[0].get_text() for ax in fig.axes] == ["lstm", "mnist"]  # a row per workload
    assert len(fig.axes[0].collections) == 5  # a collection per hardware environment (marker)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 30  # every run of the workload
    assert determinism_figure(determinism(df), "lstm") is not None
    paths = export_figures(df, tmp_path / "figs")
    assert sorted(p.name for p in paths) == ["determinism.png", "determinism.svg", "overview.png", "overview.svg"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_the_page_computes_provenance_once_and_says_each_spread_and_k_in_the_same_words(tmp_path, monkeypatch):
    """The provenance facts are computed once per page (summarize's, passed on); the overview's
    rows repeat the answer lines' spread sentences and the k-curve section repeats its figure's
    "needed" text: each computed once, by one owner."""
    from reprogrid import analysis
    from reprogrid.analysis import hardware, summary

    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return hardware.provenance(*args, **kwargs)

    monkeypatch.setattr(summary, "provenance", counted)
    monkeypatch.setattr(analysis, "provenance", counted)
    page = build_report(study(), tmp_path / "rep").html.read_text()
    assert len(calls) == 1
    answers = re.findall(r"<li class='answer' data-workload='([^']+)'>.*?</span> (.*?); <em>", page)
    overview = re.search(r"<desc id='overview-figure-desc'>(.*?)</desc>", page, re.S).group(1)
    assert len(answers) == 2
    for workload, spread in answers:
        assert f"{workload}: {spread}." in overview
    needed = re.search(r"<p>Environments needed for 95%: (.*?)\.</p>", page).group(1)
    k_desc = re.search(r"<desc id='k-curve-figure-desc'>(.*?)</desc>", page, re.S).group(1)
    assert needed and f"Environments needed for 95%: {needed}." in k_desc


def test_numpy_booleans_read_as_yes_and_no_in_tables():
    """numpy 2 calls its boolean type ``bool`` (numpy 1: ``bool_``); both, and Python's, read yes/no."""
    import numpy as np
    import pandas as pd

    from reprogrid.report.tables import fmt, html_cell

    assert html_cell(np.bool_(True)) == "<td class='yes'>yes</td>" == html_cell(True)
    assert fmt(np.bool_(False)) == "no" == fmt(False)
    assert html_cell(pd.array([True, None], dtype="boolean")[0]) == "<td class='yes'>yes</td>"
