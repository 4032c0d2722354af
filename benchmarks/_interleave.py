"""Shared by the issue-28 benchmarks: whole processes, interleaved, CPU and wall per run.

Each case is an argv run as its own process; one round runs every case once, in order,
and ``--repeats`` rounds are taken (so machine load hits every case alike). The CPU time
is the child's user + system time from ``os.wait4``; the wall time is around the process.
Figures are medians; ratios are taken against the anchor case of the same run. Toolkit
processes run with ``python -P`` so that PYTHONPATH (this tree, or the base checkout) and
not the current folder decides which ``reprogrid`` is imported.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

Case = Tuple[str, Sequence[str]]


def run_once(argv: Sequence[str], cwd: Optional[str] = None, env: Optional[Dict[str, str]] = None,
             ok: Sequence[int] = (0,)) -> Tuple[float, float, int]:
    """(wall s, CPU s, peak RSS KiB) of one process; raises when its exit code is not in ``ok``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        raise SystemExit("%s exited %d: %s" % (" ".join(argv), proc.returncode, err.decode(errors="replace")[-2000:]))
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def interleave(cases: List[Case], repeats: int, cwd: Optional[str] = None, env: Optional[Dict[str, str]] = None,
               before_each: Optional[Callable[[str], None]] = None,
               envs: Optional[Dict[str, Dict[str, str]]] = None, ok: Sequence[int] = (0,)) -> Dict[str, Dict[str, float]]:
    """name -> {wall, cpu, rss_mib} medians over ``repeats`` interleaved rounds (``envs``: per case)."""
    samples = {name: [] for name, _ in cases}  # type: Dict[str, List[Tuple[float, float, int]]]
    for _ in range(repeats):
        for name, argv in cases:
            if before_each is not None:
                before_each(name)
            samples[name].append(run_once(argv, cwd, (envs or {}).get(name, env), ok))
    out = {}
    for name, rows in samples.items():
        out[name] = {"wall": statistics.median(r[0] for r in rows), "cpu": statistics.median(r[1] for r in rows),
                     "rss_mib": max(r[2] for r in rows) / 1024.0}
    return out


def load() -> str:
    """The machine's load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return "%.2f, %.2f, %.2f" % (one, five, fifteen)


def table(results: Dict[str, Dict[str, float]], anchor: str) -> str:
    """A Markdown table of medians, each with its ratio to the anchor (wall and CPU)."""
    base = results[anchor]
    lines = ["| case | wall (median) | CPU (median) | wall / anchor | CPU / anchor | peak RSS |", "|---|---|---|---|---|---|"]
    for name, row in results.items():
        lines.append("| %s | %.3f s | %.3f s | %.2fx | %.2fx | %.0f MiB |" % (
            name, row["wall"], row["cpu"], row["wall"] / base["wall"], row["cpu"] / max(base["cpu"], 1e-9), row["rss_mib"]))
    return "\n".join(lines)
