"""SIGKILL of render, render --force over results and gather at several points, then the
same command: nothing lost, no stray temporary file or folder, the same result as an
uninterrupted run. And two gathers at once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import pyarrow.parquet as pq
import pytest

from reprogrid.core.files import is_temp_name
from reprogrid.spec.presets import preset_yaml

sys.path.insert(0, str(Path(__file__).parent))
from test_gather import make_record, make_submit, write_parquet  # noqa: E402

ROOT = Path(__file__).parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT), REPROGRID_PROGRESS="0")
FRACTIONS = (0.55, 0.75, 0.88, 0.97)  # of an uninterrupted run's time: reading, writing, swapping


def _timed(args) -> float:
    started = time.monotonic()
    subprocess.run(_cmd(*args), env=ENV, check=True, capture_output=True)
    return time.monotonic() - started


def _cmd(*args: str):
    return [sys.executable, "-m", "reprogrid", *args]


def _kill_after(args, delay: float) -> int:
    proc = subprocess.Popen(_cmd(*args), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


def _tree(folder: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _strays(*folders: Path):
    return [p for f in folders if f.exists() for p in f.rglob("*") if is_temp_name(p.name)]


def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "demo.yaml"
    spec.write_text(preset_yaml("demo"))
    return spec


def _rendered(tree: Dict[str, bytes]) -> Dict[str, bytes]:
    return {k: v for k, v in tree.items() if not k.startswith(("results/", "logs/"))}


def test_killed_render_then_same_command(tmp_path):
    spec = _spec(tmp_path)
    ref = tmp_path / "ref"
    took = _timed(["render", str(spec), "-o", str(ref)])
    out = tmp_path / "work" / "out"
    for delay in (f * took for f in FRACTIONS):
        _kill_after(["render", str(spec), "-o", str(out)], delay)
        assert not out.exists() or _tree(out) == _tree(ref)  # the old tree or the new one, never half
        done = subprocess.run(_cmd("render", str(spec), "-o", str(out)), env=ENV, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert _tree(out) == _tree(ref) and not _strays(tmp_path / "work")


def test_killed_render_force_never_hides_results(tmp_path):
    spec = _spec(tmp_path)
    out = tmp_path / "work" / "out"
    took = _timed(["render", str(spec), "-o", str(out)])
    reference = _rendered(_tree(out))
    results = {f"results/run{i}.parquet": os.urandom(64) for i in range(20)}
    results["logs/study.log"] = b"000 (001.000.000) ...\n"
    for rel, data in results.items():
        (out / rel).write_bytes(data)
    for delay in (f * took for f in FRACTIONS):
        _kill_after(["render", str(spec), "-o", str(out), "--force"], delay)
        tree = _tree(out)
        assert all(tree.get(rel) == data for rel, data in results.items()), "results moved away by a killed render"
        done = subprocess.run(_cmd("render", str(spec), "-o", str(out), "--force"), env=ENV, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        tree = _tree(out)
        assert all(tree.get(rel) == data for rel, data in results.items())
        assert _rendered(tree) == reference and not _strays(tmp_path / "work")


def _submit_with_records(root: Path, n: int) -> Path:
    runs = [dict(workload="mnist_convnet", software_env="dockerhub-2.8.0", hardware_env="amd-epyc-7302", repeat=r)
            for r in range(n)]
    submit = make_submit(root, runs)
    for r in range(n):
        rec = make_record(repeat=r, fingerprint_json="x" * 2000)
        write_parquet(submit / "results" / f"{rec['run_id']}.parquet", [rec])
    return submit


def _same_dataset(a: Path, b: Path) -> bool:
    """Equal bytes, but for the report's own folder name."""
    import json

    ta, tb = _tree(a), _tree(b)
    ra, rb = (json.loads(t.pop("_gather_report.json")) for t in (ta, tb))
    ra.pop("dataset_dir"), rb.pop("dataset_dir")
    return ta == tb and ra == rb


def _dataset(folder: Path):
    table = pq.read_table(str(folder / "workload=mnist_convnet" / "part-0.parquet"))
    return table.sort_by("run_id")


@pytest.fixture(scope="module")
def gathered(tmp_path_factory):
    submit = _submit_with_records(tmp_path_factory.mktemp("g") / "submit", 400)
    took = _timed(["gather", str(submit), "-o", str(submit.parent / "ref")])
    return submit, took


