"""Gather: per-run result records -> one Parquet dataset, checked against the manifest.

``gather(submit_dir)`` reads ``manifest.json`` and every record under ``results/``
(``<run_id>.parquet``, or the job side's ``<run_id>.json`` fallback), validates each one
against the result schema (``reprogrid.job.schema``; older or newer schema versions are
mapped by column name, missing columns become null) and classifies every run of the
manifest as

- ``complete``  one valid record with status ``ok``
- ``failed``    one valid record with status ``failed`` (the recorded error is kept)
- ``missing``   no record
- ``duplicate`` more than one valid record (``.parquet`` and ``.json``, or several rows);
                the ``.parquet`` (first row) is kept in the dataset, all files are listed
- ``corrupt``   only unreadable records, or records whose run id, schema version or
                workload / environments disagree with the manifest

Records whose run id is not in the manifest are listed as ``unexpected``. Nothing is
dropped silently: every file and every run appears in the gather report.

The dataset (default ``<submit_dir>/dataset/``) is hive-partitioned by workload, each
workload's rows in part files of at most ``PART_ROWS`` (``workload=<name>/part-<n>.parquet``),
readable directly by pandas, pyarrow, DuckDB and polars, one row per run;
``_gather_report.json`` inside it lists every run's class. It is built beside the
destination and swapped in (``core.files.atomic_directory``), so a reader never sees half
a dataset; gathering twice gives the same bytes. Source files are only ever read.

This module owns the full gather: records are read in chunks by a thread pool,
concatenated per chunk and appended to the workloads' part files, so memory stays bounded
by the chunk size whatever the number of runs. A gather into a dataset made from the same
manifest is left to ``regather`` (nothing changed: nothing written; else only the parts
holding a changed run are rewritten); the rules of a run's class are ``classify``'s.
"""
from __future__ import annotations

import os
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from reprogrid import tree
from reprogrid.core.errors import Problem, UserError, file_system_error
from reprogrid.core.files import check_name_length, not_regular, sweep_leftovers
from reprogrid.core.progress import Progress
from reprogrid.core.text import shown
from reprogrid.gather import index, regather
from reprogrid.gather.classify import Gathering, chunk_table, classify_chunk, ordered_runs, progress_counts
from reprogrid.gather.dataset import REPORT_NAME, _checked_output, write_dataset
from reprogrid.gather.records import read_items, reader_threads
from reprogrid.job.schema import SCHEMA_VERSION

PathLike = Union[str, "os.PathLike[str]"]

REPORT_SCHEMA = "reprogrid.gather-report/1"
CLASSES = ("complete", "failed", "missing", "duplicate", "corrupt")
_CHUNK = 4096


