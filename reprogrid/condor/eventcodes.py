"""The job event log's event type numbers, one owner (HTCondor's ``ULogEventNumber``).

Each event in a user log starts with its number as three digits (``000 (123.000.000) ...``),
and the bindings report it as ``JobEventType``. Kept here as plain ints so that reading
a cached status, or writing an emulated log, needs no bindings import; a test checks every
number against both ``htcondor.JobEventType`` and ``htcondor2.JobEventType``.
``access.status`` reads them; the emulator's event log writer writes them.
"""
from __future__ import annotations

SUBMIT, EXECUTE, EXECUTABLE_ERROR, CHECKPOINTED, JOB_EVICTED, JOB_TERMINATED = 0, 1, 2, 3, 4, 5
IMAGE_SIZE, SHADOW_EXCEPTION, GENERIC, JOB_ABORTED, JOB_SUSPENDED, JOB_UNSUSPENDED = 6, 7, 8, 9, 10, 11
JOB_HELD, JOB_RELEASED, NODE_EXECUTE, NODE_TERMINATED, POST_SCRIPT_TERMINATED = 12, 13, 14, 15, 16
JOB_DISCONNECTED, JOB_RECONNECTED, JOB_RECONNECT_FAILED = 22, 23, 24

#: Every name above, for the test that compares them with the bindings' enums.
NAMES = ("SUBMIT", "EXECUTE", "EXECUTABLE_ERROR", "CHECKPOINTED", "JOB_EVICTED", "JOB_TERMINATED", "IMAGE_SIZE",
         "SHADOW_EXCEPTION", "GENERIC", "JOB_ABORTED", "JOB_SUSPENDED", "JOB_UNSUSPENDED", "JOB_HELD", "JOB_RELEASED",
         "NODE_EXECUTE", "NODE_TERMINATED", "POST_SCRIPT_TERMINATED", "JOB_DISCONNECTED", "JOB_RECONNECTED",
         "JOB_RECONNECT_FAILED")
