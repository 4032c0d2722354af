"""The Apptainer definition files parse (strictly, and with spython), carry what the job
side needs, and `reprogrid images` prints the builds and fills study files."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from reprogrid.prepare import images
from reprogrid.cli import main
from reprogrid.core.errors import UserError
from reprogrid.core.resources import singularity_dir

DEF_FILES = sorted(singularity_dir().glob("*.def"))
EXPECTED = {
    # name: (From, TF, CUDA, cuDNN) as in DESIGN.md's table of the study's environments
    "dockerhub-2.8.0": ("tensorflow/tensorflow:2.8.0-gpu", "2.8.0", "11.2", "8.1"),
    "dockerhub-2.9.1": ("tensorflow/tensorflow:2.9.1-gpu", "2.9.1", "11.2", "8.1"),
    "ngc-22.03": ("nvcr.io/nvidia/tensorflow:22.03-tf2-py3", "2.8.0", "11.6.1", "8.3.3"),
    "ngc-22.06": ("nvcr.io/nvidia/tensorflow:22.06-tf2-py3", "2.9.1", "11.7.1", "8.4.1"),
    "rebuilt-2.9.1-cudnn8.2.1": ("nvidia/cuda:11.3.1-cudnn8-runtime-ubuntu20.04", "2.9.1", "11.3.1", "8.2.1"),
}


def test_catalogue_has_the_study_images_and_a_cpu_image():
    defs = images.catalogue()
    assert set(EXPECTED) <= set(defs)
    cpu = [d for d in defs.values() if d.labels["org.reprogrid.cuda"] == "none"]
    assert len(cpu) == 1 and int(cpu[0].labels["org.reprogrid.tensorflow"].split(".")[1]) >= 16
    for name, (base, tf, cuda, cudnn) in EXPECTED.items():
        d = defs[name]
        assert (d.bootstrap, d.base) == ("docker", base)
        assert d.labels["org.reprogrid.tensorflow"] == tf
        assert d.labels["org.reprogrid.cuda"] == cuda
        assert d.labels["org.reprogrid.cudnn"] == cudnn
        assert d.labels["org.reprogrid.python"].startswith("3.8")
        # the pyarrow pin must have wheels for the image's Python 3.8 (17.x is the last)
        assert d.labels["org.reprogrid.pyarrow"] == "17.0.0"
        assert '"pyarrow==17.0.0"' in d.script("post")
        assert f'v == "{tf}"' in d.script("post")


@pytest.mark.parametrize("path", DEF_FILES, ids=[p.stem for p in DEF_FILES])
def test_definition_parses_strictly_and_agrees_with_spython(path: Path):
    from spython.main.parse.parsers import SingularityParser

    ours = images.parse_definition(path)
    assert images.check_reprogrid_image(ours) == []
    assert ours.files == ((images.JOB_BUNDLE_NAME, images.JOB_BUNDLE_IN_IMAGE),)
    assert "python3 /opt/reprogrid/reprogrid-job.pyz selftest" in ours.script("test")
    theirs = SingularityParser(str(path)).recipe["spython-base"]
    # spython lower-cases the From line; the images' names are lower case anyway
    assert theirs.fromHeader == ours.base.lower()
    assert theirs.files == [f"{s} {d}" for s, d in ours.files]
    assert dict(line.split(None, 1) for line in theirs.labels) == ours.labels
    assert theirs.cmd == ours.script("runscript").strip()
    env = dict(item.split("=", 1) for item in theirs.environ)
    assert env["REPROGRID_IMAGE"] == ours.name
    assert env["REPROGRID_JOB"] == images.JOB_BUNDLE_IN_IMAGE
    # every %post command line reached spython's install list
    post = [ln.strip() for ln in ours.script("post").splitlines() if ln.strip()]
    assert theirs.install[: len(post)] == post  # spython appends the %test script after it


GOOD = """\
Bootstrap: docker
From: ubuntu:22.04

%files
    a.txt /opt/a.txt

%post
    printf '%s\\n' hello
    echo ok

%labels
    org.example.version 1.0
