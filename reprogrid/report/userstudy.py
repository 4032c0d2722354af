"""Report parts for a researcher's own study: what really differed between stacks, whether
each stack ran as its lock declared, why runs failed, what the data were, and the hardware
check with the requested vendor.

Everything here is computed once into the report's ``extra`` facts (:func:`study_facts`) and
rendered by small functions that ``report/html.py`` calls: first-screen lines
(:func:`first_screen_lines`), the stack-difference table (:func:`stack_difference_html`,
:func:`stack_difference_markdown`) and the hardware check (:func:`hardware_check_html`).
"""
from __future__ import annotations

import html
import json
from typing import Any, Dict, List, Mapping, Optional

import pandas as pd

from reprogrid.analysis.stacks import BASIS_ALL, distribution_differences, identical_across_stacks
from reprogrid.core.text import markdown_text
from reprogrid.analysis.locks import compare_with_locks, lock_sentence
from reprogrid.core.reasons import general_reason
from reprogrid.core.vendors import VENDORS, vendor_of
from reprogrid.report.tables import is_boolean

#: how long an example error message may be on the first screen
EXAMPLE_CHARS = 160


def study_facts(df: pd.DataFrame, stacks: pd.DataFrame, extra: Mapping[str, Any]) -> Dict[str, Any]:
    """The facts this module's lines and tables are drawn from (computed once per report)."""
    diffs = distribution_differences(stacks)
    return {"distribution_differences": diffs,
            "stack_basis": _basis(stacks),
            "stack_findings": identical_across_stacks(df, diffs),
            "lock_results": lock_results(df, extra.get("locks") or {}),
            "failures": failures_by_type(df),
            "data_lines": data_lines(df)}


def _basis(stacks: pd.DataFrame) -> str:
    if stacks is None or stacks.empty or "basis" not in stacks.columns:
        return ""
    return BASIS_ALL if (stacks["basis"] == BASIS_ALL).all() else str(stacks["basis"].iloc[-1])


# --------------------------------------------------------------------------- stacks and locks

def lock_results(df: pd.DataFrame, locks: Mapping[str, Mapping[str, str]]) -> List[Dict[str, Any]]:
    """Per software environment with a lock: ``ran as declared`` or the distributions that differed."""
    if df is None or df.empty or "software_env" not in df.columns or not locks:
        return []
    dist = df["distributions_json"] if "distributions_json" in df.columns else pd.Series([None] * len(df), index=df.index)
    return compare_with_locks(locks, zip(df["software_env"].astype(str), dist))


def stack_lines(extra: Mapping[str, Any]) -> List[str]:
    """What differed between the stacks, the findings, and the lock comparison."""
    lines = []
    diffs = extra.get("distribution_differences")
    basis = extra.get("stack_basis") or BASIS_ALL
    if diffs is not None and not diffs.empty:
        envs = [c for c in diffs.columns if c != "distribution"]
        shown = "; ".join(f"{r['distribution']} " + " vs ".join(str(r[e]) for e in envs) for _, r in diffs.head(6).iterrows())
        more = f" and {len(diffs) - 6} more" if len(diffs) > 6 else ""
        lines.append(f"Software stacks DIFFER (compared on {basis}): {', '.join(envs)}: {shown}{more} "
                     "(see the stack table).")
    lines += finding_lines(extra)
    lines += [lock_sentence(lock) for lock in extra.get("lock_results") or []]
    return lines


def finding_lines(extra: Mapping[str, Any]) -> List[str]:
    """Identical results across software stacks that really differ, each stated as a finding."""
    lines = []
    for item in extra.get("stack_findings") or []:
        lines.append(f"FINDING: {item['workload']} gave {item['evidence']} in {', '.join(item['software_envs'])} "
                     f"({item['n_runs']} runs) although their stacks really differ ({'; '.join(item['differing'][:4])}): "
                     "the result survives this change of software stack - verdict: outcomes reproducible across "
                     "these stacks.")
    return lines


