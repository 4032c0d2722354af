"""Local software stacks: provisioned once into a cached virtualenv, reused, named on failure."""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from reprogrid.cli import main
from reprogrid.core.errors import UserError
from reprogrid.prepare import envs
from reprogrid.render import render_study
from reprogrid.emulator.driver import software_pythons
from reprogrid.spec import study_from_dict
from reprogrid.spec.presets import coakley2022
from reprogrid.spec.presets import demo as demo_preset


def demo():
    """The demo preset with two of the original study's containers (no local stacks of its own)."""
    raw = demo_preset()
    raw["software"] = coakley2022()["software"][:2]
    return raw


@pytest.fixture
def root(tmp_path, monkeypatch):
    path = tmp_path / "envs"
    monkeypatch.setenv(envs.ENVS_VAR, str(path))
    # Offline and fast: pip may look only in an empty folder (a real pip, a real failure).
    links = tmp_path / "no-wheels"
    links.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    return path


def _study(local0, local1=None):
    raw = demo()
    raw["software"][0]["local"] = local0
    if local1 is not None:
        raw["software"][1]["local"] = local1
    return study_from_dict(raw)


def test_a_stack_is_built_once_then_reused_with_its_variables(root, tmp_path):
    study = _study({"env": {"KERAS_BACKEND": "jax", "STACK_TEST_VALUE": "a b"}})
    [(env, built)] = envs.build(study, say=lambda _: None)
    assert built and env.path.parent == root
    meta = env.path / envs.META_FILE
    stamp = meta.stat().st_mtime_ns
    [(again, built_again)] = envs.build(study, say=lambda _: None)
    assert not built_again and again.path == env.path and meta.stat().st_mtime_ns == stamp
    assert (env.path / envs.FREEZE_FILE).is_file()
    out = subprocess.run([str(env.python), "-c", "import os, sys; print(os.environ['KERAS_BACKEND'], sys.prefix)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["jax", str(env.path)]
    # Another declaration is another env; the listing shows only complete ones.
    other = _study({"env": {"KERAS_BACKEND": "torch"}})
    [(env2, built2)] = envs.build(other, say=lambda _: None)
    assert built2 and env2.key != env.key
    assert {e.key for e in envs.list_envs()} == {env.key, env2.key}


def test_a_half_built_env_never_looks_complete(root):
    study = _study({"env": {"KERAS_BACKEND": "jax"}})
    half = root / envs.stack_key(study.software[0].local)
    (half / "bin").mkdir(parents=True)  # a build killed before its metadata was written
    assert envs.find(study.software[0].local) is None and envs.list_envs() == []
    [(env, built)] = envs.build(study, say=lambda _: None)
    assert built and env.path == half and envs.find(study.software[0].local) is not None


def test_a_package_that_cannot_be_installed_exits_2_naming_it(root, tmp_path, capsys):
    spec = tmp_path / "study.yaml"
    raw = demo()
    raw["software"][1]["local"] = {"packages": ["reprogrid-no-such-package==9.9"]}
    spec.write_text(yaml.safe_dump(raw))
    assert main(["envs", "build", str(spec), "-q"]) == 2
    err = capsys.readouterr().err
    assert "reprogrid-no-such-package==9.9" in err and "dockerhub-2.9.1" in err
    assert "No matching distribution" in err  # pip's own error, passed on
    assert envs.list_envs() == []  # nothing half-built looks complete
    assert list(root.glob("*.failed.log"))


def test_bad_package_specifiers_and_variables_are_refused_by_validation():
    with pytest.raises(UserError) as err:
        _study({"packages": ["--index-url=https://evil.example/simple", "numpy; os_name=='x'"],
                "env": {"PATH": "/tmp", "OK": "$(rm)"}})
    text = str(err.value)
    for where in ("software[0].local.packages[0]", "software[0].local.packages[1]",
                  "software[0].local.env.PATH", "software[0].local.env.OK"):
        assert where in text


def test_dryrun_runs_the_container_with_its_stack_and_python_still_overrides(root, tmp_path):
    study = _study({"env": {"KERAS_BACKEND": "jax"}})
    submit = tmp_path / "submit"
    render_study(study, submit)
    assert not root.exists()  # render downloads and builds nothing
    manifest = json.loads((submit / "manifest.json").read_text())
    assert manifest["software"]["dockerhub-2.8.0"]["local"] == {"env": {"KERAS_BACKEND": "jax"}}
    with pytest.raises(UserError, match="envs build"):
        software_pythons(submit / "study.dag")
    [(env, _)] = envs.build(study, say=lambda _: None)
    assert software_pythons(submit / "study.dag") == {"dockerhub-2.8.0": str(env.python)}
    assert software_pythons(submit / "study.dag", {"dockerhub-2.8.0": "/opt/py"}) == {"dockerhub-2.8.0": "/opt/py"}


def test_envs_cli_lists_and_removes(root, tmp_path, capsys):
    spec = tmp_path / "study.yaml"
    raw = demo()
    raw["software"][0]["local"] = {"env": {"KERAS_BACKEND": "jax"}}
    spec.write_text(yaml.safe_dump(raw))
    assert main(["envs", "build", str(spec)]) == 0
    assert main(["envs", "build", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "built " in out and "cached" in out
    assert main(["envs", "list"]) == 0
    listing = capsys.readouterr().out
    assert "1 provisioned" in listing and "dockerhub-2.8.0" in listing and "KERAS_BACKEND=jax" in listing
    assert main(["envs", "remove", "dockerhub-2.8.0"]) == 0
    assert envs.list_envs() == []
    assert main(["envs", "remove", "nothing-here"]) == 2


def test_the_demo_preset_declares_a_real_second_stack():
    raw = demo_preset()
    stacks = {sw["name"]: sw.get("local") for sw in raw["software"]}
    assert stacks["tf-keras3"] is None  # this machine's TensorFlow
    assert stacks["tf-2.15-keras2"] == {"packages": ["tensorflow-cpu==2.15.1"]}
    assert len({h["name"] for h in raw["hardware"]}) == 3
