"""What a gathered submit folder offers a crate: its spec, manifest, records, dataset and
report, read once, and the scrubbing that keeps the writer's machine out of the crate.

A crate must not hold an absolute path of the machine that wrote it nor a secret: text
files are copied through :func:`scrub`, which rewrites the submit folder's absolute path
to ``.``, the home folder to ``~`` and a scratch folder under the temporary folder (a dry
run's job sandbox, named in error messages) to ``<sandbox>/``, and withholds the values of variables whose names
look like credentials. The job logs and DAGMan's own log are left out altogether (they
echo environments and sandboxes).
"""
from __future__ import annotations

import logging
import os
import re
import tempfile

import yaml
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from reprogrid import tree
from reprogrid.core.errors import Problem, UserError
from reprogrid.gather.dataset import REPORT_NAME, find_dataset, load_dataset, read_report, report_json
from reprogrid.spec import Study, study_from_dict

log = logging.getLogger(__name__)

#: Folders of the submit tree copied into the crate as they are (text files scrubbed).
COPIED_DIRS = (tree.CELLS_DIR, tree.BUNDLE_DIR, tree.WORKLOADS_DIR, tree.RESULTS_DIR, tree.DATASET_DIR)
#: Files of the submit tree copied into the crate.
COPIED_FILES = (tree.STUDY_FILE, tree.DAG_FILE, tree.DAG_CONFIG_FILE, tree.MANIFEST_FILE, tree.GATHER_SUBMIT)
#: The report folder render's ``report`` command writes by default (``reprogrid report SUBMIT``).
REPORT_DIR = "report"
TEXT_SUFFIXES = {".json", ".yaml", ".yml", ".md", ".html", ".sub", ".dag", ".config", ".sh", ".py", ".txt", ".csv", ".svg"}
WITHHELD = "(withheld)"
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSW|API[_-]?KEY|CREDENTIAL|PRIVATE[_-]?KEY|AUTH)", re.IGNORECASE)
_SECRET_ASSIGN = re.compile(r"(?m)^(\s*[\"']?[A-Za-z0-9_.-]*(?:TOKEN|SECRET|PASSW|API[_-]?KEY|CREDENTIAL|PRIVATE[_-]?KEY|AUTH)"
                            r"[A-Za-z0-9_.-]*[\"']?\s*[:=]\s*)(.+)$", re.IGNORECASE)


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


def scrub(text: str, submit_dir: Path) -> str:
    """``text`` without the submit folder's absolute path, the home folder or secrets."""
    for form in sorted({str(submit_dir.resolve()), os.path.abspath(submit_dir)}, key=len, reverse=True):
        text = text.replace(form + "/", "").replace(form, ".")
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        text = text.replace(home + "/", "~/").replace(home, "~")
    text = _temp_folder().sub("<sandbox>/", text)  # a job's scratch folder on this machine (the dry run's sandboxes)
    return _SECRET_ASSIGN.sub(lambda m: m.group(1) + WITHHELD, text)


def _temp_folder() -> "re.Pattern[str]":
    return re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^/\s\"'<>]+/")


def is_secret_name(name: str) -> bool:
    """Whether a variable called ``name`` may hold a credential (its value is withheld)."""
    return bool(_SECRET_NAME.search(name))


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