def stack_difference_html(extra: Mapping[str, Any]) -> str:
    """The distributions that differ between the software environments (empty when none)."""
    diffs = extra.get("distribution_differences")
    if diffs is None or diffs.empty:
        return ""
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in diffs.columns)
    rows = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>"
                   for row in diffs.itertuples(index=False))
    return (f"<h3>Distributions that differ between software environments</h3><p class='cols'>Compared on "
            f"{e(extra.get('stack_basis') or BASIS_ALL)}.</p><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def stack_difference_markdown(extra: Mapping[str, Any]) -> str:
    diffs = extra.get("distribution_differences")
    if diffs is None or diffs.empty:
        return ""
    head = "| " + " | ".join(markdown_text(str(c)) for c in diffs.columns) + " |"
    rule = "|" + "|".join("---" for _ in diffs.columns) + "|"
    body = ["| " + " | ".join(markdown_text(str(v)) for v in row) + " |" for row in diffs.itertuples(index=False)]
    return "\n".join(["### Distributions that differ between software environments\n",
                      f"Compared on {markdown_text(extra.get('stack_basis') or BASIS_ALL)}.\n", head, rule, *body]) + "\n"


# --------------------------------------------------------------------------- failures

def failures_by_type(df: pd.DataFrame) -> List[Dict[str, Any]]:
    """Per workload with failed runs: ``workload``, ``n_failed``, ``n_runs`` and ``reasons``
    (``error_type``, ``count``, one ``example`` message), commonest first."""
    if df is None or df.empty or "status" not in df.columns:
        return []
    # the columns read here only (not a copy of every column per workload)
    df = df[[c for c in ("workload", "status", "error_type", "error_message") if c in df.columns]]
    out = []
    for workload, part in df.groupby(df["workload"].astype(str), sort=True):
        failed = part[part["status"].astype(str) != "ok"]
        if failed.empty:
            continue
        types = failed["error_type"].astype(object).where(failed["error_type"].notna(), "unknown error") \
            if "error_type" in failed.columns else pd.Series(["unknown error"] * len(failed), index=failed.index)
        reasons = []
        for error_type, group in failed.groupby(types.astype(str), sort=False):
            messages = group["error_message"].dropna().astype(str) if "error_message" in group.columns else pd.Series([], dtype=str)
            example = general_reason(messages.iloc[0], chars=EXAMPLE_CHARS) if len(messages) else ""
            reasons.append({"error_type": error_type, "count": int(len(group)), "example": example})
        reasons.sort(key=lambda r: (-r["count"], r["error_type"]))
        out.append({"workload": workload, "n_failed": int(len(failed)), "n_runs": int(len(part)), "reasons": reasons})
    return out


def failure_lines(extra: Mapping[str, Any]) -> List[str]:
    lines = []
    for item in extra.get("failures") or []:
        reasons = "; ".join(f"{r['error_type']} x{r['count']}" + (f" (e.g. {r['example']})" if r["example"] else "")
                            for r in item["reasons"][:3])
        lines.append(f"FAILED: {item['workload']}: {item['n_failed']} of {item['n_runs']} runs failed - {reasons}.")
    return lines


# --------------------------------------------------------------------------- data provenance

def data_lines(df: pd.DataFrame) -> List[str]:
    """What each workload's data were, true for every kind: the published sets or the bundled
    samples (built-in workloads), the declared inputs (user workloads with ``data``), or none
    declared (a user workload that loads or makes its own). Empty when every workload is built-in
    and the generic line says it."""
    if df is None or df.empty or "workload_kind" not in df.columns:
        return []
    kinds = df["workload_kind"].astype(object).where(df["workload_kind"].notna(), "builtin").astype(str)
    if (kinds == "builtin").all():
        return []
    lines = []
    for workload, part in df.groupby(df["workload"].astype(str), sort=True):
        kind = str(kinds[part.index].iloc[0])
        lines.append(f"Data of {workload} ({kind}): {_data_of(part, kind)}.")
    return lines


def _data_of(part: pd.DataFrame, kind: str) -> str:
    sample = part["sample_data"].eq(True).fillna(False) if "sample_data" in part.columns else pd.Series(False, index=part.index)
    if kind == "builtin":
        if sample.all():
            return "SAMPLE DATA (the bundled small sample files, not the published data sets)"
        return "the published data sets" if not sample.any() else "mixed: bundled samples and the published data sets"
    names = set()
    for text in part["data_sha256"].dropna().astype(str) if "data_sha256" in part.columns else []:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            names.update(str(k) for k in value)
    if names:
        shown = ", ".join(sorted(names)[:5]) + (" ..." if len(names) > 5 else "")
        return f"its declared inputs ({shown}; sha256 recorded per run)"
    return ("no declared inputs: the workload loads or makes its own data (a set bundled with a library, "
            "a synthetic set), which reprogrid neither ships nor checks")


# --------------------------------------------------------------------------- hardware check

def hardware_rows(hw: Optional[pd.DataFrame], df: pd.DataFrame, requested: Mapping[str, Mapping[str, Any]],
                  emulated: List[str]) -> pd.DataFrame:
    """The summary's hardware check with the requested and observed vendor, one row for every
    hardware environment of the study (``requested``: the manifest's hardware entries), and
    ``agrees`` in words: ``no`` when the vendor differs or the check disagrees, ``emulated``
    for an emulated environment, else ``yes``; ``no record`` where nothing came back."""
    base = hw.copy() if hw is not None and not hw.empty else pd.DataFrame(columns=["hardware_env", "agrees"])
    names = sorted(set(base["hardware_env"].astype(str)) | set(requested))
    observed = _observed_vendors(df)
    first: Dict[str, Dict[str, Any]] = {}  # each environment's first row of the check, as a dict (read once)
    for record in base.to_dict("records"):
        first.setdefault(str(record["hardware_env"]), record)
    rows = []
    for name in names:
        row = first.get(name)
        item = dict(row) if row is not None else {"hardware_env": name, "n_runs": 0}
        want = requested_vendor(name, requested.get(name) or {})
        seen = observed.get(name, "")
        item["requested_vendor"], item["observed_vendor"] = want or "", seen
        if row is None:
            item["agrees"] = "no record"
        elif want and seen and want not in seen.split("/"):
            item["agrees"] = "no"
        elif not bool(item.get("agrees")):
            item["agrees"] = "no"
        else:
            item["agrees"] = "emulated" if name in emulated else "yes"
        rows.append(item)
    return pd.DataFrame(rows)


def requested_vendor(name: str, entry: Mapping[str, Any]) -> Optional[str]:
    """The vendor a hardware environment asks for: its pin's ``vendor``, else a vendor word in its name."""
    for key in ("cpu", "gpu"):
        pin = entry.get(key)
        if isinstance(pin, Mapping) and pin.get("vendor"):
            return str(pin["vendor"]).lower()
    words = set(str(name).lower().replace("_", "-").split("-"))
    return next((v for v in VENDORS if v in words), None)


def _observed_vendors(df: pd.DataFrame) -> Dict[str, str]:
    if df is None or df.empty or "hardware_env" not in df.columns:
        return {}
    none = [None] * len(df)
    cpu = df["cpu_vendor"].tolist() if "cpu_vendor" in df.columns else none
    gpu = df["gpu_name"].tolist() if "gpu_name" in df.columns else none
    seen: Dict[str, set] = {}
    for name, values in zip(df["hardware_env"].astype(str).tolist(), zip(cpu, gpu)):
        seen.setdefault(name, set()).update(values)  # the distinct values first, each vendor_of once
    return {name: "/".join(sorted({v for v in map(vendor_of, seen[name]) if v})) for name in sorted(seen)}


def hardware_check_html(rows: pd.DataFrame, columns: List[str]) -> str:
    """The hardware check as a table whose ``agrees`` cell is green (yes), red (no) or plain."""
    if rows is None or rows.empty:
        return "<p><em>none</em></p>"
    e = html.escape
    cols = [c for c in columns if c in rows.columns]
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = []
    for _, row in rows.iterrows():
        cells = []
        for c in cols:
            value = row[c]
            if c == "agrees":
                css = {"yes": "yes", "no": "no"}.get(str(value), "")
                cells.append(f"<td class='{css}'>{e(str(value))}</td>" if css else f"<td>{e(str(value))}</td>")
            elif is_boolean(value):
                cells.append(f"<td>{'yes' if value else 'no'}</td>")
            else:
                cells.append(f"<td>{e('' if value is None or (isinstance(value, float) and pd.isna(value)) else str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def first_screen_lines(extra: Mapping[str, Any]) -> List[str]:
    """This module's first-screen sentences: failures, stacks, findings, locks."""
    return failure_lines(extra) + stack_lines(extra)
