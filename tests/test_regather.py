"""Re-gather by part files (issue 28): only the parts holding a changed run are rewritten,
runs new since the last gather go into a new part, untouched parts keep their inode and
mtime, a kill at any point leaves the old or the new dataset, and every reader (pyarrow,
pandas) sees one row per run, the same rows as a full gather's."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from reprogrid.core.files import is_temp_name
from reprogrid.gather import dataset, gather, index, regather

sys.path.insert(0, str(Path(__file__).parent))
from test_gather import make_record, make_submit, write_parquet  # noqa: E402

ROOT = Path(__file__).parent.parent
PART_ROWS = 10  # small parts, so a few dozen runs make several
WORKLOADS = ("mnist_convnet", "imbalanced_classification")


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    monkeypatch.setattr(dataset, "PART_ROWS", PART_ROWS)


def _study(root: Path, n: int, leave_out=()) -> Path:
    """``n`` runs of each workload, every one with a record but those in ``leave_out``."""
    runs = [dict(workload=w, software_env="dockerhub-2.8.0", hardware_env="amd-epyc-7302", repeat=r)
            for w in WORKLOADS for r in range(n)]
    submit = make_submit(root, runs)
    for w in WORKLOADS:
        for r in range(n):
            if (w, r) not in leave_out:
                _record(submit, w, r)
    return submit


def _record(submit: Path, workload: str, repeat: int, **values) -> str:
    rec = make_record(workload=workload, repeat=repeat, **values)
    path = submit / "results" / f"{rec['run_id']}.parquet"
    write_parquet(path, [rec])
    return rec["run_id"]


def _stats(folder: Path) -> Dict[str, tuple]:
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*.parquet"))}


def _entry_stats(folder: Path) -> Dict[str, tuple]:
    """The index's entry files (one per part): inode and mtime."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted((folder / index.INDEX_DIR).rglob("*.json"))}


def _index(folder: Path) -> Dict[str, List]:
    """Run id -> [files, the part file holding its row, problems, extra columns]."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return index.read_runs(fd, json.loads((folder / index.INDEX_NAME).read_text()))
    finally:
        os.close(fd)


def _rows(folder: Path):
    """The dataset as pyarrow.dataset reads the folder (hive), sorted by run id."""
    table = ds.dataset(str(folder), format="parquet", partitioning="hive").to_table()
    return table.select(sorted(table.column_names)).sort_by("run_id")


def _same_as_full(folder: Path, submit: Path, tmp: Path) -> None:
    """One row per run for pyarrow.dataset and pandas, and a full gather's rows and report."""
    import pandas as pd

    full = tmp / f"full-{time.monotonic_ns()}"
    gather(submit, output=full, progress=False, incremental=False)
    got, want = _rows(folder), _rows(full)
    assert got.equals(want)
    ids = got.column("run_id").to_pylist()
    assert len(ids) == len(set(ids))
    frame = pd.read_parquet(folder)
    assert len(frame) == len(ids) and frame["run_id"].is_unique
    reports = [json.loads((f / "_gather_report.json").read_text()) for f in (folder, full)]
    for report in reports:
        report.pop("dataset_dir")
    assert reports[0] == reports[1]


def test_a_changed_run_rewrites_only_its_part(tmp_path):
    submit = _study(tmp_path / "sub", 45)
    first = gather(submit, progress=False)
    data = submit / "dataset"
    assert first.parts_written == 10 and first.rows_written == 90  # 45 rows a workload: 10 + 10 + 10 + 10 + 5
    assert sorted(p.name for p in (data / "workload=mnist_convnet").iterdir()) == [f"part-{i}.parquet" for i in range(5)]
    assert all(pq.ParquetFile(p).metadata.num_rows <= PART_ROWS for p in data.rglob("*.parquet"))
    entries = _index(data)
    where = {stem: entry[1] for stem, entry in entries.items()}
    for part in set(where.values()):  # the index says which part holds each run's row
        assert set(pq.read_table(data / part, columns=["run_id"]).column("run_id").to_pylist()) == \
            {stem for stem, p in where.items() if p == part}
    before, entries_before = _stats(data), _entry_stats(data)
    assert set(entries_before) == {index.entry_file(part) for part in before}  # an entry file per part
    time.sleep(0.01)
    again = gather(submit, progress=False)  # nothing changed: nothing read or written
    assert again.files_read == 0 and _stats(data) == before

    changed = _record(submit, "mnist_convnet", 7, status="failed", error_type="OOM", test_accuracy=None)
    gone = make_record(workload="imbalanced_classification", repeat=30)["run_id"]
    (submit / "results" / f"{gone}.parquet").unlink()
    third = gather(submit, progress=False)
    assert third.files_read == 1 and third.counts["failed"] == 1 and third.counts["missing"] == 1
    touched = {where[changed], where[gone]}
    assert third.parts_written == 2 and third.parts_kept == 8
    after = _stats(data)
    assert {rel for rel in before if after.get(rel) != before[rel]} == touched  # the other parts: same inode, mtime
    entries_after = _entry_stats(data)  # and so their index entry files: only the rewritten parts' are written
    assert {rel for rel in entries_before if entries_after.get(rel) != entries_before[rel]} == \
        {index.entry_file(part) for part in touched}
    assert _index(data)[changed][1] == where[changed] and gone not in _index(data)  # a run stays in its part
    assert gone not in pq.read_table(data / where[gone]).column("run_id").to_pylist()
    _same_as_full(data, submit, tmp_path)


