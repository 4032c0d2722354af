"""The dry run's scratch folders: the name of each run's scratch root
(``reprogrid-dryrun-<pid>-<random>``, under the temporary folder unless told otherwise) and
how a message naming a path inside one is written without this machine's folders.

The emulator's starter makes and sweeps the folders; failure grouping and the report
write messages through :func:`strip_sandbox`, the export through :func:`strip_temp_folders`.
"""
from __future__ import annotations

import re
import tempfile

#: the name prefix of a dry run's scratch root; ``<pid>-<random>`` follows
SCRATCH_PREFIX = "reprogrid-dryrun-"
#: what a scratch root is written as in a message
SANDBOX = "<sandbox>/"
#: a scratch root's name (group 1: the pid of the dry run that made it)
SCRATCH_NAME = re.compile("^" + re.escape(SCRATCH_PREFIX) + r"(\d+)-[A-Za-z0-9_]+$")
_ROOT = re.compile(r"(?:/[^/\s\"'<>]+)*/" + re.escape(SCRATCH_PREFIX) + r"\d+-[A-Za-z0-9_]+/")
_JOB = re.compile(re.escape(SANDBOX) + r"[^/\s\"'<>]+/")


def strip_sandbox(text: str, *, job_folder: bool = False) -> str:
    """``text`` with every dry-run scratch root (``/tmp/reprogrid-dryrun-1-abc/``) written
    ``<sandbox>/``; with ``job_folder`` the job's own folder under it
    (``<node>.<cluster>.<proc>/``) goes too, so that runs failing alike read alike."""
    text = _ROOT.sub(SANDBOX, text)
    return _JOB.sub(SANDBOX, text) if job_folder else text


def strip_temp_folders(text: str) -> str:
    """:func:`strip_sandbox`, and any other folder right under this machine's temporary
    folder (``/tmp/pytest-of-ada/``...) written ``<sandbox>/`` as well: what a crate keeps."""
    temp = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^/\s\"'<>]+/")
    return temp.sub(SANDBOX, strip_sandbox(text))
