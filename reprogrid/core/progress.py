"""A small dependency-free progress bar for long work, drawn on stderr.

``Progress(total, label)`` is a context manager; ``update(n=1, **counts)`` advances it and
sets named counters shown beside the bar (``done=12 running=2 failed=1``). It draws only
when the stream is a terminal (or when ``force=True`` / ``REPROGRID_PROGRESS=1``), redraws
at most ``max_rate`` times a second, and clears its line when it closes, so piping a
command's output never fills a log with carriage returns.

    with Progress(len(files), "gather") as bar:
        for f in files:
            ...
            bar.update(ok=n_ok, failed=n_failed)
"""
from __future__ import annotations

import os
import sys
import time
from typing import IO, Dict, Optional


class Progress:
    """A one-line progress bar: ``label [#####.....] 50/100 50% 12.3/s eta 4s done=.. failed=..``."""

    def __init__(
        self,
        total: Optional[int],
        label: str = "",
        *,
        stream: Optional[IO[str]] = None,
        force: Optional[bool] = None,
        width: int = 28,
        max_rate: float = 10.0,
    ) -> None:
        self.total = total if total is None else max(int(total), 0)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        if force is None:
            force = os.environ.get("REPROGRID_PROGRESS", "") == "1"
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(force) or bool(isatty and isatty())
        if os.environ.get("REPROGRID_PROGRESS", "") == "0":
            self.enabled = False
        self.width = width
        self.min_interval = 1.0 / max_rate if max_rate > 0 else 0.0
        self.count = 0
        self.counts: Dict[str, int] = {}
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._last_len = 0
        self._closed = False

    def __enter__(self) -> "Progress":
        self._start = time.monotonic()
        self._draw(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1, **counts: int) -> None:
        """Advance by ``n`` and set the named counters (absolute values, not increments)."""
        self.count += n
        self.counts.update(counts)
        self._draw()

    def set(self, count: Optional[int] = None, **counts: int) -> None:
        """Set the position (absolute) and/or counters without advancing."""
        if count is not None:
            self.count = count
        self.counts.update(counts)
        self._draw()

    def line(self) -> str:
        """The bar's text as it would be drawn now (no carriage return)."""
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.count / elapsed
        parts = [self.label] if self.label else []
        if self.total:
            frac = min(self.count / self.total, 1.0)
            filled = int(round(frac * self.width))
            parts.append("[" + "#" * filled + "." * (self.width - filled) + "]")
            parts.append(f"{self.count}/{self.total} {frac * 100:3.0f}%")
            if 0 < self.count < self.total and rate > 0:
                parts.append(f"eta {_duration((self.total - self.count) / rate)}")
        else:
            parts.append(str(self.count))
        parts.append(f"{rate:.1f}/s" if rate < 100 else f"{rate:.0f}/s")
        parts.extend(f"{k}={v}" for k, v in self.counts.items())
        return " ".join(parts)

    def close(self) -> None:
        """Clear the bar's line (once)."""
        if self._closed:
            return
        self._closed = True
        if self.enabled and self._last_len:
            self.stream.write("\r" + " " * self._last_len + "\r")
            self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled or self._closed:
            return
        now = time.monotonic()
        finished = self.total is not None and self.count >= self.total
        if not force and not finished and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        text = self.line()
        pad = max(self._last_len - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._last_len = len(text)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
