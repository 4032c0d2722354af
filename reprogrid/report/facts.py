"""What the data are, in sentences: provenance by topic (one badge each), the software
stacks observed, and whether a verdict may be drawn at all (used by the page and summary.md)."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import pandas as pd

from reprogrid.analysis.stacks import same_stack_groups, software_stacks
from reprogrid.report import userstudy
from reprogrid.report.answer import answers


def provenance_topics(facts: Mapping[str, Any], extra: Mapping[str, Any]) -> Dict[str, List[str]]:
    """The statements about the data, as plain sentences grouped by topic (one badge each)."""
    out: Dict[str, List[str]] = {"data": [], "runs": [], "gather": [], "hardware": [], "study": [], "stack": []}
    if extra.get("source"):
        out["runs"].append(f"Source: {extra['source']}.")
    data = facts["data"]
    if extra.get("data_lines"):  # user workloads: each workload's own data, by kind (issue 20)
        out["data"] += list(extra["data_lines"])
    elif data == "sample data":
        out["data"].append("Data: SAMPLE DATA (the bundled small sample files, not the published data sets): "
                           "the numbers show how the pipeline works, not the workloads' real accuracy.")
    elif data == "real data":
        out["data"].append("Data: real data (the published data sets).")
    else:
        out["data"].append(f"Data: {data} ({facts['sample_runs']} of {facts['runs']} runs on sample data).")
    out["runs"].append(f"Runs: {facts['runs']} records, {facts['ok']} succeeded, {facts['failed']} failed; "
                       f"{len(facts['workloads'])} workload(s) x {len(facts['software_envs'])} software x "
                       f"{len(facts['hardware_envs'])} hardware environment(s).")
    counts = extra.get("counts") or {}
    gaps = {k: v for k, v in counts.items()
            if k in ("failed (no record)", "missing", "duplicate", "corrupt", "unexpected") and v}
    if gaps:
        out["gather"].append("Gather: " + ", ".join(f"{v} {k}" for k, v in gaps.items())
                             + " run(s) not in this analysis (see the gather report).")
    out["hardware"] = _hardware_lines(facts, extra)
    if facts["studies"]:
        out["study"].append("Study: " + "; ".join(facts["studies"]) + ".")
    out["runs"] += userstudy.failure_lines(extra)
    out["stack"] = same_stack_lines(extra) + userstudy.stack_lines(extra)
    return out


def provenance_lines(facts: Mapping[str, Any], extra: Mapping[str, Any]) -> List[str]:
    """All the statements about the data, in reading order."""
    topics = provenance_topics(facts, extra)
    return [line for key in ("runs", "data", "gather", "hardware", "study", "stack") for line in topics[key]]


def _hardware_lines(facts: Mapping[str, Any], extra: Mapping[str, Any]) -> List[str]:
    emulated = facts["emulated_hardware_envs"]
    if extra.get("emulated") or emulated:
        machines = facts["observed_machines"]
        names = ", ".join(emulated) if emulated else "all"
        lines = [f"EMULATED hardware: {names} - these runs were not executed on the requested hardware; "
                 f"the records carry the requested hardware_env but the fingerprint of the machine that ran "
                 f"them ({'; '.join(machines[:3])}{' ...' if len(machines) > 3 else ''}). Differences between "
                 f"these environments come only from what the emulator reproduces of each machine (the "
                 f"thread pools its host's logical CPUs give), never from their CPUs or GPUs."]
        lines += [f"Emulation: {line}" for line in extra.get("emulation_limits") or []]
        return lines + ([_cannot_tell_line(extra)] if extra.get("cannot_tell") else [])
    if not facts["ok"]:
        return ["Hardware: no successful record, so nothing to check against the requested hardware."]
    if extra.get("cannot_tell"):
        return [_cannot_tell_line(extra)]
    return ["Hardware: every hardware environment's records carry a fingerprint consistent with its name "
            "(see the hardware check for loose pins)."]


def _cannot_tell_line(extra: Mapping[str, Any]) -> str:
    return ("Hardware: cannot tell whether " + ", ".join(extra["cannot_tell"]) + " got the requested CPU: "
            "the hosts that ran them hide their CPU model string (see the hardware check).")


def survival_lines(tables: Mapping[str, pd.DataFrame], withheld: str = "", given: Optional[List[Any]] = None) -> List[str]:
    """One line per workload answering "does this result survive a change of environment?"
    (``given``: the answers, when the page already has them)."""
    lines = [a.text() for a in (answers(tables, withheld) if given is None else given)]
    return lines or ["No successful runs: nothing to answer."]


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
