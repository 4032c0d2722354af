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

import numpy as np
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


# -- 2./3. terminal escapes from logs; a status file that is not UTF-8 ----------------------

EVIL = "evil\x1b]0;owned\x07\x1b[2J"


def _status_tree(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_status import HW, R, SW

    d = tmp_path / "submit"
    (d / "logs").mkdir(parents=True)
    runs = [{"run_id": R[i, j], "workload": "mnist_convnet", "software_env": SW[i], "hardware_env": HW[j],
             "cell": R[i, j][:-4], "repeat": 0, "seed": 1, "device": "cpu"} for i in range(2) for j in range(2)]
    (d / "manifest.json").write_text(json.dumps({"schema": "reprogrid.manifest/1", "study": {"name": "tiny"}, "runs": runs}))
    return d


def _cli(argv, capsys):
    from reprogrid.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _raw_control(text: str) -> list:
    return sorted({hex(ord(c)) for c in text if (ord(c) < 32 and c not in "\n") or 0x7f <= ord(c) <= 0x9f})


def test_status_escapes_node_names_and_hold_reasons_from_the_event_log(tmp_path, capsys):
    from test_status import R, held, submitted

    d = _status_tree(tmp_path)
    (d / "logs" / "study.log").write_text(submitted(101, R[0, 0], 0) + held(101, 5, "quota " + EVIL)
                                          + submitted(102, EVIL, 6))
    code, out, err = _cli(["status", str(d), "--no-cache"], capsys)
    assert _raw_control(out + err) == [], out
    assert "\\x1b]0;owned\\x07" in out and "quota evil" in out


def test_a_node_the_dag_does_not_declare_does_not_keep_status_pending(tmp_path, capsys):
    from test_status import R, submitted, terminated

    d = _status_tree(tmp_path)
    runs = list(R.values())
    (d / "study.dag").write_text("".join(f"JOB {r} cells/x.sub\n" for r in runs) + "FINAL gather gather.sub\n")
    log = "".join(submitted(100 + i, r, i) + terminated(100 + i, 10 + i, 0) for i, r in enumerate(runs))
    (d / "logs" / "study.log").write_text(log + submitted(200, EVIL, 30))
    code, out, err = _cli(["status", str(d), "--no-cache"], capsys)
    assert code == 0, out  # the fake node is not waited for
    assert "the logs name 1 node(s) the DAG does not declare, ignored: evil\\x1b]0;owned" in out, out


def test_status_escapes_node_names_from_the_node_status_file(tmp_path, capsys):
    from test_status import R, node_status

    d = _status_tree(tmp_path)
    (d / "study.dag.status").write_text(node_status(100, [(R[0, 0], 6, "failed " + EVIL.replace("\x07", "\\a"), 0),
                                                         (EVIL.replace("\x07", "\x1b\\\\"), 1, "", 0)]))
    code, out, err = _cli(["status", str(d), "--no-cache"], capsys)
    assert code in (1, 3) and _raw_control(out + err) == [], out
    assert "\\x1b[2J" in out


def test_a_node_status_file_that_is_not_utf8_exits_2_naming_it(tmp_path, capsys):
    from test_status import R, node_status

    d = _status_tree(tmp_path)
    (d / "study.dag.status").write_bytes(node_status(100, [(R[0, 0], 5, "", 0)]).encode().replace(b'StatusDetails = "', b'StatusDetails = "\xff\xfe'))
    code, out, err = _cli(["status", str(d), "--no-cache"], capsys)
    assert code == 2 and "Traceback" not in err
    assert str(d / "study.dag.status") in err and "not UTF-8" in err and "delete it" in err


@pytest.mark.parametrize("command", ["status", "report", "gather", "validate", "dryrun", "render"])
def test_a_path_given_on_the_command_line_is_escaped_in_the_error(tmp_path, capsys, command):
    code, out, err = _cli([command, str(tmp_path / ("no" + EVIL))], capsys)
    assert code == 2 and _raw_control(out + err) == [], err
    assert "\\x1b[2J" in err


# -- 4./5. shipped files: symlinks, modes, one path rule for validate and render --------------

SPEC = """\
name: mine
software: [{{name: s, image: docker://tensorflow/tensorflow:2.8.0}}]
hardware: [{{name: h, cpu: {{vendor: amd}}}}]
data: {{sample: true}}
workloads:
- {{name: a, {form}, files: {files}, metrics: {{primary: acc, higher_is_better: true}}}}
"""


def _user_spec(folder: Path, files, form: str = "command: [python, run.py]") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.py").write_text("def main(seed, determinism, data_dir, output_dir):\n    return {'acc': 1.0}\n")
    (folder / "study.yaml").write_text(SPEC.format(form=form, files=json.dumps(files)))
    return folder / "study.yaml"


@pytest.mark.parametrize("layout", ["file", "in-folder", "dotdot"])
def test_a_symlink_out_of_the_spec_folder_is_refused_by_validate_and_render(tmp_path, capsys, layout):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:hash\n")
    spec = _user_spec(tmp_path / "spec", ["run.py", "notes.txt" if layout != "in-folder" else "pkg"])
    if layout == "file":
        (tmp_path / "spec" / "notes.txt").symlink_to(secret)
    elif layout == "dotdot":
        (tmp_path / "spec" / "notes.txt").symlink_to("../secret.txt")
    else:
        (tmp_path / "spec" / "pkg").mkdir()
        (tmp_path / "spec" / "pkg" / "ok.py").write_text("X = 1\n")
        (tmp_path / "spec" / "pkg" / "shadow").symlink_to(secret)
    code, out, err = _cli(["validate", str(spec)], capsys)
    assert code == 2 and "outside the spec's folder" in err and str(secret) in err, err
    out_dir = tmp_path / "submit"
    code, out, err = _cli(["render", str(spec), "-o", str(out_dir)], capsys)
    assert code == 2 and "outside the spec's folder" in err, err
    assert not out_dir.exists()


def test_a_symlink_inside_the_folder_ships_as_the_file_and_modes_are_kept(tmp_path, capsys):
    spec = _user_spec(tmp_path / "spec", ["run.py", "tool.sh", "notes.txt", "pkg"])
    (tmp_path / "spec" / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(tmp_path / "spec" / "tool.sh", 0o750)
    os.chmod(tmp_path / "spec" / "run.py", 0o640)
    (tmp_path / "spec" / "real-notes.txt").write_text("notes\n")
    (tmp_path / "spec" / "notes.txt").symlink_to("real-notes.txt")
    (tmp_path / "spec" / "pkg").mkdir()
    (tmp_path / "spec" / "pkg" / "link.sh").symlink_to("../tool.sh")
    code, out, err = _cli(["render", str(spec), "-o", str(tmp_path / "submit")], capsys)
    assert code == 0, err
    shipped = tmp_path / "submit" / "workloads" / "a"
    assert (shipped / "notes.txt").read_text() == "notes\n" and not (shipped / "notes.txt").is_symlink()
    assert (shipped / "pkg" / "link.sh").read_text().startswith("#!/bin/sh") and not (shipped / "pkg" / "link.sh").is_symlink()
    assert oct((shipped / "tool.sh").stat().st_mode & 0o777) == oct(0o750)
    assert oct((shipped / "pkg" / "link.sh").stat().st_mode & 0o777) == oct(0o750)
    assert oct((shipped / "run.py").stat().st_mode & 0o777) == oct(0o640)


def test_validate_and_render_share_the_path_rule_for_an_entry(tmp_path, capsys):
    (tmp_path / "outside.py").write_text("def f(seed, determinism, data_dir, output_dir):\n    return {'acc': 1}\n")
    spec = _user_spec(tmp_path / "spec" / "a" / "b" / "c", ["run.py"], form='entry: "a/b/../../../outside.py:f"')
    code, out, err = _cli(["validate", str(spec)], capsys)
    assert code == 2 and "workloads[0].entry" in err and "no '..'" in err, err
    code, out, err = _cli(["render", str(spec), "-o", str(tmp_path / "submit")], capsys)
    assert code == 2 and "workloads[0].entry" in err and "no '..'" in err, err


# -- 9. GPU capabilities matched apart in one study -------------------------------------------

def _v100_a100_capture(path: Path) -> Path:
    """Today's capture's two A100 (8.0) slots plus six V100 (7.0) slots made from them."""
    import copy

    raw = json.loads((REPO / "tests" / "fixtures" / "pool" / "ospool-2024-11.json").read_text())
    a100 = [ad for ad in raw if ad.get("GPUs_Capability") == 8.0]
    template = dict(a100[0]["GPUs_GPU_29edff7a"], DeviceName="Tesla V100-SXM2-32GB", Capability=7.0)
    v100 = []
    for i in range(6):
        ad = {k: v for k, v in copy.deepcopy(a100[0]).items() if not k.startswith("GPUs_GPU_")}
        ids = [f"GPU-7{i}0{j}abcd" for j in range(2)]
        ad.update(Name=f"slot1@glidein_9{i}@v100-{i}.example.org", Machine=f"v100-{i}.example.org",
                  GPUs_DeviceName="Tesla V100-SXM2-32GB", GPUs_Capability=7.0, DetectedGPUs=", ".join(ids),
                  AvailableGPUs=[f"/Expr(GPUs_{g.replace('-', '_')})/" for g in ids])
        ad.update({f"GPUs_{g.replace('-', '_')}": dict(template, Id=g) for g in ids})
        v100.append(ad)
    for ad in v100 + a100:
        ad["GLIDEIN_ToRetire"] = None  # never retiring: START judged on the GPUs alone
    path.write_text(json.dumps(v100 + a100))
    return path


@pytest.fixture
def gpu_study(tmp_path):
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "run.py").write_text("import json, os\njson.dump({'acc': 1.0}, open(os.path.join("
                                   "os.environ['REPROGRID_OUTPUT_DIR'], 'metrics.json'), 'w'))\n")
    (folder / "study.yaml").write_text("""\
name: gpus
software: [{name: s, image: docker://tensorflow/tensorflow:2.8.0}]
hardware:
- {name: v100, gpu: {capability: 7.0}}
- {name: a100, gpu: {capability: 8.0}}
workloads:
- {name: w, command: [python, run.py], files: [run.py], metrics: {primary: acc, higher_is_better: true}}
""")
    return folder / "study.yaml", _v100_a100_capture(tmp_path / "pool.json")


def test_pool_check_and_plan_match_each_gpu_capability_to_its_own_slots(tmp_path, capsys, gpu_study):
    spec, pool = gpu_study
    code, out, err = _cli(["pool", "check", str(spec), "--pool", str(pool), "--json"], capsys)
    assert code == 0, err
    assert [(r["name"], r["matching_slots"]) for r in json.loads(out)] == [("v100", 6), ("a100", 2)]
    assert _cli(["render", str(spec), "-o", str(tmp_path / "submit")], capsys)[0] == 0
    code, out, err = _cli(["dryrun", str(tmp_path / "submit"), "--plan", "--pool", str(pool), "--verbose"], capsys)
    assert code == 0, out + err
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("w--")}
    assert "v100-0.example.org" in lines["w--s--v100--r0"] and "sdscprp" not in lines["w--s--v100--r0"]
    assert "sdscprp" in lines["w--s--a100--r0"] and "v100-" not in lines["w--s--a100--r0"], out


