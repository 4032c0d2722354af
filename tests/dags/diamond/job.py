#!/usr/bin/env python3
"""Test job: checks the sandbox as a starter would set it up and records what it saw."""
import json, os, sys
scratch = os.environ["_CONDOR_SCRATCH_DIR"]
seen = {
    "argv": sys.argv[1:],
    "cwd_is_scratch": os.path.realpath(os.getcwd()) == os.path.realpath(scratch),
    "greeting": os.environ.get("GREETING"),
    "input": open("input.txt").read().strip(),
    "job_ad": os.path.exists(os.environ["_CONDOR_JOB_AD"]),
    "machine_ad": os.path.exists(os.environ["_CONDOR_MACHINE_AD"]),
    "omp": os.environ.get("OMP_NUM_THREADS"),
}
with open("seen-%s.json" % sys.argv[1], "w") as f:
    json.dump(seen, f)
print("ran", sys.argv[1])
