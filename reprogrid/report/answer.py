"""The report's first screen in words: one answer line per workload, and the provenance badges.

An :class:`Answer` says, for one workload, the answer word (yes / yes, within tolerance /
no / not enough data / cannot tell), the spread with its interval, and what moved it (or
"cannot tell" and why), from the summary's tables only. A :class:`Badge` is one short
provenance label (SAMPLE DATA, EMULATED 3 machines, SAME STACK, 5 FAILED...) with its
detail; :func:`badges` builds the list in one place, and ``extra["badges"]`` (a list of
``Badge``) adds items of other parts of the report (the page shows them in order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence

import pandas as pd

from reprogrid import analysis


@dataclass(frozen=True)
class Answer:
    """One workload's answer line (see the module docstring)."""

    workload: str
    word: str
    tone: str  # "yes", "no" or "unknown": the colour of the word
    spread: str
    moved: str
    notes: Sequence[str] = ()

    def text(self) -> str:
        """The line as plain text (summary.md, the terminal)."""
        notes = "".join(f" {n}" for n in self.notes)
        return f"{self.workload}: {self.word.upper()} - {self.spread}; {self.moved}.{notes}"


@dataclass(frozen=True)
class Badge:
    """A provenance label: ``label`` (short, upper case), ``tone`` (info / warn / bad) and
    ``detail`` (sentences shown when the badge is opened)."""

    label: str
    tone: str = "info"
    detail: List[str] = field(default_factory=list)


def answers(tables: Mapping[str, pd.DataFrame], withheld: str = "") -> List[Answer]:
    """One :class:`Answer` per workload of ``tables["survival"]``; ``withheld``: why no verdict
    may be drawn at all (the environments did not differ), or ""."""
    surv = tables.get("survival")
    if surv is None or surv.empty:
        return []
    verdicts = tables["verdicts"].set_index("workload") if not tables["verdicts"].empty else pd.DataFrame()
    out = []
    for _, s in surv.iterrows():
        w = str(s["workload"])
        v = verdicts.loc[w] if w in verdicts.index else None
        word, tone, moved = _word(s, v, withheld, tables)
        out.append(Answer(w, word, tone, spread_text(s), moved, tuple(_notes(s, w, tables, word))))
    return out


def _word(s: pd.Series, v: Optional[pd.Series], withheld: str, tables: Mapping[str, pd.DataFrame]):
    if withheld:
        return "cannot tell", "unknown", "cannot tell from these data: the environments did not really differ"
    if v is None or v.get("verdict") == analysis.NOT_ENOUGH:
        basis = "" if v is None else str(v.get("analysis_basis", "")).split(": ", 1)[-1]
        return "not enough data", "unknown", f"cannot tell: {basis}" if basis else "cannot tell"
    moved = moved_text(tables.get("factors"), str(s["workload"]), s["metric"])
    if _true(v["outcomes_reproducible"]):
        return "yes", "yes", "the same outcome in every environment"
    if _true(v["analysis_reproducible"]):
        return "yes, within tolerance", "yes", moved
    return "no", "no", moved


def _true(value: Any) -> bool:
    """True for True and numpy's True; False for False and a missing (undecided) value."""
    return value is not None and value is not pd.NA and not (isinstance(value, float) and pd.isna(value)) \
        and bool(value)


def _pp(value: float, metric: str) -> str:
    """A spread in the metric's units: percentage points for accuracy."""
    if value is None or pd.isna(value):
        return "unknown"
    if metric in analysis.FRACTION_METRICS:
        return f"{value * 100:.2f} pp"
    return f"{value:.3g}"


def spread_text(s: pd.Series) -> str:
    """Values, range over runs, between-environment std with its 95% interval, run-to-run std."""
    metric = str(s["metric"])
    frac = metric in analysis.FRACTION_METRICS
    lo, hi = (f"{s['min'] * 100:.2f}%", f"{s['max'] * 100:.2f}%") if frac else (f"{s['min']:.4g}", f"{s['max']:.4g}")
    text = (f"{metric} {lo} to {hi}, range {_pp(s['range'], metric)} over {int(s['n_envs'])} environments "
            f"({int(s['n_runs'])} runs)")
    if int(s["n_envs"]) > 1:
        ci = (f", 95% CI {_pp(s['env_std_low'], metric)} to {_pp(s['env_std_high'], metric)}"
              if pd.notna(s["env_std_low"]) else "")
        text += f"; std between environments {_pp(s['env_std'], metric)}{ci}"
    run = "unknown (no environment ran twice)" if pd.isna(s["run_std"]) else _pp(s["run_std"], metric)
    return text + f"; run to run {run}"


