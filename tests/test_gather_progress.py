"""The stderr progress bar: silent when not a terminal, a bar with counters when forced."""
from __future__ import annotations

import io

from reprogrid.core.progress import Progress


def test_silent_when_not_a_terminal():
    stream = io.StringIO()
    with Progress(10, "gather", stream=stream) as bar:
        bar.update(5, done=5)
    assert stream.getvalue() == ""


def test_forced_bar_shows_position_and_counts_and_clears_its_line():
    stream = io.StringIO()
    with Progress(4, "runs", stream=stream, force=True, max_rate=0) as bar:
        bar.update(1, done=1, running=2, failed=0)
        bar.update(3, done=3, failed=1)
        text = bar.line()
    assert text.startswith("runs [") and "4/4 100%" in text and "done=3" in text and "failed=1" in text
    out = stream.getvalue()
    assert "1/4" in out and "running=2" in out
    assert out.endswith("\r")  # the line is cleared at the end


def test_unknown_total_counts_up():
    stream = io.StringIO()
    with Progress(None, "scan", stream=stream, force=True) as bar:
        bar.update(7)
        assert bar.line().startswith("scan 7 ")
