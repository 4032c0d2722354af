"""Bad input and faults, third round (issue 24): killed installs, terminal escapes from logs,
undecodable status files, symlinked shipped files, non-finite metrics, refused variables,
file-system errors with their path, GPU capabilities matched apart, the suite without TF.

One test (or more) per finding; each fails on the code before the change.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


# -- 10. tests that need TensorFlow skip without it ------------------------------------------

def test_tensorflow_tests_skip_when_tensorflow_is_missing(tmp_path):
    (tmp_path / "no_tensorflow.py").write_text('import sys\nsys.modules["tensorflow"] = None  # import fails\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no_tensorflow", "-p", "no:cacheprovider", "-rs",
         "tests/test_end_to_end.py", "tests/test_first_hour.py", "-k", "end_to_end or demo_prints or second_demo"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 skipped" in proc.stdout and "failed" not in proc.stdout, proc.stdout[-3000:]


# -- 7. variables a local stack may not set --------------------------------------------------

@pytest.mark.parametrize("name", ["PYTHONSTARTUP", "PYTHONWARNINGS", "BASH_ENV", "ENV", "LD_AUDIT", "REPROGRID_RUN_ID"])
def test_local_env_refuses_variables_that_run_code_before_the_job(name):
    from reprogrid.core.errors import UserError
    from reprogrid.spec import study_from_dict
    from reprogrid.spec.presets import demo

    raw = demo()
    raw["software"][0]["local"] = {"packages": ["numpy"], "env": {name: "/tmp/x.py", "KERAS_BACKEND": "jax"}}
    with pytest.raises(UserError) as caught:
        study_from_dict(raw)
    assert [p.where for p in caught.value.problems] == [f"software[0].local.env.{name}"]
    assert "remove it" in str(caught.value)


# -- 6. a metric that is not a finite number --------------------------------------------------

def test_gather_keeps_a_non_finite_primary_value_out_of_the_dataset(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_gather import make_record, make_submit, write_json, write_parquet

    from reprogrid.gather import gather, load_dataset

    submit = make_submit(tmp_path / "sub")
    runs = json.loads((submit / "manifest.json").read_text())["runs"]
    for i, run in enumerate(runs[:3]):
        rec = make_record(run["workload"], run["software_env"], run["hardware_env"], run["repeat"],
                          primary_metric="test_accuracy", primary_value=[0.9, float("nan"), float("inf")][i])
        (write_parquet(submit / "results" / f"{run['run_id']}.parquet", [rec]) if i < 2 else
         write_json(submit / "results" / f"{run['run_id']}.json", rec))
    result = gather(submit)
    cls = {r["run_id"]: (r["class"], r.get("detail") or "") for r in result.runs}
    assert cls[runs[0]["run_id"]][0] == "complete"
    for run in runs[1:3]:
        assert cls[run["run_id"]][0] == "corrupt" and "not a finite number" in cls[run["run_id"]][1]
    df = load_dataset(submit)
    assert list(df["run_id"]) == [runs[0]["run_id"]]
