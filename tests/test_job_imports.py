"""What the job side imports for a trivial command workload: no pandas, no numpy (issue 28).

The bundle runs in a fresh interpreter, as the job wrapper runs it; a two-line wrapper runs
the zipapp and then reports which of pandas/numpy ended up in ``sys.modules``. The records it
writes are read back and checked, so a cheaper record is still the same record.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprogrid.job import record
from reprogrid.job.catalogue import WORKLOAD_FILE
from reprogrid.render.bundle import build_job_bundle

REPO = Path(__file__).resolve().parents[1]

TRIVIAL = """\
import json, os
with open(os.path.join(os.environ["REPROGRID_OUTPUT_DIR"], "metrics.json"), "w") as f:
    json.dump({"accuracy": 0.75}, f)
"""

# Runs the bundle like ``python3 reprogrid-job.pyz ARGS`` and then writes what is loaded.
WRAPPER = """\
import json, runpy, sys
pyz, report = sys.argv[1], sys.argv[2]
sys.argv = [pyz] + sys.argv[3:]
try:
    runpy.run_path(pyz, run_name="__main__")
except SystemExit as done:
    code = done.code
with open(report, "w") as f:
    json.dump({"code": code, "loaded": sorted(m for m in ("pandas", "numpy") if sys.modules.get(m))}, f)
"""


@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_command_workload_imports_neither_pandas_nor_numpy(tmp_path: Path, fmt: str) -> None:
    pyz = build_job_bundle(tmp_path / "bundle")
    box = tmp_path / "sandbox"
    box.mkdir()
    (box / "train.py").write_text(TRIVIAL)
    (box / WORKLOAD_FILE).write_text(json.dumps({
        "name": "trivial", "kind": "command", "files": ["train.py"], "data": [], "command": ["python3", "train.py"],
        "primary_metric": "accuracy", "higher_is_better": True}))
    (tmp_path / "wrapper.py").write_text(WRAPPER)
    report = tmp_path / "loaded.json"
    proc = subprocess.run([sys.executable, str(tmp_path / "wrapper.py"), str(pyz), str(report),
                           "run", "--kind", "command", "--workload", "trivial", "--run-id", "trivial--r0",
                           "--data-dir", ".", "--output-dir", "results", "--format", fmt],
                          cwd=box, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(report.read_text())
    assert seen == {"code": 0, "loaded": []}, seen
    rec = record.read_record(str(box / "results" / ("trivial--r0." + fmt)))
    assert rec["status"] == "ok" and rec["primary_value"] == 0.75 and rec["workload_kind"] == "command"
    import numpy  # the version is still recorded, read without importing numpy in the job

    assert rec["numpy_version"] == numpy.__version__


def test_parquet_record_is_built_without_pandas_and_holds_the_same_values(tmp_path: Path) -> None:
    """Every column type, nulls included, as pyarrow's own conversion would store them."""
    values = {"run_id": "r--0", "status": "ok", "repeat": 3, "seed": -7, "test_accuracy": 0.125,
              "test_loss": float("inf"), "determinism": True, "sample_data": False, "error_message": "h\u00e9llo \u2603",
              "time_total_s": 1e-300}
    script = ("import json, sys\nfrom reprogrid.job import record\nrecord.lean_process()  # as the job program does\n"
              "rec = record.empty_record()\n"
              "rec.update(json.loads(sys.argv[1]))\nrecord.write_record(rec, sys.argv[2], 'r--0', 'parquet')\n"
              "print(json.dumps(sorted(m for m in ('pandas', 'numpy') if sys.modules.get(m))))\n")
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(values), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == []
    import pyarrow as pa
    import pyarrow.parquet as pq

    written = pq.read_table(tmp_path / "r--0.parquet")
    expected = record.normalise({**record.empty_record(), **values})
    reference = pa.Table.from_pylist([expected], schema=record.arrow_schema())
    assert written.equals(reference, check_metadata=True)
    assert written.to_pylist()[0] == expected


def test_the_toolkit_never_gets_a_pyarrow_without_numpy():
    """Only the job program may import pyarrow without numpy: in the toolkit (gather reads the
    job's Arrow schema before pandas loads numpy) such a pyarrow crashed with SIGSEGV on its
    first conversion to pandas."""
    code = ("from reprogrid.job import record\n"
            "record.arrow_schema()\n"
            "import pyarrow as pa, pandas\n"
            "print(pa.table({'a': ['x', None], 'b': [1.5, 2.0]}).to_pandas().shape)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "(2, 2)" in proc.stdout