def test_new_runs_go_into_a_new_part_and_a_small_last_part_takes_the_next(tmp_path):
    late = {("mnist_convnet", r) for r in (3, 17, 29, 38, 41)}
    submit = _study(tmp_path / "sub", 45, leave_out=late | {("mnist_convnet", 44)})
    gather(submit, progress=False)
    data = submit / "dataset"
    folder = data / "workload=mnist_convnet"
    assert len(list(folder.iterdir())) == 4  # 39 rows: 10 + 10 + 10 + 9
    before = _stats(data)
    for w, r in sorted(late):
        _record(submit, w, r)
    second = gather(submit, progress=False)
    assert second.files_read == 5 and second.parts_written == 1 and second.parts_kept == 9
    after = _stats(data)
    assert {rel: after[rel] for rel in before} == before  # the old parts untouched
    assert set(after) - set(before) == {"workload=mnist_convnet/part-4.parquet"}
    assert sorted(pq.read_table(folder / "part-4.parquet").column("run_id").to_pylist()) == sorted(
        make_record(workload=w, repeat=r)["run_id"] for w, r in late)
    _same_as_full(data, submit, tmp_path)
    # the last part (5 rows) is not small: one more new run gets a part of its own ...
    _record(submit, "mnist_convnet", 44)
    assert gather(submit, progress=False).parts_written == 1
    assert pq.ParquetFile(folder / "part-5.parquet").metadata.num_rows == 1
    # ... which, under a quarter of PART_ROWS, takes the next run with no row before
    three = submit / "results" / f"{make_record(workload='mnist_convnet', repeat=3)['run_id']}.parquet"
    three.unlink()  # its row leaves part-4; put back, it is a new run
    gather(submit, progress=False)
    _record(submit, "mnist_convnet", 3)
    res = gather(submit, progress=False)
    assert res.parts_written == 1 and res.files_read == 1
    assert sorted(p.name for p in folder.iterdir()) == [f"part-{i}.parquet" for i in range(6)]
    assert pq.ParquetFile(folder / "part-5.parquet").metadata.num_rows == 2
    assert pq.ParquetFile(folder / "part-4.parquet").metadata.num_rows == 4
    _same_as_full(data, submit, tmp_path)


def test_a_dataset_changed_by_hand_or_of_an_older_layout_is_gathered_in_full(tmp_path):
    submit = _study(tmp_path / "sub", 25)
    gather(submit, progress=False)
    data = submit / "dataset"
    extra = data / "workload=mnist_convnet" / "part-9.parquet"  # a reader would count its rows twice
    extra.write_bytes((data / "workload=mnist_convnet" / "part-0.parquet").read_bytes())
    _record(submit, "mnist_convnet", 1, status="failed")
    res = gather(submit, progress=False)
    assert res.parts_kept == 0 and res.files_read == 50 and not extra.exists()
    _same_as_full(data, submit, tmp_path)
    # a part damaged in place, its size and mtime kept: found when it is read to be rewritten
    where = _index(data)[_record(submit, "mnist_convnet", 2, status="failed")][1]
    part = data / where
    st = part.stat()
    part.write_bytes(b"\0" * st.st_size)
    os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns))
    res = gather(submit, progress=False)
    assert res.files_read == 50 and res.parts_kept == 0
    _same_as_full(data, submit, tmp_path)
    head = json.loads((data / index.INDEX_NAME).read_text())
    head["schema"] = "reprogrid.gather-index/1"
    (data / index.INDEX_NAME).write_text(json.dumps(head))
    assert gather(submit, progress=False).files_read == 50


def test_an_index_of_the_earlier_layout_is_said_and_replaced_by_a_full_gather(tmp_path, caplog):
    submit = _study(tmp_path / "sub", 15)
    gather(submit, progress=False)
    data = submit / "dataset"
    head = json.loads((data / index.INDEX_NAME).read_text())
    runs = _index(data)
    old = {"schema": "reprogrid.gather-index/2", "manifest_sha256": head["manifest_sha256"],  # one file, as before
           "parts_schema": head["parts_schema"], "parts": head["parts"], "files": head["files"],
           "runs": {stem: [sig, head["parts"].index(part), problems, extras]
                    for stem, (sig, part, problems, extras) in runs.items()}}
    (data / index.INDEX_NAME).write_text(json.dumps(old))
    with caplog.at_level("INFO", logger="reprogrid.gather.index"):
        res = gather(submit, progress=False)
    assert res.files_read == 30 and res.rows_written == 30
    assert "reprogrid.gather-index/2, not reprogrid.gather-index/3" in caplog.text and "gathering in full" in caplog.text
    assert json.loads((data / index.INDEX_NAME).read_text())["schema"] == index.INDEX_SCHEMA
    assert _index(data) == runs
    assert gather(submit, progress=False).files_read == 0  # and the next gather reads the new layout
    _same_as_full(data, submit, tmp_path)


