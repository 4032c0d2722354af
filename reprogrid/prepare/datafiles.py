"""The study's data files: canonical checksums, fetching, verifying and staging to OSDF.

``mnist.npz`` and ``imdb.npz`` come from the Keras datasets bucket and are checked against
the sha256 ``keras.datasets`` itself uses; ``creditcard.csv`` needs a Kaggle login, so the
user gives a path or URL and it is checked for the Kaggle format (no published checksum).
The bundled samples (``reprogrid/sampledata``) are recognised as samples. Downloads are
verified before they are renamed into place, so a folder never holds a half file.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from reprogrid.core.errors import Problem, UserError
from reprogrid.core.files import sweep_leftovers, temp_prefix
from reprogrid.core.progress import Progress
from reprogrid.job import data as jobdata
from reprogrid.job import samples
from reprogrid.job.catalogue import DATA_FILES

DEFAULT_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CANONICAL_SHA256 = {
    "mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "imdb.npz": "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
}
CREDITCARD_ROWS = 284807

# statuses of a checked file; the first three are usable
CANONICAL, SAMPLE, UNVERIFIED = "canonical", "sample", "unverified"
MISMATCH, MALFORMED, MISSING = "checksum-mismatch", "malformed", "missing"
USABLE = (CANONICAL, SAMPLE, UNVERIFIED)


@dataclass(frozen=True)
class FileCheck:
    """What :func:`verify_file` found about one data file."""

    name: str
    path: str
    status: str
    sha256: Optional[str] = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in USABLE


def sha256_of(path: Path) -> str:
    return jobdata.sha256_file(str(path))


def check_format(path: Path) -> Optional[str]:
    """None when ``path`` looks like its published format, else what is wrong."""
    name = path.name
    try:
        if name == "mnist.npz":
            jobdata.load_mnist(str(path.parent), max_samples=1)
        elif name == "imdb.npz":
            jobdata.load_imdb(str(path.parent), max_samples=1)
        elif name == "creditcard.csv":
            jobdata.load_creditcard(str(path.parent), max_samples=100)
        else:
            return f"not one of the study's data files ({', '.join(DATA_FILES)})"
    except jobdata.DataError as err:
        return str(err)
    return None


def _count_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1


def verify_file(path: Path) -> FileCheck:
    """Classify one file: canonical, sample, unverified (credit-card, Kaggle format), or a problem."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        return FileCheck(name, str(path), MISSING, detail="not present")
    digest = sha256_of(path)
    if samples.is_sample_file(str(path), digest):
        problem = check_format(path)
        if problem:
            return FileCheck(name, str(path), MALFORMED, digest, problem)
        return FileCheck(name, str(path), SAMPLE, digest, "bundled SAMPLE data, not the published file")
    if name in CANONICAL_SHA256:
        if digest == CANONICAL_SHA256[name]:
            return FileCheck(name, str(path), CANONICAL, digest, "matches the published sha256")
        problem = check_format(path)
        detail = f"sha256 {digest[:12]}... is not the published {CANONICAL_SHA256[name][:12]}..."
        return FileCheck(name, str(path), MALFORMED if problem else MISMATCH, digest,
                         f"{problem}; {detail}" if problem else detail + "; re-fetch with `reprogrid data fetch`")
    problem = check_format(path)
    if problem:
        return FileCheck(name, str(path), MALFORMED, digest, problem)
    rows = _count_rows(path)
    detail = f"Kaggle format, {rows} rows" + ("" if rows == CREDITCARD_ROWS else f" (the Kaggle file has {CREDITCARD_ROWS})")
    return FileCheck(name, str(path), UNVERIFIED, digest, detail + "; no published checksum")


