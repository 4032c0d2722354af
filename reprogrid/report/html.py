"""Report: the analysis as one self-contained HTML page, a Markdown summary and the figures.

``build_report(df, out_dir, title=..., provenance=...)`` writes ``report.html``,
``summary.md`` and ``figures/`` (the overview and the determinism matrices as PNG and SVG),
each atomically. The first screen (1280x800, no scrolling) holds the title, the provenance
badges (SAMPLE DATA, EMULATED 3 machines, SAME STACK, 5 FAILED...; each opens its detail),
one answer line per workload and the overview figure; everything else follows in sections
a reader can skip. The statistics are computed once per page (``analysis.summarize``) and
each figure is drawn once per format. ``summarize`` (re-exported from
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
from reprogrid.analysis import Tolerances, summarize
from reprogrid.core.files import write_text_atomic
from reprogrid.report import figures as figs
from reprogrid.core.text import document
from reprogrid.report import plots, sections, userstudy
from reprogrid.report.answer import Badge, answers, badges
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
                 tolerances: Optional[Tolerances] = None, decimals: Optional[int] = None) -> ReportPaths:
    """Write ``report.html``, ``summary.md`` and ``figures/`` for the runs in ``df`` into ``out_dir``.

    ``provenance`` adds facts the data cannot tell (``source``, the gather report's
    ``counts`` of missing/corrupt runs, ``emulated``: True for a dry run, ``badges``: extra
    :class:`~reprogrid.report.answer.Badge` items). Raises ``UserError`` for a claim that
    cannot be read, before writing anything.
    """
    tol = tolerances or Tolerances()
    claims = list(claims)
    prepared = analysis.prepare(df)
    tables = summarize(prepared, claims=claims, tolerances=tol, decimals=decimals)
    facts = analysis.provenance(prepared)
    extra = dict(provenance or {})
    extra.setdefault("emulation_limits", emulation_limits(df))
    extra.update(stack_facts(df, tables["hardware_check"]))  # the raw records: their distribution lists
    extra.update(userstudy.study_facts(df, extra["software_stacks"], extra))
    extra["hardware_rows"] = userstudy.hardware_rows(tables["hardware_check"], df, extra.get("hardware_requested") or {},
                                                     list(facts["emulated_hardware_envs"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drawn = _draw(tables, prepared)
    markdown = render_markdown(tables, facts, extra, title=title, tolerances=tol)
    page = render_html(tables, facts, extra, prepared, title=title, tolerances=tol, drawn=drawn)
    written = figs.write_figures(drawn["figures"], out / FIGURES_DIR, done=drawn["bytes"])
    for stale in (out / FIGURES_DIR).glob("*.*"):  # figures of an earlier report of other data
        if stale.suffix in (".png", ".svg") and stale not in written:
            stale.unlink()
    paths = ReportPaths(out, out / "report.html", out / "summary.md", tuple(written))
    write_text_atomic(paths.markdown, document(markdown))  # record text reaches these pages: no control characters
    write_text_atomic(paths.html, document(page))
    return paths


def _draw(tables: Mapping[str, pd.DataFrame], prepared: pd.DataFrame) -> Dict[str, Any]:
    """Every figure of the page, each laid out once and drawn once per format: the exported
    ones (overview, determinism matrix) as Figures with their PNG bytes, reused for the page
    and the files; and the k-curve."""
    exported = {"overview": figs.overview_figure(prepared), "determinism": figs.determinism_figure(tables["determinism"])}
    exported = {k: figs.fix_layout(v) for k, v in exported.items() if v is not None}
    done = {f"{name}.png": figs.to_bytes(fig, "png") for name, fig in exported.items()}
    return {"figures": exported, "bytes": done, "overview": done.get("overview.png"),
            "determinism": done.get("determinism.png"), "k_curve": plots.k_curve(tables.get("k_curve"))}


def stack_section_html(extra: Mapping[str, Any]) -> str:
    """What each software environment really ran (observed in its records)."""
    intro = ("<p>What answered each requested software environment, as its records' fingerprints observed it "
             "(not what the environment's name or image promises).</p>")
    return "<h2>Software stack observed per software environment</h2>" + intro + html_table(
        extra.get("software_stacks"), ["software_env", "n_runs", "python", "tensorflow", "keras", "keras_backend",
                                       "cuda", "cudnn"])


# --------------------------------------------------------------------------- html

def first_screen(tables: Mapping[str, pd.DataFrame], facts: Mapping[str, Any], extra: Mapping[str, Any], *,
                 title: str, overview_png: Optional[bytes]) -> List[str]:
    """Title, badges, one answer line per workload, the overview figure (fits 1280x800)."""
    e = html.escape
    withheld = verdicts_withheld(facts, extra)
    body = [f"<h1>{e(title)}</h1>", badge_row(badges(facts, extra, provenance_topics(facts, extra)))]
    items = []
    for a in answers(tables, withheld):
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
    if overview_png:
        body.append("<figure class='main' id='overview'>" + sections.img(overview_png, "every environment's value per "
                    "workload") + "<figcaption>Every run of every environment (colour = software, marker = hardware; "
                    f"repeats side by side). Also as <a href='{FIGURES_DIR}/overview.svg'>SVG</a> and "
                    f"<a href='{FIGURES_DIR}/overview.png'>PNG</a>.</figcaption></figure>")
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
    drawn = drawn or _draw(tables, prepared)
    withheld = verdicts_withheld(facts, extra)
    warn = facts["data"] != "real data" or bool(facts["emulated_hardware_envs"]) or bool(extra.get("emulated")) \
        or bool(extra.get("same_stack"))
    body = first_screen(tables, facts, extra, title=title, overview_png=drawn.get("overview"))
    body += ["<h2>What these data are</h2>", f"<div class='prov{' warn' if warn else ''}'><ul>"
             + "".join(f"<li>{e(line)}</li>" for line in provenance_lines(facts, extra)) + "</ul></div>"]
    body += sections.survival_section(tables)
    body.append(stack_section_html(extra) + userstudy.stack_difference_html(extra))
    caveat = ("No verdict: " + withheld) if withheld else verdict_caveat(facts, extra)
    body += sections.verdict_section(tables, tolerances, caveat, withheld=bool(withheld))
    body += sections.factor_section(tables, drawn.get("k_curve"))
    body += sections.spread_section(tables, extra)
    body += sections.determinism_section(tables, drawn.get("determinism"))
    body += sections.group_section(tables)
    body += sections.claims_section(tables)
    body += sections.hardware_section(extra["hardware_rows"])
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")