def test_the_emulator_runs_each_gpu_capability_on_its_own_slots(tmp_path, capsys, gpu_study):
    import htcondor2

    spec, pool = gpu_study
    submit = tmp_path / "submit"
    assert _cli(["render", str(spec), "-o", str(submit)], capsys)[0] == 0
    code, out, err = _cli(["dryrun", str(submit), "--pool", str(pool), "--slots", "2"], capsys)
    assert code == 0, out + err
    node, slot = {}, {}
    for event in htcondor2.JobEventLog(str(submit / "logs" / "study.log")).events(0):
        if event.type == htcondor2.JobEventType.SUBMIT:
            node[event.cluster] = str(event.get("LogNotes", "")).replace("DAG Node: ", "")
        elif event.type == htcondor2.JobEventType.EXECUTE:
            slot[node[event.cluster]] = str(event["SlotName"])
    assert "@v100-" in slot["w--s--v100--r0"] and "@sdscprp-" in slot["w--s--a100--r0"], slot


# -- 1. a killed `envs build` takes its pip with it -------------------------------------------

def _tiny_wheel(folder: Path, padding: int) -> Path:
    """A real wheel of a one-module package (``tinypkg``), ``padding`` bytes of data making it big."""
    import base64
    import hashlib
    import zipfile

    files = {"tinypkg/__init__.py": b"VALUE = 42\n", "tinypkg/padding.bin": os.urandom(padding),
             "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
             "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
                     for name, data in files.items()) + "tinypkg-1.0.dist-info/RECORD,,\n"
    path = folder / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("tinypkg-1.0.dist-info/RECORD", record)
    return path


