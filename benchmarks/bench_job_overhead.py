#!/usr/bin/env python3
"""Job-side overhead beside bare training, measured in the same run.

Overhead = what the job adds around the Keras example: zipapp start (over a bare
``python3 -c pass``), data checksums, the environment fingerprint, writing the record.
Baseline = bare ``model.fit`` of the smallest workloads on the bundled sample data with
the examples' own epochs (imbalanced_classification 30, mnist_convnet 15), and the same
runs through the job runner end to end. Medians of several repetitions.

    python benchmarks/bench_job_overhead.py [--repeats 5]

Target: overhead under 1 s and under 2% of a run.

``--command-only`` measures just the trivial ``command:`` workload (issue 28): a script that
writes metrics.json, run bare (``python3 train.py`` with the contract's variables) and
through the job bundle (``reprogrid-job.pyz run --kind command``, Parquet and JSON
records), whole processes, interleaved, medians of CPU and wall; ``--base-root DIR`` adds
the same two bundle runs built from another checkout (e.g. the base commit). Target:
under 0.3 s beyond the bare command.

    python benchmarks/bench_job_overhead.py --command-only [--repeats 7] [--base-root /tmp/base28]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from reprogrid.render.bundle import build_job_bundle  # noqa: E402
from reprogrid.job import data as jobdata  # noqa: E402
from reprogrid.job import determinism, fingerprint, fingerprint_columns, record, workloads  # noqa: E402
from reprogrid.job.runner import RunOptions, data_fingerprint, run_job  # noqa: E402
from reprogrid.core.resources import sample_data_dir  # noqa: E402

PUBLISHED_BYTES = {"mnist.npz": 11_490_434, "imdb.npz": 17_464_789, "creditcard.csv": 150_828_752}


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


TRIVIAL_TRAIN = """\
import json, os
with open(os.path.join(os.environ["REPROGRID_OUTPUT_DIR"], "metrics.json"), "w") as f:
    json.dump({"accuracy": 1.0}, f)