def verify_dir(folder: Path, names: Sequence[str] = DATA_FILES) -> List[FileCheck]:
    """Check each of ``names`` in ``folder`` (missing ones are reported as missing)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError.of("data folder not found", [Problem(str(folder), "no such folder; create it or fetch into it with `reprogrid data fetch DIR`")])
    return [verify_file(folder / name) for name in names]


def _hashing_copy(read: Callable[[int], bytes], dest: Path, total: Optional[int], label: str) -> Tuple[str, str]:
    """Stream ``read`` into a temporary file beside ``dest``; returns (temp path, sha256)."""
    digest = hashlib.sha256()
    sweep_leftovers(dest)  # what a killed fetch of this file left
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(dest), dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, Progress(total, label) as bar:
            done = 0
            while True:
                block = read(1 << 20)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                bar.set(done)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp, digest.hexdigest()


def download(url: str, dest: Path, expected_sha256: Optional[str] = None, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest``, verifying the sha256 before the rename; returns the sha256."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http/https/file by design)
            length = response.headers.get("Content-Length")
            tmp, digest = _hashing_copy(response.read, dest, int(length) if length else None, dest.name)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise UserError.of(f"could not download {dest.name}", [Problem(url, f"{err}; check the URL / --base-url and the network")])
    if expected_sha256 and digest != expected_sha256:
        os.unlink(tmp)
        raise UserError.of(f"{dest.name} failed verification", [Problem(url, f"sha256 is {digest}, expected {expected_sha256}; the file was not kept")])
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    return digest


def _is_url(text: str) -> bool:
    return urllib.parse.urlparse(text).scheme in ("http", "https", "file", "ftp")


def fetch(folder: Path, base_url: str = DEFAULT_BASE_URL, creditcard: Optional[str] = None,
          names: Sequence[str] = ("mnist.npz", "imdb.npz")) -> List[FileCheck]:
    """Download the canonical files (skipping ones already verified) and bring in the credit-card CSV."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = base_url if base_url.endswith("/") else base_url + "/"
    for name in names:
        if name not in CANONICAL_SHA256:
            raise UserError.of("unknown data file", [Problem(name, f"fetchable files are {', '.join(CANONICAL_SHA256)}")])
        dest = folder / name
        if dest.is_file() and sha256_of(dest) == CANONICAL_SHA256[name]:
            continue
        download(urllib.parse.urljoin(base, name), dest, CANONICAL_SHA256[name])
    if creditcard:
        dest = folder / "creditcard.csv"
        if _is_url(creditcard):
            download(creditcard, dest)
        else:
            source = Path(creditcard).expanduser()
            if not source.is_file():
                raise UserError.of("credit-card file not found", [Problem("--creditcard", f"{source} does not exist; download creditcard.csv from kaggle.com/datasets/mlg-ulb/creditcardfraud")])
            if source.resolve() != dest.resolve():
                with open(source, "rb") as handle:
                    tmp, _ = _hashing_copy(handle.read, dest, source.stat().st_size, dest.name)
                os.chmod(tmp, 0o644)
                os.replace(tmp, dest)
        problem = check_format(dest)
        if problem:
            raise UserError.of("creditcard.csv is not the Kaggle file", [Problem("--creditcard", problem)])
    present = [n for n in DATA_FILES if (folder / n).is_file()]
    return [verify_file(folder / n) for n in present]


# -- staging to OSDF --------------------------------------------------------------------

STAGE_TOOLS = ("pelican", "osdf", "stashcp")


def normalise_osdf_folder(url: str) -> str:
    """``osdf:///ospool/apXX/data/USER/folder`` without a trailing slash (UserError otherwise)."""
    if not url.startswith("osdf:///") or len(url.rstrip("/")) <= len("osdf:///"):
        raise UserError.of("bad OSDF folder", [Problem("--osdf", f"expected osdf:///ospool/apXX/data/USER/folder, got {url!r}")])
    return url.rstrip("/")


def find_stage_tool(which: Callable[[str], Optional[str]] = shutil.which) -> Optional[str]:
    """The first of pelican, osdf, stashcp on PATH (None when none is)."""
    for tool in STAGE_TOOLS:
        if which(tool):
            return tool
    return None


def stage_command(tool: str, source: Path, dest_url: str) -> List[str]:
    """The argument list that copies ``source`` to ``dest_url`` with ``tool``."""
    if tool in ("pelican", "osdf"):
        return [tool, "object", "put", str(source), dest_url]
    if tool == "stashcp":
        return ["stashcp", str(source), dest_url]
    raise ValueError(f"unknown staging tool {tool!r}")


def stage_plan(folder: Path, osdf_folder: str, tool: str) -> List[List[str]]:
    """Copy commands for every usable data file in ``folder`` (a file with problems is an error)."""
    osdf_folder = normalise_osdf_folder(osdf_folder)
    checks = [c for c in verify_dir(folder) if c.status != MISSING]
    bad = [c for c in checks if not c.ok]
    if bad:
        raise UserError.of("data files failed verification; not staging them", [Problem(c.path, f"{c.status}: {c.detail}") for c in bad])
    if not checks:
        raise UserError.of("nothing to stage", [Problem(str(folder), f"none of {', '.join(DATA_FILES)} is there; run `reprogrid data fetch {folder}` first")])
    return [stage_command(tool, Path(c.path), f"{osdf_folder}/{c.name}") for c in checks]


def rewrite_spec_inputs(spec_text: str, osdf_folder: str, names: Sequence[str]) -> str:
    """The spec's YAML with ``data.inputs`` entries for ``names`` pointed at ``osdf_folder``.

    Entries whose file name is one of ``names`` are replaced; staged files not yet listed
    are appended. Comments are not kept (YAML load/dump).
    """
    import yaml

    osdf_folder = normalise_osdf_folder(osdf_folder)
    spec = yaml.safe_load(spec_text)
    if not isinstance(spec, dict):
        raise UserError.of("spec is not a YAML mapping", [Problem("--spec", "expected a study.yaml (a mapping at the top level)")])
    data = spec.get("data")
    if data is None:
        data = spec["data"] = {}
    if not isinstance(data, dict):
        raise UserError.of("bad spec", [Problem("data", "expected a mapping with `inputs: [...]`")])
    inputs = data.get("inputs") or []
    if not isinstance(inputs, list):
        raise UserError.of("bad spec", [Problem("data.inputs", "expected a list of paths or URLs")])
    wanted = set(names)
    done = set()
    out = []
    for item in inputs:
        base = Path(str(item).split("://", 1)[-1]).name
        if base in wanted:
            out.append(f"{osdf_folder}/{base}")
            done.add(base)
        else:
            out.append(item)
    out += [f"{osdf_folder}/{n}" for n in names if n not in done]
    data["inputs"] = out
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=False)


def format_command(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