class _SlowIndex:
    """A find-links page on 127.0.0.1 whose wheel trickles out (``delay`` seconds per 64 KiB)."""

    def __init__(self, folder: Path) -> None:
        import functools
        import http.server
        import threading

        index = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def copyfile(self, source, outputfile):  # noqa: ANN001
                if not self.path.endswith(".whl"):
                    return super().copyfile(source, outputfile)
                index.downloading.set()
                while True:
                    chunk = source.read(1 << 16)
                    if not chunk:
                        return
                    outputfile.write(chunk)
                    index.stop.wait(index.delay)

            def log_message(self, *args):  # noqa: ANN002
                pass

        self.delay = 0.5
        self.downloading = threading.Event()
        self.stop = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()


def _processes_mentioning(text: str) -> list:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append((entry.name, cmdline[:200]))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="looks for surviving pip processes in /proc")
def test_a_killed_envs_build_leaves_no_pip_and_the_rerun_builds_the_env(tmp_path):
    import signal
    import time

    links = tmp_path / "links"
    links.mkdir()
    _tiny_wheel(links, padding=4 << 20)
    index = _SlowIndex(links)
    root = tmp_path / "envs-cache"
    spec = _user_spec(tmp_path / "spec", ["run.py"])
    text = spec.read_text().replace("software: [{name: s, image: docker://tensorflow/tensorflow:2.8.0}]",
                                    "software: [{name: s, image: docker://tensorflow/tensorflow:2.8.0, "
                                    "local: {packages: [tinypkg==1.0]}}]")
    spec.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(REPO), REPROGRID_ENVS=str(root), PIP_NO_INDEX="1", PIP_FIND_LINKS=index.url,
               PIP_NO_CACHE_DIR="1")
    argv = [sys.executable, "-m", "reprogrid", "envs", "build", str(spec), "-q"]
    try:
        build = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert index.downloading.wait(120), "pip never asked for the wheel"
        time.sleep(1.0)  # pip is mid-download, writing into the env folder
        assert _processes_mentioning(str(root)), "pip should be running now"
        build.send_signal(signal.SIGKILL)
        build.wait()
        deadline = time.monotonic() + 10
        while _processes_mentioning(str(root)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_mentioning(str(root)) == []  # pip died with its build
        assert not any((p / "reprogrid-env.json").exists() for p in root.iterdir() if p.is_dir())
        index.delay = 0.0
        rerun = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=300)
    finally:
        index.close()
    assert rerun.returncode == 0, rerun.stdout
    assert "removing an incomplete build" in rerun.stdout
    [folder] = [p for p in root.iterdir() if p.is_dir()]
    assert not folder.name.startswith(".")  # the staging folder was renamed into place
    check = subprocess.run([str(folder / "bin" / "reprogrid-python"), "-c", "import tinypkg; print(tinypkg.VALUE)"],
                           stdout=subprocess.PIPE, universal_newlines=True)
    assert check.stdout.strip() == "42"