"""


def test_strict_parser_accepts_a_minimal_file_and_keeps_printf_in_post():
    d = images.parse_definition_text(GOOD, "x.def")
    assert d.base == "ubuntu:22.04" and d.files == (("a.txt", "/opt/a.txt"),)
    assert "printf '%s\\n' hello" in d.script("post")
    assert d.labels == {"org.example.version": "1.0"}


@pytest.mark.parametrize("text, line, words", [
    (GOOD.replace("%labels", "%lables"), 12, "unknown section '%lables'"),
    (GOOD.replace("Bootstrap: docker\n", ""), None, "missing 'Bootstrap:'"),
    (GOOD.replace("From: ubuntu:22.04\n", ""), None, "missing 'From:'"),
    (GOOD.replace("Bootstrap: docker", "Bootstrap: dockr"), None, "unknown Bootstrap agent"),
    (GOOD.replace("From: ubuntu", "Form: ubuntu"), 2, "expected a header line"),
    (GOOD.replace("org.example.version 1.0", "just-a-key"), 12, "%labels line must be 'key value'"),
    (GOOD.replace("a.txt /opt/a.txt", "a b c"), 5, "%files line must be"),
    (GOOD + "%post\n    echo again\n", 13, "section %post appears twice"),
])
def test_strict_parser_names_file_and_line(text, line, words):
    with pytest.raises(UserError) as err:
        images.parse_definition_text(text, "bad.def")
    message = str(err.value)
    assert words in message
    if line is not None:
        assert f"bad.def:{line}:" in message


def test_catalogue_rejects_a_definition_without_the_selftest(tmp_path: Path):
    (tmp_path / "x.def").write_text(GOOD)
    with pytest.raises(UserError) as err:
        images.catalogue(tmp_path)
    text = str(err.value)
    assert "selftest" in text and "reprogrid-job.pyz" in text and "org.reprogrid.tensorflow" in text


def test_osdf_location_and_bad_owner():
    assert images.osdf_location("ngc-22.03", "alice", "ap40") == \
        "osdf:///ospool/ap40/data/alice/reprogrid/ngc-22.03.sif"
    with pytest.raises(UserError):
        images.osdf_location("x", "alice; rm -rf /", "ap40")
    with pytest.raises(UserError):
        images.osdf_location("x", "alice", "../ap40")


def test_build_plan_steps_are_argument_lists(tmp_path: Path):
    defn = images.catalogue()["dockerhub-2.8.0"]
    plan = images.build_plan(defn, tmp_path, "alice", "ap20")
    assert plan.steps[0] == ("apptainer", "build", "--force", "dockerhub-2.8.0.sif", "dockerhub-2.8.0.def")
    assert plan.steps[-1] == ("cp", "dockerhub-2.8.0.sif", "/ospool/ap20/data/alice/reprogrid/dockerhub-2.8.0.sif")
    assert plan.osdf == "osdf:///ospool/ap20/data/alice/reprogrid/dockerhub-2.8.0.sif"
    lines = plan.describe().splitlines()
    assert shlex.split(lines[1]) == ["cd", str(tmp_path.absolute() / "dockerhub-2.8.0")]
    assert [tuple(shlex.split(x)) for x in lines[2:]] == list(plan.steps)


def test_cli_build_prints_and_stages_context(tmp_path: Path, capsys):
    bundle = tmp_path / "job.pyz"
    bundle.write_bytes(b"PK-not-really")
    rc = main(["images", "build", "ngc-22.06", "--osdf-user", "bob", "--build-dir", str(tmp_path / "b"),
               "--bundle", str(bundle)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "apptainer build --force ngc-22.06.sif ngc-22.06.def" in out
    assert "osdf:///ospool/ap40/data/bob/reprogrid/ngc-22.06.sif" in out
    ctx = tmp_path / "b" / "ngc-22.06"
    assert (ctx / "reprogrid-job.pyz").read_bytes() == b"PK-not-really"
    assert (ctx / "ngc-22.06.def").read_text() == (singularity_dir() / "ngc-22.06.def").read_text()


def test_cli_build_run_without_apptainer_fails_clearly(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apptainer, no singularity
    rc = main(["images", "build", "--all", "--run", "--build-dir", str(tmp_path / "b"),
               "--bundle", str(tmp_path)])
    assert rc == 2
    assert "apptainer is not on PATH" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_cli_build_unknown_image(capsys):
    assert main(["images", "build", "nope"]) == 2
    assert "no nope.def" in capsys.readouterr().err


def test_fill_sets_image_fields_of_the_study_preset(tmp_path: Path, capsys):
    from reprogrid.spec.presets import preset_yaml
    from reprogrid.spec import load_study

    study = yaml.safe_load(preset_yaml("coakley2022"))
    study["software"][1]["name"] = "tf291"  # matched by its base image instead of its name
    src, out = tmp_path / "study.yaml", tmp_path / "out" / "study-osdf.yaml"
    src.write_text(yaml.safe_dump(study, sort_keys=False))
    rc = main(["images", "fill", str(src), "-o", str(out), "--osdf-user", "carol"])
    assert rc == 0, capsys.readouterr().err
    filled = load_study(out)  # still a valid study
    assert [s.image for s in filled.software] == [
        "osdf:///ospool/ap40/data/carol/reprogrid/dockerhub-2.8.0.sif",
        "osdf:///ospool/ap40/data/carol/reprogrid/dockerhub-2.9.1.sif",
        "osdf:///ospool/ap40/data/carol/reprogrid/ngc-22.03.sif",
        "osdf:///ospool/ap40/data/carol/reprogrid/ngc-22.06.sif",
    ]
    assert yaml.safe_load(out.read_text())["hardware"] == study["hardware"]


def test_fill_unmatched_environment_writes_nothing(tmp_path: Path, capsys):
    from reprogrid.spec.presets import preset_yaml

    study = yaml.safe_load(preset_yaml("coakley2022"))
    study["software"][2] = {"name": "mystery", "image": "docker://foo/bar:1"}
    src, out = tmp_path / "study.yaml", tmp_path / "out.yaml"
    src.write_text(yaml.safe_dump(study))
    assert main(["images", "fill", str(src), "-o", str(out), "--osdf-user", "carol"]) == 2
    assert "software[2].image: no image definition provides 'mystery'" in capsys.readouterr().err
    assert not out.exists()


def test_build_with_fill_spec_uses_the_real_job_bundle(tmp_path: Path, capsys):
    from reprogrid.spec.presets import preset_yaml

    src, out = tmp_path / "study.yaml", tmp_path / "osdf.yaml"
    src.write_text(preset_yaml("coakley2022"))
    rc = main(["images", "build", "dockerhub-2.9.1", "--osdf-user", "dave", "--build-dir", str(tmp_path / "b"),
               "--fill-spec", str(src), "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    import zipfile
    assert zipfile.is_zipfile(tmp_path / "b" / "dockerhub-2.9.1" / "reprogrid-job.pyz")
    assert "osdf:///ospool/ap40/data/dave/reprogrid/ngc-22.06.sif" in out.read_text()
