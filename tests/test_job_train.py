"""Real (tiny) TensorFlow trainings on the bundled sample data: hashes, records, failures."""
from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("tensorflow")

from reprogrid.job import record, workloads  # noqa: E402
from reprogrid.job.runner import RunOptions, run_job  # noqa: E402
from reprogrid.job.schema import COLUMN_NAMES, COLUMN_TYPES, SCHEMA_VERSION  # noqa: E402
from reprogrid.core.resources import sample_data_dir  # noqa: E402

SAMPLES = str(sample_data_dir())
SMALL = {"mnist_convnet": 96, "bidirectional_lstm_imdb": 32, "imbalanced_classification": 300}


def _run(tmp_path, workload="mnist_convnet", seed=1, run_id=None, data_dir=SAMPLES, **kw):
    opts = RunOptions(workload=workload, run_id=run_id or f"{workload}--s{seed}", data_dir=data_dir,
                      output_dir=str(tmp_path), seed=seed, epochs=1, max_samples=SMALL[workload], verbose=0,
                      study_id="st", study_name="test", software_env="here", hardware_env="this-cpu", repeat=0, **kw)
    return run_job(opts)


def test_same_seed_same_hashes_other_seed_differs(tmp_path):
    a, _, code_a = _run(tmp_path, seed=1, run_id="a")
    b, _, code_b = _run(tmp_path, seed=1, run_id="b")
    c, _, code_c = _run(tmp_path, seed=2, run_id="c")
    assert (code_a, code_b, code_c) == (0, 0, 0)
    assert a["predictions_sha256"] == b["predictions_sha256"]
    assert a["weights_sha256"] == b["weights_sha256"]
    assert a["test_accuracy"] == b["test_accuracy"]
    assert c["weights_sha256"] != a["weights_sha256"]
    assert c["predictions_sha256"] != a["predictions_sha256"]


@pytest.mark.parametrize("workload", ["bidirectional_lstm_imdb", "imbalanced_classification"])
def test_other_workloads_run_and_record(tmp_path, workload):
    rec, path, code = _run(tmp_path, workload=workload)
    assert code == 0, rec["error_message"]
    assert path.endswith(".parquet")
    back = record.read_record(path)
    assert back["status"] == "ok" and back["workload"] == workload
    assert back["sample_data"] is True
    assert 0.0 <= back["test_accuracy"] <= 1.0
    history = json.loads(back["history_json"])
    assert len(history["loss"]) == 1 and "val_loss" in history
    assert back["test_loss"] == pytest.approx(history["val_loss"][-1], rel=1e-3)  # model.evaluate: same data, own batches
    if workload == "imbalanced_classification":
        counts = [back["fraud_" + k] for k in ("tp", "fp", "tn", "fn")]
        assert sum(counts) == int(SMALL[workload] * 0.2)
        assert back["batch_size"] == 2048
    else:
        assert back["fraud_tp"] is None


@pytest.mark.parametrize("name", ["bidirectional_lstm_imdb", "imbalanced_classification"])
def test_test_metrics_come_from_model_evaluate_after_training(name):
    """Not the last epoch's val_* of fit (the study called model.evaluate after training)."""
    from reprogrid.job.compat import import_tf

    tf = import_tf()
    workload = workloads.get(name)
    data = workload.load(SAMPLES, SMALL[name])
    model = workload.build(tf.keras, data)
    outcome = workloads.TrainingResult()
    outcome.history = workload.train(tf.keras, model, data, 1, verbose=0)
    outcome.history.update(val_loss=[123.0], val_accuracy=[-1.0])  # what fit said must not be used
    workload.evaluate(tf.keras, model, data, outcome)
    expected = model.evaluate(data["x_test"], data["y_test"], verbose=0, return_dict=True)
    assert outcome.test_loss == float(expected["loss"]) and outcome.test_accuracy == float(expected["accuracy"])


