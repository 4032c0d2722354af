"""One run, start to finish: seed, load data, train, evaluate, hash, fingerprint, record.

Every kind of workload in the registry (``catalogue.KINDS``) goes through :func:`run_job`:
a built-in example (or a variant of one) is trained here; a command or entry workload is
run by ``usercode`` under the contract. Either way the record has the same fingerprint and
the workload's kind, task, variant, metrics map and primary metric. Whatever happens, a
record is written: a failure becomes ``status = failed`` with the error's type and message
(and the traceback on stderr), and the exit code is 1.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

from . import catalogue, distributions, fingerprint, fingerprint_columns, record, samples
from .data import sha256_file
from .schema import STATUS_FAILED, STATUS_OK


class RunOptions(object):
    """What the ``run`` subcommand was asked to do."""

    def __init__(self, workload: str, run_id: str, data_dir: str = ".", output_dir: str = "results",
                 seed: int = 1, repeat: Optional[int] = None, study_id: Optional[str] = None,
                 study_name: Optional[str] = None, software_env: Optional[str] = None,
                 hardware_env: Optional[str] = None, epochs: Optional[int] = None,
                 max_samples: Optional[int] = None, determinism: bool = True,
                 sample_data: bool = False, record_format: Optional[str] = None,
                 verbose: Optional[int] = None, kind: str = catalogue.KIND_BUILTIN,
                 example: Optional[str] = None, options: Optional[Dict[str, Any]] = None,
                 task: Optional[str] = None, primary_metric: Optional[str] = None,
                 workload_file: Optional[str] = None) -> None:
        self.workload = workload
        self.kind = kind
        self.example = example or workload
        self.options = dict(options or {})
        self.task = task
        self.primary_metric = primary_metric
        self.workload_file = workload_file
        self.run_id = run_id
        self.data_dir = data_dir
        self.output_dir = output_dir
        self.seed = seed
        self.repeat = repeat
        self.study_id = study_id
        self.study_name = study_name
        self.software_env = software_env
        self.hardware_env = hardware_env
        self.epochs = epochs
        self.max_samples = max_samples
        self.determinism = determinism
        self.sample_data = sample_data
        self.record_format = record_format
        self.verbose = verbose


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def float32_sha256(arrays: List[Any]) -> str:
    """sha256 over the little-endian float32 bytes of each array, in order."""
    import numpy as np  # late: a command workload without predictions never needs numpy

    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(np.asarray(array), dtype="<f4").tobytes())
    return digest.hexdigest()


def data_fingerprint(paths: List[str]) -> Tuple[Dict[str, str], bool]:
    """(file name -> sha256, whether any file is a bundled sample) for the files that exist."""
    import os

    hashes = {}
    sample = False
    for path in paths:
        if os.path.isfile(path):
            digest = sha256_file(path)
            hashes[os.path.basename(path)] = digest
            sample = sample or samples.is_sample_file(path, digest)
    return hashes, sample


def _start_record(opts: RunOptions) -> Dict[str, Any]:
    rec = record.empty_record()
    rec.update({
        "study_id": opts.study_id, "study_name": opts.study_name, "run_id": opts.run_id,
        "workload": opts.workload, "software_env": opts.software_env, "hardware_env": opts.hardware_env,
        "repeat": opts.repeat, "seed": opts.seed, "max_samples": opts.max_samples,
        "determinism": bool(opts.determinism), "sample_data": bool(opts.sample_data),
        "workload_kind": opts.kind, "started_at": utc_now(),
    })
    return rec


def run_job(opts: RunOptions) -> Tuple[Dict[str, Any], str, int]:
    """Do the run, whatever its kind; returns (record, record path, exit code 0/1)."""
    rec = _start_record(opts)
    t_start = time.perf_counter()
    progress = {"stage": "start"}  # type: Dict[str, Any]
    try:
        if opts.kind == catalogue.KIND_BUILTIN:
            _run_builtin(opts, rec, progress)
        elif opts.kind in catalogue.KINDS:
            _run_user(opts, rec, progress)
        else:
            raise ValueError("unknown workload kind %r (known: %s)" % (opts.kind, ", ".join(catalogue.KIND_NAMES)))
        rec["status"] = STATUS_OK
    except (Exception, SystemExit) as err:  # the failure is data: record it, exit 1
        rec["status"] = STATUS_FAILED
        rec["error_type"] = type(err).__name__
        rec["error_message"] = "%s (during %s)" % (err, progress["stage"])
        sys.stderr.write("reprogrid-job: run %s failed during %s:\n" % (opts.run_id, progress["stage"]))
        traceback.print_exc(file=sys.stderr)
    # built-ins know which framework ran the model; user code may have imported TF itself
    tf = progress["tf"] if "tf" in progress else sys.modules.get("tensorflow")
    keras = progress["keras"] if "keras" in progress else sys.modules.get("keras")
    rec.update(fingerprint_columns.to_columns(fingerprint.collect(tf, keras=keras)))
    rec["distributions_json"] = distributions.installed_json()
    rec["finished_at"] = utc_now()
    rec["time_total_s"] = time.perf_counter() - t_start
    path = record.write_record(rec, opts.output_dir, opts.run_id, opts.record_format)
    return rec, path, 0 if rec["status"] == STATUS_OK else 1


def _run_builtin(opts: RunOptions, rec: Dict[str, Any], progress: Dict[str, Any]) -> None:
    """Train a built-in example (or a variant) and fill the record's outcome columns."""
    from . import workloads

    primary = opts.primary_metric or catalogue.BUILTIN_PRIMARY
    rec.update({
        "task": opts.task or opts.example, "primary_metric": primary,
        "higher_is_better": catalogue.builtin_direction(primary),
        "variant_json": json.dumps({"example": opts.example, "options": opts.options}, sort_keys=True),
    })
    progress["stage"] = "workload options"
    workload = workloads.get(opts.example, opts.options)
    rec["variant_json"] = json.dumps({"example": opts.example, "options": workload.options}, sort_keys=True)
    rec["epochs"] = opts.epochs or workload.epochs
    rec["batch_size"] = workload.batch_size
    progress["stage"] = "data checksums"
    hashes, is_sample = data_fingerprint(workload.data_paths(opts.data_dir))
    rec["data_sha256"] = json.dumps(hashes, sort_keys=True)
    rec["sample_data"] = bool(opts.sample_data or is_sample)
    progress["stage"] = "import keras"
    from . import compat, determinism  # here: a command workload compiles neither (the bundle has no bytecode)

    backend = compat.requested_backend()
    determinism.prepare_environment(backend, opts.determinism)
    tf, keras, backend = compat.import_framework()
    progress["tf"], progress["keras"] = tf, keras
    progress["stage"] = "determinism"
    determinism.apply_backend(backend, keras, tf, opts.seed, opts.determinism)
    progress["stage"] = "load data"
    t0 = time.perf_counter()
    data = workload.load(opts.data_dir, opts.max_samples)
    rec["time_data_load_s"] = time.perf_counter() - t0
    progress["stage"] = "build model"
    model = workload.build(keras, data)
    progress["stage"] = "train"
    t0 = time.perf_counter()
    outcome = workloads.TrainingResult()
    outcome.history = workload.train(keras, model, data, rec["epochs"], 2 if opts.verbose is None else opts.verbose)
    rec["time_train_s"] = time.perf_counter() - t0
    progress["stage"] = "evaluate"
    t0 = time.perf_counter()
    workload.evaluate(keras, model, data, outcome)
    rec["time_eval_s"] = time.perf_counter() - t0
    rec["test_loss"] = outcome.test_loss
    rec["test_accuracy"] = outcome.test_accuracy
    metrics = {"test_accuracy": outcome.test_accuracy, "test_loss": outcome.test_loss}
    rec["metrics_json"] = json.dumps(metrics, sort_keys=True)
    rec["primary_value"] = metrics.get(primary)
    rec["history_json"] = json.dumps(outcome.history, sort_keys=True)
    rec["predictions_sha256"] = float32_sha256([outcome.predictions])
    rec["weights_sha256"] = float32_sha256(model.get_weights())
    if outcome.confusion is not None:
        for key in ("tp", "fp", "tn", "fn"):
            rec["fraud_" + key] = outcome.confusion[key]