# -- 8. file-system errors name their path; gather names what it skips ------------------------

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a real device that is always full)")
@pytest.mark.parametrize("log", ["study.dag.dagman.out", "logs/study.log"])
def test_a_full_disk_during_dryrun_names_the_file_and_the_fix(tmp_path, capsys, gpu_study, log):
    spec, _ = gpu_study
    submit = tmp_path / "submit"
    assert _cli(["render", str(spec), "-o", str(submit)], capsys)[0] == 0
    (submit / log).unlink(missing_ok=True)
    (submit / log).symlink_to("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
    code, out, err = _cli(["dryrun", str(submit)], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{submit / log}: No space left on device; the disk is full" in err, err


def test_a_write_that_fails_during_report_names_the_file(tmp_path):
    """A file-size limit (``ulimit -f``) makes the kernel refuse the report's writes: a real fault."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_gather import make_submit, write_all

    from reprogrid.gather import gather

    submit = make_submit(tmp_path / "sub")
    write_all(submit)
    gather(submit)
    script = ("import resource, signal, sys\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\nfrom reprogrid.cli import main\n"
              f"sys.exit(main(['report', {str(submit)!r}, '-o', {str(tmp_path / 'rep')!r}]))\n")
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", script], env=dict(os.environ, PYTHONPATH=str(REPO)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{tmp_path / 'rep'}/" in proc.stderr and "File too large" in proc.stderr and "ulimit -f" in proc.stderr, proc.stderr


def test_gather_counts_and_names_a_fifo_and_a_device_link_named_like_records(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_gather import make_submit, write_all

    submit = make_submit(tmp_path / "sub")
    ids = write_all(submit)
    (submit / "results" / f"{ids[0]}.parquet").unlink()
    os.mkfifo(submit / "results" / f"{ids[0]}.parquet")
    (submit / "results" / f"{ids[1]}.parquet").unlink()
    (submit / "results" / f"{ids[1]}.parquet").symlink_to("/dev/zero")
    code, out, err = _cli(["gather", str(submit)], capsys)
    assert code == 0 and "Traceback" not in err  # missing runs are tolerated, and now named
    assert "skipped, not regular files (2):" in out
    assert f"results/{ids[0]}.parquet is a FIFO, not a record file" in out
    assert f"results/{ids[1]}.parquet is a symlink to /dev/zero (a device)" in out
    report = json.loads((submit / "dataset" / "_gather_report.json").read_text())
    assert set(report["skipped_files"]) == {f"{ids[0]}.parquet", f"{ids[1]}.parquet"}


# -- 2. every command escapes what it prints from data: DAG node names, a pool capture ----------

def test_dryrun_escapes_node_names_from_the_dag(tmp_path, capsys):
    evil = "A" + EVIL
    (tmp_path / "logs").mkdir()
    (tmp_path / "a.sub").write_text("executable = /bin/false\nlog = logs/study.log\nqueue\n")
    (tmp_path / "study.dag").write_text(f"JOB {evil} a.sub\nJOB B a.sub\nPARENT {evil} CHILD B\n")
    for argv in (["dryrun", str(tmp_path / "study.dag"), "--plan", "--verbose"], ["dryrun", str(tmp_path / "study.dag")]):
        code, out, err = _cli(argv, capsys)
        assert code in (0, 1) and _raw_control(out + err) == [], out + err
        assert "A" + "evil\\x1b]0;owned" in out + err


def test_pool_import_and_check_escape_what_a_capture_says(tmp_path, capsys, gpu_study):
    spec, _ = gpu_study
    raw = json.loads((REPO / "tests" / "fixtures" / "pool" / "ospool-2024-11.json").read_text())
    for ad in raw:
        if ad.get("GPUs_Capability") == 8.0:
            ad["GPUs_DeviceName"] = "A100" + EVIL
        ad["GLIDEIN_SITE" if "GLIDEIN_SITE" in ad else "GLIDEIN_Site"] = "Site" + EVIL
    pool = tmp_path / "evil.json"
    pool.write_text(json.dumps(raw))
    for argv in (["pool", "import", str(pool)], ["pool", "check", str(spec), "--pool", str(pool)]):
        code, out, err = _cli(argv, capsys)
        assert code in (0, 1) and _raw_control(out + err) == [], out + err
        assert "Siteevil\\x1b]0;owned" in out


def test_the_analysis_treats_a_non_finite_primary_value_as_a_failed_run():
    sys.path.insert(0, str(Path(__file__).parent))
    from test_analysis import frame, row

    from reprogrid.analysis.columns import prepare

    rows = [row("w", "sw1", "amd-a", r, 0.8, primary_metric="acc", primary_value=v, higher_is_better=True)
            for r, v in enumerate([0.8, float("nan"), float("inf"), float("-inf")])]
    out = prepare(frame(rows))
    assert list(out["status"].astype(str)) == ["ok", "failed", "failed", "failed"]
    assert list(out["error_type"].iloc[1:]) == ["MetricNotFinite"] * 3
    ok = out[out["status"] == "ok"]
    assert np.isfinite(ok["value"].to_numpy(dtype=float)).all()


def test_report_pages_hold_no_control_character_from_the_records(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_gather import make_record, make_submit, write_parquet

    submit = make_submit(tmp_path / "sub")
    for i, run in enumerate(json.loads((submit / "manifest.json").read_text())["runs"]):
        failed = {"status": "failed", "error_type": "Err" + EVIL, "error_message": "msg" + EVIL, "test_accuracy": None}
        rec = make_record(run["workload"], run["software_env"], run["hardware_env"], run["repeat"],
                          cpu_model="CPU" + EVIL, machine_name="m" + EVIL, **(failed if i % 5 == 0 else {}))
        write_parquet(submit / "results" / f"{run['run_id']}.parquet", [rec])
    assert _cli(["gather", str(submit)], capsys)[0] == 0
    code, out, err = _cli(["report", str(submit), "--title", "T" + EVIL + "<script>x</script>"], capsys)
    assert code == 0 and _raw_control(out + err) == [], err
    for name in ("report.html", "summary.md"):
        text = (submit / "report" / name).read_text(encoding="utf-8")
        assert _raw_control(text.replace("\t", " ")) == [], name
        assert "<script>x" not in text


def test_a_pool_capture_that_is_not_utf8_exits_2_naming_it(tmp_path, capsys):
    pool = tmp_path / "pool.json"
    pool.write_bytes(b'[{"Name": "slot1@x\xff\xfe"}]')
    code, out, err = _cli(["pool", "import", str(pool)], capsys)
    assert code == 2 and str(pool) in err and "not UTF-8" in err, err


@pytest.mark.parametrize("broken", ["study.dag", "b.sub"])
def test_a_dag_or_submit_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path, capsys, broken):
    (tmp_path / "logs").mkdir()
    (tmp_path / "a.sub").write_text("executable = /bin/true\nlog = logs/study.log\nqueue\n")
    (tmp_path / "b.sub").write_text("executable = /bin/true\nlog = logs/study.log\nqueue\n")
    (tmp_path / "study.dag").write_text("JOB A a.sub\nJOB B b.sub\n")
    with open(tmp_path / broken, "ab") as handle:
        handle.write(b"# caf\xe9\n")
    for argv in (["dryrun", str(tmp_path / "study.dag"), "--plan"], ["dryrun", str(tmp_path / "study.dag")]):
        code, out, err = _cli(argv, capsys)
        assert code in (1, 2) and "Traceback" not in err
        log = tmp_path / "study.dag.dagman.out"  # a submit failure is a failed node, told in the log
        text = out + err + (log.read_text() if log.exists() else "")
        assert str(tmp_path / broken) in text and "is not UTF-8" in text, text


def test_report_reads_past_a_gather_report_that_is_not_utf8(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_gather import make_submit, write_all

    submit = make_submit(tmp_path / "sub")
    write_all(submit)
    assert _cli(["gather", str(submit)], capsys)[0] == 0
    with open(submit / "dataset" / "_gather_report.json", "ab") as handle:
        handle.write(b"\xff")
    code, out, err = _cli(["report", str(submit)], capsys)
    assert code == 0 and "Traceback" not in err, err
