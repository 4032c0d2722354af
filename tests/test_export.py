"""``reprogrid export``: real studies (rendered, run through the emulated schedd with real
jobs, gathered, reported) -> Provenance Run Crates that roc-validator accepts at the
REQUIRED level, that ``report`` and ``import`` read back to the same answer, that record
failed runs as failed actions, and that hold no path of this machine and no secret.

roc-validator lives in its own virtualenv (it pins rich<14; import-linter needs rich>=14.2):
``$REPROGRID_ROC_VALIDATOR`` names its Python (``.ci/run`` builds it). The test skips
without it only outside CI; with ``CI=true`` a missing validator fails.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
import pyarrow.parquet as pq
import yaml

from reprogrid.analysis import summarize
from reprogrid.cli import main
from reprogrid.core.errors import UserError
from reprogrid.export import export_crate
from reprogrid.export.sources import scrub, scrub_parquet
from reprogrid.gather import gather, load_dataset
from reprogrid.render import render_study
from reprogrid.report import build_report
from reprogrid import emulator
from reprogrid.spec import load_study, study_from_dict
from reprogrid.spec.presets import demo

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "rocrate"
VALIDATOR_ENV = "REPROGRID_ROC_VALIDATOR"


def run_study(study, submit: Path, base_dir=None, strict: bool = True) -> Path:
    """Render, run (emulated schedd, real jobs), gather and report a study into ``submit``."""
    render_study(study, submit, **({"base_dir": base_dir} if base_dir else {}))
    run = emulator.dryrun(submit / "study.dag", slots=2, progress=False)
    assert run.exit_code == 0, (submit / "study.dag.dagman.out").read_text()[-2000:]
    result = gather(submit)
    if strict:
        assert result.counts["complete"] == study.run_count
    build_report(load_dataset(submit), submit / "report", title=study.name,
                 provenance={"emulated": True, "counts": result.counts})
    return submit


@pytest.fixture(scope="module")
def demo_study(tmp_path_factory):
    """A demo-like study: a built-in Keras workload, the demo's first stack on two hardware environments."""
    raw = demo()
    raw.update(name="export-demo", repeats=1, license="CC-BY-4.0",
               authors=[{"name": "Ada Lovelace", "orcid": "0000-0002-1825-0097", "affiliation": "Analytical Engines"}])
    raw["workloads"] = [{"name": "imbalanced_classification", "epochs": 1, "max_samples": 300}]
    raw["hardware"] = raw["hardware"][:2]
    raw["software"] = raw["software"][:1]
    for software in raw["software"]:  # both on this interpreter: the test provisions nothing
        software.pop("local", None)
    root = tmp_path_factory.mktemp("demo")
    return run_study(study_from_dict(raw), root / "submit")


@pytest.fixture(scope="module")
def user_study(tmp_path_factory):
    """The numpy-command example: a user's own command workload."""
    spec = Path(__file__).resolve().parents[1] / "examples" / "numpy-command" / "study.yaml"
    root = tmp_path_factory.mktemp("user")
    return run_study(load_study(spec), root / "submit", base_dir=spec.parent)


@pytest.fixture(scope="module")
def failing_study(tmp_path_factory):
    """One working and one broken command workload; no retries."""
    root = tmp_path_factory.mktemp("failing")
    spec_dir = root / "spec"
    spec_dir.mkdir()
    (spec_dir / "train.py").write_text((Path(__file__).resolve().parents[1] / "examples" / "numpy-command" / "train.py").read_text())
    # the secret is built at run time: the workload's own code is copied as it is (only its paths are rewritten)
    (spec_dir / "broken.py").write_text('max_tokens = 5\nsecret = "s3cr3t" + "-value"\n'
                                        'raise ValueError("deliberately broken workload; API_KEY=" + secret)\n')
    study = study_from_dict({
        "name": "export-fails", "repeats": 1, "retries": 0,
        "workloads": [
            {"name": "logreg", "command": ["python", "train.py", "--epochs", "1"], "files": ["train.py"],
             "metrics": {"primary": "accuracy", "higher_is_better": True}},
            {"name": "broken", "command": ["python", "broken.py"], "files": ["broken.py"],
             "metrics": {"primary": "accuracy", "higher_is_better": True}}],
        "software": [{"name": "numpy-only", "image": "docker://python:3.12-slim"}],
        "hardware": [{"name": "amd-zen3", "cpu": {"vendor": "amd", "family": 25, "model_number": 1}}],
        "resources": {"cpus": 1, "memory": "1GB", "disk": "1GB"},
    }, base_dir=spec_dir)
    return run_study(study, root / "submit", base_dir=spec_dir, strict=False)


