"""The job side must run in the study's containers: Python 3.8 syntax, stdlib + numpy + TF only."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

JOB_DIR = Path(__file__).resolve().parents[1] / "reprogrid" / "job"
MODULES = sorted(JOB_DIR.glob("*.py"))
ALLOWED_THIRD_PARTY = {"numpy", "tensorflow", "keras", "pyarrow", "torch", "jax"}  # keras/pyarrow: optional, guarded imports; torch/jax: only on that Keras 3 backend


def test_job_modules_found():
    names = {p.name for p in MODULES}
    assert {"cli.py", "workloads.py", "data.py", "fingerprint.py", "record.py", "schema.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_python38_syntax(path):
    source = path.read_text()
    ast.parse(source, filename=str(path), feature_version=(3, 8))
    tree = ast.parse(source)
    for node in ast.walk(tree):
        # PEP 604 unions and builtin generics in annotations evaluate at runtime on 3.8 without
        # the future import; match statements already fail feature_version above
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            assert "from __future__ import annotations" in source or not _in_annotation(tree, node), path
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and _is_dict_union(node):
            pytest.fail(f"{path.name}:{node.lineno}: dict union needs Python 3.9")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in ("removeprefix", "removesuffix"), f"{path.name}:{node.lineno} needs 3.9"


def _in_annotation(tree, target):
    for node in ast.walk(tree):
        for ann in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if ann is not None and any(n is target for n in ast.walk(ann)):
                return True
    return False


def _is_dict_union(node):
    return isinstance(node.left, ast.Dict) or isinstance(node.right, ast.Dict)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_only_stdlib_numpy_tensorflow(path):
    stdlib = set(sys.stdlib_module_names)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots = [node.module.split(".")[0]]
        else:
            continue
        for root in roots:
            assert root in stdlib or root in ALLOWED_THIRD_PARTY or root == "__future__", f"{path.name} imports {root}"
            assert root != "reprogrid", f"{path.name}: use relative imports inside the job package"
