"""One run, start to finish: seed, load data, train, evaluate, hash, fingerprint, record.

Whatever happens, a record is written: a failure becomes ``status = failed`` with the
error's type and message (and the traceback on stderr), and the exit code is 1.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import determinism, fingerprint, record, samples
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
                 verbose: Optional[int] = None) -> None:
        self.workload = workload
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


def _fill_backend_columns(rec: Dict[str, Any], keras: Any) -> None:
    """The Keras backend and framework versions, where the fingerprint left them empty."""
    from .compat import backend_columns

    try:
        columns = backend_columns(keras)
    except Exception:  # a probe must never sink the record
        return
    for name, value in columns.items():
        if rec.get(name) is None and value is not None:
            rec[name] = value


def run_job(opts: RunOptions) -> Tuple[Dict[str, Any], str, int]:
    """Do the run; returns (record, record path, exit code 0/1)."""
    from . import workloads

    rec = record.empty_record()
    workload = workloads.get(opts.workload)
    rec.update({
        "study_id": opts.study_id, "study_name": opts.study_name, "run_id": opts.run_id,
        "workload": opts.workload, "software_env": opts.software_env, "hardware_env": opts.hardware_env,
        "repeat": opts.repeat, "seed": opts.seed, "epochs": opts.epochs or workload.epochs,
        "batch_size": workload.batch_size, "max_samples": opts.max_samples,
        "determinism": bool(opts.determinism), "sample_data": bool(opts.sample_data),
        "started_at": utc_now(),
    })
    t_start = time.perf_counter()
    tf = None
    keras = None
    stage = "start"
    try:
        stage = "data checksums"
        hashes, is_sample = data_fingerprint(workload.data_paths(opts.data_dir))
        rec["data_sha256"] = json.dumps(hashes, sort_keys=True)
        rec["sample_data"] = bool(opts.sample_data or is_sample)
        stage = "import keras"
        from . import compat

        backend = compat.requested_backend()
        determinism.prepare_environment(backend, opts.determinism)
        tf, keras, backend = compat.import_framework()
        stage = "determinism"
        determinism.apply_backend(backend, keras, tf, opts.seed, opts.determinism)
        stage = "load data"
        t0 = time.perf_counter()
        data = workload.load(opts.data_dir, opts.max_samples)
        rec["time_data_load_s"] = time.perf_counter() - t0
        stage = "build model"
        model = workload.build(keras, data)
        stage = "train"
        t0 = time.perf_counter()
        outcome = workloads.TrainingResult()
        outcome.history = workload.train(keras, model, data, rec["epochs"], 2 if opts.verbose is None else opts.verbose)
        rec["time_train_s"] = time.perf_counter() - t0
        stage = "evaluate"
        t0 = time.perf_counter()
        workload.evaluate(keras, model, data, outcome)
        rec["time_eval_s"] = time.perf_counter() - t0
        rec["test_loss"] = outcome.test_loss
        rec["test_accuracy"] = outcome.test_accuracy
        rec["history_json"] = json.dumps(outcome.history, sort_keys=True)
        rec["predictions_sha256"] = float32_sha256([outcome.predictions])
        rec["weights_sha256"] = float32_sha256(model.get_weights())
        if outcome.confusion is not None:
            for key in ("tp", "fp", "tn", "fn"):
                rec["fraud_" + key] = outcome.confusion[key]
        rec["status"] = STATUS_OK
    except Exception as err:  # the failure is data: record it, exit 1
        rec["status"] = STATUS_FAILED
        rec["error_type"] = type(err).__name__
        rec["error_message"] = "%s (during %s)" % (err, stage)
        sys.stderr.write("reprogrid-job: run %s failed during %s:\n" % (opts.run_id, stage))
        traceback.print_exc(file=sys.stderr)
    rec.update(fingerprint.to_columns(fingerprint.collect(tf)))
    _fill_backend_columns(rec, keras)
    rec["finished_at"] = utc_now()
    rec["time_total_s"] = time.perf_counter() - t_start
    path = record.write_record(rec, opts.output_dir, opts.run_id, opts.record_format)
    return rec, path, 0 if rec["status"] == STATUS_OK else 1