def validate(crate: Path) -> dict:
    """Run roc-validator (its own virtualenv, contexts served offline) on ``crate``."""
    python = os.environ.get(VALIDATOR_ENV)
    if not python:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"${VALIDATOR_ENV} is not set in CI: .ci/run must build roc-validator's virtualenv and export it")
        pytest.skip(f"${VALIDATOR_ENV} (the Python of a roc-validator virtualenv) is not set")
    with tempfile.TemporaryDirectory() as cache:  # roc-validator's HTTP cache, fresh: contexts are really resolved
        proc = subprocess.run([python, str(FIXTURES / "validate_offline.py"), str(crate), "provenance-run-crate"],
                              capture_output=True, text=True, timeout=600, env=dict(os.environ, XDG_CACHE_HOME=cache))
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr[-3000:]
    verdict = json.loads(lines[-1])
    assert proc.returncode == 0 and verdict["passed"] and verdict["issues"] == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert "https://w3id.org/ro/crate/1.1/context" in verdict["urls"]  # the contexts were really resolved
    return verdict


def graph(crate: Path) -> dict:
    data = json.loads((crate / "ro-crate-metadata.json").read_text())
    return {e["@id"]: e for e in data["@graph"]}


def summary_lines(path: Path) -> list:
    """summary.md without its title and source lines (they name where it was read from)."""
    return [line for line in path.read_text().splitlines() if not line.startswith(("# ", "- Source:"))]


def assert_no_machine_paths(crate: Path, *paths: Path) -> None:
    """No file of ``crate`` (Parquet files read back, their compression aside) holds one of
    ``paths``, the home folder, a dry-run sandbox under the temporary folder or the secret."""
    import pyarrow.parquet as pq

    home = os.path.expanduser("~")
    sandbox = os.path.join(tempfile.gettempdir(), "reprogrid-dryrun-")
    needles = [str(p).encode() for p in paths] + [home.encode() + b"/", sandbox.encode(), b"s3cr3t-value"]
    for path in crate.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".parquet":
                data += json.dumps(pq.ParquetFile(path).read().to_pylist(), default=str).encode()
            for needle in needles:
                assert needle not in data, f"{path.relative_to(crate)} holds {needle!r}"


def test_demo_crate_validates_and_round_trips(demo_study, tmp_path, capsys):
    crate = tmp_path / "demo-crate"
    export_crate(demo_study, crate)
    validate(crate)
    entities = graph(crate)
    root = entities["./"]
    assert root["license"] == {"@id": "https://spdx.org/licenses/CC-BY-4.0"}
    assert entities["https://orcid.org/0000-0002-1825-0097"]["name"] == "Ada Lovelace"
    runs = [e for i, e in entities.items() if i.startswith("#run/") and e.get("@type") == "CreateAction" and i != "#run/gather"]
    assert len(runs) == 2 and all(r["actionStatus"]["@id"].endswith("CompletedActionStatus") for r in runs)
    assert {"#reprogrid", "#scheduler"} == {i["@id"] for i in entities["#engine-run"]["instrument"]}
    assert "emulated" in entities["#scheduler"]["name"]
    assert_no_machine_paths(crate, demo_study.parent)
    spec = yaml.safe_load((crate / "study.yaml").read_text())  # the spec is copied, not rewritten
    assert spec["authors"][0]["name"] == "Ada Lovelace" and spec["license"] == "CC-BY-4.0"

    # Round trip: the crate's dataset gives the same tables, and `report CRATE` the same summary.
    zipped = tmp_path / "demo.crate.zip"
    assert main(["export", str(demo_study), "-o", str(zipped)]) == 0
    assert main(["report", str(zipped), "-o", str(tmp_path / "from-crate"), "--quiet"]) == 0
    assert summary_lines(tmp_path / "from-crate" / "summary.md") == summary_lines(demo_study / "report" / "summary.md")
    assert f"{zipped} (RO-Crate)" in (tmp_path / "from-crate" / "summary.md").read_text()
    original, copied = summarize(load_dataset(demo_study)), summarize(load_dataset(crate / "dataset"))
    for key in ("verdicts", "survival", "stats", "cell_means"):
        assert original[key].equals(copied[key]), key
    answer = json.loads((crate / "answer.json").read_text())
    assert [v["workload"] for v in answer["verdicts"]] == ["imbalanced_classification"]

    # Data: referenced by name and the recorded sha256, copied only with --include-data.
    sha = json.loads(load_dataset(demo_study)["data_sha256"].iloc[0])["creditcard.csv"]
    assert entities["#data/creditcard.csv"]["sha256"] == sha and not (crate / "data").exists()
    with_data = tmp_path / "with-data"
    assert main(["export", str(demo_study), "-o", str(with_data), "--include-data"]) == 0
    assert sorted(p.name for p in (with_data / "data").iterdir()) == ["creditcard.csv"]
    assert graph(with_data)["data/creditcard.csv"]["sha256"] == sha


