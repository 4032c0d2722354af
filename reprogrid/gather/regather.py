"""Re-gather: the last gather's index, the nothing-changed check and the part-wise update.

The index (``index``: a head written last into the dataset, and an entry file per part)
records each run's record files (path, size, mtime), the part file that holds its row,
its problems, and the sizes of the dataset's own files. A gather into a dataset made
from the same manifest then does the least it can:

- nothing changed (``unchanged``: the record files as the head's digest has them, every
  dataset file as the head lists it): nothing is read or written but the head and the
  last report, which is the result;
- otherwise ``update`` reads only the record files that changed and builds the new
  dataset in a folder beside the old one. A part file that holds no changed run is a
  hard link to the old file (the same inode and mtime, no byte copied); a part that
  holds a changed or vanished run is rewritten from its old rows and the new ones; runs
  that had no row before go into new parts (or into their workload's last part while
  that holds fewer than a quarter of ``dataset.PART_ROWS`` rows, so parts do not
  splinter when a study is gathered every few minutes). A run never moves to another
  part, so no run can be in two. A kept part's index entry file is linked like the part,
  a rewritten part's is written again. The report, then the index's head, are written,
  and the folder is swapped in whole (``atomic_directory``): a reader, or a kill at any
  point, finds the old dataset or the new one, never a mix; a killed update leaves a
  temporary folder the next gather sweeps.

The old dataset is read through one open folder descriptor: another gather swaps in a
new folder and never changes this one, so what is linked and read is one snapshot; if
that folder is removed meanwhile (or a part cannot be read), ``Stale`` is raised and the
caller gathers in full.
"""
from __future__ import annotations

import functools
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from reprogrid.core.files import atomic_directory, write_text_atomic
from reprogrid.core.progress import Progress
from reprogrid.gather import dataset, index
from reprogrid.gather.classify import Gathering, chunk_table, classify_chunk, progress_counts, reuse
from reprogrid.gather.dataset import (REPORT_NAME, conform, file_sizes, part_folder, part_name, part_number,
                                      report_json, string_array, write_empty, write_part)
from reprogrid.gather.records import read_items, reader_threads

class Stale(Exception):
    """The old dataset cannot be used as its index has it (another gather removed it
    meanwhile, or a part cannot be read): the caller gathers in full."""


class Previous:
    """The last gather's index (its head; each run's entry and the report are read when
    first needed) and its dataset folder held open (a snapshot)."""

    def __init__(self, fd: int, head: Dict[str, Any]) -> None:
        self.fd = fd
        self.head = head
        self.files: Dict[str, int] = head["files"]

    @functools.cached_property
    def runs(self) -> index.Runs:
        """Every run's ``[files, part or None, problems, extra columns]`` (see ``index``)."""
        try:
            return index.read_runs(self.fd, self.head)
        except (OSError, ValueError, TypeError, AttributeError) as err:
            raise Stale(f"the index: {err}") from None

    @functools.cached_property
    def report(self) -> Dict[str, Any]:
        try:
            report = index.loads(index.read(self.fd, REPORT_NAME))
            if not isinstance(report, dict) or not isinstance(report.get("runs"), list):
                raise ValueError("no runs")
            return report
        except (OSError, ValueError) as err:
            raise Stale(f"the report: {err}") from None

    @functools.cached_property
    def report_runs(self) -> Dict[str, Dict[str, Any]]:
        return {run["run_id"]: run for run in self.report["runs"]}

    def intact(self) -> bool:
        """Whether the dataset is as the last gather left it: the files it wrote, with their
        sizes, none written after the index (which is written last)."""
        try:
            now = file_sizes(self.fd)
        except OSError:
            return False
        head = now.get(index.INDEX_NAME)
        sizes = {rel: size for rel, (size, _) in now.items() if rel not in (index.INDEX_NAME, REPORT_NAME)}
        return head is not None and sizes == self.files and all(mtime <= head[1] for _, mtime in now.values())

    def link(self, rel: str, target: Path) -> None:
        """Put the old file ``rel`` at ``target``: a hard link, or a copy where links fail."""
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(rel, target, src_dir_fd=self.fd)
            return
        except FileNotFoundError:
            raise Stale(rel) from None
        except OSError:  # a file system without hard links: copy the bytes
            pass
        with self._open(rel) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)

    def read_part(self, rel: str):
        import pyarrow.parquet as pq

        with self._open(rel) as f:
            try:
                return conform(pq.ParquetFile(f).read())  # not pq.read_table: it imports pandas
            except Exception as err:  # noqa: BLE001 - damaged in place (same size, older mtime): gather in full
                raise Stale(f"{rel}: {err}") from None

    def _open(self, rel: str):
        try:
            return open(os.open(rel, os.O_RDONLY, dir_fd=self.fd), "rb")
        except FileNotFoundError:
            raise Stale(rel) from None

    def close(self) -> None:
        os.close(self.fd)


