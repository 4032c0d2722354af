"""PRE/POST script command lines with DAGMan's macros, and the job state log.

``script_argv`` replaces the macros DAGMan replaces (``script.cpp``, ``Script::BackgroundRun``):
each whitespace-separated argument that is exactly a macro, matched case-insensitively.
In a PRE script the job-side macros (``$JOBID``, ``$RETURN``, ``$EXIT_CODES``...) stay
literal, with DAGMan's warning; an unknown ``$word`` stays literal with a warning too.
``JobstateLog`` writes the ``JOBSTATE_LOG`` lines of the DAGMan manual ("Machine-Readable
Event History").
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional
from reprogrid.core.files import AppendFile

#: Macros a PRE script may use (the rest are job-side: DAGMan leaves them literal in PRE).
_ANY_SCRIPT = ("$NODE", "$JOB", "$RETRY", "$MAX_RETRIES", "$DAG_STATUS", "$FAILED_COUNT",
               "$FUTILE_COUNT", "$DONE_COUNT", "$QUEUED_COUNT", "$NODE_COUNT", "$DAGID")
_JOB_SIDE = ("$JOBID", "$CLUSTERID", "$JOB_COUNT", "$SUCCESS", "$RETURN", "$EXIT_CODES",
             "$EXIT_CODE_COUNTS", "$EXIT_CODE_LIST", "$PRE_SCRIPT_RETURN", "$JOB_ABORT_COUNT")


@dataclass
class ScriptContext:
    """What the macros of one script run expand to."""

    node: str
    retry: int
    max_retries: int
    dag_status: int
    failed: int
    futile: int
    done: int
    queued: int
    nodes: int
    dag_id: int
    cluster: int = 0
    proc: int = 0
    job_count: int = 0
    success: bool = False
    job_return: int = 0
    pre_return: int = -1
    exit_codes: List[Optional[int]] = field(default_factory=list)  # None: the proc was aborted


def _exit_summaries(codes: List[Optional[int]]) -> Dict[str, str]:
    counts: Dict[int, int] = {}
    for c in codes:
        if c is not None:
            counts[c] = counts.get(c, 0) + 1
    return {
        "$EXIT_CODES": ",".join(str(c) for c in sorted(counts)),
        "$EXIT_CODE_COUNTS": ",".join(f"{c}:{n}" for c, n in sorted(counts.items())),
        "$EXIT_CODE_LIST": ",".join(str(c) for c in codes if c is not None),
        "$JOB_ABORT_COUNT": str(sum(1 for c in codes if c is None)),
    }


def macro_values(ctx: ScriptContext) -> Dict[str, str]:
    values = {
        "$NODE": ctx.node, "$JOB": ctx.node, "$RETRY": str(ctx.retry), "$MAX_RETRIES": str(ctx.max_retries),
        "$DAG_STATUS": str(ctx.dag_status), "$FAILED_COUNT": str(ctx.failed), "$FUTILE_COUNT": str(ctx.futile),
        "$DONE_COUNT": str(ctx.done), "$QUEUED_COUNT": str(ctx.queued), "$NODE_COUNT": str(ctx.nodes),
        "$DAGID": str(ctx.dag_id), "$JOBID": f"{ctx.cluster}.{ctx.proc}", "$CLUSTERID": str(ctx.cluster),
        "$JOB_COUNT": str(ctx.job_count), "$SUCCESS": "True" if ctx.success else "False",
        "$RETURN": str(ctx.job_return), "$PRE_SCRIPT_RETURN": str(ctx.pre_return),
    }
    values.update(_exit_summaries(ctx.exit_codes))
    return values


def script_argv(words: List[str], kind: str, ctx: ScriptContext, warn: Callable[[str], None]) -> List[str]:
    """The script's argv with DAGMan's macros replaced (``kind`` is PRE or POST)."""
    values = macro_values(ctx)
    out: List[str] = []
    for word in words:
        key = word.upper()
        if key in values and (kind != "PRE" or key in _ANY_SCRIPT):
            out.append(values[key])
            continue
        if key in values:
            warn(f"Warning: {word} macro should not be used as a PRE script argument!")
        elif word.startswith("$"):
            warn(f"Warning: unrecognized macro {word} in node {ctx.node} {kind} script arguments")
        out.append(word)
    return out


class JobstateLog:
    """``JOBSTATE_LOG``: ``timestamp node EVENT condor-id job-tag - sequence`` lines, appended."""

    def __init__(self, path: Optional[Path]) -> None:
        self.handle: Optional[AppendFile] = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = AppendFile(path, buffering=1 << 14)  # its write errors name the log
        self.sequence: Dict[str, int] = {}  # node -> its current attempt's sequence number
        self.counter = 0  # DAGMan numbers every node attempt of the run, in order
        self.tags: Dict[str, str] = {}

    def internal(self, text: str) -> None:
        if self.handle is not None:
            self.handle.write(f"{int(time.time())} INTERNAL *** {text} ***\n")

    def next_attempt(self, node: str) -> None:
        """A new attempt of the node (a retry): it gets the next number at its next line."""
        self.sequence.pop(node, None)

    def continue_numbers(self) -> None:
        """A rescue DAG or a recovery: numbers go on from the highest in the file (DAGMan's
        ``JobstateLog::InitializeRescue``: "monotonically-increasing ... if the DAG is rerun
        from a rescue file")."""
        if self.handle is None:
            return
        self.handle.flush()
        highest = 0
        try:
            with open(self.handle.path, "r", errors="replace") as fh:
                for line in fh:
                    words = line.split()
                    if len(words) >= 6 and words[1] != "INTERNAL" and words[-1].isdigit():
                        highest = max(highest, int(words[-1]))
        except OSError:
            return
        self.counter = max(self.counter, highest)

    def event(self, node: str, event: str, condor_id: str = "-") -> None:
        if self.handle is not None:
            seq = self.sequence.get(node)
            if seq is None:  # numbered at its first line, as DAGMan's GetJobstateSequenceNum
                self.counter += 1
                seq = self.sequence[node] = self.counter
            tag = self.tags.get(node, "-")
            self.handle.write(f"{int(time.time())} {node} {event} {condor_id} {tag} - {seq}\n")


    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


_TAG_NAME = re.compile(r"^\s*\+job_tag_name\s*=\s*\"\+?([A-Za-z0-9_]+)\"", re.M | re.I)
_PEGASUS = re.compile(r"^\s*\+pegasus_site\s*=\s*\"([^\"]*)\"", re.M | re.I)


def job_tag(submit_text: str) -> str:
    """The JOBSTATE_LOG job tag of a submit description: ``+job_tag_name`` names the attribute
    holding it; ``+pegasus_site`` is the fallback; ``-`` when neither is set."""
    m = _TAG_NAME.search(submit_text)
    if m:
        v = re.search(r"^\s*(?:\+|My\.)" + re.escape(m.group(1)) + r"\s*=\s*\"([^\"]*)\"", submit_text, re.M | re.I)
        if v:
            return v.group(1)
    p = _PEGASUS.search(submit_text)
    return p.group(1) if p else "-"
