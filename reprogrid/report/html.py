"""Report: the analysis as one self-contained HTML page and a Markdown summary.

``build_report(df, out_dir, title=..., provenance=...)`` writes ``report.html`` (tables,
plots embedded as base64 PNG) and ``summary.md``, each atomically. The first screen says
what the data are: sample or real data, which hardware environments were emulated (a
dry run records the requested environment but the fingerprint of the machine that ran
it), how many runs, how many failed or are missing. ``summarize`` (re-exported from
``reprogrid.analysis.tables``) gives the same tables as DataFrames for notebooks.
"""
from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import pandas as pd

from reprogrid.core.text import markdown_text

from reprogrid.analysis import tables as analysis
from reprogrid.report import plots
from reprogrid.analysis.tables import Tolerances, summarize  # noqa: F401 - re-exported for notebooks
from reprogrid.core.files import write_text_atomic

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ReportPaths:
    """Where the report went."""

    directory: Path
    html: Path
    markdown: Path


def build_report(df: pd.DataFrame, out_dir: PathLike, *, title: str = "reprogrid report",
                 provenance: Optional[Mapping[str, Any]] = None, claims: Iterable[str] = (),
                 tolerances: Optional[Tolerances] = None, decimals: Optional[int] = None) -> ReportPaths:
    """Write ``report.html`` and ``summary.md`` for the runs in ``df`` into ``out_dir``.

    ``provenance`` adds facts the data cannot tell (``source``, the gather report's
    ``counts`` of missing/corrupt runs, ``emulated``: True for a dry run). Raises
    ``UserError`` for a claim that cannot be read, before writing anything.
    """
    tol = tolerances or Tolerances()
    claims = list(claims)
    tables = summarize(df, claims=claims, tolerances=tol, decimals=decimals)
    prepared = analysis.prepare(df)
    facts = analysis.provenance(prepared)
    extra = dict(provenance or {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(tables, facts, extra, title=title, tolerances=tol)
    page = render_html(tables, facts, extra, prepared, title=title, tolerances=tol)
    paths = ReportPaths(out, out / "report.html", out / "summary.md")
    write_text_atomic(paths.markdown, markdown)
    write_text_atomic(paths.html, page)
    return paths


# --------------------------------------------------------------------------- provenance

def provenance_lines(facts: Mapping[str, Any], extra: Mapping[str, Any]) -> List[str]:
    """The first-screen statements about the data, as plain sentences."""
    lines = []
    if extra.get("source"):
        lines.append(f"Source: {extra['source']}.")
    data = facts["data"]
    if data == "sample data":
        lines.append("Data: SAMPLE DATA (the bundled small sample files, not the published data sets): "
                     "the numbers show how the pipeline works, not the workloads' real accuracy.")
    elif data == "real data":
        lines.append("Data: real data (the published data sets).")
    else:
        lines.append(f"Data: {data} ({facts['sample_runs']} of {facts['runs']} runs on sample data).")
    lines.append(f"Runs: {facts['runs']} records, {facts['ok']} succeeded, {facts['failed']} failed; "
                 f"{len(facts['workloads'])} workload(s) x {len(facts['software_envs'])} software x "
                 f"{len(facts['hardware_envs'])} hardware environment(s).")
    counts = extra.get("counts") or {}
    gaps = {k: v for k, v in counts.items() if k in ("missing", "duplicate", "corrupt", "unexpected") and v}
    if gaps:
        lines.append("Gather: " + ", ".join(f"{v} {k}" for k, v in gaps.items())
                     + " run(s) not in this analysis (see the gather report).")
    emulated = facts["emulated_hardware_envs"]
    if extra.get("emulated") or emulated:
        machines = facts["observed_machines"]
        names = ", ".join(emulated) if emulated else "all"
        lines.append(f"EMULATED hardware: {names} - these runs were not executed on the requested hardware; "
                     f"the records carry the requested hardware_env but the fingerprint of the machine that ran "
                     f"them ({'; '.join(machines[:3])}{' ...' if len(machines) > 3 else ''}). Differences between "
                     f"these environments are not hardware effects.")
    else:
        lines.append("Hardware: every hardware environment's records carry a fingerprint consistent with its name "
                     "(see the hardware check for loose pins).")
    if facts["studies"]:
        lines.append("Study: " + "; ".join(facts["studies"]) + ".")
    return lines


# --------------------------------------------------------------------------- markdown

def _md_table(df: pd.DataFrame, columns: Optional[List[str]] = None, limit: int = 40) -> str:
    if df is None or df.empty:
        return "_none_\n"
    df = df[columns] if columns else df
    shown = df.head(limit)
    cells = [[_fmt(v) for v in row] for row in shown.itertuples(index=False)]
    head = "| " + " | ".join(markdown_text(c) for c in shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    body = ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in cells]
    more = [f"\n_... {len(df) - limit} more rows in the HTML report_"] if len(df) > limit else []
    return "\n".join([head, rule, *body, *more]) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if value is None or value is pd.NA:
        return ""
    return str(value)


def _accuracy(stats: pd.DataFrame) -> pd.DataFrame:
    acc = stats[stats["metric"] == analysis.ACCURACY].copy()
    for col in ("min", "max", "mean", "std"):
        acc[col + " (%)"] = acc[col] * 100
    return acc


def render_markdown(tables: Dict[str, pd.DataFrame], facts: Mapping[str, Any], extra: Mapping[str, Any], *,
                    title: str, tolerances: Tolerances) -> str:
    """The terminal-sized summary: provenance, verdicts, ranges, nondeterminism, groups, claims."""
    acc = _accuracy(tables["stats"])
    parts = [f"# {markdown_text(title)}\n", *[f"- {markdown_text(line)}" for line in provenance_lines(facts, extra)], ""]
    parts += ["## Verdicts\n", _md_table(tables["verdicts"], ["workload", "n_envs", "range_pp", "outcomes_reproducible",
                                                              "analysis_reproducible", "interpretation_reproducible"])]
    parts += ["Criteria:\n", *[f"- **{k}**: {v}" for k, v in tolerances.criteria().items()], ""]
    parts += ["## Test accuracy across all environments\n",
              _md_table(acc, ["workload", "n", "min (%)", "max (%)", "range_pp", "mean (%)", "std (%)"])]
    bad = tables["nondeterministic"]
    parts += [f"## Nondeterministic cells ({len(bad)})\n",
              _md_table(bad, ["workload", "software_env", "hardware_env", "n", "level", "accuracy_range_pp", "evidence"])]
    expl = tables["group_explanations"]
    parts += ["## What separates the outcome groups (within each software environment)\n",
              _md_table(expl, ["workload", "device_class", "software_env", "n_groups", "attributes", "pure"])]
    if not tables["claims"].empty:
        parts += ["## Claims\n", _md_table(tables["claims"], ["claim", "n_envs", "n_support", "share", "failing"])]
    hw = tables["hardware_check"]
    off = hw[~hw["agrees"].astype(bool)] if not hw.empty else hw
    if not off.empty:
        parts += ["## Requested vs observed hardware (disagreements)\n",
                  _md_table(off, ["hardware_env", "observed", "n_machines", "loose_pin", "name_mismatch", "shared"])]
    return "\n".join(parts).rstrip() + "\n"


# --------------------------------------------------------------------------- html

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
.prov{background:#f4f6fa;border-left:5px solid #4a6fa5;padding:.6em 1em;margin:1em 0}
.prov.warn{background:#fff4e5;border-left-color:#e08a00}
table{border-collapse:collapse;font-size:13px;margin:.6em 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0} tr:nth-child(even) td{background:#fafafa}
img{max-width:100%;margin:.4em 0} .yes{color:#1a7f37;font-weight:600} .no{color:#b42318;font-weight:600}
details{margin:.5em 0} summary{cursor:pointer;font-weight:600}
"""


def _html_table(df: Optional[pd.DataFrame], columns: Optional[List[str]] = None, limit: int = 500) -> str:
    if df is None or df.empty:
        return "<p><em>none</em></p>"
    df = df[[c for c in columns if c in df.columns]] if columns else df
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for row in df.head(limit).itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, (bool,)) or (hasattr(value, "dtype") and str(getattr(value, "dtype", "")) == "bool"):
                cells.append(f"<td class='{'yes' if value else 'no'}'>{'yes' if value else 'no'}</td>")
            else:
                cells.append(f"<td>{html.escape(_fmt(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p><em>{len(df) - limit} more rows not shown</em></p>" if len(df) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def _img(png: Optional[bytes], alt: str) -> str:
    if not png:
        return ""
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"


def render_html(tables: Dict[str, pd.DataFrame], facts: Mapping[str, Any], extra: Mapping[str, Any],
                prepared: pd.DataFrame, *, title: str, tolerances: Tolerances) -> str:
    """The full report page (one file, images inline)."""
    e = html.escape
    lines = provenance_lines(facts, extra)
    warn = facts["data"] != "real data" or bool(facts["emulated_hardware_envs"]) or bool(extra.get("emulated"))
    body = [f"<h1>{e(title)}</h1>",
            f"<div class='prov{' warn' if warn else ''}'><strong>What these data are</strong><ul>"
            + "".join(f"<li>{e(line)}</li>" for line in lines) + "</ul></div>"]
    body += ["<h2>Verdicts</h2>",
             _html_table(tables["verdicts"], ["workload", "n_runs", "n_envs", "range_pp", "distinct_outcomes",
                                              "nondeterministic_cells", "outcomes_reproducible", "analysis_reproducible",
                                              "interpretation_reproducible", "interpretation_basis"]),
             "<p>Criteria (Gundersen's degrees of reproducibility, with this report's tolerances):</p><ul>"
             + "".join(f"<li><strong>{e(k)}</strong>: {e(v)}</li>" for k, v in tolerances.criteria().items()) + "</ul>",
             "<details><summary>Verdicts by device class</summary>"
             + _html_table(tables["verdicts_by_device"], ["workload", "device_class", "n_envs", "range_pp",
                                                          "outcomes_reproducible", "analysis_reproducible",
                                                          "interpretation_reproducible"]) + "</details>"]
    acc = _accuracy(tables["stats"])
    body += ["<h2>How far outcomes move</h2>",
             "<p>Test accuracy over every successful run; range in percentage points (pp).</p>",
             _html_table(acc, ["workload", "n", "min (%)", "max (%)", "range_pp", "mean (%)", "std (%)"]),
             "<details><summary>All metrics (loss, fraud confusion counts)</summary>"
             + _html_table(tables["stats"]) + "</details>"]
    for key, label in (("stats_by_software", "by software environment"), ("stats_by_hardware", "by hardware environment"),
                       ("stats_by_device", "by device class"), ("stats_by_observed", "by observed hardware (fingerprint)")):
        part = _accuracy(tables[key])
        cols = [c for c in part.columns if c not in ("metric", "min", "max", "mean", "std", "range")]
        body.append(f"<details><summary>Test accuracy {e(label)}</summary>{_html_table(part, cols)}</details>")
    workloads = sorted(set(prepared["workload"].astype(str)))
    for workload in workloads:
        body += [f"<h2>{e(workload)}</h2>",
                 _img(plots.accuracy_strip(prepared, workload), f"{workload} accuracy by environment"),
                 _img(plots.accuracy_heatmap(tables["cell_means"], workload), f"{workload} mean accuracy heat map"),
                 _img(plots.plot_determinism_matrix(tables["determinism"], workload), f"{workload} determinism matrix")]
    det = tables["determinism"]
    body += ["<h2>Determinism</h2>",
             "<p>A cell is one workload in one software environment on one observed machine with one seed. "
             "<em>bitwise identical</em>: equal prediction hashes; <em>equal metrics</em>: no hashes recorded, equal "
             "accuracy and loss; <em>equal accuracy only</em>: hashes or loss differ; <em>different</em>: accuracy "
             "differs.</p>",
             _html_table(det["level"].value_counts().rename_axis("level").reset_index() if not det.empty else det),
             f"<h3>Nondeterministic cells ({len(tables['nondeterministic'])})</h3>",
             _html_table(tables["nondeterministic"], ["workload", "software_env", "hardware_env", "observed_machine",
                                                      "n", "distinct_accuracy", "accuracy_range_pp", "level", "evidence"])]
    body += ["<h2>Outcome groups</h2>",
             "<p>Environments whose runs gave identical outcomes form a group (G1 = highest accuracy). The attributes "
             "are the fingerprint attributes of the smallest decision tree that separates the groups.</p>",
             "<h3>Attributes that separate groups</h3>", _html_table(tables["group_factors"]),
             "<h3>Within each software environment</h3>",
             _html_table(tables["group_explanations"], ["workload", "device_class", "software_env", "n_envs", "n_groups",
                                                        "attributes", "rule", "pure", "groups"]),
             "<h3>Across all environments</h3>",
             _html_table(tables["group_explanations_all"], ["workload", "device_class", "n_envs", "n_groups",
                                                            "attributes", "pure"]),
             "<details><summary>Every environment and its group</summary>"
             + _html_table(tables["outcome_groups"], ["workload", "device_class", "software_env", "hardware_env", "group",
                                                      "accuracy", "loss", "n", "cpu_vendor", "has_avx512f", "microarch",
                                                      "cpu_model", "gpu_name"]) + "</details>"]
    body += ["<h2>Claims</h2>",
             "<p>Each claim is checked in every environment (software x hardware, mean of its runs).</p>",
             _html_table(tables["claims"], ["claim", "n_envs", "n_support", "share", "share_runs", "holds_everywhere", "failing"])]
    body += ["<h2>Requested vs observed hardware</h2>",
             "<p><em>loose_pin</em>: more than one kind of machine ran the environment; <em>name_mismatch</em>: the "
             "model in the environment's name is not the observed one; <em>shared</em>: the same machine also ran "
             "other hardware environments (emulation).</p>",
             _html_table(tables["hardware_check"])]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")
