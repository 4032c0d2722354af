"""``reprogrid data``: verify, fetch over a loopback HTTP server, stage to OSDF, spec rewrite."""
from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from reprogrid.prepare import datafiles
from reprogrid.cli import main
from reprogrid.core.errors import UserError
from reprogrid.core.resources import sample_data_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server serving tmp_path/served (fixture files); yields (base_url, folder)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/keras-datasets/", served
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(served: Path, name: str, content: bytes) -> str:
    (served / "keras-datasets").mkdir(exist_ok=True)
    (served / "keras-datasets" / name).write_bytes(content)
    return hashlib.sha256(content).hexdigest()


def test_verify_samples():
    checks = datafiles.verify_dir(sample_data_dir())
    assert [(c.name, c.status) for c in checks] == [("mnist.npz", "sample"), ("imdb.npz", "sample"), ("creditcard.csv", "sample")]
    assert all(c.ok for c in checks)


def test_verify_statuses(tmp_path, monkeypatch):
    shutil.copy(sample_data_dir() / "mnist.npz", tmp_path / "mnist.npz")
    (tmp_path / "imdb.npz").write_bytes(b"garbage")
    lines = (sample_data_dir() / "creditcard.csv").read_text().splitlines()
    (tmp_path / "creditcard.csv").write_text("\n".join(lines[:50]) + "\n")  # Kaggle format, not the sample
    by_name = {c.name: c for c in datafiles.verify_dir(tmp_path)}
    assert by_name["mnist.npz"].status == "sample"
    assert by_name["imdb.npz"].status == "malformed" and "imdb.npz" in by_name["imdb.npz"].detail
    assert by_name["creditcard.csv"].status == "unverified" and "49 rows" in by_name["creditcard.csv"].detail
    # a well-formed npz that is neither canonical nor a sample
    sample = (sample_data_dir() / "mnist.npz").read_bytes()
    monkeypatch.setattr(datafiles.samples, "has_sample_marker", lambda path: False)
    monkeypatch.setattr(datafiles.samples, "SAMPLE_SHA256", {})
    assert datafiles.verify_file(tmp_path / "mnist.npz").status == "checksum-mismatch"
    monkeypatch.setitem(datafiles.CANONICAL_SHA256, "mnist.npz", hashlib.sha256(sample).hexdigest())
    assert datafiles.verify_file(tmp_path / "mnist.npz").status == "canonical"


def test_verify_cli_exit_codes(tmp_path, capsys):
    assert main(["data", "verify", str(sample_data_dir())]) == 0
    assert "sample" in capsys.readouterr().out
    (tmp_path / "mnist.npz").write_bytes(b"nope")
    assert main(["data", "verify", str(tmp_path)]) == 1
    assert main(["data", "verify", str(tmp_path / "absent")]) == 2


def test_fetch_verifies_and_is_atomic(server, tmp_path, monkeypatch):
    base, served = server
    good = (sample_data_dir() / "mnist.npz").read_bytes()
    monkeypatch.setitem(datafiles.CANONICAL_SHA256, "mnist.npz", _serve(served, "mnist.npz", good))
    monkeypatch.setitem(datafiles.CANONICAL_SHA256, "imdb.npz", "0" * 64)  # what the real bucket must match
    _serve(served, "imdb.npz", (sample_data_dir() / "imdb.npz").read_bytes())
    dest = tmp_path / "data"
    with pytest.raises(UserError) as err:
        datafiles.fetch(dest, base_url=base)
    assert "imdb.npz" in str(err.value) and "expected " + "0" * 64 in str(err.value)
    assert sorted(p.name for p in dest.iterdir()) == ["mnist.npz"]  # no partial imdb.npz, no temp files
    assert (dest / "mnist.npz").read_bytes() == good


def test_fetch_cli_with_creditcard_url_and_path(server, tmp_path, monkeypatch, capsys):
    base, served = server
    for name in ("mnist.npz", "imdb.npz"):
        monkeypatch.setitem(datafiles.CANONICAL_SHA256, name, _serve(served, name, (sample_data_dir() / name).read_bytes()))
    _serve(served, "creditcard.csv", (sample_data_dir() / "creditcard.csv").read_bytes())
    dest = tmp_path / "data"
    code = main(["data", "fetch", str(dest), "--base-url", base, "--creditcard", base + "creditcard.csv"])
    assert code == 0
    assert sorted(p.name for p in dest.iterdir()) == ["creditcard.csv", "imdb.npz", "mnist.npz"]
    # again with a local path: the copy replaces the file in one rename
    dest2 = tmp_path / "data2"
    assert main(["data", "fetch", str(dest2), "--base-url", base, "--creditcard", str(sample_data_dir() / "creditcard.csv")]) == 0
    assert (dest2 / "creditcard.csv").read_bytes() == (sample_data_dir() / "creditcard.csv").read_bytes()
    # a bad URL is a user error naming it
    assert main(["data", "fetch", str(tmp_path / "d3"), "--base-url", base + "missing/"]) == 2
    assert "missing/mnist.npz" in capsys.readouterr().err


