"""Report: the analysis as one self-contained HTML page and a Markdown summary.

``build_report(df, out_dir, title=..., provenance=...)`` writes ``report.html`` (tables,
plots embedded as base64 PNG) and ``summary.md``, each atomically. The first screen says
what the data are: sample or real data, which hardware environments were emulated (a
dry run records the requested environment but the fingerprint of the machine that ran
it), how many runs, how many failed or are missing. ``reprogrid.analysis.summarize``
gives the same tables as DataFrames for notebooks.
"""
from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import pandas as pd

from reprogrid import analysis
from reprogrid.core.text import document, markdown_text
from reprogrid.report import plots, userstudy
from reprogrid.report.emulation import emulation_limits
from reprogrid.analysis import Tolerances, summarize
from reprogrid.analysis.stacks import same_stack_groups, software_stacks
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
    extra.setdefault("emulation_limits", emulation_limits(df))
    extra.update(stack_facts(df, tables["hardware_check"]))
    extra.update(userstudy.study_facts(df, extra["software_stacks"], extra))
    extra["hardware_rows"] = userstudy.hardware_rows(tables["hardware_check"], df, extra.get("hardware_requested") or {},
                                                     list(facts["emulated_hardware_envs"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(tables, facts, extra, title=title, tolerances=tol)
    page = render_html(tables, facts, extra, prepared, title=title, tolerances=tol)
    paths = ReportPaths(out, out / "report.html", out / "summary.md")
    write_text_atomic(paths.markdown, document(markdown))  # record text reaches these pages: no control characters
    write_text_atomic(paths.html, document(page))
    return paths


# --------------------------------------------------------------------------- provenance

def provenance_lines(facts: Mapping[str, Any], extra: Mapping[str, Any]) -> List[str]:
    """The first-screen statements about the data, as plain sentences."""
    lines = []
    if extra.get("source"):
        lines.append(f"Source: {extra['source']}.")
    data = facts["data"]
    if extra.get("data_lines"):  # user workloads: each workload's own data, by kind
        lines += list(extra["data_lines"])
    elif data == "sample data":
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
    gaps = {k: v for k, v in counts.items()
            if k in ("failed (no record)", "missing", "duplicate", "corrupt", "unexpected") and v}
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
                     f"these environments come only from what the emulator reproduces of each machine (the "
                     f"thread pools its host's logical CPUs give), never from their CPUs or GPUs.")
        lines += [f"Emulation: {line}" for line in extra.get("emulation_limits") or []]
        if extra.get("cannot_tell"):
            lines.append(_cannot_tell_line(extra))
    elif not facts["ok"]:
        lines.append("Hardware: no successful record, so nothing to check against the requested hardware.")
    elif extra.get("cannot_tell"):
        lines.append(_cannot_tell_line(extra))
    else:
        lines.append("Hardware: every hardware environment's records carry a fingerprint consistent with its name "
                     "(see the hardware check for loose pins).")
    if facts["studies"]:
        lines.append("Study: " + "; ".join(facts["studies"]) + ".")
    lines += same_stack_lines(extra)
    lines += userstudy.first_screen_lines(extra)
    return lines


def _cannot_tell_line(extra: Mapping[str, Any]) -> str:
    return ("Hardware: cannot tell whether " + ", ".join(extra["cannot_tell"]) + " got the requested CPU: "
            "the hosts that ran them hide their CPU model string (see the hardware check).")


# --------------------------------------------------------------------------- the answer (first screen)

#: one line per table saying what its columns mean (printed above the table)
COLUMN_NOTES = {
    "survival": "Per workload, on its primary metric: n_envs = observed environments (software x hardware x "
                "observed machine/CPUs/pools/stack x seed), min/max/range over all runs, env_std and env_range over "
                "the environments' values (each environment once) with 95% bootstrap intervals, run_std = run-to-run "
                "std of a random environment, between_share = share of the variance that lies between environments.",
    "verdicts": "Gundersen's degrees per workload; *_basis gives the figures each was decided on; the criteria "
                "are listed below the table.",
    "workload_explanations": "Per workload and device class: attributes (how many software environments' trees use "
                             "each), n_leaves vs n_groups (one leaf per group is the most economical explanation), "
                             "p_value = permutation test over all its scopes together, q_value = Benjamini-"
                             "Hochberg over the rows; identified = pure and q_value <= 0.05.",
    "group_explanations": "Per scope (workload x device x software env): the smallest tree over every varying "
                          "fingerprint attribute (rule), its leaves vs groups, aliases (attributes that split "
                          "identically), and the permutation test's p-value and its Benjamini-Hochberg q-value.",
    "factors": "Per workload and factor: n_levels in these data, eta_sq = share of the between-environment sum of "
               "squares the factor's levels explain on their own (factors are confounded: shares do not add up), "
               "effect = largest difference of level means (metric units), best/worst level.",
    "claim_stability": "Claims comparing variants of one task: share = fraction of environments where it holds, "
                       "with a 95% Wilson interval; decision = holds / fails / unstable; kendall_tau = rank agreement "
                       "of each environment's ranking of the variants with the overall ranking (1 = same everywhere).",
    "k_curve": "P(k environments drawn at random reveal the full range of values) and P(they include a "
               "nondeterministic environment), exact; k_needed = smallest k reaching 95% for both.",
    "stats": "Test accuracy over every successful run: n runs, min/max/mean/std in percent, range in percentage "
             "points (pp).",
    "stats_all": "Every metric over every successful run: n, min, max, range (range_pp for accuracy), mean, std.",
    "determinism": "A cell = one workload, software env, hardware env, observed environment and seed; level = how "
                   "far its repeats agree.",
    "nondeterministic": "Cells whose repeats disagreed: n runs, distinct accuracies, accuracy range (pp), level, "
                        "and what the judgement rests on (hashes or metrics).",
    "group_factors": "Per attribute: scopes where it is the tree's root, where it appears anywhere, and where the "
                     "explanation was identified (beat chance).",
    "claims": "Each claim per observed environment: n_envs, n_support, share with its 95% Wilson interval, "
              "share_runs (single runs), decision, and up to five failing environments.",
    "hardware_check": "Per requested hardware env: what ran (observed), n_machines; loose_pin = more than one kind "
                      "of machine; name_check = the model in the name against the observed model string: match, "
                      "mismatch, or cannot tell when the host hides its model (a VM reporting only \"AMD EPYC\"); "
                      "shared = the machine also ran other environments (emulation).",
    "outcome_groups": "Every observed environment of each scope with its group (G1 = best value), value, loss, runs "
                      "and main fingerprint attributes.",
}


def _yes(value: Any) -> str:
    return "not assessed" if value is None or value is pd.NA else ("yes" if bool(value) else "no")


def survival_lines(tables: Mapping[str, pd.DataFrame], withheld: str = "") -> List[str]:
    """One sentence per workload answering "does this result survive a change of environment?".

    ``withheld`` (see :func:`verdicts_withheld`): the environments did not differ in what
    they claim to vary, so the answer is "cannot tell" and no verdict is stated."""
    surv = tables.get("survival")
    if surv is None or surv.empty:
        return ["No successful runs: nothing to answer."]
    verdict = tables["verdicts"].set_index("workload") if not tables["verdicts"].empty else pd.DataFrame()
    expl = tables.get("workload_explanations", pd.DataFrame())
    lines = []
    for _, s in surv.iterrows():
        w = str(s["workload"])
        v = verdict.loc[w] if w in verdict.index else None
        if withheld:
            answer = "cannot tell from these data (the environments did not really differ)"
        elif v is not None and bool(v["outcomes_reproducible"]):
            answer = "yes: the same outcome in every environment"
        elif v is not None and bool(v["analysis_reproducible"]):
            answer = "yes, within tolerance: the environments differ no more than the tolerance or run-to-run noise"
        else:
            answer = "no: the result moves with the environment"
        pp = f" = {s['range'] * 100:.2f} pp" if s["metric"] == analysis.ACCURACY else ""
        text = (f"{w} ({s['metric']}, {'higher' if s['higher_is_better'] else 'lower'} is better) - {answer}. "
                f"{int(s['n_envs'])} observed environments, {int(s['n_runs'])} runs: values {s['min']:.5g} to "
                f"{s['max']:.5g} (range {s['range']:.4g}{pp}); between environments std {s['env_std']:.3g} "
                f"(95% CI {_num(s['env_std_low'])} to {_num(s['env_std_high'])}), range of environment values "
                f"{s['env_range']:.3g} (95% CI {_num(s['env_range_low'])} to {_num(s['env_range_high'])}); run-to-run "
                f"std {s['run_std']:.3g}; {_pct(s['between_share'])} of the variance lies between environments; "
                f"{int(s['distinct_outcomes'])} distinct outcome(s), {int(s['nondeterministic_envs'])} "
                f"nondeterministic environment(s).")
        if withheld:
            text += f" No verdict: {withheld}"
        elif v is not None:
            text += (f" Verdicts: outcomes {_yes(v['outcomes_reproducible'])}, analysis "
                     f"{_yes(v['analysis_reproducible'])}, interpretation {_yes(v['interpretation_reproducible'])}.")
        text += _factor_clause(tables.get("factors"), w, s["metric"])
        text += _explanation_clause(expl, w)
        lines.append(text)
    return lines


def _factor_clause(factors: Optional[pd.DataFrame], workload: str, metric: str) -> str:
    """The factors whose levels carry the between-environment variance, largest first."""
    if factors is None or factors.empty:
        return ""
    part = factors[(factors["workload"].astype(str) == workload) & (factors["n_levels"] > 1)
                   & (factors["eta_sq"].fillna(0) > 0)].sort_values("eta_sq", ascending=False)
    if part.empty:
        return ""
    items = []
    for _, f in part.head(3).iterrows():
        pp = f" = {f['effect'] * 100:.2f} pp" if metric == analysis.ACCURACY else ""
        best = str(f["best_level"]).split(" / ")[0]
        worst = str(f["worst_level"]).split(" / ")[0]
        items.append(f"{f['factor']} ({_pct(f['eta_sq'])} of the between-environment variance on its own; "
                     f"{best} vs {worst}: {f['effect']:.4g}{pp})")
    return " Moved by: " + "; ".join(items) + " (factors can be confounded: see the factor table)."


def _explanation_clause(expl: pd.DataFrame, workload: str) -> str:
    if expl is None or expl.empty:
        return ""
    parts = []
    for _, e in expl[expl["workload"].astype(str) == workload].iterrows():
        attrs = ", ".join(e["attributes"][:4])
        parts.append(f" {str(e['device_class']).upper()} outcome groups ({int(e['n_groups'])} in {int(e['n_scopes'])} "
                     f"software env(s)): {'explained by ' + attrs if e['identified'] else 'NOT IDENTIFIED (' + attrs + ')'}"
                     f" - permutation test p = {e['p_value']:.3g} (q = {e['q_value']:.3g}).")
    return "".join(parts)


def _num(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.3g}"


def _pct(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value * 100:.0f}%"


# --------------------------------------------------------------------------- software stacks

def stack_facts(df: pd.DataFrame, hw: Optional[pd.DataFrame]) -> Dict[str, Any]:
    """The observed software stacks and the same-stack groups, and the hardware environments
    whose hosts hide their CPU model (from the summary's hardware check ``hw``)."""
    stacks = software_stacks(df)
    unknown = [] if hw is None or hw.empty or "name_check" not in hw else \
        sorted(hw.loc[hw["name_check"] == "cannot tell", "hardware_env"].astype(str))
    return {"software_stacks": stacks, "same_stack": same_stack_groups(stacks), "cannot_tell": unknown}


def verdicts_withheld(facts: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """Why no verdict may be drawn, or "": every software environment ran one and the same
    stack and every hardware environment was emulated on one machine, so nothing the study
    claims to vary really varied (the demo on one interpreter, a dry run of a pool study)."""
    software = set(facts.get("software_envs") or [])
    hardware = set(facts.get("hardware_envs") or [])
    if not software or not hardware:
        return ""
    one_stack = len(software) == 1 or any(set(envs) >= software for _, envs in extra.get("same_stack") or [])
    emulated = set(facts.get("emulated_hardware_envs") or []) >= hardware
    if not (one_stack and emulated):
        return ""
    return ("every software environment ran the same stack and every hardware environment was emulated on "
            "one machine, so these data cannot say whether the result survives a change of software or "
            "hardware (map a software environment to another stack, or run on a pool).")


def verdict_caveat(facts: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """A sentence before the verdicts when the environments they compare did not differ."""
    if not extra.get("same_stack"):
        return ""
    hardware = (" and hardware environments emulated on one machine"
                if facts["emulated_hardware_envs"] or extra.get("emulated") else "")
    return ("These verdicts compare environments that did not differ in what they claim to vary: software "
            f"environments that ran the same stack (SAME STACK above){hardware}. They say nothing about "
            "TensorFlow versions" + (" or hardware." if hardware else "."))


def same_stack_lines(extra: Mapping[str, Any]) -> List[str]:
    """The first-screen warning: requested software environments that ran one and the same stack."""
    lines = []
    for stack, envs in extra.get("same_stack") or []:
        lines.append(f"SAME STACK: the software environments {', '.join(envs)} were not different here: all ran "
                     f"{stack}. Differences between them are not software effects, and no verdict compares "
                     "their TensorFlow versions (map a software environment to another interpreter to compare "
                     "real stacks).")
    return lines


def stack_section_html(extra: Mapping[str, Any]) -> str:
    """What each software environment really ran (observed in its records)."""
    stacks = extra.get("software_stacks")
    intro = ("<p>What answered each requested software environment, as its records' fingerprints observed it "
             "(not what the environment's name or image promises).</p>")
    return "<h2>Software stack observed per software environment</h2>" + intro + _html_table(
        stacks, ["software_env", "n_runs", "python", "tensorflow", "keras", "keras_backend", "cuda", "cudnn"])


def stack_section_markdown(extra: Mapping[str, Any]) -> str:
    """The same table for summary.md."""
    return "## Software stack observed per software environment\n\n" + _md_table(
        extra.get("software_stacks"), ["software_env", "n_runs", "stack"])


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


def _varying(factors: Optional[pd.DataFrame]) -> Optional[pd.DataFrame]:
    """The factor rows whose factor varies in the data."""
    if factors is None or factors.empty:
        return factors
    return factors[factors["n_levels"] > 1]


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
    withheld = verdicts_withheld(facts, extra)
    parts += ["## Does this result survive a change of environment?\n", *[f"- {markdown_text(line)}" for line in survival_lines(tables, withheld)], ""]
    parts += [stack_section_markdown(extra), userstudy.stack_difference_markdown(extra)]
    caveat = ("No verdict: " + withheld) if withheld else verdict_caveat(facts, extra)
    parts += ["## Verdicts\n", *([f"**{markdown_text(caveat)}**\n"] if caveat else []),
              _md_table(tables["verdicts"], ["workload", "n_envs", "range", "env_std", "run_std",
                                         "outcomes_reproducible", "analysis_reproducible",
                                         "interpretation_reproducible"])]
    parts += ["Criteria:\n", *[f"- **{k}**: {v}" for k, v in tolerances.criteria().items()], ""]
    parts += ["## Test accuracy across all environments\n",
              _md_table(acc, ["workload", "n", "min (%)", "max (%)", "range_pp", "mean (%)", "std (%)"])]
    bad = tables["nondeterministic"]
    parts += [f"## Nondeterministic cells ({len(bad)})\n",
              _md_table(bad, ["workload", "software_env", "hardware_env", "n", "level", "accuracy_range_pp", "evidence"])]
    expl = tables["group_explanations"]
    parts += ["## What separates the outcome groups\n", COLUMN_NOTES["workload_explanations"] + "\n",
              _md_table(tables.get("workload_explanations"), ["workload", "device_class", "n_groups", "n_leaves",
                                                              "attributes", "p_value", "q_value", "identified"]),
              "Within each software environment:\n",
              _md_table(expl, ["workload", "device_class", "software_env", "n_groups", "n_leaves", "attributes",
                               "p_value", "identified"])]
    parts += ["## Factors (variance decomposition)\n", COLUMN_NOTES["factors"] + "\n",
              _md_table(_varying(tables.get("factors")), ["workload", "factor", "n_levels", "eta_sq", "effect"])]
    if tables.get("claim_stability") is not None and not tables["claim_stability"].empty:
        parts += ["## Claim stability\n", COLUMN_NOTES["claim_stability"] + "\n",
                  _md_table(tables["claim_stability"], ["task", "claim", "n_envs", "share", "share_low", "share_high",
                                                        "decision", "kendall_tau_mean"])]
    if not tables["claims"].empty:
        parts += ["## Claims\n", _md_table(tables["claims"], ["claim", "n_envs", "n_support", "share", "failing"])]
    hw = extra["hardware_rows"]
    off = hw[hw["agrees"].astype(str) != "yes"] if not hw.empty else hw
    if not off.empty:
        parts += ["## Requested vs observed hardware (not a plain yes)\n",
                  _md_table(off, [c for c in ["hardware_env", "requested_vendor", "observed_vendor", "observed",
                                              "n_machines", "name_check", "agrees"] if c in off.columns])]
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
.prov.answer{background:#eef7ee;border-left-color:#1a7f37} p.cols{color:#555;font-size:12px;margin:.2em 0}
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


def _note(key: str) -> str:
    """The one-line explanation of a table's columns."""
    return f"<p class='cols'>{html.escape(COLUMN_NOTES[key])}</p>"


def render_html(tables: Dict[str, pd.DataFrame], facts: Mapping[str, Any], extra: Mapping[str, Any],
                prepared: pd.DataFrame, *, title: str, tolerances: Tolerances) -> str:
    """The full report page (one file, images inline): what the data are, the answer, then the detail."""
    e = html.escape
    lines = provenance_lines(facts, extra)
    warn = (facts["data"] != "real data" or bool(facts["emulated_hardware_envs"]) or bool(extra.get("emulated"))
            or bool(extra.get("same_stack")))
    body = [f"<h1>{e(title)}</h1>",
            f"<div class='prov{' warn' if warn else ''}'><strong>What these data are</strong><ul>"
            + "".join(f"<li>{e(line)}</li>" for line in lines) + "</ul></div>"]
    withheld = verdicts_withheld(facts, extra)
    body += _answer_section(tables, withheld)
    body.append(stack_section_html(extra) + userstudy.stack_difference_html(extra))
    body += _verdict_section(tables, tolerances, ("No verdict: " + withheld) if withheld else verdict_caveat(facts, extra))
    body += _factor_section(tables)
    body += _spread_section(tables, prepared, extra)
    body += _determinism_section(tables)
    body += _group_section(tables)
    body += _claims_section(tables)
    body += ["<h2>Requested vs observed hardware</h2>", _note("hardware_check"),
             userstudy.hardware_check_html(extra["hardware_rows"], [
                 "hardware_env", "device_class", "n_runs", "requested_vendor", "observed_vendor", "observed",
                 "n_machines", "loose_pin", "name_check", "shared", "agrees"])]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def _answer_section(tables: Mapping[str, pd.DataFrame], withheld: str = "") -> List[str]:
    e = html.escape
    return ["<div class='prov answer'><strong>Does this result survive a change of environment?</strong><ul>"
            + "".join(f"<li>{e(line)}</li>" for line in survival_lines(tables, withheld)) + "</ul></div>",
            _note("survival"),
            _html_table(tables.get("survival"), ["workload", "metric", "n_runs", "n_envs", "min", "max", "range",
                                                 "env_std", "env_std_low", "env_std_high", "env_range",
                                                 "env_range_low", "env_range_high", "run_std", "between_share",
                                                 "distinct_outcomes", "nondeterministic_envs"]),
            "<details><summary>The same by device class</summary>" + _note("survival")
            + _html_table(tables.get("survival_by_device")) + "</details>"]


def _verdict_section(tables: Mapping[str, pd.DataFrame], tolerances: Tolerances, caveat: str = "") -> List[str]:
    e = html.escape
    return ["<h2>Verdicts</h2>" + (f"<p class='prov warn'>{e(caveat)}</p>" if caveat else ""), _note("verdicts"),
            _html_table(tables["verdicts"], ["workload", "n_runs", "n_envs", "metric", "range", "env_std", "run_std",
                                             "distinct_outcomes", "nondeterministic_cells", "outcomes_reproducible",
                                             "analysis_reproducible", "interpretation_reproducible", "outcome_basis",
                                             "analysis_basis", "interpretation_basis"]),
            "<p>Criteria (Gundersen's degrees of reproducibility, with this report's tolerances; each degree implies "
            "the next, and none depends on how many environments were run):</p><ul>"
            + "".join(f"<li><strong>{e(k)}</strong>: {e(v)}</li>" for k, v in tolerances.criteria().items()) + "</ul>",
            "<details><summary>Verdicts by device class</summary>"
            + _html_table(tables["verdicts_by_device"], ["workload", "device_class", "n_envs", "range", "env_std",
                                                         "run_std", "outcomes_reproducible", "analysis_reproducible",
                                                         "interpretation_reproducible"]) + "</details>"]


def _factor_section(tables: Mapping[str, pd.DataFrame]) -> List[str]:
    curve = tables.get("k_curve")
    needed = "" if curve is None or curve.empty else "; ".join(
        f"{w}: {int(part['k_needed'].iloc[0])} of {int(part['n_envs'].iloc[0])}"
        for w, part in curve.groupby("workload", sort=True))
    return ["<h2>Which factors move the result</h2>", _note("factors"),
            _html_table(_varying(tables.get("factors")), ["workload", "factor", "columns", "n_levels", "eta_sq",
                                                          "effect", "best_level", "worst_level", "note"]),
            "<details><summary>Factors that do not vary in these data</summary>" + _note("factors")
            + _html_table(tables.get("factors")[tables["factors"]["n_levels"] <= 1] if tables.get("factors") is not None
                          and not tables["factors"].empty else None, ["workload", "factor", "note"]) + "</details>",
            "<h2>Claim stability (variants of one task)</h2>", _note("claim_stability"),
            _html_table(tables.get("claim_stability")),
            "<h2>How many environments are enough?</h2>", _note("k_curve"),
            f"<p>Environments needed for 95%: {html.escape(needed) or 'n/a'}.</p>",
            _img(plots.k_curve(tables.get("k_curve")), "probability that k environments reveal the full range")]


def _spread_section(tables: Mapping[str, pd.DataFrame], prepared: pd.DataFrame,
                    extra: Mapping[str, Any]) -> List[str]:
    e = html.escape
    acc = _accuracy(tables["stats"])
    body = ["<h2>How far outcomes move</h2>", _note("stats"),
            _html_table(acc, ["workload", "n", "min (%)", "max (%)", "range_pp", "mean (%)", "std (%)"]),
            "<details><summary>All metrics (loss, fraud confusion counts)</summary>" + _note("stats_all")
            + _html_table(tables["stats"]) + "</details>"]
    for key, label in (("stats_by_software", "by software environment"), ("stats_by_hardware", "by hardware environment"),
                       ("stats_by_device", "by device class"), ("stats_by_observed", "by observed hardware (fingerprint)")):
        part = _accuracy(tables[key])
        cols = [c for c in part.columns if c not in ("metric", "min", "max", "mean", "std", "range")]
        if key == "stats_by_software" and extra.get("same_stack"):
            label += " (NOT a software comparison: see SAME STACK above)"
        body.append(f"<details><summary>Test accuracy {e(label)}</summary>{_note('stats')}{_html_table(part, cols)}</details>")
    for workload in sorted(set(prepared["workload"].astype(str))):
        body += [f"<h2>{e(workload)}</h2>",
                 _img(plots.accuracy_strip(prepared, workload), f"{workload} accuracy by environment"),
                 _img(plots.accuracy_heatmap(tables["cell_means"], workload), f"{workload} mean accuracy heat map"),
                 _img(plots.plot_determinism_matrix(tables["determinism"], workload), f"{workload} determinism matrix")]
    return body


def _determinism_section(tables: Mapping[str, pd.DataFrame]) -> List[str]:
    det = tables["determinism"]
    return ["<h2>Determinism</h2>", _note("determinism"),
            "<p><em>bitwise identical</em>: equal prediction hashes; <em>equal metrics</em>: no hashes recorded, equal "
            "primary metric and loss; <em>equal accuracy only</em>: hashes or loss differ; <em>different</em>: the "
            "primary metric differs. Repeats that landed on machines with other logical CPUs, pools or stack are "
            "other cells, not nondeterminism.</p>",
            "<p class='cols'>How many cells reached each level (count).</p>",
            _html_table(det["level"].value_counts().rename_axis("level").reset_index() if not det.empty else det),
            f"<h3>Nondeterministic cells ({len(tables['nondeterministic'])})</h3>", _note("nondeterministic"),
            _html_table(tables["nondeterministic"], ["workload", "software_env", "hardware_env", "observed_env",
                                                     "n", "distinct_accuracy", "accuracy_range_pp", "level", "evidence"])]


def _group_section(tables: Mapping[str, pd.DataFrame]) -> List[str]:
    return ["<h2>Outcome groups and what explains them</h2>",
            "<p>Observed environments whose runs gave identical outcomes form a group (G1 = best value). An "
            "explanation is the smallest decision tree over every fingerprint attribute that varies; ties go to an "
            "implementation factor before a location label (site, resource), then to the attribute with fewer "
            "distinct values, then the alphabetically first. It counts as identified only when "
            "a permutation test (group labels shuffled over the environments) shows chance does not do as well.</p>",
            "<h3>Per workload (all software environments together)</h3>", _note("workload_explanations"),
            _html_table(tables.get("workload_explanations")),
            "<h3>Within each software environment</h3>", _note("group_explanations"),
            _html_table(tables["group_explanations"], ["workload", "device_class", "software_env", "n_envs", "n_groups",
                                                       "n_leaves", "attributes", "aliases", "rule", "p_value", "q_value",
                                                       "status", "groups"]),
            "<h3>Attributes that separate groups</h3>", _note("group_factors"), _html_table(tables["group_factors"]),
            "<h3>Across all environments</h3>", _note("group_explanations"),
            _html_table(tables["group_explanations_all"], ["workload", "device_class", "n_envs", "n_groups", "n_leaves",
                                                           "attributes", "p_value", "q_value", "status"]),
            "<details><summary>Every environment and its group</summary>" + _note("outcome_groups")
            + _html_table(tables["outcome_groups"], ["workload", "device_class", "software_env", "hardware_env",
                                                     "observed_env", "group", "value", "loss", "n", "cpu_vendor",
                                                     "has_avx512f", "microarch", "cpu_logical_count", "gpu_name"])
            + "</details>"]


def _claims_section(tables: Mapping[str, pd.DataFrame]) -> List[str]:
    return ["<h2>Claims</h2>", _note("claims"),
            _html_table(tables["claims"], ["claim", "n_envs", "n_support", "share", "share_low", "share_high",
                                           "share_runs", "decision", "failing"])]