"""


def _bundle_from(root: Path, dest: Path) -> Path:
    """The job bundle built by the checkout at ``root`` (its own reprogrid), in a fresh process."""
    code = "import sys; from pathlib import Path; from reprogrid.render.bundle import build_job_bundle; " \
           "print(build_job_bundle(Path(sys.argv[1])))"
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-P", "-c", code, str(dest)], env=env, check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def command_only(repeats: int, base_root: str) -> int:
    """Bare trivial command vs the same through the bundle (this tree's, and the base's)."""
    from _interleave import interleave, load, table

    tmp = Path(tempfile.mkdtemp(prefix="bench-cmd-"))
    box = tmp / "sandbox"
    box.mkdir()
    (box / "train.py").write_text(TRIVIAL_TRAIN)
    desc = {"name": "trivial", "kind": "command", "files": ["train.py"], "data": [], "command": ["python3", "train.py"],
            "primary_metric": "accuracy", "higher_is_better": True}
    (box / "reprogrid-workload.json").write_text(json.dumps(desc))
    (box / "out").mkdir()
    env = dict(os.environ, REPROGRID_SEED="1", REPROGRID_DETERMINISM="1", REPROGRID_DATA_DIR=str(box),
               REPROGRID_OUTPUT_DIR=str(box / "out"), PYTHONHASHSEED="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    bundles = [("this tree", _bundle_from(ROOT, tmp / "new"))]
    if base_root:
        bundles.append(("base", _bundle_from(Path(base_root), tmp / "base")))
    job = ["run", "--kind", "command", "--workload", "trivial", "--run-id", "trivial--r0", "--seed", "1",
           "--data-dir", ".", "--output-dir", "results"]
    cases = [("bare: python3 train.py (anchor)", [sys.executable, "train.py"])]
    for label, pyz in bundles:
        for fmt in ("parquet", "json"):
            cases.append(("bundle, %s record (%s)" % (fmt, label), [sys.executable, str(pyz)] + job + ["--format", fmt]))
    before = load()
    results = interleave(cases, repeats, cwd=str(box), env=env)
    print("trivial command workload, %d interleaved rounds, python %s, load before %s, after %s"
          % (repeats, sys.version.split()[0], before, load()))
    print()
    print(table(results, cases[0][0]))
    anchor = results[cases[0][0]]
    print()
    for name, row in results.items():
        print("%s: overhead %.3f s wall, %.3f s CPU beyond the bare command" % (name, row["wall"] - anchor["wall"],
                                                                          row["cpu"] - anchor["cpu"]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-repeats", type=int, default=3)
    parser.add_argument("--command-only", action="store_true", help="only the trivial command workload rows")
    parser.add_argument("--base-root", default="", help="another checkout whose bundle to time beside this one")
    args = parser.parse_args()
    if args.command_only:
        return command_only(args.repeats, args.base_root)
    samples = str(sample_data_dir())
    tmp = Path(tempfile.mkdtemp(prefix="bench-job-"))
    pyz = build_job_bundle(tmp)

    # 1. bundle start: python3 reprogrid-job.pyz --help vs python3 -c pass
    def sub(argv):
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    bare_py = median_time(lambda: sub([sys.executable, "-c", "pass"]), args.repeats)
    pyz_start = median_time(lambda: sub([sys.executable, str(pyz), "run", "--help"]), args.repeats)

    from reprogrid.job.compat import import_tf

    tf = import_tf()
    # 2. data checksums (sample files) + throughput -> estimate for the published files
    paths = [os.path.join(samples, n) for n in ("mnist.npz", "imdb.npz", "creditcard.csv")]
    t_sums = median_time(lambda: data_fingerprint(paths), args.repeats)
    big = tmp / "big.bin"
    big.write_bytes(os.urandom(64 << 20))
    t_big = median_time(lambda: jobdata.sha256_file(str(big)), 3)
    rate = (64 << 20) / t_big
    # 3. fingerprint, 4. record
    t_fp = median_time(lambda: fingerprint_columns.to_columns(fingerprint.collect(tf)), args.repeats)
    rec = record.empty_record()
    rec.update(fingerprint_columns.to_columns(fingerprint.collect(tf)))
    rec.update({"run_id": "bench", "status": "ok", "history_json": "{}" })
    t_parquet = median_time(lambda: record.write_record(rec, str(tmp / "out"), "bench", "parquet"), args.repeats)
    t_json = median_time(lambda: record.write_record(rec, str(tmp / "out"), "bench", "json"), args.repeats)

    # baseline: bare training, same data and epochs, and the runner end to end
    rows = []
    for name in ("imbalanced_classification", "mnist_convnet"):
        w = workloads.WORKLOADS[name]
        prepared = w.load(samples, None)

        def bare():
            determinism.apply(tf, 1, True)
            model = w.build(tf.keras, prepared)
            w.train(tf.keras, model, prepared, w.epochs, verbose=0)

        t_train = median_time(bare, args.train_repeats)
        runs = []
        for i in range(args.train_repeats):
            r, _, code = run_job(RunOptions(workload=name, run_id=f"bench-{name}-{i}", data_dir=samples,
                                            output_dir=str(tmp / "runs"), verbose=0))
            assert code == 0, r["error_message"]
            runs.append(r)
        total = statistics.median(r["time_total_s"] for r in runs)
        inner = statistics.median(r["time_data_load_s"] + r["time_train_s"] + r["time_eval_s"] for r in runs)
        rows.append((name, w.epochs, t_train, total, total - inner))

    overhead = (pyz_start - bare_py) + t_sums + t_fp + t_parquet
    est_sums = sum(PUBLISHED_BYTES.values()) / rate
    print(f"python {sys.version.split()[0]}, tensorflow {tf.__version__}, {os.cpu_count()} cpus, medians of {args.repeats}")
    print()
    print("| job-side step | median |")
    print("|---|---|")
    print(f"| python3 -c pass (baseline interpreter start) | {bare_py * 1000:.0f} ms |")
    print(f"| bundle start (pyz run --help) over the baseline | {(pyz_start - bare_py) * 1000:.0f} ms |")
    print(f"| data checksums, sample files | {t_sums * 1000:.1f} ms |")
    print(f"| data checksums, published files (estimated at {rate / 1e6:.0f} MB/s) | {est_sums * 1000:.0f} ms |")
    print(f"| fingerprint (collect + columns) | {t_fp * 1000:.1f} ms |")
    print(f"| write record, Parquet | {t_parquet * 1000:.1f} ms |")
    print(f"| write record, JSON fallback | {t_json * 1000:.1f} ms |")
    print(f"| **overhead total (sample data)** | **{overhead * 1000:.0f} ms** |")
    print()
    print("| workload (sample data) | epochs | bare fit | runner total | runner - (load+train+eval) | overhead / bare fit |")
    print("|---|---|---|---|---|---|")
    for name, epochs, t_train, total, extra in rows:
        print(f"| {name} | {epochs} | {t_train:.2f} s | {total:.2f} s | {extra * 1000:.0f} ms | {100 * overhead / t_train:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
