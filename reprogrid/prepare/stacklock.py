"""One software stack, two faces: the lock beside a study and the Apptainer definition made from it.

A software environment may declare its stack once (``local: {base, packages, env}``).
``reprogrid envs build`` resolves it into a local virtualenv; that env's ``pip freeze`` is
the stack's *lock*, stored beside the study as ``<study name>.lock/<env>.txt`` so that it
is reviewed and committed. ``reprogrid images def`` turns the lock into an Apptainer
definition that installs exactly those versions (``--no-deps``: the lock is the whole
resolved set) on the declared base image, so the OSPool runs what the dry run ran. The
records' installed distributions are compared with the lock by
:mod:`reprogrid.analysis.locks`.

Owns: the lock's location and format, the generated definition's text.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple

from reprogrid.core.errors import Problem, UserError
from reprogrid.core.files import write_text_atomic
from reprogrid.job.distributions import TOOLING, normalize
from reprogrid.prepare.images import JOB_BUNDLE_IN_IMAGE, JOB_BUNDLE_NAME
from reprogrid.spec.definitions import SoftwareEnv

LOCK_SUFFIX = ".lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")
_PYTHON = re.compile(r"^# python (\d+\.\d+)(?:\.\d+)?\s*$")


def lock_dir(base_dir: Path | str, study_name: str) -> Path:
    """The folder of a study's locks: ``<spec folder>/<study name>.lock``."""
    return Path(base_dir) / f"{study_name}{LOCK_SUFFIX}"


def lock_path(base_dir: Path | str, study_name: str, env: str) -> Path:
    """One software environment's lock file."""
    return lock_dir(base_dir, study_name) / f"{env}.txt"


def lock_text(freeze: Sequence[str], python: str) -> str:
    """A freeze as lock text: a header naming the Python it was resolved for, pins sorted."""
    pins = sorted({line.strip() for line in freeze if _PIN.match(line.strip())
                   and normalize(_PIN.match(line.strip()).group(1)) not in TOOLING}, key=str.lower)
    head = ("# reprogrid stack lock: the exact versions the local stack resolved to; `reprogrid images def`\n"
            "# installs these into the image. Review and commit it; `reprogrid envs build --update-lock` rewrites it.\n"
            f"# python {python}\n")
    return head + "".join(pin + "\n" for pin in pins)


def parse_lock(text: str, where: str = "<lock>") -> Tuple[Dict[str, str], Optional[str]]:
    """(normalised name -> version, the Python ``major.minor``) of lock text; bad lines are a ``UserError``."""
    pins: Dict[str, str] = {}
    python = None
    problems = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        match = _PYTHON.match(line)
        if match:
            python = match.group(1)
            continue
        if not line or line.startswith("#"):
            continue
        pin = _PIN.match(line)
        if not pin:
            problems.append(Problem(f"{where}:{lineno}", f"expected a pin like numpy==1.26.4, got {line!r}: "
                                    "rewrite the lock with `reprogrid envs build --update-lock STUDY`"))
            continue
        pins[normalize(pin.group(1))] = pin.group(2)
    if problems:
        raise UserError.of(f"{where}: not a stack lock", problems)
    return pins, python


