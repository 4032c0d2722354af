"""Reading a crate back: ``open_crate`` gives the folder of a crate that ``reprogrid export``
wrote (a .zip is unpacked to a temporary folder), so ``report`` and ``import`` read its
dataset as they read a gathered study's."""
from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator, Union

from reprogrid import tree
from reprogrid.core.errors import Problem, UserError

log = logging.getLogger(__name__)

METADATA_FILE = "ro-crate-metadata.json"


def is_crate(path: Union[str, Path]) -> bool:
    """Whether ``path`` is an RO-Crate folder or a .zip file (a crate or not yet known)."""
    path = Path(path)
    return (path.is_dir() and (path / METADATA_FILE).is_file()) or (path.is_file() and zipfile.is_zipfile(path))


@contextlib.contextmanager
def open_crate(path: Union[str, Path]) -> Iterator[Path]:
    """The crate's folder (a .zip unpacked for the duration); refuses a crate without a
    reprogrid dataset, naming what is missing."""
    path = Path(path)
    tmp = None
    try:
        if path.is_file():
            tmp = Path(tempfile.mkdtemp(prefix="reprogrid-crate-"))
            try:
                with zipfile.ZipFile(path) as archive:
                    _safe_extract(archive, tmp, path)
            except zipfile.BadZipFile as err:
                raise UserError.of("unreadable crate", [Problem(str(path), f"not a readable .zip ({err})")]) from None
            folder = tmp
        else:
            folder = path
        _check(folder, path)
        yield folder
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _safe_extract(archive: zipfile.ZipFile, dest: Path, source: Path) -> None:
    """Unpack only members that stay inside ``dest`` (no absolute paths, no ``..``)."""
    for member in archive.namelist():
        target = (dest / member).resolve()
        if not target.is_relative_to(dest.resolve()):
            raise UserError.of("unsafe crate", [Problem(f"{source}: {member}", "points outside the crate; not unpacked")])
    archive.extractall(dest)


def _check(folder: Path, shown: Path) -> None:
    metadata = folder / METADATA_FILE
    if not metadata.is_file():
        raise UserError.of("not an RO-Crate", [Problem(str(shown), f"holds no {METADATA_FILE}; pass a crate written by "
                                                                   "`reprogrid export`")])
    try:
        graph = json.loads(metadata.read_text(encoding="utf-8")).get("@graph") or []
    except (ValueError, OSError, AttributeError) as err:
        raise UserError.of("unreadable crate", [Problem(f"{shown}/{METADATA_FILE}", str(err))]) from None
    ids = {e.get("@id") for e in graph if isinstance(e, dict)}
    if f"{tree.DATASET_DIR}/" not in ids or not (folder / tree.DATASET_DIR).is_dir():
        raise UserError.of("not a reprogrid crate", [Problem(str(shown), f"has no {tree.DATASET_DIR}/ of result records; "
                                                                         "export the study with `reprogrid export`")])


def dataset_dir(folder: Path) -> Path:
    """The gathered dataset inside an opened crate."""
    return folder / tree.DATASET_DIR
