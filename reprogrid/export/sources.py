"""What a gathered submit folder offers a crate: its spec, manifest, records, dataset and
report, read once, and the scrubbing that keeps the writer's machine out of the crate.

A crate must not hold an absolute path of the machine that wrote it nor a secret: text
files and the string columns of Parquet files are copied through :func:`scrub`, which
rewrites the submit folder's absolute path to ``.``, the home folder to ``~`` and a dry
run's job sandbox (named in error messages) to ``<sandbox>/``, and withholds the values of
variables whose names look like credentials (a name part ``TOKEN``, ``SECRET``,
``PASSWORD``, ``API_KEY``...). The spec and the workloads' source files only get the path
rewriting (:func:`scrub_paths`): a value that looks like a secret there is logged, never
rewritten, so that the spec still parses and the code still runs. The job logs and
DAGMan's own log are left out altogether (they echo environments and sandboxes).
"""
from __future__ import annotations

import logging
import os
import re

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from reprogrid import tree
from reprogrid.core.errors import Problem, UserError
from reprogrid.core.scratch import strip_temp_folders
from reprogrid.gather.dataset import REPORT_NAME, find_dataset, load_dataset, read_report, report_json
from reprogrid.spec import Study, study_from_dict

log = logging.getLogger(__name__)

#: Folders of the submit tree copied into the crate (text files and Parquet string columns scrubbed).
COPIED_DIRS = (tree.CELLS_DIR, tree.BUNDLE_DIR, tree.WORKLOADS_DIR, tree.RESULTS_DIR, tree.DATASET_DIR)
#: Files of the submit tree copied into the crate.
COPIED_FILES = (tree.STUDY_FILE, tree.DAG_FILE, tree.DAG_CONFIG_FILE, tree.MANIFEST_FILE, tree.GATHER_SUBMIT)
#: The report folder render's ``report`` command writes by default (``reprogrid report SUBMIT``).
REPORT_DIR = "report"
TEXT_SUFFIXES = {".json", ".yaml", ".yml", ".md", ".html", ".sub", ".dag", ".config", ".sh", ".py", ".txt", ".csv", ".svg"}
#: Source files: only their paths are rewritten (a secret-looking value is logged, not changed).
SOURCE_SUFFIXES = {".py", ".sh", ".r", ".jl", ".ipynb"}
WITHHELD = "(withheld)"
#: A name part that marks a credential (whole parts of a variable name: ``max_tokens`` is not one).
_SECRET_PART = r"(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)"
_SECRET_NAME = re.compile(rf"(?:^|_){_SECRET_PART}(?:_|$)", re.IGNORECASE)
_ASSIGN = re.compile(rf"(?<![A-Za-z0-9_])((?:[A-Za-z0-9]+_)*?{_SECRET_PART}(?:_[A-Za-z0-9]+)*)(?![A-Za-z0-9_])"
                     r"([\"']?[ \t]*[:=][ \t]*)(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',;\\]+)", re.IGNORECASE)


@dataclass
class Sources:
    """One gathered study, read for export."""

    submit_dir: Path
    study: Study
    manifest: Dict[str, Any]
    df: Any
    gather_report: Dict[str, Any]
    report_dir: Optional[Path]
    files: List[str] = field(default_factory=list)

    def scrub(self, text: str) -> str:
        return scrub(text, self.submit_dir)


def read_sources(submit_dir: Path) -> Sources:
    """Read a gathered submit folder; refuse one that is not rendered or not gathered."""
    submit_dir = Path(submit_dir)
    if not tree.is_submit_dir(submit_dir):
        raise UserError.of("cannot export", [Problem(str(submit_dir), "is not a submit folder (no manifest.json): "
                                                     "pass the folder `reprogrid render` wrote")])
    find_dataset(submit_dir)  # refuses an ungathered folder, naming `reprogrid gather`
    manifest = tree.read_manifest(submit_dir)
    study = _rendered_study(submit_dir / tree.STUDY_FILE)
    df = load_dataset(submit_dir)
    report_dir = submit_dir / REPORT_DIR
    sources = Sources(submit_dir=submit_dir, study=study, manifest=manifest, df=df,
                      gather_report=read_report(submit_dir) or {},
                      report_dir=report_dir if (report_dir / "summary.md").is_file() else None)
    sources.files = _listed_files(sources)
    log.info("export: %d files of %s, %d records", len(sources.files), submit_dir, len(df))
    return sources