def previous(dataset_dir: Path, digest: str) -> Optional[Previous]:
    """The last gather's index, when it was made from the same manifest (and the same
    part schema, by this index layout) into ``dataset_dir``; None otherwise."""
    try:
        fd = os.open(dataset_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        head = index.read_head(fd, digest)
        if head is not None:
            return Previous(fd, head)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    os.close(fd)
    return None


def unchanged(prev: Previous, head: Dict[str, str], result: Any) -> bool:
    """Whether nothing the last gather read or wrote has changed since (by stat); if so
    ``result`` (a ``GatherResult``) is filled from its report.

    That is: the record files are those the index recorded (its digest of their paths,
    sizes and mtimes equals ``head``'s, taken now: no run's entry is read), the files that
    are not records are the same, and the dataset is intact.
    """
    if prev.head["records_sha256"] != head["records_sha256"] or not prev.intact():
        return False
    try:
        old = prev.report
    except Stale:
        return False
    if (old.get("submit_dir"), old.get("dataset_dir")) != (str(result.submit_dir), str(result.dataset_dir)):
        return False
    if (old.get("unexpected"), old.get("ignored_files"), old.get("skipped_files", {})) != \
            (result.unexpected, result.ignored_files, result.skipped_files):
        return False
    result.runs[:] = old["runs"]
    result.corrupt_files[:] = old.get("corrupt_files", [])
    result.extra_columns.update(old.get("extra_columns", {}))
    result.rows_written = int(old.get("rows_written", 0))
    result.files_read = 0
    result.parts_kept = sum(rel.endswith(".parquet") for rel in prev.files)
    return True


def update(g: Gathering, prev: Previous, dataset_dir: Path, head: Dict[str, str], report: Callable[[], Dict[str, Any]],
           workers: Optional[int] = None, progress: Optional[bool] = None) -> Optional[Tuple[int, int, int]]:
    """Rewrite only the parts of the dataset that hold a changed run (see the module's text).

    Returns (rows in the dataset, parts written, parts kept as they were), or None when the
    old dataset is not as its index has it (then the caller gathers in full). ``report``
    is called once every run is classified; it gives the report's content.
    """
    if not prev.intact():
        return None
    members: Dict[str, List[str]] = {}  # part -> the runs whose row it holds
    for stem, entry in prev.runs.items():
        if isinstance(entry[1], str):
            members.setdefault(entry[1], []).append(stem)
    if not set(members) <= set(prev.files):
        return None
    stems = sorted(set(g.by_stem) & set(g.expected))
    present = set(stems)
    todo: Dict[Optional[str], List[str]] = {}  # part (None: no row before) -> runs to read again
    for stem in stems:
        entry = prev.runs.get(stem)
        if entry is not None and entry[0] == g.signature(stem) and stem in prev.report_runs:
            reuse(g, stem, entry, prev.report_runs[stem])
        else:
            todo.setdefault(entry[1] if entry is not None and isinstance(entry[1], str) else None, []).append(stem)
    targets = {part: runs for part, runs in todo.items() if part is not None}
    for part, runs in members.items():
        if any(stem not in present for stem in runs):
            targets.setdefault(part, [])  # a run's records are gone: its row leaves the part
    _place_new(g, todo.get(None, []), members, prev.files, targets)

    rows = written = 0
    n_files = sum(len(g.by_stem[s]) for runs in targets.values() for s in runs)
    with atomic_directory(dataset_dir) as tmp, ThreadPoolExecutor(max_workers=reader_threads(workers)) as pool, \
            Progress(n_files, "gather", force=progress) as bar:
        kept = sorted(part for part in members if part not in targets)
        for part in kept:
            prev.link(part, tmp / part)
            rows += len(members[part])
        for part in sorted(targets, key=lambda p: (p.rsplit("/", 1)[0], part_number(p))):
            n = _rewrite(g, prev, tmp, part, targets[part], members.get(part, []), present, pool)
            rows += n
            written += n > 0
            bar.update(sum(len(g.by_stem[s]) for s in targets[part]), **progress_counts(g.runs))
        if rows == 0:
            write_empty(tmp)
        write_text_atomic(tmp / REPORT_NAME, report_json(dict(report(), rows_written=rows)))
        text = index.write(tmp, head, g.index, kept=kept, link=prev.link)
        (tmp / index.INDEX_NAME).write_text(text, encoding="utf-8")
    return rows, written, len(kept)


def _place_new(g: Gathering, new: List[str], members: Dict[str, List[str]], files: Dict[str, int],
               targets: Dict[str, List[str]]) -> None:
    """Give each run that had no row before a part: the workload's last part while it is
    small, else new parts of at most PART_ROWS runs, numbered after the workload's last."""
    by_workload: Dict[Optional[str], List[str]] = {}
    for stem in new:
        by_workload.setdefault(g.expected[stem].get("workload"), []).append(stem)
    for workload, runs in by_workload.items():
        folder = part_folder(workload) + "/"
        numbers = [part_number(rel) for rel in files if rel.startswith(folder) and rel.endswith(".parquet")]
        number = max(numbers, default=-1)
        last = part_name(workload, number)
        if numbers and last in members and len(members[last]) < dataset.PART_ROWS // 4:
            room = dataset.PART_ROWS - len(members[last])
            targets.setdefault(last, []).extend(runs[:room])
            runs = runs[room:]
        for start in range(0, len(runs), dataset.PART_ROWS):
            number += 1
            targets[part_name(workload, number)] = runs[start:start + dataset.PART_ROWS]


def _rewrite(g: Gathering, prev: Previous, tmp: Path, part: str, todo: List[str], old_members: List[str],
             present: set, pool: ThreadPoolExecutor) -> int:
    """Read the runs ``todo`` again and write ``part`` with their rows and the old rows it
    keeps (its runs neither read again nor gone), in run-id order. Returns its rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    items = [item for stem in todo for item in g.by_stem[stem]]
    kept = classify_chunk(g, todo, iter(read_items(items, pool)))
    g.files_read += len(items)
    pieces = []
    if kept:
        new = chunk_table(kept, g)
        if new.num_rows:
            pieces.append(new)
            for stem in new.column("run_id").to_pylist():
                g.index[stem][1] = part
    redo = set(todo)
    keep = [stem for stem in old_members if stem not in redo and stem in present]
    if keep:
        old = prev.read_part(part)
        pieces.append(old.filter(pc.is_in(old.column("run_id"), value_set=string_array(keep))))
    if not pieces:
        return 0
    return write_part(tmp, part, pa.concat_tables(pieces).sort_by("run_id"))