@dataclass
class GatherResult:
    """What a gather found and wrote. ``runs`` has one entry per manifest run."""

    submit_dir: Path
    dataset_dir: Path
    report_path: Path
    runs: List[Dict[str, Any]]
    unexpected: List[Dict[str, Any]] = field(default_factory=list)
    corrupt_files: List[Dict[str, Any]] = field(default_factory=list)
    ignored_files: List[str] = field(default_factory=list)
    skipped_files: Dict[str, str] = field(default_factory=dict)  # results/ name -> why it is not read (a FIFO...)
    extra_columns: Dict[str, int] = field(default_factory=dict)
    rows_written: int = 0
    files_read: int = 0  # record files read this time (the rest were unchanged since the last gather)
    parts_written: int = 0  # part files written this time (the rest were kept: hard links to the last gather's)
    parts_kept: int = 0
    software: Dict[str, Any] = field(default_factory=dict, repr=False)  # the manifest's, for the command's lock check

    @property
    def counts(self) -> Dict[str, int]:
        counts = {name: 0 for name in CLASSES}
        for run in self.runs:
            counts[run["class"]] += 1
        counts["unexpected"] = len(self.unexpected)
        return counts

    @property
    def ok(self) -> bool:
        """True when every manifest run is complete and nothing unexpected was found."""
        counts = self.counts
        return counts["complete"] == len(self.runs) and not self.unexpected and not self.corrupt_files

    def runs_in(self, cls: str) -> List[Dict[str, Any]]:
        return [run for run in self.runs if run["class"] == cls]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "result_schema_version": SCHEMA_VERSION,
            "submit_dir": str(self.submit_dir),
            "dataset_dir": str(self.dataset_dir),
            "counts": self.counts,
            "rows_written": self.rows_written,
            "runs": self.runs,
            "unexpected": self.unexpected,
            "corrupt_files": self.corrupt_files,
            "ignored_files": self.ignored_files,
            "skipped_files": self.skipped_files,
            "extra_columns": dict(sorted(self.extra_columns.items())),
        }

    def summary(self, limit: int = 10) -> str:
        """A short human summary: counts, then up to ``limit`` runs of each problem class."""
        counts = self.counts
        total = len(self.runs)
        lines = [
            f"gathered {self.rows_written} record(s) for {total} run(s) into {shown(self.dataset_dir)}"
            + (f" ({self.files_read} file(s) read, the rest unchanged since the last gather; "
               f"{self.parts_written} part file(s) written, {self.parts_kept} kept)"
               if self.files_read < sum(len(r["files"]) for r in self.runs) else ""),
            "  " + "  ".join(f"{name}={counts[name]}" for name in (*CLASSES, "unexpected")),
        ]
        for cls in ("failed", "missing", "duplicate", "corrupt"):
            runs = self.runs_in(cls)
            if runs:
                lines.append(f"{cls} ({len(runs)}):")
                for run in runs[:limit]:
                    lines.append(f"  {shown(run['run_id'])}: {shown(run.get('detail') or '')}".rstrip())
                if len(runs) > limit:
                    lines.append(f"  ... and {len(runs) - limit} more (see {self.report_path})")
        if self.unexpected:
            lines.append(f"unexpected records, not in the manifest ({len(self.unexpected)}):")
            for item in self.unexpected[:limit]:
                lines.append(f"  {shown(', '.join(item['files']))}")
        if self.corrupt_files:
            lines.append(f"unreadable or invalid files ({len(self.corrupt_files)}):")
            for item in self.corrupt_files[:limit]:
                lines.append(f"  {shown(item['file'])}: {shown(item['error'])}")
        if self.skipped_files:
            lines.append(f"skipped, not regular files ({len(self.skipped_files)}):")
            lines += [f"  {tree.RESULTS_DIR}/{shown(name)}: {shown(why)}" for name, why in sorted(self.skipped_files.items())[:limit]]
        others = [name for name in self.ignored_files if name not in self.skipped_files]
        if others:
            lines.append(f"not records, left alone ({len(others)}): " + ", ".join(shown(n) for n in others[:limit])
                         + (" ..." if len(others) > limit else ""))
        if self.extra_columns:
            lines.append("columns not in the result schema (left out): "
                         + ", ".join(f"{shown(k)} ({v} files)" for k, v in sorted(self.extra_columns.items())))
        lines.append(f"report: {self.report_path}")
        return "\n".join(lines)


def scan_results(results_dir: Path, stats: Optional[Dict[str, Tuple[int, int]]] = None
                 ) -> Tuple[Dict[str, List[Tuple[str, str]]], List[str]]:
    """Map run id -> [(kind, path)] for every record file; and the files that are not records.

    ``stats``, when given, receives path -> (size, mtime in ns) of every record file.
    """
    by_stem: Dict[str, List[Tuple[str, str]]] = {}
    ignored: List[str] = []
    if not results_dir.is_dir():
        return by_stem, ignored
    with os.scandir(results_dir) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.endswith(".tmp"):
                continue  # a writer's temporary file, not a record
            if not entry.is_file():
                ignored.append(name)
                continue
            stem, dot, ext = name.rpartition(".")
            if dot and ext in ("parquet", "json") and stem:
                by_stem.setdefault(stem, []).append((ext, entry.path))
                if stats is not None:
                    st = entry.stat()
                    stats[entry.path] = (st.st_size, st.st_mtime_ns)
            else:
                ignored.append(name)
    for files in by_stem.values():
        files.sort(key=lambda f: (f[0] != "parquet", f[1]))  # .parquet first
    ignored.sort()
    return by_stem, ignored


