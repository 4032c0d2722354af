"""A failure reason as runs that fail alike share it: the exception line of a traceback,
without dry-run sandbox paths, run ids or job ids (so five runs failing the same way read as
one reason). Used by the dry run's failure line and the report's first screen."""
from __future__ import annotations

import re

from reprogrid.core.scratch import strip_sandbox

#: longest reason shown
REASON_CHARS = 200
_JOB_ID = re.compile(r"\s*\(\d+\.\d+\.\d+\)|\bjob \d+\.\d+\b")
_CLUSTER_PROC = re.compile(r"(<run>)\.\d+\.\d+\b")
_TRACEBACK = "Traceback (most recent call last)"


def exception_line(message: str) -> str:
    """``message`` with a Python traceback cut to its last non-empty line, the exception
    (``ValueError: ...``), and dry-run sandbox paths (the job's folder too) written ``<sandbox>/``."""
    text = strip_sandbox(message, job_folder=True)
    at = text.find(_TRACEBACK)
    if at >= 0:
        lines = [line.strip() for line in text[at:].splitlines() if line.strip()]
        text = text[:at] + lines[-1]
    return text


def general_reason(reason: str, run_id: str = "", chars: int = REASON_CHARS) -> str:
    """``reason`` as the runs failing alike share it: its exception line (see
    :func:`exception_line`), no run id, job id or ``.<cluster>.<proc>``, one line of ``chars`` at most."""
    text = exception_line(reason)
    if run_id:
        text = _CLUSTER_PROC.sub(r"\1", text.replace(run_id, "<run>"))
    text = " ".join(_JOB_ID.sub("", text).split())
    return text if len(text) <= chars else text[:chars - 3] + "..."
