"""What the planner hands back: the ``hardware:`` YAML section, the table, ``--into``.

Owns the text of a plan (the section a user pastes into a study, with a comment saying
where it came from; the table of choices, slot counts, what each adds and what stays
uncovered) and the one way a plan is written into an existing study file: the top-level
``hardware:`` block is replaced, every other line is kept byte for byte, the result must
validate as a study, and it is written atomically; where that cannot be done the file is
left alone and a ``UserError`` says why.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Sequence

import yaml

from reprogrid.core.errors import Problem, UserError
from reprogrid.core.files import write_text_atomic
from reprogrid.plan.planner import HardwarePlan
from reprogrid.spec.validate import study_from_dict

_TOP_KEY = re.compile(r"^(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1\s*:")


def hardware_yaml(entries: Sequence[Dict[str, Any]], header: Sequence[str] = ()) -> str:
    """The ``hardware:`` section (comment lines first)."""
    body = yaml.safe_dump({"hardware": [dict(e) for e in entries]}, sort_keys=False, width=100,
                          default_flow_style=False)
    return "".join(f"# {line}\n" for line in header) + body


def header(plan: HardwarePlan) -> List[str]:
    """Comment lines saying where a planned section comes from."""
    lines = [f"planned by `reprogrid plan` over {plan.pool_label} ({plan.total_slots} slots), "
             f"min {plan.min_slots} slot(s) each, pool profile {plan.pool.profile}"]
    lines.append(f"weights: {plan.evidence_source}")
    return lines


def _fmt(value: Any) -> str:
    return str(value)


def table(plan: HardwarePlan) -> str:
    """The choices (slots, what each adds), coverage per dimension and what stays uncovered."""
    lines: List[str] = []
    for dc, cls in plan.classes.items():
        budget = cls.budget if cls.budget is not None else "until nothing adds a value"
        lines.append(f"{dc.upper()} environments: {len(cls.choices)} chosen (budget {budget}) from "
                     f"{cls.candidates} candidate pins with >= {plan.min_slots} slot(s)")
        width = max([len("environment")] + [len(c.result.name) for c in cls.choices])
        lines.append(f"  {'environment':<{width}}  {'slots':>6}  adds")
        for c in cls.choices:
            adds = ", ".join(f"{d}={_fmt(v)}" for d, v in c.adds) or "(no new value: distinct environment)"
            lines.append(f"  {c.result.name:<{width}}  {c.result.slots:>6}  {adds}")
            if c.result.mixed:
                mixed = "; ".join(f"{d} one of {', '.join(map(_fmt, v))}" for d, v in sorted(c.result.mixed.items()))
                lines.append(f"  {'':<{width}}  {'':>6}  may land on: {mixed}")
        pilot = " (+: the pilot ran on it)" if cls.already else ""
        lines.append(f"  coverage (weight: values covered / values in the pool){pilot}:")
        covered = cls.covered()
        for d, w in sorted(cls.weights.items(), key=lambda kv: (-kv[1], kv[0])):
            vals = cls.universe.get(d, [])
            got = [v for v in vals if (d, v) in covered or (d, v) in cls.already]
            shown = ", ".join(_fmt(v) + ("+" if (d, v) in cls.already and (d, v) not in covered else "") for v in got)
            lines.append(f"    {d:<17} {w:>5.3g}: {len(got)}/{len(vals)}  {shown}")
        for d, missing in cls.uncovered.items():
            for v, why in missing:
                lines.append(f"  uncovered: {d}={_fmt(v)}: {why}")
        lines.append("")
    lines.append("rule: greedy; each step takes the pin that covers the most new weighted values "
                 "(w/|values| each), then the most new value pairs, then the most slots; pins share no slot "
                 "(docs/statistics.md)")
    for w in plan.warnings:
        lines.append(f"note: {w}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- --into

def _block(lines: List[str], path: Path) -> "tuple[int, int]":
    """(first, end) line indexes of the top-level ``hardware:`` block; (-1, -1) when absent."""
    starts = [i for i, line in enumerate(lines) if (m := _TOP_KEY.match(line)) and m.group(2) == "hardware"]
    if len(starts) > 1:
        raise UserError.of(f"cannot write the plan into {path}", [Problem(
            f"{path}:{starts[1] + 1}", "the study has two top-level hardware: keys; keep one and run again")])
    if not starts:
        return -1, -1
    first = starts[0]
    end = first + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.startswith((" ", "\t", "#", "-")):
            break
        if line.startswith("#") and end + 1 < len(lines) and not lines[end + 1].startswith((" ", "\t", "-")):
            break  # a comment introducing the next top-level key belongs to it
        end += 1
    while end > first + 1 and not lines[end - 1].strip():
        end -= 1
    return first, end


def merge_into(text: str, section: str, path: Path) -> str:
    """``text`` with its top-level ``hardware:`` block replaced by ``section`` (appended if absent)."""
    lines = text.splitlines(keepends=True)
    first, end = _block(lines, path)
    body = section if section.endswith("\n") else section + "\n"
    if first < 0:
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + body
    return "".join(lines[:first]) + body + "".join(lines[end:])


def _load(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        raise UserError.of(f"cannot write the plan into {where}", [Problem(
            at, f"{getattr(err, 'problem', err)}: it is not valid YAML; fix it (reprogrid validate) and run again")])


def write_into(path: Path, section: str) -> None:
    """Replace ``path``'s ``hardware:`` section by ``section``; everything else is kept.

    Refused (``UserError``, the file untouched) when the file cannot be read, is not a
    study mapping, would change anywhere but ``hardware``, or would not validate.
    """
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError.of(f"cannot write the plan into {where}", [Problem(
            where, f"cannot be read ({getattr(err, 'strerror', None) or err}); pass an existing study file "
            "(reprogrid init -o study.yaml makes one), or leave --into out and paste the section")]) from None
    before = _load(text, where)
    if not isinstance(before, dict):
        raise UserError.of(f"cannot write the plan into {where}", [Problem(
            where, "is not a study (a YAML mapping with name, workloads, software, hardware); "
            "create one with reprogrid init -o study.yaml")])
    merged = merge_into(text, section, path)
    after = _load(merged, where)
    wanted = dict(before)
    wanted["hardware"] = _load(section, "the planned section")["hardware"]
    if not isinstance(after, dict) or after != wanted:
        raise UserError.of(f"cannot write the plan into {where}", [Problem(
            where, "its hardware: block could not be replaced on its own (flow style, anchors or unusual "
            "layout); paste the printed section by hand instead")])
    study_from_dict(after, source=where, base_dir=path.parent)
    write_text_atomic(path, merged)