def test_parquet_record_round_trips_every_column(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    rec, path, code = _run(tmp_path)
    assert code == 0
    table = pq.read_table(path)
    assert table.schema.names == COLUMN_NAMES
    assert table.schema.metadata[b"reprogrid.schema_version"] == str(SCHEMA_VERSION).encode()
    row = table.to_pylist()[0]
    assert row == record.normalise(rec)
    kinds = {"int": int, "float": float, "str": str, "bool": bool}
    for name in ("run_id", "seed", "test_accuracy", "determinism", "cpu_count", "weights_sha256", "started_at",
                 "epochs", "batch_size", "max_samples", "time_train_s", "python_version", "fingerprint_json"):
        assert isinstance(row[name], kinds[COLUMN_TYPES[name]]), name
    assert (row["epochs"], row["batch_size"], row["max_samples"], row["seed"]) == (1, 128, 96, 1)
    assert row["study_id"] == "st" and row["hardware_env"] == "this-cpu" and row["repeat"] == 0
    assert row["determinism"] is True
    assert json.loads(row["data_sha256"]).keys() == {"mnist.npz"}
    for name in ("time_data_load_s", "time_train_s", "time_eval_s", "time_total_s"):
        assert row[name] > 0
    assert row["time_total_s"] >= row["time_train_s"]
    assert row["started_at"] < row["finished_at"]


def test_json_fallback_same_columns(tmp_path):
    rec, path, code = _run(tmp_path, record_format="json")
    assert code == 0 and path.endswith(".json")
    body = json.loads(open(path).read())
    assert body.pop("_format") == f"reprogrid.record/{SCHEMA_VERSION}"
    assert list(body) == COLUMN_NAMES
    assert record.read_record(path) == record.normalise(rec)
    # writing parquet afterwards replaces the json: one record per run
    record.write_record(rec, str(tmp_path), "mnist_convnet--s1", "parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist_convnet--s1.parquet"]


def test_corrupt_data_file_writes_failure_record(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "mnist.npz").write_bytes(b"PK\x03\x04 definitely not an npz")
    rec, path, code = _run(tmp_path / "out", data_dir=str(data_dir))
    assert code == 1
    back = record.read_record(path)
    assert back["status"] == "failed" and back["error_type"] == "DataError"
    assert "mnist.npz" in back["error_message"] and "x_train" in back["error_message"]
    assert "load data" in back["error_message"]
    assert back["sample_data"] is False
    assert back["test_accuracy"] is None and back["weights_sha256"] is None
    assert back["cpu_count"] and back["python_version"]  # the fingerprint is still recorded


def test_sample_data_detected_from_files_not_flags(tmp_path):
    data_dir = tmp_path / "copy"
    data_dir.mkdir()
    shutil.copy(sample_data_dir() / "mnist.npz", data_dir / "renamed-folder-mnist.npz")
    shutil.copy(sample_data_dir() / "mnist.npz", data_dir / "mnist.npz")
    rec, _, code = _run(tmp_path, data_dir=str(data_dir))
    assert code == 0 and rec["sample_data"] is True


def test_full_size_parameter_counts():
    import tensorflow as tf

    for name, workload in workloads.WORKLOADS.items():
        assert workload.build(tf.keras).count_params() == workloads.EXPECTED_PARAMS[name], name
    assert workloads.EXPECTED_PARAMS == {"mnist_convnet": 34826, "bidirectional_lstm_imdb": 2757761,
                                         "imbalanced_classification": 139777}


def test_record_rejects_unknown_columns(tmp_path):
    rec = record.empty_record()
    rec["not_a_column"] = 1
    with pytest.raises(ValueError, match="not_a_column"):
        record.write_record(rec, str(tmp_path), "x")
    assert list(tmp_path.iterdir()) == []


def test_builtin_records_fill_the_workload_columns_and_variants_change_the_model(tmp_path):
    narrow, _, code = _run(tmp_path, workload="mnist_convnet", run_id="narrow", kind="builtin", example="mnist_convnet",
                           options={"dropout": "0.2", "filters": 8}, task="digits")
    assert code == 0, narrow["error_message"]
    assert (narrow["workload_kind"], narrow["task"], narrow["primary_metric"], narrow["higher_is_better"]) == ("builtin", "digits", "test_accuracy", True)
    assert narrow["primary_value"] == narrow["test_accuracy"]
    assert json.loads(narrow["metrics_json"]) == {"test_accuracy": narrow["test_accuracy"], "test_loss": narrow["test_loss"]}
    assert json.loads(narrow["variant_json"]) == {"example": "mnist_convnet", "options": {"dropout": 0.2, "filters": 8}}
    import tensorflow as tf

    assert workloads.get("mnist_convnet", {"filters": 8}).build(tf.keras).count_params() < workloads.EXPECTED_PARAMS["mnist_convnet"]
    lstm = workloads.get("bidirectional_lstm_imdb", {"lstm_units": 32}).build(tf.keras)
    assert lstm.count_params() < workloads.EXPECTED_PARAMS["bidirectional_lstm_imdb"]
    # The example as published: task = its name, no options; set on a failed run too.
    base, _, code = _run(tmp_path, workload="mnist_convnet", run_id="base", data_dir=str(tmp_path / "no-data"))
    assert code == 1 and "during load data" in base["error_message"]
    assert (base["task"], base["primary_metric"], base["primary_value"]) == ("mnist_convnet", "test_accuracy", None)
    assert json.loads(base["variant_json"]) == {"example": "mnist_convnet", "options": {}}
    bad, _, code = _run(tmp_path, workload="mnist_convnet", run_id="bad", options={"dropout": 2})
    assert code == 1 and "option dropout: must be between 0.0 and 0.95" in bad["error_message"]
