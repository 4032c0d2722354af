"""Fuzz: hostile and damaged logs and status files (the job event log, DAGMan's node status
file, the dry run's nodes log, dagman.out, its lock and the status reader's cache) give exit
0/1/2 (3: runs pending, for `status`), never a traceback, and no raw control character
reaches the terminal. A seeded generator of our own, as tests/test_spec_fuzz.py: byte
flips, cuts, non-UTF-8 bytes, terminal escapes, huge numbers, hostile node names, garbage.
"""
from __future__ import annotations

import io
import json
import os
import random
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_status import FIRST, MORE, R, aborted, held, node_status, submitted, terminated  # noqa: E402

from reprogrid.cli import main  # noqa: E402

EVIL_NAMES = ["evil\x1b]0;owned\x07\x1b[2J", "x" * 5000, "", "a\"b", "\u202eevil", "né\x00ul", "🙂" * 30,
              "a b c", "--r0", "\x9b31m", "名前"]
EVIL_BYTES = [b"\x1b[2J", b"\x1b]0;owned\x07", b"\xff\xfe", b"\xc3\x28", b"\x00", b"\r", b"\x9b", b"\xe2\x80\xae",
              b"\n...\n", b"...", b"\n", b"99999999999999999999999", b"-1", b"[", b"]", b";", b"\"", b"{", b"}",
              b"9" * 400, b"\t"]
