"""Fuzz: careless and hostile study specs give exit 2 and a message, never a traceback,
and nothing is written. A seeded generator of our own (no extra dependency): mutations of
the presets (wrong types, missing and unknown keys, huge and negative numbers, unicode,
deep nesting) and hand-written YAML (anchors, aliases, tags, billion laughs)."""
from __future__ import annotations

import copy
import io
import random
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from reprogrid.cli import main
from reprogrid.core.errors import UserError
from reprogrid.spec.validate import load_study
from reprogrid.spec.presets import coakley2022, demo

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
ODD_VALUES = [None, True, False, 0, -1, -(10 ** 30), 10 ** 30, 10 ** 11, 1.5, float("nan"), float("inf"), "",
              " ", "x" * 5000, "é\u202eevil", "\x00\x1b[2J", "$(rm -rf ~)", "a\nqueue 100", "<script>",
              [], [1, 2], {}, {"a": 1}, "[[[[", "1e400", "-5", "10GB", "日本語", "🙂" * 50]


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _mutate(spec, rng: random.Random):
    spec = copy.deepcopy(spec)
    for _ in range(rng.randint(1, 4)):
        paths = [p for p in _paths(spec) if p]
        path = rng.choice(paths)
        parent = spec
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        op = rng.random()
        if op < 0.45:
            parent[last] = rng.choice(ODD_VALUES)
        elif op < 0.6 and isinstance(parent, dict):
            del parent[last]
        elif op < 0.75 and isinstance(parent, dict):
            parent[rng.choice(["unknown", "Name", "repeat", "hardwares", "ü"])] = rng.choice(ODD_VALUES)
        elif op < 0.9:
            deep = "x"
            for _ in range(rng.choice([5, 60])):
                deep = [deep] if rng.random() < 0.5 else {"k": deep}
            parent[last] = deep
        else:
            parent[last] = [copy.deepcopy(parent[last])] * rng.choice([2, 30])
    return spec


HANDWRITTEN = [
    "",  # empty file
    "- a\n- b\n",  # a list, not a mapping
    "just text",
    "name: &n x\nworkloads: *n\nsoftware: *n\nhardware: *n\n",
    "name: !!python/object/apply:os.system ['echo pwned']\n",
    "name: !custom x\n",
    "name: !!binary aGVsbG8=\n",
    "a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\nname: *h\n",  # billion laughs, 9^8
    "a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nname: *e\n",  # billion laughs, small
    "name: x\nrepeats: 100000000000\nworkloads: [{name: mnist_convnet}]\nsoftware: [{name: s, image: docker://x/y:1}]\n"
    "hardware: [{name: h, cpu: {vendor: intel}}]\ndata: {sample: true}\n",
    "{" * 200 + "}" * 200,
    "[" * 1200,
    "name: x\nname: y\n",
    "? [a, b]\n: c\n",
    "\ufeffname: x\n",
    "name: \"\\x00\"\n",
]


def _run(spec_file: Path, out: Path, command: str = "render") -> tuple:
    err, std = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(std):
        code = main([command, str(spec_file)] + (["-o", str(out)] if command == "render" else []))
    return code, err.getvalue()


def _check(tmp_path: Path, text: str, i: int, through_cli: bool) -> int:
    """Validate (exit 0 or 2, never another exception); through the CLI's render for a
    sample: the same verdict, no traceback, and nothing written when refused."""
    spec_file = tmp_path / f"spec{i}.yaml"
    spec_file.write_text(text, encoding="utf-8")
    try:  # what `reprogrid validate` runs; any exception but a UserError fails the test here
        load_study(spec_file)
        code = 0
    except UserError as err:
        code = 2
        assert str(err)
    if not through_cli:
        return code
    before = set(tmp_path.iterdir())
    rcode, err = _run(spec_file, tmp_path / f"out{i}")
    assert rcode == code and "Traceback" not in err, (rcode, err, text[:500])
    if rcode == 2:
        assert err.startswith("reprogrid render: ") and set(tmp_path.iterdir()) == before, (err, text[:300])
    return code


def test_mutated_presets_never_trace_back_and_write_nothing_when_refused(tmp_path):
    rng = random.Random(14)
    bases = [coakley2022(), demo()]
    started = time.monotonic()
    codes = [_check(tmp_path, yaml.dump(_mutate(rng.choice(bases), rng), Dumper=DUMPER, allow_unicode=True, sort_keys=False), i,
                    through_cli=i % 20 == 0) for i in range(200)]
    assert codes.count(2) > 50  # the generator does find bad specs
    assert time.monotonic() - started < 60  # seconds, not minutes, even with huge numbers


@pytest.mark.parametrize("text", HANDWRITTEN, ids=range(len(HANDWRITTEN)))
def test_handwritten_yaml_attacks_exit_2(tmp_path, text):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(text, encoding="utf-8")
    code, err = _run(spec_file, tmp_path / "out")
    assert code == 2 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_study_size_is_bounded_before_anything_is_written(tmp_path):
    spec = demo()
    spec["repeats"] = 100_000_000_000
    spec_file = tmp_path / "big.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    started = time.monotonic()
    code, err = _run(spec_file, tmp_path / "out")
    assert code == 2 and time.monotonic() - started < 5
    assert "max-runs" in err and "100,000" in err and not (tmp_path / "out").exists()
    spec["repeats"] = 3
    spec_file.write_text(yaml.safe_dump(spec))
    err, std = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(std):
        assert main(["validate", str(spec_file), "--max-runs", "10"]) == 2
        assert main(["validate", str(spec_file), "--max-runs", "1000"]) == 0
