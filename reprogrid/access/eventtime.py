"""Event times of a job event log as the HTCondor bindings reckon them, without ``strptime``.

``JobEvent.timestamp`` parses ``EventTime`` with ``strptime`` as a naive local time (a
fifth of a cold ``status``); :func:`iso_time` gives the same number from a table of the
log's minutes (the bindings read ``EventTime`` as a naive local time, ``datetime.timestamp()``
truncated to whole seconds; so does this, once per minute of the log, adding the seconds), and
:func:`bindings_time` leaves a form it does not know to the bindings. Owned here for
``access.status``.
"""
from __future__ import annotations

import datetime
import time
from typing import Any, Dict, List, Optional

from reprogrid.condor.bindings import htcondor2

_MINUTES: Dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" -> its Unix time, as the bindings reckon it
_MINUTES_ZONE: List[Any] = [None]  # the ``time.tzname`` _MINUTES was filled under (tzset makes a new one)


def iso_time(iso: Any) -> Optional[int]:
    """The Unix time of an ``EventTime`` as the bindings reckon it; None for a form this
    does not recognise (the caller asks the bindings)."""
    if time.tzname is not _MINUTES_ZONE[0]:  # the local zone may have changed (TZ + time.tzset)
        _MINUTES.clear()
        _MINUTES_ZONE[0] = time.tzname
    try:
        base = _MINUTES.get(iso[:16])
        if base is None:
            base = _minute_start(iso)
        return base + int(iso[17:19])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def bindings_time(iso: Any) -> int:
    """``JobEvent.timestamp`` of an event whose ``EventTime`` is ``iso`` (the bindings' own
    property, on the one attribute it reads), for a form :func:`iso_time` leaves to them."""
    from types import SimpleNamespace

    return int(htcondor2().JobEvent.timestamp.fget(SimpleNamespace(_data={"EventTime": iso})))


def _minute_start(iso: str) -> int:
    """The Unix time of ``iso``'s minute, as a naive local time; remembered in _MINUTES."""
    if not (len(iso) >= 19 and iso[4] == "-" and iso[7] == "-" and iso[10] == "T" and iso[13] == ":"
            and iso[16] == ":" and iso[17:19].isdigit()):
        raise ValueError(f"not an ISO event time: {iso!r}")
    if len(_MINUTES) > 100_000:  # a log spanning months: keep the table bounded
        _MINUTES.clear()
    start = datetime.datetime(int(iso[0:4]), int(iso[5:7]), int(iso[8:10]), int(iso[11:13]), int(iso[14:16]))
    base = _MINUTES[iso[:16]] = int(start.timestamp())
    return base
