"""The job bundle: ``reprogrid-job.pyz``, the job side (``reprogrid/job/``) as one zipapp.

Render ships it with every job; the wrapper runs it with the container's ``python3``.
The bytes are deterministic (sorted entries, fixed timestamps and permissions, no
bytecode), so re-rendering a study gives a byte-identical bundle.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Dict

from reprogrid import __version__
from reprogrid.core.files import write_bytes_atomic

BUNDLE_NAME = "reprogrid-job.pyz"
JOB_DIR = Path(__file__).resolve().parent.parent / "job"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
SHEBANG = b"#!/usr/bin/env python3\n"

ROOT_MAIN = '''\
"""reprogrid job bundle: python3 reprogrid-job.pyz run|fingerprint|selftest --help"""
import sys

from reprogrid.job.cli import main

sys.exit(main())
'''

# The real reprogrid/__init__.py belongs to the toolkit (Python >= 3.10); the bundle
# carries a stub so ``reprogrid.job`` imports on the containers' Python 3.8.
PACKAGE_INIT = '''\
"""reprogrid (job bundle): only the job side, see reprogrid.job."""
__version__ = "{version}"
'''


def bundle_members() -> Dict[str, bytes]:
    """Archive name -> content of every file the bundle holds."""
    members = {
        "__main__.py": ROOT_MAIN.encode("utf-8"),
        "reprogrid/__init__.py": PACKAGE_INIT.format(version=__version__).encode("utf-8"),
    }
    for path in sorted(JOB_DIR.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        members["reprogrid/job/" + path.relative_to(JOB_DIR).as_posix()] = path.read_bytes()
    return members


def bundle_bytes() -> bytes:
    """The zipapp's bytes: shebang + a zip with sorted entries and fixed metadata."""
    buf = io.BytesIO()
    buf.write(SHEBANG)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(bundle_members().items()):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, data)
    return buf.getvalue()


def build_job_bundle(dest_dir: Path) -> Path:
    """Write ``<dest_dir>/reprogrid-job.pyz`` atomically (executable) and return its path."""
    path = Path(dest_dir) / BUNDLE_NAME
    write_bytes_atomic(path, bundle_bytes(), mode=0o755)
    return path