def moved_text(factors: Optional[pd.DataFrame], workload: str, metric: str) -> str:
    """What moved the result: the factors that did (largest share first), confounded ones as
    a set; else "cannot tell" and why."""
    if factors is None or factors.empty:
        return "cannot tell what moved it: no factor varies"
    read = factors[[c for c in ("workload", "factor", "n_levels", "moved_it", "eta_sq", "effect", "confounded_with")
                    if c in factors.columns]]  # the columns read: rows cut from these only
    part = read[read["workload"].astype(str) == workload]
    varying = part[part["n_levels"] > 1]
    moved = varying[varying["moved_it"].astype(bool)].sort_values("eta_sq", ascending=False)
    if moved.empty:
        if varying.empty:
            return "cannot tell what moved it: no factor varies in these data"
        if (varying["effect"].fillna(0) == 0).all():
            return "nothing moved it (every factor's levels give the same value)"
        return "cannot tell what moved it: every factor that varies gives each environment its own level"
    items, seen = [], set()
    for _, f in moved.iterrows():
        if f["factor"] in seen:
            continue
        alias = [a for a in str(f.get("confounded_with") or "").split(", ") if a]
        seen.update([f["factor"], *alias])
        name = " = ".join([f["factor"], *alias])
        items.append(f"{name} ({f['eta_sq'] * 100:.0f}%, {_pp(f['effect'], metric)})")
        if len(items) == 2:
            break
    return "moved by " + "; ".join(items)


def _notes(s: pd.Series, workload: str, tables: Mapping[str, pd.DataFrame], word: str) -> List[str]:
    notes = []
    if int(s["distinct_outcomes"]) > 1 and float(s["range"]) == 0:
        notes.append(f"The {s['metric']} is equal everywhere; the predictions differ "
                     f"({int(s['distinct_outcomes'])} distinct outcomes).")
    if word in ("not enough data", "cannot tell"):
        return notes
    factors = tables.get("factors")
    if factors is not None and not factors.empty:
        read = factors[[c for c in ("workload", "factor", "moved_it", "eta_sq", "confounded_with") if c in factors.columns]]
        part = read[(read["workload"].astype(str) == workload) & read["moved_it"].astype(bool)]
        for _, f in part.sort_values("eta_sq", ascending=False).head(1).iterrows():
            if f.get("confounded_with"):
                notes.append(f"Cannot separate {f['factor']} from {f['confounded_with']} in these data: "
                             "perfectly confounded.")
    expl = tables.get("workload_explanations")
    if expl is not None and not expl.empty:
        read = expl[["workload", "device_class", "identified", "confounded", "attributes", "p_value"]]
        for _, e in read[(read["workload"].astype(str) == workload) & read["identified"].astype(bool)].iterrows():
            sets = [c for c in e["confounded"] if len(c) <= 4]
            names = ", ".join(a.rsplit(" (", 1)[0] for a in e["attributes"][:3])
            text = f"{str(e['device_class']).upper()} outcome groups explained by {names} (p = {e['p_value']:.2g})"
            text += "; " + "; ".join(analysis.confounded_text(sets)) if sets else ""
            notes.append(text + ".")
    return notes


def badges(facts: Mapping[str, Any], extra: Mapping[str, Any], lines: Mapping[str, List[str]]) -> List[Badge]:
    """The provenance badges, in reading order; ``lines``: the detail sentences by topic
    (``html.provenance_topics``). ``extra["badges"]`` are appended."""
    out: List[Badge] = []
    data = facts["data"]
    out.append(Badge("SAMPLE DATA", "warn", lines["data"]) if data == "sample data" else
               Badge("DATA PER WORKLOAD", "info", lines["data"]) if extra.get("data_lines") and data == "real data" else
               Badge("REAL DATA", "info", lines["data"]) if data == "real data" else
               Badge(str(data).split(":")[0].upper(), "warn", lines["data"]))
    out.append(Badge(f"{facts['runs']} RUNS", "info", lines["runs"] + lines.get("study", [])))
    if facts["failed"]:
        out.append(Badge(f"{facts['failed']} FAILED", "bad", lines["runs"]))
    for line in lines.get("gather", []):
        out.append(Badge("NOT GATHERED", "bad", [line]))
    emulated = facts["emulated_hardware_envs"]
    if emulated or extra.get("emulated"):
        n = len(emulated) or len(facts["hardware_envs"])
        out.append(Badge(f"EMULATED {n} machine{'s' if n != 1 else ''}", "warn", lines["hardware"]))
    elif extra.get("cannot_tell"):
        out.append(Badge("CPU MODEL HIDDEN", "warn", lines["hardware"]))
    elif _vendor_mismatch(extra):
        out.append(Badge("HARDWARE NOT AS REQUESTED", "bad", lines["hardware"]))
    else:
        out.append(Badge("HARDWARE AS REQUESTED", "info", lines["hardware"]))
    if extra.get("same_stack"):
        out.append(Badge("SAME STACK", "warn", lines["stack"]))
    diffs = extra.get("distribution_differences")
    if diffs is not None and not diffs.empty:
        out.append(Badge("STACKS DIFFER", "info", lines["stack"]))
    if any(r.get("state") == "differs" for r in extra.get("lock_results") or []):
        out.append(Badge("NOT AS LOCKED", "bad", lines["stack"]))
    out += list(extra.get("badges") or [])
    return out


def _vendor_mismatch(extra: Mapping[str, Any]) -> bool:
    """Whether the hardware check found a machine of another vendor than the one requested."""
    rows = extra.get("hardware_rows")
    return rows is not None and not rows.empty and "agrees" in rows.columns and (rows["agrees"].astype(str) == "no").any()
