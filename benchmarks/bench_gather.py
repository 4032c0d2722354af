"""Benchmark: gather N per-run Parquet files (default 100,000) into one dataset.

Compared in the same run, on the same files, each in its own process (so peak RSS is
per method):
  - naive (the baseline): a loop of pandas.read_parquet + one pandas.concat, on the first
    --naive-files files (default: all; at 100k pass 20000, the rate is per file);
  - pyarrow.dataset: ds.dataset(results).to_batches(), counting rows (reads only; to_table()
    would hold ~250 KiB of buffers per file: 25 GiB at 100k files);
  - reprogrid gather: read, validate, classify against the manifest, write the dataset
    (a full gather: no earlier dataset);
  - re-gather: gather again after 1% of the records changed (their mtime), reading only those.
Files are generated once into --dir (kept between runs; ~20 KB each, realistic records).
Targets (issue 14): >= 10x the naive loop at 20,000 and 100,000 files, bounded memory.
Not part of the test suite (minutes at 100k).

    python benchmarks/bench_gather.py [--files 100000] [--naive-files 20000] [--repeat 1] [--dir DIR]

``--regather-only`` (issue 28) times just the re-gather rows, whole ``reprogrid gather``
processes, interleaved, medians of CPU and wall over ``--repeat`` rounds (5 or more), with
the bytes each wrote into the dataset: nothing changed (target: under 1 s CPU at 20,000
records, nothing written); 1% new runs; 1% changed, clustered (consecutive records) and
spread (every 100th) (only those are read; only the part files holding them rewritten).
``--base-root DIR`` runs the same from another checkout (e.g. the base commit) into its
own dataset, in the same rounds.

    python benchmarks/bench_gather.py --regather-only --files 20000 --repeat 5 [--base-root /tmp/base28]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

from reprogrid.job.schema import COLUMN_NAMES


def _record(i: int) -> dict:
    record = {name: None for name in COLUMN_NAMES}
    w = ("mnist_convnet", "bidirectional_lstm_imdb", "imbalanced_classification")[i % 3]
    record.update(schema_version=1, study_id="bench", study_name="bench", run_id=f"{w}--sw-{i % 7}--hw-{i % 13}--r{i}",
                  workload=w, software_env=f"sw-{i % 7}", hardware_env=f"hw-{i % 13}", repeat=i, seed=1, status="ok",
                  epochs=2, batch_size=32, determinism=True, sample_data=True, data_sha256=json.dumps({"mnist.npz": "ab" * 32}),
                  test_loss=0.3 + (i % 100) / 1000, test_accuracy=0.9 - (i % 100) / 1000,
                  history_json=json.dumps({"loss": [0.5, 0.4], "accuracy": [0.8, 0.9]}),
                  predictions_sha256="cd" * 32, weights_sha256="ef" * 32, time_total_s=12.5,
                  started_at="2024-01-01T00:00:00Z", cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC 7302 16-Core Processor",
                  cpu_family=23, cpu_model_number=49, cpu_flags=" ".join(["fpu", "vme", "de", "pse", "avx2", "sse4_2"] * 25),
                  microarch="x86_64-v3", has_avx2=True, has_avx512f=False, cpu_count=4, gpu_count=0,
                  python_version="3.8.10", tensorflow_version="2.8.0", fingerprint_json=json.dumps({"k": "v" * 1500}))
    return record


def _write_range(args) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reprogrid.gather import arrow_schema

    folder, start, stop = args
    schema = arrow_schema()
    for i in range(start, stop):
        rec = _record(i)
        if os.path.exists(os.path.join(folder, f"{rec['run_id']}.parquet")):
            continue  # resumable generation
        pq.write_table(pa.Table.from_pylist([rec], schema=schema), os.path.join(folder, f"{rec['run_id']}.parquet"))
    return stop - start


def generate(root: Path, n: int) -> Path:
    submit = root / f"submit-{n}"
    if (submit / "manifest.json").exists():
        return submit
    results = submit / "results"
    results.mkdir(parents=True, exist_ok=True)
    step = 2000
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(_write_range, [(str(results), s, min(s + step, n)) for s in range(0, n, step)]))
    runs = []
    for i in range(n):
        r = _record(i)
        runs.append({k: r[k] for k in ("run_id", "workload", "software_env", "hardware_env", "repeat", "seed")})
    (submit / "manifest.json").write_text(json.dumps({"schema": "reprogrid.manifest/1", "runs": runs}))
    return submit


def method(name: str, submit: str, limit: int) -> dict:
    """Run one method in this process; return seconds, files and peak RSS (MiB)."""
    import resource

    results = Path(submit) / "results"
    t = time.perf_counter()
    if name in ("gather", "re-gather"):
        from reprogrid.gather import gather

        out = Path(submit).parent / (Path(submit).name + "-dataset")
        if name == "re-gather":
            paths = sorted(results.iterdir())[::100]
            for p in paths:
                os.utime(p)  # "changed": the next gather reads these again, and only these
            t = time.perf_counter()
            res = gather(submit, output=out, progress=False)
            files = res.files_read
            assert files == len(paths), (files, len(paths))
        else:
            import shutil

            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            res = gather(submit, output=out, progress=False, incremental=False)
            files = res.rows_written
    elif name.startswith("pyarrow.dataset"):
        import pyarrow.dataset as ds

        # stream the batches (to_table() would hold every file's buffers: ~250 KiB each)
        paths = sorted(str(p) for p in results.iterdir())[:limit]
        files = sum(b.num_rows for b in ds.dataset(paths, format="parquet").to_batches())
    else:
        import pandas as pd

        paths = sorted(results.iterdir())[:limit]
        files = len(pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True))
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "files": files, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_isolated(name: str, submit: Path, limit: int) -> dict:
    code = ("import json,sys; sys.path.insert(0, %r); import bench_gather as b; "
            "print(json.dumps(b.method(%r, %r, %d)))" % (str(Path(__file__).parent), name, str(submit), limit))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


REGATHER_CASES = ("nothing changed", "1% new runs", "1% changed, clustered", "1% changed, spread")


def _files(folder: Path) -> Dict[str, Tuple[int, int, int]]:
    """Every file under ``folder``: (inode, mtime in ns, size)."""
    out = {}
    for p in folder.rglob("*"):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(folder))] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def _written(before: Dict[str, Tuple[int, int, int]], after: Dict[str, Tuple[int, int, int]]) -> Tuple[int, int, int, int]:
    """Of ``after``'s files, those written since ``before`` (a new inode or mtime): bytes and
    number of part files, bytes of the report, bytes of the rest (the index)."""
    old = {(ino, mtime) for ino, mtime, _ in before.values()}
    new = [(rel, size) for rel, (ino, mtime, size) in after.items() if (ino, mtime) not in old]
    parts = [size for rel, size in new if rel.endswith(".parquet")]
    report = sum(size for rel, size in new if rel == "_gather_report.json")
    return sum(parts), len(parts), report, sum(size for rel, size in new if not rel.endswith(".parquet")) - report


def _callgrind(argv: List[str], env: Dict[str, str]) -> int:
    """Instructions executed by one whole process (valgrind's callgrind): a load-free count."""
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], env=env,
                          capture_output=True, text=True, check=True)
    for line in proc.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise SystemExit("callgrind printed no count: " + proc.stderr[-2000:])


