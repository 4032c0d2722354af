"""What a command imports on its way (issue 28's start-up rows): each command runs in a fresh
interpreter and reports ``sys.modules`` at its end. No timings: the modules are the fact.

``reprogrid --help`` is covered in test_layers.py; here ``validate`` (no template engine:
the pool check builds the cells' job ads without Jinja) and ``status`` (a warm status, whose
cache is still valid, needs no HTCondor bindings at all).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(argv: List[str], cwd: Path) -> dict:
    """Run ``reprogrid ARGV`` in a fresh interpreter: its exit code and the modules it loaded."""
    code = ("import json, sys\nfrom reprogrid.cli import main\n"
            "code = main(sys.argv[1:])\n"
            "sys.stdout.flush()\n"
            "print('\\nMODULES', json.dumps(sorted(sys.modules)))\n"
            "sys.exit(code)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("MODULES ")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {"code": proc.returncode, "modules": set(json.loads(line[len("MODULES "):])),
            "stdout": proc.stdout, "stderr": proc.stderr}


def _top(modules: set, *names: str) -> List[str]:
    return sorted(m for m in modules if m.split(".")[0] in names)


def test_validate_imports_no_template_engine(tmp_path):
    from reprogrid.spec.presets import preset_yaml

    spec = tmp_path / "demo.yaml"
    spec.write_text(preset_yaml("demo"))
    run = _modules_after(["validate", str(spec)], tmp_path)
    assert run["code"] == 0, run["stderr"][-2000:]
    assert "valid. 36 runs" in run["stdout"]
    assert "cannot honour it" in run["stderr"]  # the pins were judged against today's pool
    assert "reprogrid.access.poolcheck" in run["modules"]
    assert not _top(run["modules"], "jinja2", "markupsafe", "numpy", "pandas", "pyarrow"), run["modules"]
    assert not {"reprogrid.render.study", "reprogrid.render.bundle", "difflib", "pickle", "zipfile",
                "hashlib", "_hashlib"} & run["modules"]


def test_core_digest_is_hashlibs_sha256(monkeypatch):
    """``core.digest.sha256`` gives hashlib's digests, also where CPython has no module of its own."""
    import builtins
    import hashlib

    from reprogrid.core import digest

    for data in (b"", b"gpu-a100/3", bytes(range(256)) * 50):
        assert digest.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    real_import = builtins.__import__

    def no_own_module(name, *args, **kwargs):
        if name in ("_sha256", "_sha2"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_own_module)
    assert digest.sha256(b"x").hexdigest() == hashlib.sha256(b"x").hexdigest()


def test_the_built_in_gpu_ids_are_sha256_without_hashlib():
    """The inventory's GPU ids come from CPython's own sha256 module (no OpenSSL load for
    ``validate``): the same digests as ``hashlib``'s."""
    import hashlib

    from reprogrid.condor.inventory import MACHINES, _gpu_id, machine_ad

    assert _gpu_id("gpu-a100", 3) == hashlib.sha256(b"gpu-a100/3").hexdigest()[:8]
    model = next(m for m in MACHINES if m.gpu)
    ad = machine_ad(model, 1)
    assert "GPU-" + hashlib.sha256(f"{ad['Name']}/0".encode()).hexdigest()[:8] in ad["DetectedGPUs"]


def test_the_cli_builds_the_named_commands_parser_only():
    import argparse

    from reprogrid.cli import build_parser

    def parsers(argv):
        parser = build_parser(argv)
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return {name: [a.dest for a in sub._actions] for name, sub in action.choices.items()}

    named = parsers(["validate", "x.yaml"])
    assert named == {"validate": ["help", "spec", "pool", "max_runs"]}
    listed = parsers(["--help"])  # no command named: every one listed by name and summary, none built
    assert list(listed) == [c.name for c in __import__("reprogrid.cli").cli.COMMANDS]
    assert set(map(len, listed.values())) == {0}
    full = parsers(None)
    assert full["validate"] == named["validate"] and "preset" in full["init"] and "templates" in full["render"]
    assert list(parsers(["render", "s.yaml"])) == ["render"] and "templates" in parsers(["render", "s.yaml"])["render"]


BINDINGS = ("htcondor", "htcondor2", "classad", "classad2")


def _status_tree(root: Path, runs: int = 40) -> Path:
    """A submit tree with ``runs`` finished runs, its log written by the emulator's event-log writer."""
    from reprogrid.emulator.starter import eventlog

    submit = root / "submit"
    (submit / "logs").mkdir(parents=True)
    entries = []
    with open(submit / "logs" / "study.log", "w") as handle:
        for i in range(runs):
            run_id = f"mnist--sw--hw{i % 3}--r{i}"
            entries.append({"run_id": run_id, "software_env": "sw", "hardware_env": f"hw{i % 3}",
                            "workload": "mnist", "repeat": i, "seed": 1})
            handle.write(eventlog.submit_event(100 + i, 0, run_id, 1_700_000_000 + i))
            handle.write(eventlog.execute_event(100 + i, 0, "slot1@here", 1_700_000_001 + i))
            handle.write(eventlog.terminated_event(100 + i, 0, 0, None, 3.0, 1, 2048, 1024, 1_700_000_003 + i))
    (submit / "manifest.json").write_text(json.dumps({"schema": "reprogrid.manifest/1",
                                                      "study": {"name": "startup"}, "runs": entries}))
    ads = ['[ Type = "DagStatus"; Timestamp = 1700000000; DagStatus = 5; ]']  # DAGMan's node status file
    ads += [f'[ Type = "NodeStatus"; Node = "{e["run_id"]}"; NodeStatus = 5; StatusDetails = ""; RetryCount = 0; ]'
            for e in entries]
    (submit / "study.dag.status").write_text("\n".join(ads + ['[ Type = "StatusEnd"; EndTime = 1700000000; ]']) + "\n")
    return submit


def test_a_warm_status_imports_no_bindings(tmp_path):
    submit = _status_tree(tmp_path)
    cold = _modules_after(["status", str(submit)], tmp_path)
    assert cold["code"] == 0, cold["stderr"][-2000:]
    assert "htcondor2" in cold["modules"]  # the log was read with the v2 bindings...
    assert not {"htcondor", "classad"} & cold["modules"]  # ...and only them
    assert not {"hashlib", "_hashlib"} & cold["modules"]  # the log's head hashed without OpenSSL (core.digest)
    warm = _modules_after(["status", str(submit)], tmp_path)
    assert warm["code"] == 0, warm["stderr"][-2000:]
    assert warm["stdout"].split("\nMODULES")[0] == cold["stdout"].split("\nMODULES")[0]
    assert "done 40" in warm["stdout"] and "DAG: done" in warm["stdout"]
    assert not _top(warm["modules"], *BINDINGS), _top(warm["modules"], *BINDINGS)
    assert not {"pickle", "hashlib", "tempfile", "ctypes"} & warm["modules"]
    with open(submit / "logs" / "study.log", "a") as handle:  # a new event: read with the v2 bindings again
        from reprogrid.emulator.starter import eventlog

        handle.write(eventlog.submit_event(999, 0, "extra-node", 1_700_000_100))
    again = _modules_after(["status", str(submit)], tmp_path)
    assert "htcondor2" in again["modules"] and "extra-node" in again["stdout"]