def test_killed_gather_then_same_command(gathered):
    submit, took = gathered
    ref = submit.parent / "ref"
    expected = _dataset(ref)
    for delay in (f * took for f in FRACTIONS):
        _kill_after(["gather", str(submit)], delay)
        done = subprocess.run(_cmd("gather", str(submit)), env=ENV, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert _dataset(submit / "dataset").equals(expected) and not _strays(submit)
    assert _same_dataset(submit / "dataset", ref)  # the same bytes as an uninterrupted gather


def test_two_gathers_at_once(gathered):
    submit, ref = gathered[0], gathered[0].parent / "ref"
    procs = [subprocess.Popen(_cmd("gather", str(submit), "-o", str(submit.parent / "both")), env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert _same_dataset(submit.parent / "both", ref) and not _strays(submit.parent)


def test_regather_reads_only_new_records(tmp_path):
    submit = _submit_with_records(tmp_path / "submit", 40)
    from reprogrid.gather import gather

    first = gather(submit, progress=False)
    assert first.files_read == 40
    second = gather(submit, progress=False)
    assert second.files_read == 0 and second.counts == first.counts
    rec = make_record(repeat=3, status="failed", error_type="OOM")
    write_parquet(submit / "results" / f"{rec['run_id']}.parquet", [rec])  # a rerun replaced one record
    (submit / "results" / "mnist_convnet--dockerhub-2_8_0--amd-epyc-7302--r5.parquet").unlink()
    third = gather(submit, progress=False)
    assert third.files_read == 1
    assert third.counts["failed"] == 1 and third.counts["missing"] == 1 and third.counts["complete"] == 38
    full = gather(submit, output=tmp_path / "full", progress=False, incremental=False)
    assert full.counts == third.counts
    assert _same_dataset(submit / "dataset", tmp_path / "full")  # incremental = full, byte for byte


def _stats(folder: Path) -> Dict[str, tuple]:
    """Every file and folder under ``folder`` (itself included) by inode, mtime and size."""
    out = {".": (folder.stat().st_ino, folder.stat().st_mtime_ns)}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(folder))] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def test_regather_of_nothing_new_writes_nothing(tmp_path):
    """Issue 28: the files are stat-ed and compared with the index; the dataset is left as it is."""
    submit = _submit_with_records(tmp_path / "submit", 40)
    (submit / "results" / "notes.txt").write_text("not a record\n")
    from reprogrid.gather import gather

    first = gather(submit, progress=False)
    dataset = submit / "dataset"
    before = _stats(dataset)
    time.sleep(0.01)  # a rewrite would show as a new mtime or inode
    second = gather(submit, progress=False)
    assert _stats(dataset) == before
    assert second.files_read == 0 and second.counts == first.counts and second.rows_written == first.rows_written
    assert second.runs == first.runs and second.ignored_files == ["notes.txt"]
    assert [p for p in submit.iterdir() if p.name.startswith(".")] == []  # no temporary dataset either
    # a damaged dataset is written again, from the records that did not change
    part = dataset / "workload=mnist_convnet" / "part-0.parquet"
    part.write_bytes(part.read_bytes()[:-1] + b"!")
    third = gather(submit, progress=False)
    assert _stats(dataset) != before and third.rows_written == 40
    assert _same_dataset(dataset, _full(submit, tmp_path / "full"))
    # one record rewritten: it alone is read again
    after = _stats(dataset)
    rec = make_record(repeat=7, status="failed", error_type="OOM")
    write_parquet(submit / "results" / f"{rec['run_id']}.parquet", [rec])
    fourth = gather(submit, progress=False)
    assert fourth.files_read == 1 and fourth.counts["failed"] == 1 and _stats(dataset) != after
    assert _same_dataset(dataset, _full(submit, tmp_path / "full2"))


def _full(submit: Path, out: Path) -> Path:
    from reprogrid.gather import gather

    gather(submit, output=out, progress=False, incremental=False)
    return out


def test_gather_without_polars_gives_the_same_dataset(tmp_path, monkeypatch):
    import reprogrid.gather.records as records
    from reprogrid.gather import gather

    submit = _submit_with_records(tmp_path / "submit", 30)
    gather(submit, output=tmp_path / "with", progress=False)
    monkeypatch.setattr(records, "_polars", lambda: None)  # the pyarrow.dataset fallback
    gather(submit, output=tmp_path / "without", progress=False)
    assert _same_dataset(tmp_path / "with", tmp_path / "without")