def test_fetch_rejects_non_kaggle_creditcard(tmp_path):
    bad = tmp_path / "cc.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="Kaggle"):
        datafiles.fetch(tmp_path / "d", names=(), creditcard=str(bad))


def test_stage_plan_and_tools(tmp_path, monkeypatch):
    plan = datafiles.stage_plan(sample_data_dir(), "osdf:///ospool/ap40/data/alice/rg/", "pelican")
    assert plan[0] == ["pelican", "object", "put", str(sample_data_dir() / "mnist.npz"), "osdf:///ospool/ap40/data/alice/rg/mnist.npz"]
    assert len(plan) == 3
    assert datafiles.stage_command("stashcp", Path("x.npz"), "osdf:///a/x.npz") == ["stashcp", "x.npz", "osdf:///a/x.npz"]
    assert datafiles.find_stage_tool(lambda t: "/bin/" + t if t == "stashcp" else None) == "stashcp"
    with pytest.raises(UserError, match="osdf:///ospool"):
        datafiles.stage_plan(sample_data_dir(), "https://example.org/x", "pelican")
    (tmp_path / "imdb.npz").write_bytes(b"bad")
    with pytest.raises(UserError, match="failed verification"):
        datafiles.stage_plan(tmp_path, "osdf:///ospool/ap40/data/alice/rg", "pelican")


def test_stage_cli_prints_and_rewrites_spec(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    spec = tmp_path / "study.yaml"
    spec.write_text(yaml.safe_dump({"name": "s", "data": {"inputs": ["/home/alice/data/mnist.npz", "https://x.org/other.bin"]}}))
    code = main(["data", "stage", str(sample_data_dir()), "--osdf", "osdf:///ospool/ap40/data/alice/rg", "--spec", str(spec)])
    assert code == 0
    out = capsys.readouterr().out
    assert "none of pelican, osdf, stashcp is on PATH" in out
    assert "pelican object put" in out
    rewritten = yaml.safe_load((tmp_path / "study.osdf.yaml").read_text())
    assert rewritten["data"]["inputs"] == [
        "osdf:///ospool/ap40/data/alice/rg/mnist.npz", "https://x.org/other.bin",
        "osdf:///ospool/ap40/data/alice/rg/imdb.npz", "osdf:///ospool/ap40/data/alice/rg/creditcard.csv"]
    assert main(["data", "stage", str(sample_data_dir()), "--osdf", "osdf:///ospool/ap40/data/alice/rg", "--run"]) == 2
    assert "none of pelican, osdf, stashcp is on PATH" in capsys.readouterr().err


def test_stage_run_uses_tool_on_path(tmp_path, monkeypatch, capsys):
    """--run executes the argument lists; a stand-in `stashcp` script records its arguments."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.txt"
    tool = bindir / "stashcp"
    tool.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bindir))
    assert main(["data", "stage", str(sample_data_dir()), "--osdf", "osdf:///ospool/ap40/data/alice/rg", "--run"]) == 0
    calls = log.read_text().splitlines()
    assert calls[0] == f"{sample_data_dir() / 'mnist.npz'} osdf:///ospool/ap40/data/alice/rg/mnist.npz"
    assert len(calls) == 3


def test_sample_data_is_reproducible_and_registered():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_sample_data.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    from reprogrid.job import samples

    sums = dict(reversed(line.split("  ")) for line in (sample_data_dir() / "SHA256SUMS").read_text().splitlines())
    assert samples.SAMPLE_SHA256 == sums
    for name, digest in sums.items():
        assert hashlib.sha256((sample_data_dir() / name).read_bytes()).hexdigest() == digest
    total = sum((sample_data_dir() / n).stat().st_size for n in sums)
    assert total < 600_000
    assert "NOT the published" in (sample_data_dir() / "README.md").read_text()