EXIT_CODES = {0, 1, 2, 3}


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random damages to ``data``: insert, overwrite, cut, duplicate, swap numbers."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        op = rng.random()
        at = rng.randrange(len(out) + 1)
        if op < 0.35:
            out[at:at] = rng.choice(EVIL_BYTES)
        elif op < 0.5 and out:
            out[at:at + rng.randint(1, 8)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op < 0.6:
            del out[at:]
        elif op < 0.7 and out:
            start = rng.randrange(len(out))
            out[at:at] = out[start:start + rng.randint(1, 400)] * rng.choice([1, 2, 20])
        elif op < 0.85:
            text = out.decode("latin-1")
            digits = [i for i, ch in enumerate(text) if ch.isdigit()]
            if digits:
                i = rng.choice(digits)
                out[i:i + 1] = rng.choice([b"99999999999999999999", b"-7", b"0", b"1e400", b"nan"])
        else:
            out[at:at] = os.urandom(rng.randint(1, 64))
    return bytes(out)


def _event_log(rng: random.Random) -> bytes:
    name = rng.choice(EVIL_NAMES + [R[0, 0], R[1, 1]])
    text = (FIRST + MORE + submitted(105, name, 100) + held(105, 101, rng.choice(EVIL_NAMES) or "x")
            + terminated(101, 120, rng.choice([0, 1, 255])) + aborted(104, 130))
    return _mutate(text.encode("utf-8", "surrogateescape"), rng) if rng.random() < 0.8 else text.encode()


def _status_file(rng: random.Random) -> bytes:
    names = [R[0, 0], R[0, 1], rng.choice(EVIL_NAMES).replace("\\", "\\\\").replace('"', '\\"'), "gather"]
    text = node_status(rng.choice([0, 100, 2 ** 40]), [(n, rng.choice([0, 1, 3, 5, 6, 99, -1]), rng.choice(["", "held: x", "\x1b[2J"]), rng.choice([0, 1]))
                                                      for n in names], dag_status=rng.choice([0, 1, 2, 6, 99]))
    return _mutate(text.encode("utf-8", "surrogateescape"), rng) if rng.random() < 0.8 else text.encode()


HANDWRITTEN: List[Tuple[str, bytes]] = [
    ("logs/study.log", b""),
    ("logs/study.log", b"...\n"),
    ("logs/study.log", b"\xff" * 10000),
    ("logs/study.log", b"000 (001.000.000) 2024-05-01 12:00:00 Job submitted from host: <x>\n" + b"A" * 2_000_000 + b"\n...\n"),
    ("logs/study.log", b"999 (001.000.000) 2024-05-01 12:00:00 Unknown event\n...\n"),
    ("logs/study.log", b"000 (99999999999999999999.000.000) 2024-13-45 99:99:99 Job submitted\n    DAG Node: x\n...\n"),
    ("logs/study.log", b"<?xml version=\"1.0\"?>\n<!DOCTYPE classads SYSTEM \"classads.dtd\">\n<c><a n=\"MyType\"><s>\x1b[2J</s></a></c>\n"),
    ("logs/study.log", b"000 (001.000.000) 2024-05-01 12:00:00 Job submitted from host: <x>\n    DAG Node: \x1b]0;owned\x07\x1b[2J\n...\n"),
    ("study.dag.status", b""),
    ("study.dag.status", b"[\n]\n"),
    ("study.dag.status", b"[ Type = \"NodeStatus\"; Node = 5; NodeStatus = \"x\"; RetryCount = {1}; ]\n"),
    ("study.dag.status", b"[ Type = \"DagStatus\"; Timestamp = 1e400; DagStatus = \"done\"; ]\n"),
    ("study.dag.status", b"[ Type = \"NodeStatus\"; Node = \"\\x1b[2J\"; NodeStatus = 6; StatusDetails = \"\x1b]0;t\x07\"; ]\n"),
    ("study.dag.status", b"[" * 5000),
    ("study.dag.status", b"\xff\xfe\x00[\x00"),
    ("study.dag.status", b"[ Type = \"NodeStatus\"; Node = \"" + b"n" * 100000 + b"\"; NodeStatus = 5; ]\n"),
    ("logs/.reprogrid-status.json", b"{\"reader\": \"!!!not base64\", \"nodes\": 5}"),
    ("logs/.reprogrid-status.json", b"{\"reader\": null, \"nodes\": {\"\\u001b[2J\": {\"state\": \"\\u001b[2J\"}}}"),
    ("logs/.reprogrid-status.json", b"[1, 2, 3]"),
    ("logs/.reprogrid-status.json", b"\xff\xfe"),
]


def _tree(tmp_path: Path) -> Path:
    from test_faults_round3 import _status_tree

    return _status_tree(tmp_path)


def _run(argv: List[str]) -> Tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse
            code = stop.code if isinstance(stop.code, int) else 2
    return code, out.getvalue() + err.getvalue()


def _check(code: int, text: str, allowed=EXIT_CODES) -> None:
    assert code in allowed, text[-2000:]
    assert "Traceback" not in text, text[-3000:]
    raw = sorted({hex(ord(c)) for c in text if (ord(c) < 32 and c != "\n") or 0x7f <= ord(c) <= 0x9f})
    assert raw == [], (raw, text[-2000:])


def _cases(n: int, seed: int) -> List[Dict[str, bytes]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        files = {}
        if rng.random() < 0.8:
            files["logs/study.log"] = _event_log(rng)
        if rng.random() < 0.6:
            files["study.dag.status"] = _status_file(rng)
        out.append(files)
    return out


@pytest.mark.parametrize("chunk", range(3))
def test_status_survives_hostile_event_logs_and_node_status_files(tmp_path, chunk):
    # a damaged event costs htcondor2's reader about a second: few cases, each a different damage
    for i, files in enumerate(_cases(8, seed=2400 + chunk)):
        folder = _tree(tmp_path / f"c{i}")
        for rel, data in files.items():
            (folder / rel).write_bytes(data)
        for argv in (["status", str(folder)], ["status", str(folder), "--json", "--no-cache"]):
            _check(*_run(argv))


@pytest.mark.parametrize("case", range(len(HANDWRITTEN)))
def test_status_survives_handwritten_damage(tmp_path, case):
    rel, data = HANDWRITTEN[case]
    folder = _tree(tmp_path)
    (folder / "logs" / "study.log").write_text(FIRST)
    (folder / rel).write_bytes(data)
    for argv in (["status", str(folder)], ["status", str(folder), "--json"]):
        _check(*_run(argv))


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder", "dangling"])
@pytest.mark.parametrize("rel", ["logs/study.log", "study.dag.status"])
def test_status_refuses_a_log_that_is_not_a_regular_file(tmp_path, kind, rel):
    folder = _tree(tmp_path)
    path = folder / rel
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")  # read to the end, it never ends
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(tmp_path / "gone")
    import subprocess

    # in a process of its own: before the check, reading a FIFO or /dev/zero never ended
    proc = subprocess.run([sys.executable, "-m", "reprogrid", "status", str(folder), "--no-cache"],
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    code, text = proc.returncode, proc.stdout
    _check(code, text)
    assert code == 2 and str(path) in text and "not a regular file" in text, text


# -- the dry run's own files: nodes log, dagman.out, lock, status file, the jobs' log ----------

DAG = "JOB A a.sub\nJOB B a.sub\nPARENT A CHILD B\nNODE_STATUS_FILE study.dag.status\n"
SUBMIT = "executable = /bin/true\nlog = logs/study.log\nqueue\n"


def _dag(folder: Path) -> Path:
    (folder / "logs").mkdir(parents=True)
    (folder / "a.sub").write_text(SUBMIT)
    (folder / "study.dag").write_text(DAG)
    return folder / "study.dag"


def _dryrun_cases(seed: int) -> List[Tuple[str, Callable[[random.Random], bytes]]]:
    valid_log = (submitted(1, "A", 0) + terminated(1, 5, 0)).encode()
    return [
        ("study.dag.nodes.log", lambda rng: _mutate(valid_log, rng)),
        ("logs/study.log", lambda rng: _mutate(valid_log, rng)),
        ("study.dag.dagman.out", lambda rng: _mutate(b"12/07/26 04:00:00 Event: ULOG_SUBMIT for HTCondor Node A\n", rng)),
        ("study.dag.status", lambda rng: _status_file(rng)),
        ("study.dag.lock", lambda rng: rng.choice([b"", b"{", b"[1]", b"{\"pid\": 1, \"first_cluster\": \"x\"}",
                                                   b"{\"pid\": 999999999, \"first_cluster\": 1e400}",
                                                   b"{\"pid\": \"\\u001b[2J\", \"first_cluster\": -5}", b"\xff\xfe"])),
    ]


@pytest.mark.parametrize("target", range(5))
def test_dryrun_survives_hostile_logs_of_an_earlier_run(tmp_path, target):
    rng = random.Random(2424 + target)
    rel, make = _dryrun_cases(2424)[target]
    for i in range(4):
        dag = _dag(tmp_path / f"c{i}")
        (dag.parent / rel).write_bytes(make(rng))
        code, text = _run(["dryrun", str(dag), "--slots", "2"])
        _check(code, text, allowed={0, 1, 2})
