"""The job's command line: ``run``, ``fingerprint``, ``selftest`` (see docs/internals.md).

Exit codes: 0 success, 1 a failed run (its record is still written), 2 bad arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import re
import tempfile
from typing import Any, Dict, List, Optional

from . import catalogue

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

EPILOG = """\
examples:
  python3 reprogrid-job.pyz run --workload mnist_convnet --run-id demo--r0 --seed 1 \\
      --data-dir . --output-dir results --epochs 1 --max-samples 512
  python3 reprogrid-job.pyz run --kind builtin --workload lstm-narrow --example bidirectional_lstm_imdb \\
      --option lstm_units=32 --task imdb-sentiment --run-id narrow--r0
  python3 reprogrid-job.pyz run --kind command --workload my-logreg --run-id mine--r0 \\
      --workload-file reprogrid-workload.json     # the file render ships with the user's files
  python3 reprogrid-job.pyz fingerprint > fingerprint.json
  python3 reprogrid-job.pyz selftest --data-dir /opt/reprogrid/sampledata

A failed run still writes results/<run-id>.parquet (status failed) and exits 1.
"""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number, got %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a number >= 1, got %d" % value)
    return value


def _run_id(text: str) -> str:
    if not RUN_ID_RE.match(text):
        raise argparse.ArgumentTypeError("run ids are letters, digits, '_', '-', '.' (got %r)" % text)
    return text


def _option(text: str) -> Any:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE like lstm_units=32, got %r" % text)
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprogrid-job", description="The reprogrid job side: train one Keras example, record the environment.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="train one workload and write its record", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--kind", choices=catalogue.KIND_NAMES, default=catalogue.KIND_BUILTIN,
                     help="builtin (a keras-io example), command or entry (a user's workload; default builtin)")
    run.add_argument("--workload", required=True, type=_run_id,
                     help="the workload's name in the spec (a built-in example's name unless --example is given)")
    run.add_argument("--example", choices=sorted(catalogue.WORKLOAD_NAMES),
                     help="builtin: the example a variant runs (default: --workload)")
    run.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", type=_option,
                     help="builtin: an option of the example, e.g. lstm_units=32 (repeatable)")
    run.add_argument("--task", type=_run_id, help="the task this workload is a variant of (default: the example's name)")
    run.add_argument("--primary-metric", choices=sorted(catalogue.BUILTIN_METRICS),
                     help="builtin: the metric that judges the run (default test_accuracy)")
    run.add_argument("--workload-file", default=catalogue.WORKLOAD_FILE,
                     help="command/entry: the workload description render wrote (default %s, beside the user's files)"
                     % catalogue.WORKLOAD_FILE)
    run.add_argument("--run-id", required=True, type=_run_id, help="the record is <output-dir>/<run-id>.parquet")
    run.add_argument("--study-id")
    run.add_argument("--study-name")
    run.add_argument("--software-env", help="software environment name as requested in the spec")
    run.add_argument("--hardware-env", help="hardware environment name as requested in the spec")
    run.add_argument("--repeat", type=int)
    run.add_argument("--seed", type=int, default=1, help="random seed (default 1, the study's)")
    run.add_argument("--data-dir", default=".", help="folder with mnist.npz / imdb.npz / creditcard.csv (default .)")
    run.add_argument("--output-dir", default="results", help="where the record goes (default results)")
    run.add_argument("--epochs", type=_positive, help="override the example's epochs (recorded)")
    run.add_argument("--max-samples", type=_positive, help="use only the first N samples of each split (recorded)")
    run.add_argument("--no-determinism", dest="determinism", action="store_false",
                     help="skip set_random_seed and enable_op_determinism (recorded)")
    run.add_argument("--sample-data", action="store_true",
                     help="mark the record as made from sample data (also detected from the files)")
    run.add_argument("--format", dest="record_format", choices=["parquet", "json"],
                     help="record format (default: parquet when pyarrow imports, else json)")
    run.add_argument("--verbose", type=int, choices=[0, 1, 2], help="Keras fit verbosity (default 2)")

    fp = sub.add_parser("fingerprint", help="print the environment fingerprint as JSON")
    fp.add_argument("--no-tf", dest="with_tf", action="store_false", help="do not import TensorFlow")

    st = sub.add_parser("selftest", help="check this Python/TensorFlow can run the workloads")
    st.add_argument("--data-dir", help="also run each workload whose data file is in this folder (1 epoch, 64 samples)")
    return parser


def _synthetic_mnist(n: int = 64) -> Dict[str, Any]:
    import numpy as np

    rng = np.random.RandomState(0)
    labels = rng.randint(0, 10, size=n)
    images = rng.rand(n, 28, 28, 1).astype("float32") * 0.1
    for i, label in enumerate(labels):
        images[i, 2 + 2 * label: 6 + 2 * label, 4:24, 0] += 0.9
    onehot = np.eye(10, dtype="float32")[labels]
    return {"x_train": images, "y_train": onehot, "x_test": images[:16], "y_test": onehot[:16]}


def selftest(data_dir: Optional[str] = None) -> Dict[str, Any]:
    """Imports, full-size parameter counts, a determinism check, optional real-data runs."""
    from . import determinism, fingerprint, workloads  # workloads imports numpy: not for run --kind command
    from .compat import import_tf
    from .runner import RunOptions, float32_sha256, run_job

    report = {"ok": True, "checks": []}  # type: Dict[str, Any]

    def check(name: str, ok: bool, detail: Any) -> None:
        report["checks"].append({"check": name, "ok": bool(ok), "detail": detail})
        report["ok"] = report["ok"] and bool(ok)

    tf = import_tf()
    sw = fingerprint.software_info(tf)
    check("versions", True, {k: sw.get(k) for k in ("python", "tensorflow", "keras", "numpy")})
    for name, workload in sorted(workloads.WORKLOADS.items()):
        count = int(workload.build(tf.keras).count_params())
        check("params " + name, count == workloads.EXPECTED_PARAMS[name], count)
    mnist = workloads.WORKLOADS["mnist_convnet"]
    hashes = []
    for _ in range(2):
        determinism.apply(tf, 1, True)
        model = mnist.build(tf.keras)
        mnist.train(tf.keras, model, _synthetic_mnist(), 1, verbose=0)
        hashes.append(float32_sha256(model.get_weights()))
    check("deterministic training", hashes[0] == hashes[1], hashes[0][:16])
    if data_dir:
        out = tempfile.mkdtemp(prefix="reprogrid-selftest-")
        try:  # the records are checked here, then removed: a self-test leaves nothing behind
            for name, workload in sorted(workloads.WORKLOADS.items()):
                if not all(os.path.isfile(p) for p in workload.data_paths(data_dir)):
                    continue
                opts = RunOptions(workload=name, run_id="selftest-" + name, data_dir=data_dir, output_dir=out,
                                  epochs=1, max_samples=64 if name != "imbalanced_classification" else 2000, verbose=0)
                rec, path, code = run_job(opts)
                check("run " + name, code == 0, rec.get("error_message") or {"test_accuracy": rec["test_accuracy"], "record": path})
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return report


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import record  # here: a selftest or fingerprint needs no record writer

    record.lean_process()  # this process is the job: it writes one record and ends
    if args.command == "run":
        from .runner import RunOptions, run_job

        opts = RunOptions(
            workload=args.workload, run_id=args.run_id, data_dir=args.data_dir, output_dir=args.output_dir,
            seed=args.seed, repeat=args.repeat, study_id=args.study_id, study_name=args.study_name,
            software_env=args.software_env, hardware_env=args.hardware_env, epochs=args.epochs,
            max_samples=args.max_samples, determinism=args.determinism, sample_data=args.sample_data,
            record_format=args.record_format, verbose=args.verbose, kind=args.kind,
            example=args.example, options=dict(args.option), task=args.task,
            primary_metric=args.primary_metric, workload_file=args.workload_file,
        )
        if args.kind == catalogue.KIND_BUILTIN and args.example is None and args.workload not in catalogue.BUILTIN:
            parser.error("argument --workload: %r is not a built-in example (%s); give --example or --kind"
                         % (args.workload, ", ".join(sorted(catalogue.WORKLOAD_NAMES))))
        rec, path, code = run_job(opts)
        summary = {k: rec[k] for k in ("run_id", "status", "workload_kind", "primary_metric", "primary_value", "test_accuracy",
                                       "test_loss", "sample_data", "error_type", "error_message")}
        summary["record"] = path
        print(json.dumps(summary, sort_keys=True))
        return code
    if args.command == "fingerprint":
        from .fingerprint import main_json

        print(main_json(with_tf=args.with_tf))
        return 0
    if args.command == "selftest":
        report = selftest(args.data_dir)
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
        return 0 if report["ok"] else 1
    parser.print_help()
    return 2
