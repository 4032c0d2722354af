"""Bad input and faults, third round (issue 24): killed installs, terminal escapes from logs,
undecodable status files, symlinked shipped files, non-finite metrics, refused variables,
file-system errors with their path, GPU capabilities matched apart, the suite without TF.

One test (or more) per finding; each fails on the code before the change.
"""
from __future__ import annotations

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
