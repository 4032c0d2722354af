"""SIGTERM during a dry run: running jobs stop, the rescue DAG keeps what finished."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

DAGS = Path(__file__).parent / "dags"


def test_sigterm_writes_rescue_and_keeps_finished_nodes(tmp_path):
    d = tmp_path / "interrupt"
    shutil.copytree(DAGS / "interrupt", d)
    proc = subprocess.Popen([sys.executable, "-m", "reprogrid", "dryrun", str(d / "interrupt.dag"), "--slots", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = d / "interrupt.dag.dagman.out"
    deadline = time.time() + 30
    while time.time() < deadline:  # wait until quick is done and slow is running
        if log.exists() and "Node quick job proc" in log.read_text() and "Node slow job(s)" in log.read_text():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, (out, err)
    rescue = d / "interrupt.dag.rescue001"
    text = rescue.read_text()
    assert "DONE quick\n" in text and "DONE slow" not in text and "DONE after" not in text
    events = (d / "interrupt.log").read_text()
    assert "Job was aborted." in events