def test_nothing_changed_imports_neither_pyarrow_nor_pandas_and_a_changed_run_no_pandas(tmp_path):
    """The whole command, as a user runs it: stat, compare with the index, print the last report;
    a changed run is read and its part rewritten through pyarrow's own arrays."""
    submit = _study(tmp_path / "sub", 15)
    gather(submit, progress=False)
    code = ("import sys; from reprogrid.cli import main; rc = main(['gather', sys.argv[1]]); "
            "print(rc, sorted(m for m in ('pyarrow', 'pandas', 'numpy', 'polars') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(submit)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), REPROGRID_PROGRESS="0")).stdout
    assert "0 file(s) read" in out and out.strip().splitlines()[-1] == "0 []"
    _record(submit, "mnist_convnet", 4, status="failed")  # one run changed: its part is rewritten, still without pandas
    out = subprocess.run([sys.executable, "-c", code, str(submit)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), REPROGRID_PROGRESS="0")).stdout
    assert "1 file(s) read" in out and "pandas" not in out.strip().splitlines()[-1]


def test_a_gather_that_replaced_the_dataset_meanwhile_leads_to_a_full_gather(tmp_path, monkeypatch):
    submit = _study(tmp_path / "sub", 25)
    gather(submit, progress=False)
    _record(submit, "mnist_convnet", 4, status="failed")
    real = regather.Previous.link
    raced = []

    def link(self, rel, target):
        if not raced:  # another gather swaps in its dataset (the folder read from is removed)
            raced.append(gather(submit, progress=False, incremental=False))
        return real(self, rel, target)

    monkeypatch.setattr(regather.Previous, "link", link)
    res = gather(submit, progress=False)
    assert raced and res.files_read == 50 and res.counts["failed"] == 1
    _same_as_full(submit / "dataset", submit, tmp_path)
    assert not [p for p in submit.iterdir() if is_temp_name(p.name)]


def _killed_gather(submit: Path, where: str) -> int:
    """``reprogrid gather`` in a child process, SIGKILLed at ``where``: after the second
    rewritten part, or right after the swap (before the old folder is removed)."""
    code = f"""
import os, signal, sys
import reprogrid.core.files as files
import reprogrid.gather.dataset as dataset
import reprogrid.gather.regather as regather
dataset.PART_ROWS = {PART_ROWS}
written = []
real_write, real_remove = regather.write_part, files._remove
def write_part(*args):
    written.append(real_write(*args))
    if {where!r} == "rewrite" and len(written) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return written[-1]
def remove(path):
    if {where!r} == "swapped":
        os.kill(os.getpid(), signal.SIGKILL)
    real_remove(path)
regather.write_part, files._remove = write_part, remove
from reprogrid.cli import main
sys.exit(main(["gather", {str(submit)!r}]))
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT), REPROGRID_PROGRESS="0")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode


def _tree(folder: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["rewrite", "swapped"])
def test_sigkill_during_a_partial_rewrite_leaves_the_old_or_the_new_dataset(tmp_path, where):
    submit = _study(tmp_path / "sub", 45, leave_out={("imbalanced_classification", 40)})
    gather(submit, progress=False)
    data = submit / "dataset"
    old = _tree(data)
    for repeat in (2, 33):  # two parts of mnist_convnet, and one new run
        _record(submit, "mnist_convnet", repeat, status="failed", error_type="OOM")
    _record(submit, "imbalanced_classification", 40)
    assert _killed_gather(submit, where) == -9
    leftovers = [p for p in submit.iterdir() if is_temp_name(p.name)]
    assert leftovers  # the killed gather's folder (new or old) beside the dataset
    if where == "rewrite":
        assert _tree(data) == old  # the old dataset, untouched
    else:
        full = tmp_path / "full"
        gather(submit, output=full, progress=False, incremental=False)
        assert _rows(data).equals(_rows(full))  # the new dataset, complete
    res = gather(submit, progress=False)
    assert res.counts["failed"] == 2 and res.rows_written == 90
    assert res.files_read == (3 if where == "rewrite" else 0)
    assert not [p for p in submit.iterdir() if is_temp_name(p.name)]
    _same_as_full(data, submit, tmp_path)


def test_without_hard_links_the_kept_parts_are_copied(tmp_path, monkeypatch):
    submit = _study(tmp_path / "sub", 25)
    gather(submit, progress=False)
    data = submit / "dataset"
    before = _stats(data)
    _record(submit, "mnist_convnet", 4, status="failed")

    def no_links(*args, **kwargs):
        raise PermissionError("operation not permitted")  # a file system without hard links

    monkeypatch.setattr(os, "link", no_links)
    res = gather(submit, progress=False)
    assert res.files_read == 1 and res.parts_written == 1 and res.parts_kept == 5
    after = _stats(data)
    assert all(after[rel][0] != before[rel][0] for rel in before)  # new files: copies, not links
    _same_as_full(data, submit, tmp_path)
    assert gather(submit, progress=False).files_read == 0  # and the copies pass the next check