def gather(submit_dir: PathLike, *, output: Optional[PathLike] = None, workers: Optional[int] = None,
           progress: Optional[bool] = None, incremental: bool = True) -> GatherResult:
    """Collect ``<submit_dir>/results`` into one dataset and classify every manifest run.

    Tolerates partial results: missing, failed, duplicate and corrupt runs are listed in
    the result (and in ``_gather_report.json``), never raised. Raises ``UserError`` only
    for a missing/invalid manifest or an output folder that cannot be written. With
    ``incremental`` (the default), a gather into a dataset made from the same manifest
    reads only the record files that changed since, and rewrites only the part files
    holding a changed run (``regather``); its rows and report are a full gather's. When
    nothing changed at all, nothing is read or written and the last result is returned.
    """
    submit, manifest, dataset_dir = _locate(submit_dir, output)
    stats: Dict[str, Tuple[int, int]] = {}
    by_stem, ignored = scan_results(submit / tree.RESULTS_DIR, stats)
    expected = {run["run_id"]: run for run in manifest["runs"]}
    g = Gathering(submit, expected, by_stem, stats)
    unexpected = [{"run_id": stem, "files": [g.rel(p) for _, p in by_stem[stem]]}
                  for stem in sorted(set(by_stem) - set(expected))]
    digest = _manifest_digest(submit)
    skipped = {name: f"{what}, not a record file: skipped; replace it with the job's record" for name in ignored
               if (what := not_regular(os.path.join(submit, tree.RESULTS_DIR, name)))}
    result = GatherResult(submit_dir=submit, dataset_dir=dataset_dir, report_path=dataset_dir / REPORT_NAME,
                          runs=[], unexpected=unexpected, ignored_files=ignored, skipped_files=skipped,
                          software=manifest.get("software") or {})

    def report() -> Dict[str, Any]:  # called once every run is classified, before the report is written
        result.runs[:] = ordered_runs(manifest["runs"], g.runs, skipped)
        result.corrupt_files[:] = sorted(g.corrupt_files, key=lambda p: p["run_id"])  # stable: a run's files in order
        result.extra_columns.clear()
        result.extra_columns.update(g.extra_columns)
        return result.to_dict()

    head = {"manifest_sha256": digest, "records_sha256": index.records_digest(stats)}
    prev = regather.previous(dataset_dir, digest) if incremental else None
    try:
        if prev is not None and regather.unchanged(prev, head, result):
            sweep_leftovers(dataset_dir)  # what a gather killed after its swap left beside the dataset
            return result  # nothing changed since the last gather: nothing is read or written
        done = None
        if prev is not None:
            try:
                done = regather.update(g, prev, dataset_dir, head, report, workers, progress)
            except regather.Stale:  # another gather replaced the dataset meanwhile: gather in full
                done = None
            if done is None:
                g = Gathering(submit, expected, by_stem, stats)
        if done is None:
            placed: Dict[str, str] = {}
            rows = write_dataset(_tables(g, sorted(set(by_stem) & set(expected)), workers, progress), dataset_dir, report,
                                 extra={index.INDEX_NAME: lambda folder: index.write(folder, head, g.index, placed)},
                                 placed=placed)
            done = (rows, len(set(placed.values())) or 1, 0)
    except OSError as err:
        raise file_system_error(err, f"write the dataset {dataset_dir}", dataset_dir) from None
    finally:
        if prev is not None:
            prev.close()
    result.rows_written, result.parts_written, result.parts_kept = done
    result.files_read = g.files_read
    return result


