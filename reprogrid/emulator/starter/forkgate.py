"""Keeps the dry run's forks and its writes of files a job may execute apart.

A forked child holds a copy of every descriptor its parent had open at the fork until it
calls ``exec`` (close-on-exec closes them only then). A job's launch copies its executable
and inputs into its sandbox on a pool thread; if another thread forks while such a file is
open for writing, and the job then ``exec``\\ s it before that other child has ``exec``\\ ed,
the kernel refuses with ``ETXTBSY`` ("Text file busy") and the job is held: a real
HTCondor starter, one process per job, cannot meet this (measured here: 1 of 400 jobs
held with 8 slots, and a CI flake). :data:`FORK_GATE` lets any number of writes run
together and any number of forks run together, never one of each; ``subprocess.Popen``
returns only once its child has ``exec``\\ ed, so a fork is over when the ``with`` ends.
The gate is process-wide because descriptors are: every dry run in a process shares it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class ForkGate:
    """Two kinds of holders that exclude each other: sandbox writers and forks. Waiting
    writers go first (a write is short; forks would otherwise keep them out forever)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._writers = 0
        self._writers_waiting = 0
        self._forks = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold while files a job may execute are open for writing."""
        with self._cond:
            self._writers_waiting += 1
            try:
                self._cond.wait_for(lambda: self._forks == 0)
            finally:
                self._writers_waiting -= 1
            self._writers += 1
        try:
            yield
        finally:
            with self._cond:
                self._writers -= 1
                if self._writers == 0:
                    self._cond.notify_all()

    @contextmanager
    def forking(self) -> Iterator[None]:
        """Hold around a ``subprocess.Popen`` (its fork up to its child's ``exec``)."""
        with self._cond:
            self._cond.wait_for(lambda: self._writers == 0 and self._writers_waiting == 0)
            self._forks += 1
        try:
            yield
        finally:
            with self._cond:
                self._forks -= 1
                if self._forks == 0:
                    self._cond.notify_all()


#: The one gate of this process (see the module's docstring).
FORK_GATE = ForkGate()

__all__ = ["FORK_GATE", "ForkGate"]