def read_lock(path: Path) -> Tuple[Dict[str, str], Optional[str]]:
    """Read one lock file (see :func:`parse_lock`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError.of("cannot read a stack lock", [Problem(str(path), f"{err}: run `reprogrid envs build "
                                                                           "STUDY` to write it")]) from err
    return parse_lock(text, str(path))


def write_lock(path: Path, freeze: Sequence[str], python: str, update: bool = False) -> str:
    """Write the lock when absent (or ``update``); returns ``written``, ``unchanged`` or ``differs``."""
    text = lock_text(freeze, python)
    if path.is_file():
        old = path.read_text(encoding="utf-8", errors="replace")
        if parse_lock(old, str(path))[0] == parse_lock(text)[0]:
            return "unchanged"
        if not update:
            return "differs"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return "written"


def _docker_base(base: str) -> str:
    return base.split("://", 1)[1] if base.startswith("docker://") else base


def definition_text(sw: SoftwareEnv, pins: Mapping[str, str], python: Optional[str]) -> str:
    """The Apptainer definition of ``sw``: its base image, every pin of its lock, its variables.

    It carries what every reprogrid image carries (the job bundle, the labels, a %test), so
    ``reprogrid images build --definitions DIR`` builds it like the paper's images.
    """
    if sw.local is None or not sw.local.base:
        raise UserError.of("no base image", [Problem(f"software {sw.name}.local.base", "declare the base image "
                                                     "the stack installs into, e.g. docker://python:3.11-slim")])
    base = _docker_base(sw.local.base)
    requirements = [f"{name}=={version}" for name, version in sorted(pins.items()) if name not in TOOLING]
    tf = pins.get("tensorflow") or pins.get("tensorflow-cpu") or "none"
    install = " \\\n        ".join(f'"{r}"' for r in requirements)
    check = (f"    python3 -c 'import sys; v = \"%d.%d\" % sys.version_info[:2]; sys.exit(0 if v == \"{python}\" else "
             f"\"the lock was resolved for Python {python}, this base image has \" + v)'\n" if python else "")
    test = (f"    python3 {JOB_BUNDLE_IN_IMAGE} selftest\n" if tf != "none"
            else f"    python3 {JOB_BUNDLE_IN_IMAGE} fingerprint --no-tf > /dev/null\n")
    exports = "".join(f"    export {k}={shlex.quote(str(v))}\n" for k, v in sorted(sw.local.env.items()))
    return (f"# {sw.name}: generated by `reprogrid images def` from the stack lock; edit the study and the lock,\n"
            "# not this file. Every distribution of the lock is pinned (--no-deps: the lock is the whole set).\n"
            f"Bootstrap: docker\nFrom: {base}\n\n"
            f"%files\n    {JOB_BUNDLE_NAME} {JOB_BUNDLE_IN_IMAGE}\n\n"
            "%post\n    set -eu\n" + check
            + (f"    python3 -m pip install --no-cache-dir --no-deps \\\n        {install}\n" if requirements else "")
            + "    mkdir -p /opt/reprogrid\n    python3 -m pip freeze > /opt/reprogrid/pip-freeze.txt\n\n"
            "%labels\n"
            f"    org.reprogrid.image {sw.name}\n    org.reprogrid.base-image {base}\n"
            f"    org.reprogrid.software-env {sw.name}\n    org.reprogrid.python {python or 'unknown'}\n"
            f"    org.reprogrid.tensorflow {tf}\n    org.reprogrid.numpy {pins.get('numpy', 'none')}\n"
            f"    org.reprogrid.pyarrow {pins.get('pyarrow', 'none')}\n\n"
            "%environment\n" + exports
            + f"    export REPROGRID_JOB={JOB_BUNDLE_IN_IMAGE}\n    export REPROGRID_IMAGE={sw.name}\n"
            "    export PYTHONNOUSERSITE=1\n\n"
            f"%test\n{test}\n"
            f"%runscript\n    exec python3 {JOB_BUNDLE_IN_IMAGE} \"$@\"\n")


def generated_definitions(software: Sequence[SoftwareEnv], base_dir: Path | str,
                          study_name: str) -> Dict[str, str]:
    """Env name -> definition text for every environment that declares ``local.base``;
    a missing lock is a ``UserError`` naming the command that writes it."""
    out: Dict[str, str] = {}
    problems = []
    declared = [sw for sw in software if sw.local is not None and sw.local.base]
    if not declared:
        raise UserError.of("nothing to generate", [Problem("software[].local.base", "no software environment "
                                                           "declares a base image; add `base: docker://python:3.11-slim` "
                                                           "to a `local` stack (prebuilt images stay in `image:`)")])
    for sw in declared:
        path = lock_path(base_dir, study_name, sw.name)
        if not path.is_file():
            problems.append(Problem(f"software {sw.name}", f"no lock at {path}: run `reprogrid envs build STUDY` "
                                    "(it writes the lock from the built stack), review and commit it"))
            continue
        pins, python = read_lock(path)
        out[sw.name] = definition_text(sw, pins, python)
    if problems:
        raise UserError.of("stack locks missing", problems)
    return out