def _locate(submit_dir: PathLike, output: Optional[PathLike]) -> Tuple[Path, Dict[str, Any], Path]:
    """The submit folder, its manifest and the dataset folder; refuse what cannot work."""
    submit = Path(submit_dir)
    if not submit.is_dir():
        raise UserError.of("cannot gather", [Problem(str(submit), "not a folder: pass the submit folder written by `reprogrid render`")])
    manifest = tree.read_manifest(submit)
    dataset_dir = Path(output) if output is not None else submit / tree.DATASET_DIR
    results_dir = submit / tree.RESULTS_DIR
    if dataset_dir.resolve() in (submit.resolve(), results_dir.resolve()):
        raise UserError.of("cannot gather", [Problem(str(dataset_dir), "the dataset cannot replace the submit or results folder; choose another output")])
    _check_writable(dataset_dir)
    _checked_output(dataset_dir)
    _check_hidden_results(submit)
    return submit, manifest, dataset_dir


def _check_hidden_results(submit: Path) -> None:
    """Refuse to gather an empty results/ while a killed ``render --force`` of an earlier
    version left the records in its hidden temporary folder (``.NAME.<random>.tmp/results``):
    the gather would replace a good dataset with an empty one."""
    import re

    results = submit / tree.RESULTS_DIR
    if results.is_dir() and any(not n.startswith(".") for n in os.listdir(results)):
        return
    pattern = re.compile(rf"^\.{re.escape(submit.name)}\.[A-Za-z0-9_]{{8}}\.tmp$")
    try:
        names = os.listdir(submit.absolute().parent)
    except OSError:
        return
    for name in names:
        hidden = submit.absolute().parent / name / tree.RESULTS_DIR
        if pattern.match(name) and hidden.is_dir() and any(not n.startswith(".") for n in os.listdir(hidden)):
            raise UserError.of("cannot gather", [Problem(str(hidden), (
                f"holds the records of {submit} (an interrupted `render --force` of an earlier reprogrid left them "
                f"there) while {results} is empty; move them back first: mv {shlex.quote(str(hidden))}/* "
                f"{shlex.quote(str(results))}/"))])


def _check_writable(dataset_dir: Path) -> None:
    """Refuse up front a dataset folder that cannot be created (exit 2, nothing written)."""
    why = check_name_length(dataset_dir)
    if why:
        raise UserError.of("cannot gather", [Problem(str(dataset_dir), f"{why} (-o)")])
    for parent in dataset_dir.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError.of("cannot gather", [Problem(str(parent), "is a file, not a folder; choose another -o")])
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError.of("cannot gather", [Problem(str(parent), "is not writable by you; pass -o with a folder you can write, or change its permissions")])
            return


def _manifest_digest(submit: Path) -> str:
    import hashlib

    return hashlib.sha256((submit / tree.MANIFEST_FILE).read_bytes()).hexdigest()


def _tables(g: Gathering, stems: List[str], workers: Optional[int], progress: Optional[bool]) -> Iterable[Any]:
    """Conformed tables, one per chunk of runs in run-id order (what the dataset holds)."""
    n_files = sum(len(g.by_stem[s]) for s in stems)
    chunks = [stems[start:start + _CHUNK] for start in range(0, len(stems), _CHUNK)]
    with ThreadPoolExecutor(max_workers=reader_threads(workers)) as pool, Progress(n_files, "gather", force=progress) as bar:
        def fetch(chunk: List[str]):
            items = [item for stem in chunk for item in g.by_stem[stem]]
            return items, read_items(items, pool)

        pending = pool.submit(fetch, chunks[0]) if chunks else None
        for index, chunk in enumerate(chunks):
            items, read = pending.result()
            if index + 1 < len(chunks):  # read the next chunk while this one is checked and written
                pending = pool.submit(fetch, chunks[index + 1])
            g.files_read += len(items)
            kept = classify_chunk(g, chunk, iter(read))
            bar.update(len(items), **progress_counts(g.runs))
            if kept:
                yield chunk_table(kept, g)