def _rendered_study(path: Path) -> Study:
    """The normalised spec render wrote (its workloads' files are under ``workloads/``,
    not beside it, so they are not looked for)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UserError.of("cannot export", [Problem(str(path), f"unreadable ({err}); render the study again")]) from None
    return study_from_dict(raw, source=str(path))


def _listed_files(sources: Sources) -> List[str]:
    """The submit tree's files the crate copies, relative, in a stable order."""
    root = sources.submit_dir
    names = [name for name in COPIED_FILES if (root / name).is_file()]
    folders = list(COPIED_DIRS) + ([REPORT_DIR] if sources.report_dir else [])
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not path.is_symlink() and not any(p.startswith(".") for p in rel.parts):
                names.append(rel.as_posix())
    return names


def scrub_paths(text: str, submit_dir: Path) -> str:
    """``text`` without the submit folder's absolute path, the home folder or a folder under the
    temporary folder (a dry run's sandbox)."""
    for form in sorted({str(submit_dir.resolve()), os.path.abspath(submit_dir)}, key=len, reverse=True):
        text = text.replace(form + "/", "").replace(form, ".")
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        text = text.replace(home + "/", "~/").replace(home, "~")
    return strip_temp_folders(text)  # a job's scratch folder on this machine (the dry run's sandboxes)


def scrub(text: str, submit_dir: Path) -> str:
    """``text`` without the submit folder's absolute path, the home folder or secrets."""
    return _ASSIGN.sub(_withhold, scrub_paths(text, submit_dir))


def _withhold(m: "re.Match[str]") -> str:
    if not is_secret_name(m.group(1)):
        return m.group(0)
    value = m.group(3)
    quote = value[0] if value[0] in "\"'" else ""
    return m.group(1) + m.group(2) + quote + WITHHELD + quote


def secrets_in(text: str) -> List[str]:
    """The credential-like names assigned a value in ``text``."""
    return sorted({m.group(1) for m in _ASSIGN.finditer(text) if is_secret_name(m.group(1))})


def is_secret_name(name: str) -> bool:
    """Whether a variable called ``name`` may hold a credential (its value is withheld)."""
    return bool(_SECRET_NAME.search(name))


def is_source(name: str) -> bool:
    """The spec and the workloads' files: rewritten only where they name this machine's paths."""
    return (name == tree.STUDY_FILE or name.startswith(f"{tree.WORKLOADS_DIR}/")
            or Path(name).suffix.lower() in SOURCE_SUFFIXES)


def scrub_parquet(source: Path, target: Path, submit_dir: Path) -> bool:
    """Write ``source`` to ``target`` with every string column passed through :func:`scrub`
    (same schema, same metadata); False, writing nothing, when no value changes."""
    table = pq.ParquetFile(source).read()  # this file alone: no partition columns from its folder names
    columns, changed = [], False
    for column in table.columns:
        kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            columns.append(column)
            continue
        values = column.to_pylist()
        cleaned = [v if v is None else scrub(v, submit_dir) for v in values]
        if cleaned == values:
            columns.append(column)
            continue
        changed = True
        columns.append(pa.array(cleaned, type=kind).cast(column.type) if pa.types.is_dictionary(column.type)
                       else pa.array(cleaned, type=column.type))
    if not changed:
        return False
    pq.write_table(pa.Table.from_arrays(columns, schema=table.schema), target)
    return True


def is_text(name: str) -> bool:
    return Path(name).suffix.lower() in TEXT_SUFFIXES or name in (tree.DAG_FILE, tree.DAG_CONFIG_FILE)


def scrubbed_report(sources: Sources) -> str:
    """Gather's report as stored in the crate: the submit folder's paths made relative."""
    report = dict(sources.gather_report)
    for key in ("submit_dir", "dataset_dir"):
        if isinstance(report.get(key), str):
            report[key] = "." if key == "submit_dir" else tree.DATASET_DIR
    return sources.scrub(report_json(report))


GATHER_REPORT = f"{tree.DATASET_DIR}/{REPORT_NAME}"