def regather_only(submit: Path, repeats: int, base_root: str, callgrind: bool = False) -> None:
    """Re-gather rows, this tree and the base interleaved, whole ``reprogrid gather`` processes.

    A round runs each case for both trees (their order alternating by round): nothing
    changed; 1% new runs (1% of the records, every 100th from the 50th, are moved aside
    and each tree gathers untimed, then they are put back: runs with no row before);
    1% changed, clustered (200 consecutive records by name, their mtime touched: one or
    two parts hold them); 1% changed, spread (every 100th record: every part holds some).
    Each run's CPU (user+sys of the child), wall, peak RSS and the bytes it wrote into the
    dataset (files with a new inode or mtime afterwards) are kept; medians are printed.
    Each tree's byte-code is cached in its own folder beside the records
    (``PYTHONPYCACHEPREFIX``, even where PYTHONDONTWRITEBYTECODE is set or the tree is
    read-only; the untimed first gather fills it), so neither tree compiles in a timed run.
    ``callgrind``: also the instructions of one nothing-changed gather of each tree.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _interleave import load, run_once

    trees = {"this tree": str(Path(__file__).resolve().parents[1])}
    if base_root:
        trees["base"] = base_root
    records = sorted((submit / "results").iterdir())
    k = len(records) // 100
    middle = len(records) // 2
    picks = {"1% new runs": records[50::100][:k], "1% changed, clustered": records[middle:middle + k],
             "1% changed, spread": records[::100][:k]}
    runs: Dict[str, Tuple[List[str], Dict[str, str], Path]] = {}
    for label, where in trees.items():
        out = submit.parent / f"{submit.name}-dataset-{'base' if label == 'base' else 'new'}"
        argv = [sys.executable, "-P", "-m", "reprogrid", "gather", str(submit), "-o", str(out)]
        env = dict(os.environ, PYTHONPATH=where, REPROGRID_PROGRESS="0",
                   PYTHONPYCACHEPREFIX=str(submit.parent / f"pycache-{'base' if label == 'base' else 'new'}"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(argv, env=env, check=True, capture_output=True)  # up to date before the first round
        runs[label] = (argv, env, out)
    aside = submit.parent / f"{submit.name}-aside"
    aside.mkdir(exist_ok=True)
    samples: Dict[Tuple[str, str], List[Tuple[float, float, int, int, int, int]]] = {}
    before_load = load()
    for round_ in range(repeats):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for case in REGATHER_CASES:
            if case == "1% new runs":
                for p in picks[case]:
                    os.replace(p, aside / p.name)
                for label in order:  # untimed: each dataset without those runs
                    argv, env, _ = runs[label]
                    subprocess.run(argv, env=env, check=True, capture_output=True)
                for p in picks[case]:
                    os.replace(aside / p.name, p)
            elif case in picks:
                now = time.time_ns()
                for p in picks[case]:
                    os.utime(p, ns=(now, now))  # "changed": read again, and only these
            for label in order:
                argv, env, out = runs[label]
                before = _files(out)
                wall, cpu, rss = run_once(argv, env=env)
                parts, files, report, index = _written(before, _files(out))
                samples.setdefault((case, label), []).append((wall, cpu, rss, parts, files, report, index))
    parts = {label: sum(1 for rel in _files(out) if rel.endswith(".parquet")) for label, (_, _, out) in runs.items()}
    sizes = {label: sum(v[2] for v in _files(out).values()) / 2**20 for label, (_, _, out) in runs.items()}
    print("datasets: " + "; ".join(f"{label}: {parts[label]} part files, {sizes[label]:.1f} MiB in all" for label in runs))
    print(f"re-gather of {submit} ({len(records):,} records; {k} per 1% case), {repeats} interleaved rounds, "
          f"load before {before_load}, after {load()}")
    print()
    print("| case | tree | wall | CPU | CPU / base | peak RSS | part files written | report written | index written |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for case in REGATHER_CASES:
        for label in trees:
            rows = samples[(case, label)]
            cpu = statistics.median(r[1] for r in rows)
            base = statistics.median(r[1] for r in samples[(case, "base")]) if "base" in trees else cpu
            print(f"| {case} | {label} | {statistics.median(r[0] for r in rows):.2f} s | {cpu:.2f} s | "
                  f"{cpu / base:.2f}x | {max(r[2] for r in rows) / 1024:.0f} MiB | "
                  f"{statistics.median(r[4] for r in rows):.0f} of {parts[label]}, {statistics.median(r[3] for r in rows) / 2**20:.2f} MiB | "
                  f"{statistics.median(r[5] for r in rows) / 2**20:.2f} MiB | {statistics.median(r[6] for r in rows) / 2**20:.2f} MiB |")
    _check_same_rows([out for _, _, out in runs.values()])
    if callgrind:
        counts = {label: _callgrind(argv, env) for label, (argv, env, _) in runs.items()}
        print("\ncallgrind, one nothing-changed gather each: " + "; ".join(
            f"{label}: {n / 1e9:.2f} G instructions" + (f" ({n / counts['base']:.2f}x)" if "base" in counts else "")
            for label, n in counts.items()))
    from reprogrid.gather import gather

    out = runs["this tree"][2]
    cpu_s = []
    for _ in range(repeats):  # the library alone, in this process (no CLI start-up): nothing changed
        t = time.process_time()
        res = gather(submit, output=out, progress=False)
        cpu_s.append(time.process_time() - t)
        assert res.files_read == 0
    print(f"\nin this process, re-gather with nothing changed (this tree): {statistics.median(cpu_s):.3f} s CPU median")


def _check_same_rows(folders: List[Path]) -> None:
    """Both trees' datasets hold the same runs, one row each (pyarrow.dataset over the folder)."""
    import pyarrow.dataset as ds

    ids = []
    for folder in folders:
        column = ds.dataset(str(folder), format="parquet", partitioning="hive").to_table(columns=["run_id"]).column("run_id")
        ids.append(sorted(column.to_pylist()))
        assert len(ids[-1]) == len(set(ids[-1])), f"{folder}: a run in two rows"
    assert all(i == ids[0] for i in ids), "the datasets differ"
    print(f"checked: {len(ids[0]):,} runs, one row each, the same in every dataset")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--naive-files", type=int, default=0, help="files for the naive loop (default: all)")
    parser.add_argument("--pyarrow-files", type=int, default=0,
                        help="files for pyarrow.dataset (default: all; its memory grows with the files: ~11 GiB at 100k)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dir", default="/tmp/reprogrid-bench-gather")
    parser.add_argument("--regather-only", action="store_true", help="only the re-gather rows (issue 28)")
    parser.add_argument("--base-root", default="", help="another checkout to time beside this one (--regather-only)")
    parser.add_argument("--callgrind", action="store_true",
                        help="--regather-only: also count the instructions of a nothing-changed gather (valgrind)")
    args = parser.parse_args()
    t = time.perf_counter()
    submit = generate(Path(args.dir), args.files)
    print(f"{args.files:,} files ready in {submit} ({time.perf_counter() - t:.0f} s to generate)")
    if args.regather_only:
        return regather_only(submit, args.repeat, args.base_root, args.callgrind)
    rows = {}
    limits = {"naive": args.naive_files, "pyarrow.dataset": args.pyarrow_files}
    for name in ("naive", "pyarrow.dataset", "gather", "re-gather"):
        limit = min(limits.get(name) or args.files, args.files)
        runs = [run_isolated(name, submit, limit) for _ in range(args.repeat)]
        rate = statistics.median(r["files"] / r["seconds"] for r in runs)
        rows[name] = (rate, runs[0]["files"], max(r["peak_rss_mib"] for r in runs), statistics.median(r["seconds"] for r in runs))
    print(f"{'method':<18}{'files':>9}{'seconds':>9}{'files/s':>10}{'peak RSS MiB':>14}{'vs naive':>10}{'vs pyarrow':>12}")
    for name, (rate, files, rss, sec) in rows.items():
        print(f"{name:<18}{files:>9,}{sec:>9.1f}{rate:>10.0f}{rss:>14.0f}{rate / rows['naive'][0]:>9.1f}x"
              f"{rate / rows['pyarrow.dataset'][0]:>11.2f}x")
    print(f"median of {args.repeat} run(s) per method; naive measured on the first {rows['naive'][1]:,} files, "
          f"pyarrow.dataset on {rows['pyarrow.dataset'][1]:,}; "
          f"re-gather: files read after 1% changed (its rate counts the files read)")


if __name__ == "__main__":
    main()