def _run_user(opts: RunOptions, rec: Dict[str, Any], progress: Dict[str, Any]) -> None:
    """Run a command or entry workload under the contract and fill the record's outcome columns."""
    from . import usercode

    progress["stage"] = "read " + catalogue.WORKLOAD_FILE
    workload = usercode.UserWorkload.load(opts.workload_file or catalogue.WORKLOAD_FILE)
    if workload.kind != opts.kind:
        raise ValueError("%s describes a %s workload, but the job was asked for kind %s"
                         % (opts.workload_file, workload.kind, opts.kind))
    rec.update({"task": opts.task or workload.task, "primary_metric": workload.primary_metric,
                "higher_is_better": workload.higher_is_better})
    variant = {"kind": workload.kind, "command": workload.command or None, "entry": workload.entry}
    rec["variant_json"] = json.dumps(variant, sort_keys=True)
    progress["stage"] = "data checksums"
    hashes, is_sample = data_fingerprint(workload.data_paths(opts.data_dir))
    rec["data_sha256"] = json.dumps(hashes, sort_keys=True)
    rec["sample_data"] = bool(opts.sample_data or is_sample)
    variant["files_sha256"] = workload.files_sha256()
    rec["variant_json"] = json.dumps(variant, sort_keys=True)
    t0 = time.perf_counter()
    try:
        outcome = usercode.run_workload(workload, opts.run_id, opts.seed, opts.determinism, opts.data_dir, progress)
    finally:
        rec["time_train_s"] = time.perf_counter() - t0
    variant["seeded"] = outcome["seeded"] or None
    rec["variant_json"] = json.dumps(variant, sort_keys=True)
    metrics = outcome["metrics"]
    rec["metrics_json"] = json.dumps(metrics, sort_keys=True)
    rec["primary_value"] = outcome["primary_value"]
    for column in ("test_accuracy", "test_loss"):
        rec[column] = metrics.get(column)
    if outcome["predictions"] is not None:
        rec["predictions_sha256"] = float32_sha256([outcome["predictions"]])