def test_user_workload_crate_validates_and_imports(user_study, tmp_path):
    crate = tmp_path / "user.crate.zip"
    assert main(["export", str(user_study), "-o", str(crate)]) == 0
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(crate) as archive:
        archive.extractall(unpacked)
    validate(unpacked)
    entities = graph(unpacked)
    assert entities["study.dag"]["@type"] == ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"]
    assert "workloads/my-logreg/train.py" in entities
    image = entities["docker://python:3.12-slim"]
    assert image["@type"] == "DockerImage" and image["tag"] == "3.12-slim"
    run = entities["#run/my-logreg--numpy-only--amd-zen3--r0"]
    assert "containerImage" not in run  # the dry run ran it in a local Python, not in the image
    assert run["result"] == [{"@id": "results/my-logreg--numpy-only--amd-zen3--r0.parquet"}]
    values = {entities[v["@id"]]["name"]: entities[v["@id"]]["value"] for v in run["additionalProperty"]}
    assert values["primary_metric"] == "accuracy" and "python_version" in values
    assert values["emulated"] is True and values["local_stack"].startswith("python ")
    assert_no_machine_paths(unpacked, user_study.parent)

    # `reprogrid import crate`: another study's dataset, the same rows.
    assert main(["import", "crate", str(crate), "-o", str(tmp_path / "imported")]) == 0
    imported, original = load_dataset(tmp_path / "imported"), load_dataset(user_study)
    assert sorted(imported["run_id"]) == sorted(original["run_id"])
    assert summarize(imported)["verdicts"].equals(summarize(original)["verdicts"])


def test_failed_runs_are_failed_actions(failing_study, tmp_path):
    crate = tmp_path / "fails-crate"
    export_crate(failing_study, crate)
    validate(crate)
    entities = graph(crate)
    broken = entities["#run/broken--numpy-only--amd-zen3--r0"]
    assert broken["actionStatus"] == {"@id": "http://schema.org/FailedActionStatus"}
    assert "deliberately broken workload" in broken["error"] and tempfile.gettempdir() + "/" not in broken["error"]
    assert "API_KEY=(withheld)" in broken["error"]
    records = [r for p in (crate / "results").glob("*.parquet") for r in pq.ParquetFile(p).read().to_pylist()]
    message = next(r["error_message"] for r in records if r["status"] == "failed")
    assert "API_KEY=(withheld)" in message and "<sandbox>/" in message, message
    assert "max_tokens = 5\n" in (crate / "workloads" / "broken" / "broken.py").read_text()  # user code as it was
    imported = load_dataset(crate / "dataset")  # the scrubbed dataset reads back to the same summary
    original = load_dataset(failing_study)
    assert summarize(imported)["verdicts"].equals(summarize(original)["verdicts"])
    ok = entities["#run/logreg--numpy-only--amd-zen3--r0"]
    assert ok["actionStatus"] == {"@id": "http://schema.org/CompletedActionStatus"} and "error" not in ok
    assert "containerImage" not in ok and entities["#run/logreg--numpy-only--amd-zen3--r0/emulated"]["value"] is True
    study_run = entities["#study-run"]
    assert study_run["actionStatus"]["@id"].endswith("FailedActionStatus") and "1 of 2 runs" in study_run["error"]
    assert entities["./"]["license"].startswith("no licence given")
    assert_no_machine_paths(crate, failing_study.parent)


def test_scrub_removes_machine_paths_and_secrets(tmp_path):
    home = os.path.expanduser("~")
    sandbox = Path(tempfile.gettempdir()) / "reprogrid-dryrun-1-abc" / "job.0"
    text = (f"source: {tmp_path}/dataset\nlog: {home}/x\n  HF_TOKEN: s3cr3t-value\nAPI_KEY=s3cr3t-value\nseed: 1\n"
            f'File "{sandbox}/broken.py", line 1\ndata: {tmp_path}/submit/dataset\n'
            'authors:\n- name: Ada\nmax_tokens = 5\n{"error": "x; api_key=s3cr3t-value", "AUTH_TOKEN": "s3cr3t-value"}\n')
    out = scrub(text, tmp_path / "submit")
    assert str(sandbox) not in out and 'File "<sandbox>/job.0/broken.py"' in out
    assert str(tmp_path) not in out and f"{home}/" not in out and "s3cr3t-value" not in out
    assert "seed: 1" in out and "HF_TOKEN: (withheld)" in out and "data: dataset" in out
    assert "authors:\n- name: Ada\nmax_tokens = 5\n" in out  # name parts, never across a line
    assert json.loads(out.splitlines()[-1]) == {"error": "x; api_key=(withheld)", "AUTH_TOKEN": "(withheld)"}


