"""Benchmark: the job's list of installed distributions (reprogrid.job.distributions.installed).

Every record carries it, so it is paid once per job. Baseline named in the same run:
``importlib.metadata.distributions()`` reading every METADATA file (the obvious way, and
what the folder-name reading must agree with). Prints the medians of --repeat runs, the
number of distributions and the load average.

    python benchmarks/bench_distributions.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from importlib import metadata

from reprogrid.job import distributions


def baseline() -> dict:
    out = {}
    for dist in metadata.distributions():
        out.setdefault(distributions.normalize(dist.metadata["Name"]), dist.version)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    times = {"installed()": [], "importlib.metadata baseline": []}
    for _ in range(args.repeat):
        for label, fn in (("installed()", distributions.installed), ("importlib.metadata baseline", baseline)):
            start = time.perf_counter()
            result = fn()
            times[label].append(time.perf_counter() - start)
    assert distributions.installed() == dict(sorted(baseline().items()))
    print(f"{len(result)} distributions; load average {os.getloadavg()[0]:.1f}")
    for label, values in times.items():
        print(f"{label:30s} median {statistics.median(values) * 1000:8.1f} ms over {args.repeat} runs")


if __name__ == "__main__":
    main()
