"""Issue 20: a researcher's own study. The job records what is installed; the report compares
what really differed; claims on any metric; failures grouped; provenance per workload kind;
the hardware check's vendor; unshipped scripts; one default pool.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reprogrid.job import distributions, record
from reprogrid.job.runner import RunOptions, run_job
from reprogrid.job.catalogue import WORKLOAD_FILE


def test_the_record_carries_the_installed_distributions(tmp_path):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent("""\
        import json, os
        json.dump({"accuracy": 0.5}, open(os.path.join(os.environ["REPROGRID_OUTPUT_DIR"], "metrics.json"), "w"))
        """))
    desc = {"name": "mine", "kind": "command", "files": ["train.py"], "data": [], "primary_metric": "accuracy",
            "higher_is_better": True, "command": ["python", "train.py"]}
    (folder / WORKLOAD_FILE).write_text(json.dumps(desc))
    opts = RunOptions(workload="mine", run_id="mine--r0", kind="command", workload_file=str(folder / WORKLOAD_FILE),
                      output_dir=str(tmp_path / "results"))
    rec, path, code = run_job(opts)
    assert code == 0, rec["error_message"]
    back = record.read_record(path)
    dists = json.loads(back["distributions_json"])
    assert dists["numpy"] == np.__version__ and dists["pytest"] == pytest.__version__
    assert list(dists) == sorted(dists)


def test_the_distribution_map_is_bounded_and_normalised():
    some = distributions.installed(limit=3)
    assert len(some) == 4 and some[distributions.TRUNCATED_KEY].endswith("more")
    assert distributions.normalize("Scikit_Learn.x") == "scikit-learn-x"