def test_parquet_string_columns_are_scrubbed_with_their_schema(tmp_path):
    import pandas as pd
    import pyarrow as pa

    sandbox = os.path.join(tempfile.gettempdir(), "reprogrid-dryrun-7-xyz", "wl--s--h--r0.3.0")
    df = pd.DataFrame({"error_message": [f'File "{sandbox}/broken.py"\nValueError: API_KEY=s3cr3t-value', None],
                       "workload": pd.Categorical(["wl", "wl"]), "seed": [1, 2]})
    source, target = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), source)
    assert scrub_parquet(source, target, tmp_path)
    before, after = pq.read_table(source), pq.read_table(target)
    assert after.schema.equals(before.schema, check_metadata=True)
    assert after.column("error_message").to_pylist() == ['File "<sandbox>/wl--s--h--r0.3.0/broken.py"\n'
                                                         "ValueError: API_KEY=(withheld)", None]
    assert after.drop(["error_message"]).equals(before.drop(["error_message"]))
    assert not scrub_parquet(target, tmp_path / "again.parquet", tmp_path) and not (tmp_path / "again.parquet").exists()


def test_export_refuses_bad_input(user_study, tmp_path, capsys):
    render_only = tmp_path / "rendered"
    spec = Path(__file__).resolve().parents[1] / "examples" / "numpy-command" / "study.yaml"
    render_study(load_study(spec), render_only, base_dir=spec.parent)
    assert main(["export", str(render_only), "-o", str(tmp_path / "c")]) == 2
    assert "reprogrid gather" in capsys.readouterr().err
    assert main(["export", str(user_study), "-o", str(user_study / "crate")]) == 2
    assert "inside the submit folder" in capsys.readouterr().err
    (tmp_path / "notacrate").mkdir()
    (tmp_path / "notacrate" / "keep.txt").write_text("mine")
    assert main(["export", str(user_study), "-o", str(tmp_path / "notacrate")]) == 2
    assert (tmp_path / "notacrate" / "keep.txt").read_text() == "mine"
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    assert main(["report", str(tmp_path / "empty.zip")]) == 2
    assert "ro-crate-metadata.json" in capsys.readouterr().err


@pytest.mark.parametrize("raw, where", [
    ({"license": "M I T"}, "license"),
    ({"authors": "Ada"}, "authors"),
    ({"authors": [{"name": "Ada", "orcid": "12"}]}, "authors[0].orcid"),
    ({"authors": [{"name": "Ada", "email": "a@b"}]}, "authors[0].email"),
])
def test_spec_credits_are_validated(raw, where):
    spec = demo()
    spec.update(raw)
    with pytest.raises(UserError) as err:
        study_from_dict(spec)
    assert any(p.where == where for p in err.value.problems), str(err.value)


def test_an_emulated_run_records_the_local_stack_not_the_image(tmp_path):
    from reprogrid.export.actions import run_action
    from reprogrid.export.sources import Sources

    sources = Sources(submit_dir=tmp_path, study=None, manifest={}, df=None, gather_report={}, report_dir=None)
    run = {"run_id": "wl--s--h--r0", "workload": "wl", "software_env": "s", "hardware_env": "h", "repeat": 0, "seed": 1}
    record = {"status": "ok", "python_version": "3.11.7", "numpy_version": "1.26.4",
              "fingerprint_json": json.dumps({"machine_ad": {"ReprogridEmulated": True, "Cpus": 1}})}
    action, *values = run_action(run, record, sources, tool_id="cells/c.sub", image_id="docker://python:3.12-slim",
                                 inputs=[], result_file=None, detail=None)
    assert "containerImage" not in action and "emulated: ran in a local Python (python 3.11.7, numpy 1.26.4)" in action["description"]
    shown = {v["name"]: v["value"] for v in values}
    assert shown["emulated"] is True and shown["local_stack"] == "python 3.11.7, numpy 1.26.4"
    real = dict(record, fingerprint_json=json.dumps({"machine_ad": {"Cpus": 1}}))
    action, *values = run_action(run, real, sources, tool_id="cells/c.sub", image_id="docker://python:3.12-slim",
                                 inputs=[], result_file=None, detail=None)
    assert action["containerImage"] == {"@id": "docker://python:3.12-slim"} and "emulated" not in {v["name"] for v in values}
