"""Report: the analysis as one self-contained HTML page, a Markdown summary and the figures.

``build_report(df, out_dir, title=..., provenance=...)`` writes ``report.html``,
``summary.md`` and ``figures/`` (the overview and the determinism matrices as SVG, and as
PNG with ``png=True``), each atomically. The first screen (1280x800, no scrolling) holds the title, the provenance
badges (SAMPLE DATA, EMULATED 3 machines, SAME STACK, 5 FAILED...; each opens its detail),
one answer line per workload and the overview figure; everything else follows in sections
a reader can skip. The statistics are computed once per page (``analysis.summarize``); each
figure is described once (``figdata``) and drawn as SVG text (``svgfigures``), inline in
the page: the page needs no matplotlib, which draws only the PNG files of ``png=True``. ``summarize`` (re-exported from
``reprogrid.analysis``) gives the same tables as DataFrames for notebooks.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import pandas as pd

from reprogrid import analysis
from reprogrid.analysis import Tolerances
from reprogrid.analysis.summary import summarize_with_facts
from reprogrid.core.files import write_text_atomic
from reprogrid.core.text import document
from reprogrid.report import figdata, figures, sections, svgfigures, userstudy
from reprogrid.report.answer import Answer, Badge, answers, badges
from reprogrid.report.emulation import emulation_limits
from reprogrid.report.facts import (
    provenance_lines, provenance_topics, stack_facts, verdict_caveat, verdicts_withheld,
)
from reprogrid.report.markdown import render_markdown
from reprogrid.report.tables import CSS, html_table

PathLike = Union[str, "os.PathLike[str]"]
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class ReportPaths:
    """Where the report went."""

    directory: Path
    html: Path
    markdown: Path
    figures: tuple = ()


def build_report(df: pd.DataFrame, out_dir: PathLike, *, title: str = "reprogrid report",
                 provenance: Optional[Mapping[str, Any]] = None, claims: Iterable[str] = (),
                 tolerances: Optional[Tolerances] = None, decimals: Optional[int] = None,
                 png: bool = False) -> ReportPaths:
    """Write ``report.html``, ``summary.md`` and ``figures/`` for the runs in ``df`` into ``out_dir``
    (``png``: the figures also as PNG, drawn by matplotlib).

    ``provenance`` adds facts the data cannot tell (``source``, the gather report's
    ``counts`` of missing/corrupt runs, ``emulated``: True for a dry run, ``badges``: extra
    :class:`~reprogrid.report.answer.Badge` items). Raises ``UserError`` for a claim that
    cannot be read, before writing anything.
    """
    tol = tolerances or Tolerances()
    claims = list(claims)
    prepared = analysis.prepare(df)
    # the tables and the provenance facts, each computed once per page (the hardware checked once)
    tables, facts = summarize_with_facts(prepared, claims=claims, tolerances=tol, decimals=decimals)
    extra = dict(provenance or {})
    extra.setdefault("emulation_limits", emulation_limits(df))
    extra.update(stack_facts(df, tables["hardware_check"]))  # the raw records: their distribution lists
    extra.update(userstudy.study_facts(df, extra["software_stacks"], extra))
    extra["hardware_rows"] = userstudy.hardware_rows(tables["hardware_check"], df, extra.get("hardware_requested") or {},
                                                     list(facts["emulated_hardware_envs"]))
    extra["answers"] = answers(tables, verdicts_withheld(facts, extra))  # once: the page and summary.md
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drawn = _draw(tables, prepared, extra["answers"])
    markdown = render_markdown(tables, facts, extra, title=title, tolerances=tol)
    page = render_html(tables, facts, extra, prepared, title=title, tolerances=tol, drawn=drawn)
    written = _write_figures(drawn, out / FIGURES_DIR, png)
    for stale in (out / FIGURES_DIR).glob("*.*"):  # figures of an earlier report of other data
        if stale.suffix in (".png", ".svg") and stale not in written:
            stale.unlink()
    paths = ReportPaths(out, out / "report.html", out / "summary.md", tuple(written))
    write_text_atomic(paths.markdown, document(markdown))  # record text reaches these pages: no control characters
    write_text_atomic(paths.html, document(page))
    return paths


def _draw(tables: Mapping[str, pd.DataFrame], prepared: pd.DataFrame, answered: Iterable[Answer]) -> Dict[str, Any]:
    """Every figure of the page, described once and drawn once as SVG: ``described`` (the
    ``figdata`` descriptions, also what ``png=True`` draws) and ``svg`` (``svg.Svg``, or None
    when there is nothing to draw). ``answered``: the answer lines, whose spread sentences
    the overview's rows repeat (computed once, there)."""
    described = {"overview": figdata.overview(prepared, {a.workload: a.spread for a in answered}),
                 "determinism": figdata.determinism(tables["determinism"]),
                 "k_curve": figdata.k_curve(tables.get("k_curve"))}
    return {"described": described,
            "svg": {name: svgfigures.draw(fig, f"{name.replace('_', '-')}-figure") for name, fig in described.items()}}


