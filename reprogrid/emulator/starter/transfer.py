"""File transfer between the submit folder and a job's scratch sandbox, as the shadow/starter do.

Inputs: local paths relative to the job's iwd (a folder ``d`` arrives as ``d/``, ``d/``
with a trailing slash arrives as its contents); URLs (``osdf://``, ``https://``, ...)
go through ``UrlMapper``, which maps URL prefixes to local folders (``--map-url``).
Outputs: ``transfer_output_files`` (files and folders; a folder comes back merged into
the same name under the iwd), renamed by ``transfer_output_remaps``; without
``transfer_output_files``, new or changed files at the top of the sandbox come back.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Set

from reprogrid.core.errors import Problem, UserError


class TransferError(Exception):
    """A transfer failed; the job goes on hold with this message (as the shadow would)."""


class UrlMapper:
    """Resolve URLs to local files by the longest matching prefix (``osdf:///ospool/x`` -> ``/data/x``)."""

    def __init__(self, mapping: Optional[Mapping[str, "str | Path"]] = None) -> None:
        self.mapping = sorted(((p, Path(d)) for p, d in (mapping or {}).items()), key=lambda x: -len(x[0]))

    @staticmethod
    def parse(options: Iterable[str]) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for opt in options:
            if "=" not in opt or not opt.split("=", 1)[0]:
                raise UserError("bad --map-url", [Problem("--map-url", f"{opt!r}: use PREFIX=DIR, e.g. osdf:///ospool/ap40/data/me=./data")])
            prefix, folder = opt.split("=", 1)
            out[prefix] = folder
        return out

    def resolve(self, url: str) -> Path:
        for prefix, folder in self.mapping:
            if url.startswith(prefix):
                rest = url[len(prefix):].lstrip("/")
                return folder / rest if rest else folder
        raise TransferError(f"cannot fetch {url}: no --map-url PREFIX=DIR covers it")


def is_url(name: str) -> bool:
    head = name.split("://", 1)
    return len(head) == 2 and head[0].isalnum()


def split_list(value: Optional[str]) -> List[str]:
    if not value:
        return []
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]


def _copy_into(src: Path, dest_dir: Path, name: Optional[str] = None) -> None:
    target = dest_dir / (name or src.name)
    if src.is_dir():
        shutil.copytree(src, target, dirs_exist_ok=True)
    else:
        shutil.copy2(src, target)


def transfer_inputs(items: Iterable[str], iwd: Path, sandbox: Path, urls: UrlMapper) -> int:
    """Copy inputs into the sandbox; returns bytes copied (roughly)."""
    total = 0
    for item in items:
        if is_url(item):
            src = urls.resolve(item)
            if not src.exists():
                raise TransferError(f"cannot fetch {item}: {src} does not exist")
            _copy_into(src, sandbox, Path(item.rstrip("/")).name)
        else:
            src = Path(item) if os.path.isabs(item) else iwd / item
            if not src.exists():
                raise TransferError(f"transfer_input_files: {src} does not exist")
            if src.is_dir() and item.endswith("/"):
                shutil.copytree(src, sandbox, dirs_exist_ok=True)
            else:
                _copy_into(src, sandbox)
        try:
            total += src.stat().st_size
        except OSError:
            pass
    return total


def parse_remaps(value: Optional[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for part in (value or "").split(";"):
        if "=" in part:
            src, dst = (s.strip() for s in part.split("=", 1))
            if src:
                out[src] = dst
    return out


def _merge(src: Path, dest: Path) -> None:
    if src.is_dir():
        if dest.exists() and not dest.is_dir():
            dest.unlink()
        dest.mkdir(parents=True, exist_ok=True)
        for child in src.iterdir():
            _merge(child, dest / child.name)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        shutil.copy2(src, tmp)
        os.replace(tmp, dest)  # a reader never sees half a result file


def transfer_outputs(outputs: Optional[List[str]], remaps: Mapping[str, str], sandbox: Path, iwd: Path,
                     skip: Set[str], started: float) -> None:
    """Bring outputs back to the iwd. ``outputs=None`` means 'new or changed top-level files'."""
    if outputs is None:
        names = []
        for entry in os.scandir(sandbox):
            if entry.name in skip or not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat().st_mtime >= started - 1:
                names.append(entry.name)
    else:
        names = outputs
    for name in names:
        src = sandbox / name
        if not src.exists():
            raise TransferError(f"transfer_output_files: the job did not create {name}")
        target = remaps.get(name, remaps.get(Path(name).name, Path(name.rstrip("/")).name))
        dest = Path(target) if os.path.isabs(target) else iwd / target
        _merge(src, dest)
