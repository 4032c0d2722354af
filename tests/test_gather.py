"""Gather: classification of every manifest run, schema mapping, the dataset, idempotence."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from reprogrid.core.errors import UserError
from reprogrid.gather import REPORT_NAME, gather, load_dataset, read_report
from reprogrid.job.schema import COLUMN_NAMES, COLUMNS, SCHEMA_VERSION

WORKLOADS = ("mnist_convnet", "imbalanced_classification")
SOFTWARE = ("dockerhub-2.8.0", "ngc-22.03")
HARDWARE = ("amd-epyc-7302", "intel-xeon-gold-6148")


def run_id(workload: str, software: str, hardware: str, repeat: int) -> str:
    return f"{workload}--{software.replace('.', '_')}--{hardware}--r{repeat}"


def make_record(workload: str = "mnist_convnet", software: str = "dockerhub-2.8.0",
                hardware: str = "amd-epyc-7302", repeat: int = 0, **values: Any) -> Dict[str, Any]:
    """A result record with every schema column (null where not set), as the job side writes it."""
    record: Dict[str, Any] = {name: None for name in COLUMN_NAMES}
    record.update(
        schema_version=SCHEMA_VERSION, study_id="s1", study_name="test", run_id=run_id(workload, software, hardware, repeat),
        workload=workload, software_env=software, hardware_env=hardware, repeat=repeat, seed=1,
        status="ok", epochs=1, batch_size=32, determinism=True, sample_data=True,
        test_loss=0.5, test_accuracy=0.9, predictions_sha256="ab" * 32,
        cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC 7302 16-Core Processor", cpu_family=23,
        cpu_model_number=49, microarch="x86_64-v3", has_avx2=True, has_avx512f=False, gpu_count=0,
        tensorflow_version="2.8.0", machine_name="node1",
    )
    record.update(values)
    return record


def write_parquet(path: Path, records: List[Dict[str, Any]], typed: bool = True) -> None:
    """Write records as the job side does: typed with the schema, or types inferred by pyarrow."""
    types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    schema = pa.schema([(n, types[t]) for n, t in COLUMNS]) if typed else None
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records, schema=schema), path)


def write_json(path: Path, record: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def make_submit(root: Path, runs: Optional[List[Dict[str, Any]]] = None) -> Path:
    """A submit folder with a manifest of 2 workloads x 2 software x 2 hardware x 2 repeats."""
    if runs is None:
        runs = [dict(workload=w, software_env=s, hardware_env=h, repeat=r)
                for w in WORKLOADS for s in SOFTWARE for h in HARDWARE for r in range(2)]
    manifest_runs = []
    for run in runs:
        rid = run_id(run["workload"], run["software_env"], run["hardware_env"], run["repeat"])
        manifest_runs.append(dict(run, run_id=rid, seed=1, device="cpu", result_stem=f"results/{rid}"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"schema": "reprogrid.manifest/1", "study": {"name": "t"}, "runs": manifest_runs}))
    (root / "results").mkdir(exist_ok=True)
    return root


def write_all(submit: Path) -> List[str]:
    manifest = json.loads((submit / "manifest.json").read_text())
    ids = []
    for run in manifest["runs"]:
        rec = make_record(run["workload"], run["software_env"], run["hardware_env"], run["repeat"])
        write_parquet(submit / "results" / f"{rec['run_id']}.parquet", [rec])
        ids.append(rec["run_id"])
    return ids


def file_states(folder: Path) -> Dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_complete_study_is_gathered_once_idempotently_and_readable_by_pyarrow_and_pandas(tmp_path):
    submit = make_submit(tmp_path / "sub")
    ids = write_all(submit)
    before = file_states(submit / "results")
    first = gather(submit)
    assert first.ok and first.counts["complete"] == 16 and first.rows_written == 16
    dataset_bytes = {p.relative_to(first.dataset_dir): p.read_bytes() for p in first.dataset_dir.rglob("*") if p.is_file()}
    second = gather(submit)
    again = {p.relative_to(second.dataset_dir): p.read_bytes() for p in second.dataset_dir.rglob("*") if p.is_file()}
    assert again == dataset_bytes  # idempotent, byte for byte
    assert file_states(submit / "results") == before  # sources never rewritten or deleted
    df = load_dataset(submit)
    assert sorted(df["run_id"]) == sorted(ids) and list(df.columns) == COLUMN_NAMES
    assert df["repeat"].dtype.name == "Int64"
    # the layout is a plain hive dataset that other readers open directly
    table = ds.dataset(submit / "dataset", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 16 and set(table.column("workload").to_pylist()) == set(WORKLOADS)
    import pandas as pd
    assert len(pd.read_parquet(submit / "dataset")) == 16
    assert read_report(submit)["counts"]["complete"] == 16


def test_every_run_is_classified_and_nothing_is_dropped_silently(tmp_path):
    submit = make_submit(tmp_path / "sub")
    res = submit / "results"
    manifest = json.loads((submit / "manifest.json").read_text())["runs"]
    ids = [r["run_id"] for r in manifest]
    by_id = {r["run_id"]: r for r in manifest}

    def rec(i, **kw):
        r = by_id[ids[i]]
        return make_record(r["workload"], r["software_env"], r["hardware_env"], r["repeat"], **kw)

    write_parquet(res / f"{ids[0]}.parquet", [rec(0)])                              # complete
    write_parquet(res / f"{ids[1]}.parquet", [rec(1, status="failed", error_type="ResourceExhaustedError",
                                                   error_message="OOM", test_accuracy=None)])  # failed
    # ids[2]: missing
    write_parquet(res / f"{ids[3]}.parquet", [rec(3)])                              # duplicate: parquet + json
    write_json(res / f"{ids[3]}.json", rec(3, test_accuracy=0.1))
    (res / f"{ids[4]}.parquet").write_bytes(b"PAR1 not really parquet")            # corrupt: unreadable
    write_parquet(res / f"{ids[5]}.parquet", [rec(6)])                              # corrupt: wrong run id
    write_json(res / f"{ids[6]}.json", rec(6))                                      # complete via JSON fallback
    write_parquet(res / f"{ids[7]}.parquet", [rec(7)], typed=False)                 # inferred types, null columns
    old = {k: v for k, v in rec(8).items() if k not in ("fingerprint_json", "has_avx512f")}
    old.update(schema_version=0 + 1, some_future_column="x")
    write_parquet(res / f"{ids[8]}.parquet", [old], typed=False)                    # older/newer columns by name
    write_parquet(res / f"{ids[9]}.parquet", [dict(rec(9), workload="other")])      # corrupt: manifest mismatch
    write_parquet(res / f"{ids[10]}.parquet", [rec(10), rec(10)])                  # duplicate rows in one file
    write_json(res / f"{ids[11]}.json", dict(rec(11), test_accuracy="high"))       # corrupt: wrong type
    write_parquet(res / "not-in-manifest--x--y--r0.parquet", [make_record()])      # unexpected
    (res / ".partial.parquet.tmp").write_bytes(b"")                                # a writer's temp file
    (res / "notes.txt").write_text("hello")

    result = gather(submit)
    cls = {r["run_id"]: r["class"] for r in result.runs}
    assert cls[ids[0]] == "complete" and cls[ids[6]] == "complete" and cls[ids[7]] == "complete"
    assert cls[ids[8]] == "complete"
    assert cls[ids[1]] == "failed"
    assert "ResourceExhaustedError: OOM" in next(r for r in result.runs if r["run_id"] == ids[1])["detail"]
    assert cls[ids[2]] == "missing"
    assert cls[ids[3]] == "duplicate" and cls[ids[10]] == "duplicate"
    assert cls[ids[4]] == "corrupt" and cls[ids[5]] == "corrupt" and cls[ids[9]] == "corrupt" and cls[ids[11]] == "corrupt"
    assert "does not match the file name" in next(r for r in result.runs if r["run_id"] == ids[5])["detail"]
    assert "workload" in next(r for r in result.runs if r["run_id"] == ids[9])["detail"]
    assert all(cls[i] == "missing" for i in ids[12:])
    assert [u["run_id"] for u in result.unexpected] == ["not-in-manifest--x--y--r0"]
    assert result.ignored_files == ["notes.txt"]
    assert result.extra_columns == {"some_future_column": 1}
    assert not result.ok
    counts = result.counts
    assert sum(counts[c] for c in ("complete", "failed", "missing", "duplicate", "corrupt")) == len(ids)

    df = load_dataset(submit)
    # one row per run with a valid record: complete, failed and duplicate runs (the .parquet kept)
    assert sorted(df["run_id"]) == sorted([ids[0], ids[1], ids[3], ids[6], ids[7], ids[8], ids[10]])
    assert df.set_index("run_id").loc[ids[3], "test_accuracy"] == pytest.approx(0.9)
    assert df["run_id"].is_unique
    older = df.set_index("run_id").loc[ids[8]]
    assert older["has_avx512f"] is pd_na() and older["test_accuracy"] == pytest.approx(0.9)
    report = json.loads((submit / "dataset" / REPORT_NAME).read_text())
    assert report["counts"] == counts and len(report["runs"]) == len(ids)
    summary = result.summary()
    assert "missing=" in summary and ids[2] in summary and "not-in-manifest" in summary


def pd_na():
    import pandas as pd
    return pd.NA


def test_no_results_folder_gives_an_empty_readable_dataset(tmp_path):
    submit = make_submit(tmp_path / "sub")
    (submit / "results").rmdir()
    result = gather(submit)
    assert result.counts["missing"] == 16 and result.rows_written == 0
    df = load_dataset(submit)
    assert len(df) == 0 and list(df.columns) == COLUMN_NAMES


def test_bad_inputs_raise_user_errors_and_write_nothing(tmp_path):
    with pytest.raises(UserError, match="manifest"):
        gather(tmp_path)
    submit = make_submit(tmp_path / "sub")
    write_all(submit)
    (submit / "precious").mkdir()
    (submit / "precious" / "thesis.tex").write_text("do not delete")
    with pytest.raises(UserError, match="not a reprogrid dataset"):
        gather(submit, output=submit / "precious")
    assert (submit / "precious" / "thesis.tex").read_text() == "do not delete"
    with pytest.raises(UserError):
        gather(submit, output=submit / "results")
    (submit / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="manifest"):
        gather(submit)
    assert not (submit / "dataset").exists()


def test_cli_exit_codes_partial_strict_and_bad_input(tmp_path, capsys):
    from reprogrid.cli import main

    submit = make_submit(tmp_path / "sub")
    ids = write_all(submit)
    os.unlink(submit / "results" / f"{ids[0]}.parquet")
    assert main(["gather", str(submit)]) == 0  # partial results: the FINAL node must not fail
    out = capsys.readouterr().out
    assert "missing=1" in out and ids[0] in out
    assert main(["gather", str(submit), "--strict"]) == 1
    capsys.readouterr()
    assert main(["gather", str(submit), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["missing"] == 1 and report["counts"]["complete"] == 15
    assert main(["gather", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_fast_path_keeps_per_file_checks_without_a_corrupt_file(tmp_path):
    # no unreadable file: the whole chunk goes through one pyarrow.dataset scan
    submit = make_submit(tmp_path / "sub")
    res = submit / "results"
    runs = json.loads((submit / "manifest.json").read_text())["runs"]
    recs = [make_record(r["workload"], r["software_env"], r["hardware_env"], r["repeat"]) for r in runs]
    write_parquet(res / f"{runs[0]['run_id']}.parquet", [dict(recs[0], extra_col=1)], typed=False)
    write_parquet(res / f"{runs[1]['run_id']}.parquet", [recs[1], recs[1]])
    write_parquet(res / f"{runs[2]['run_id']}.parquet", [recs[3]])  # wrong run id
    write_parquet(res / f"{runs[3]['run_id']}.parquet", [])          # no record: typed, empty
    for rec in recs[4:]:
        write_parquet(res / f"{rec['run_id']}.parquet", [rec])
    result = gather(submit)
    cls = {r["run_id"]: r["class"] for r in result.runs}
    assert [cls[r["run_id"]] for r in runs[:4]] == ["complete", "duplicate", "corrupt", "corrupt"]
    assert result.extra_columns == {"extra_col": 1}
    assert result.rows_written == len(runs) - 2