def _write_figures(drawn: Mapping[str, Any], folder: Path, png: bool) -> List[Path]:
    """``figures/``: the exported figures (overview, determinism) as SVG, and as PNG when asked."""
    exported = {name: drawn["svg"][name] for name in ("overview", "determinism") if drawn["svg"][name] is not None}
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, svg in exported.items():
        write_text_atomic(folder / f"{name}.svg", svg.document())
        written.append(folder / f"{name}.svg")
    if png and exported:  # matplotlib is imported by figures' drawers, only now
        written += figures.write_figures({name: figures.draw(drawn["described"][name]) for name in exported}, folder,
                                         formats=("png",))
    return written


def stack_section_html(extra: Mapping[str, Any]) -> str:
    """What each software environment really ran (observed in its records)."""
    intro = ("<p>What answered each requested software environment, as its records' fingerprints observed it "
             "(not what the environment's name or image promises).</p>")
    return "<h2>Software stack observed per software environment</h2>" + intro + html_table(
        extra.get("software_stacks"), ["software_env", "n_runs", "python", "tensorflow", "keras", "keras_backend",
                                       "cuda", "cudnn"])


# --------------------------------------------------------------------------- html

def first_screen(tables: Mapping[str, pd.DataFrame], facts: Mapping[str, Any], extra: Mapping[str, Any], *,
                 title: str, overview: Optional[svgfigures.Svg]) -> List[str]:
    """Title, badges, one answer line per workload, the overview figure (fits 1280x800)."""
    e = html.escape
    withheld = verdicts_withheld(facts, extra)
    body = [f"<h1>{e(title)}</h1>", badge_row(badges(facts, extra, provenance_topics(facts, extra)))]
    items = []
    for a in extra.get("answers") or answers(tables, withheld):
        notes = "".join(f" <span class='why'>{e(n)}</span>" for n in a.notes)
        items.append(f"<li class='answer' data-workload='{e(a.workload)}'><strong>{e(a.workload)}</strong> "
                     f"<span class='word {a.tone}'>{e(a.word)}</span> {e(a.spread)}; <em>{e(a.moved)}</em>."
                     f"{notes}</li>")
    body.append("<ul class='answers'>" + ("".join(items) or "<li>No successful runs: nothing to answer.</li>")
                + "</ul>")
    first = userstudy.failure_lines(extra) + userstudy.finding_lines(extra)  # why runs failed; stack findings
    if first:
        body.append("<ul class='first-notes'>" + "".join(f"<li>{e(line)}</li>" for line in first) + "</ul>")
    if withheld:
        body.append(f"<p class='prov warn' style='margin:.3em 0;padding:.3em .8em'>No verdict: {e(withheld)}</p>")
    if overview is not None:
        body.append("<figure class='main' id='overview'>" + str(overview) + "<figcaption>Every run of every environment "
                    "(colour = software, marker = hardware; repeats side by side); each workload's spread and its "
                    f"interval are in its answer line above. Also as <a href='{FIGURES_DIR}/overview.svg'>SVG</a>."
                    "</figcaption></figure>")
    return body


def badge_row(items: List[Badge]) -> str:
    """The badges as one row of ``<details>``: the label, opening to its detail."""
    e = html.escape
    return "<div class='badges'>" + "".join(
        f"<details class='badge {b.tone}'><summary>{e(b.label)}</summary><div>"
        + "".join(f"<p>{e(line)}</p>" for line in b.detail) + "</div></details>" for b in items) + "</div>"


def render_html(tables: Dict[str, pd.DataFrame], facts: Mapping[str, Any], extra: Mapping[str, Any],
                prepared: pd.DataFrame, *, title: str, tolerances: Tolerances,
                drawn: Optional[Mapping[str, Any]] = None) -> str:
    """The full report page (one file, images inline): the first screen, then the detail."""
    e = html.escape
    withheld = verdicts_withheld(facts, extra)
    if not extra.get("answers"):  # called on its own: the answer lines, once for the figure and the first screen
        extra = {**extra, "answers": answers(tables, withheld)}
    drawn = drawn or _draw(tables, prepared, extra["answers"])
    warn = facts["data"] != "real data" or bool(facts["emulated_hardware_envs"]) or bool(extra.get("emulated")) \
        or bool(extra.get("same_stack"))
    body = first_screen(tables, facts, extra, title=title, overview=drawn["svg"]["overview"])
    body += ["<h2>What these data are</h2>", f"<div class='prov{' warn' if warn else ''}'><ul>"
             + "".join(f"<li>{e(line)}</li>" for line in provenance_lines(facts, extra)) + "</ul></div>"]
    body += sections.survival_section(tables)
    body.append(stack_section_html(extra) + userstudy.stack_difference_html(extra))
    caveat = ("No verdict: " + withheld) if withheld else verdict_caveat(facts, extra)
    body += sections.verdict_section(tables, tolerances, caveat, withheld=bool(withheld))
    body += sections.factor_section(tables, drawn["svg"]["k_curve"], drawn["described"]["k_curve"])
    body += sections.spread_section(tables, extra)
    body += sections.determinism_section(tables, drawn["svg"]["determinism"])
    body += sections.group_section(tables)
    body += sections.claims_section(tables)
    body += sections.hardware_section(extra["hardware_rows"])
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")
