"""The package's import contracts (setup.cfg [importlinter]) hold: stages import down the
flow only, the job side stays alone, and only reprogrid.condor.bindings imports HTCondor."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint).exists():
        pytest.fail("lint-imports is missing: pip install '.[dev]'")
    proc = subprocess.run([lint, "--config", str(ROOT / "setup.cfg"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout
    assert proc.stdout.count("KEPT") >= 9


def test_package_root_holds_few_modules():
    modules = sorted(p.name for p in (ROOT / "reprogrid").glob("*.py"))
    assert len(modules) <= 6, modules


def test_manifest_file_name_is_spelled_once():
    spelled = [p for p in (ROOT / "reprogrid").rglob("*.py")
               if '"manifest.json"' in p.read_text(encoding="utf-8")]
    assert [p.relative_to(ROOT).as_posix() for p in spelled] == ["reprogrid/tree.py"]


def test_no_function_hides_its_steps_in_more_than_80_lines():
    import ast

    long = []
    for path in sorted((ROOT / "reprogrid").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, "unfold into named steps: " + "; ".join(long)


def test_no_module_over_600_lines_and_no_class_over_400():
    """The brief's split rule: a module or class past these sizes holds more than one role."""
    import ast

    too_big = []
    for path in sorted((ROOT / "reprogrid").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if lines > 600:
            too_big.append(f"{path.relative_to(ROOT)} ({lines} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 400:
                too_big.append(f"{path.relative_to(ROOT)}:{node.lineno} class {node.name}"
                               f" ({node.end_lineno - node.lineno + 1} lines)")
    assert not too_big, "split by role: " + "; ".join(too_big)


def test_every_package_init_says_what_it_owns_and_holds_no_logic():
    import ast

    for init in sorted((ROOT / "reprogrid").rglob("__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{init.relative_to(ROOT)} has no docstring"
        if init.parent.name in ("reprogrid", "job", "commands"):
            continue  # the lazy notebook API, the job bundle's package, the CLI's command list
        logic = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.If))]
        assert not logic, f"{init.relative_to(ROOT)} holds logic: re-export from a module instead"


# --------------------------------------------------------------------------- contracts that bite

def _lint(root: Path) -> subprocess.CompletedProcess:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    env = dict(__import__("os").environ, PYTHONPATH=str(root))
    return subprocess.run([lint, "--config", str(root / "setup.cfg"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=300, env=env)


LEAKS = [
    # (file in a copy of the tree, the leaking line, the contract that must break)
    ("reprogrid/condor/leak.py", "import htcondor2\n", "HTCondor's bindings are imported by reprogrid.condor.bindings alone"),
    ("reprogrid/analysis/leak.py", "from reprogrid.emulator import driver\n", "The analysis and the report know only"),
    ("reprogrid/access/leak.py", "from reprogrid.emulator.dagman import scheduler\n", "A real pool and the emulated one"),
    ("reprogrid/emulator/starter/leak.py", "from reprogrid.emulator.dagman import nodes\n", "The emulator is built as HTCondor is"),
    ("reprogrid/report/leak.py", "def f():\n    from reprogrid.render import study\n", "The analysis and the report know only"),
    ("reprogrid/gather/leak.py", "import reprogrid.spec.definitions\n", "Gather reads records and a manifest"),
    ("reprogrid/job/leak.py", "from reprogrid.core import errors\n", "The job side ships alone"),
    ("reprogrid/spec/leak.py", "from reprogrid.spec import validate\n", "No cycles"),
]


@pytest.mark.parametrize("path,line,contract", LEAKS, ids=[p for p, _, _ in LEAKS])
def test_a_leaking_import_in_a_copy_of_the_tree_breaks_its_contract(tmp_path, path, line, contract):
    shutil.copytree(ROOT / "reprogrid", tmp_path / "reprogrid", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "setup.cfg", tmp_path / "setup.cfg")
    if path == "reprogrid/spec/leak.py":  # a cycle: validate imports the leak, the leak imports validate
        target = tmp_path / "reprogrid/spec/validate.py"
        target.write_text(target.read_text() + "\nfrom reprogrid.spec import leak  # noqa\n")
    (tmp_path / path).write_text(f'"""A leak."""\n{line}')
    proc = _lint(tmp_path)
    assert proc.returncode != 0, proc.stdout[-3000:]
    broken = proc.stdout.split("Broken contracts")[-1]
    assert contract in " ".join(broken.split()), proc.stdout[-3000:]


#: Imports of reprogrid inside functions are allowed only here: the CLI and the commands (they
#: load lazily for start-up time), the job side (its own program: a command workload must not
#: pay for numpy/TensorFlow imports it never uses, issue 28).
FUNCTION_IMPORT_ALLOWED = ("reprogrid/cli.py", "reprogrid/commands/", "reprogrid/job/")


def test_no_reprogrid_import_hides_inside_a_function_below_the_commands():
    import ast

    hidden = []
    for path in sorted((ROOT / "reprogrid").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(FUNCTION_IMPORT_ALLOWED):
            continue
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "reprogrid"):
                    hidden.append(f"{rel}:{node.lineno}")
                elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "reprogrid" for a in node.names):
                    hidden.append(f"{rel}:{node.lineno}")
    assert not hidden, "import at the module's top (a tool sees it): " + ", ".join(hidden)


def test_commands_are_registered_explicitly_and_their_summaries_match_their_parsers():
    import argparse

    from reprogrid import cli

    source = (ROOT / "reprogrid" / "cli.py").read_text(encoding="utf-8")
    assert "pkgutil" not in source and "iter_modules" not in source
    modules = sorted(p.stem for p in (ROOT / "reprogrid" / "commands").glob("*.py") if not p.stem.startswith("_"))
    assert sorted({c.module for c in cli.COMMANDS}) == modules
    full = cli.build_parser()
    action = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in action._choices_actions}
    assert [c.name for c in cli.COMMANDS] == list(helps)
    assert {c.name: c.summary for c in cli.COMMANDS} == helps


def test_help_loads_no_stage_numpy_pandas_or_bindings():
    code = ("import sys; from reprogrid.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas', 'pyarrow', 'htcondor', "
            "'classad', 'jinja2', 'yaml', 'matplotlib') or m.startswith(('reprogrid.spec', 'reprogrid.render', "
            "'reprogrid.access', 'reprogrid.emulator', 'reprogrid.gather', 'reprogrid.analysis', 'reprogrid.report', 'reprogrid.commands.')))\n"
            "print('LOADED', heavy)\n")
    env = dict(__import__("os").environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "LOADED []" in proc.stdout, proc.stdout[-2000:]


def test_a_command_loads_only_its_own_module(tmp_path):
    code = ("import sys; from reprogrid.cli import build_parser\n"
            "build_parser(['validate', 'x.yaml'])\n"
            "print('LOADED', sorted(m for m in sys.modules if m.startswith('reprogrid.commands.')\n"
            "                        and not m.rsplit('.', 1)[1].startswith('_')))\n")
    env = dict(__import__("os").environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert "LOADED ['reprogrid.commands.study']" in proc.stdout, proc.stdout + proc.stderr[-2000:]


#: Stage packages whose __init__ must stay light: the CLI's start-up path goes through them.
LAZY_PACKAGES = ("reprogrid.spec", "reprogrid.render", "reprogrid.access", "reprogrid.emulator", "reprogrid.gather",
                 "reprogrid.report", "reprogrid.condor")


def test_no_lazy_export_is_shadowed_by_a_submodule_of_its_package():
    """A submodule import binds its name on the package, hiding a lazy export of that name."""
    import importlib

    for init in sorted((ROOT / "reprogrid").rglob("__init__.py")):
        package = ".".join(init.parent.relative_to(ROOT).parts)
        exports = getattr(importlib.import_module(package), "_EXPORTS", {})
        if package in LAZY_PACKAGES:
            assert exports, f"{package} re-exports eagerly: list its names in _EXPORTS (core/lazy.py)"
        names = {n for ns in exports.values() for n in ns}
        submodules = {p.stem for p in init.parent.glob("*.py")} | {p.name for p in init.parent.iterdir() if p.is_dir()}
        assert not names & submodules, f"{package}: {sorted(names & submodules)}"


#: Where printing is allowed: the CLI and the commands own the terminal; the job side is its
#: own program writing the job's log.
PRINT_ALLOWED = ("reprogrid/cli.py", "reprogrid/commands/", "reprogrid/job/")


def test_nothing_below_the_commands_prints():
    import ast

    printing = []
    for path in sorted((ROOT / "reprogrid").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(PRINT_ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.id == "print":
                printing.append(f"{rel}:{node.lineno} print")
            elif (isinstance(f, ast.Attribute) and f.attr in ("write", "writelines") and isinstance(f.value, ast.Attribute)
                  and f.value.attr in ("stdout", "stderr") and isinstance(f.value.value, ast.Name) and f.value.value.id == "sys"):
                printing.append(f"{rel}:{node.lineno} sys.{f.value.attr}.{f.attr}")
    assert not printing, "log through logging.getLogger(__name__) instead: " + ", ".join(printing)


def test_the_library_logs_to_a_null_handler_and_the_cli_sets_the_level():
    import logging

    import reprogrid
    from reprogrid import cli

    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger(reprogrid.__name__).handlers)
    logger = logging.getLogger("reprogrid")
    try:
        cli.configure_logging(0, 1)
        assert logger.level == logging.WARNING
        cli.configure_logging(1, 0)
        assert logger.level == logging.DEBUG
        assert sum(getattr(h, "_reprogrid_cli", False) for h in logger.handlers) == 1
    finally:
        for h in [h for h in logger.handlers if getattr(h, "_reprogrid_cli", False)]:
            logger.removeHandler(h)
        logger.setLevel(logging.NOTSET)


def test_quiet_silences_a_stage_note_and_verbose_names_its_module(capsys):
    import logging

    from reprogrid import cli

    logger = logging.getLogger("reprogrid")
    try:
        cli.configure_logging(0, 1)
        logging.getLogger("reprogrid.prepare.envs").info("a stack note")
        assert capsys.readouterr().err == ""
        cli.configure_logging(1, 0)
        logging.getLogger("reprogrid.prepare.envs").info("a stack note")
        assert "reprogrid.prepare.envs: a stack note" in capsys.readouterr().err
    finally:
        for h in [h for h in logger.handlers if getattr(h, "_reprogrid_cli", False)]:
            logger.removeHandler(h)
        logger.setLevel(logging.NOTSET)


def test_commands_build_their_parsers_one_way():
    """The help formatter and the bad-input exit code are spelled in commands/_parser.py only."""
    spelled = {}
    for path in sorted((ROOT / "reprogrid" / "commands").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in ("RawDescriptionHelpFormatter", "2  bad input (a file, folder or option)", ".add_parser("):
            if needle in text:
                spelled.setdefault(needle, []).append(path.name)
    assert spelled == {"RawDescriptionHelpFormatter": ["_parser.py"],
                       "2  bad input (a file, folder or option)": ["_parser.py"], ".add_parser(": ["_parser.py"]}

