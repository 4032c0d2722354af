"""Local software stacks: each ``software[i].local`` provisioned into a cached virtualenv.

A container's local stand-in (:class:`reprogrid.spec.definitions.LocalStack`: pip packages and
environment variables) is built once into ``<root>/<key>/``, where ``key`` hashes what it
declares plus the base interpreter, and reused while those are unchanged. The root is
``$REPROGRID_ENVS``, else ``$XDG_CACHE_HOME/reprogrid/envs``, else
``~/.cache/reprogrid/envs``. Each env holds::

    bin/python              the virtualenv's interpreter
    bin/reprogrid-python    it, with the stack's environment variables (what jobs run)
    freeze.txt              ``pip freeze``: the exact versions installed
    build.log               pip's output
    reprogrid-env.json      the declaration, key and build facts; written LAST

A build works in a staging folder beside the env (``.<key>.building-<pid>``) and renames it
into place once ``reprogrid-env.json`` is written, so an env appears only complete; the next
build sweeps what a killed one left. pip runs under a small guard in its own process group
that kills the group when the build dies (parent-death signal, and a watch of its parent),
so a killed ``envs build`` leaves no pip writing. Builds of one key are serialised by a lock file. Nothing here runs at import or during ``render``; only
:func:`build` (``reprogrid envs build``, the demo) installs anything.
"""
from __future__ import annotations

import fcntl
import logging
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from reprogrid.core.errors import Problem, UserError, file_system_error
from reprogrid.core.files import write_bytes_atomic, write_text_atomic
from reprogrid.spec.definitions import LocalStack, SoftwareEnv, Study

log = logging.getLogger(__name__)

ENVS_VAR = "REPROGRID_ENVS"
META_FILE = "reprogrid-env.json"
FREEZE_FILE = "freeze.txt"
LOG_FILE = "build.log"
WRAPPER = "bin/reprogrid-python"
KEY_FORMAT = 1

Say = Callable[[str], None]


@dataclass(frozen=True)
class BuiltEnv:
    """A complete provisioned stack in the cache."""

    key: str
    path: Path
    names: Tuple[str, ...]
    packages: Tuple[str, ...]
    env: Mapping[str, str]
    built_at: str
    seconds: float
    freeze: Tuple[str, ...]

    @property
    def python(self) -> Path:
        """The interpreter jobs run: the env's Python with the stack's variables set."""
        return self.path / WRAPPER

    @property
    def size_mb(self) -> float:
        total = 0
        for root, _dirs, files in os.walk(self.path):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    pass
        return total / 2**20


def envs_root() -> Path:
    """Where provisioned stacks live: ``$REPROGRID_ENVS`` or the user's cache folder."""
    explicit = os.environ.get(ENVS_VAR)
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "reprogrid" / "envs"


def _base_python() -> Dict[str, str]:
    return {"implementation": platform.python_implementation(), "version": platform.python_version(),
            "machine": platform.machine(), "executable": os.path.realpath(sys.executable)}


def stack_key(local: LocalStack) -> str:
    """The cache key: a hash of the packages, the variables and the base interpreter."""
    declared = {"format": KEY_FORMAT, "packages": list(local.packages), "env": dict(sorted(local.env.items())),
                "python": _base_python()}
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()[:16]


def _read_meta(folder: Path) -> Optional[BuiltEnv]:
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return BuiltEnv(key=str(meta["key"]), path=folder, names=tuple(meta.get("names") or ()),
                        packages=tuple(meta.get("packages") or ()), env=dict(meta.get("env") or {}),
                        built_at=str(meta.get("built_at", "")), seconds=float(meta.get("seconds") or 0.0),
                        freeze=tuple(meta.get("freeze") or ()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find(local: LocalStack, root: Optional[Path] = None) -> Optional[BuiltEnv]:
    """The complete env for ``local`` in the cache, or None (nothing is built here)."""
    folder = (root or envs_root()) / stack_key(local)
    built = _read_meta(folder)
    return built if built is not None and (folder / WRAPPER).is_file() else None


def list_envs(root: Optional[Path] = None) -> List[BuiltEnv]:
    """Every complete env in the cache, oldest first; half-built folders are not listed."""
    root = root or envs_root()
    if not root.is_dir():
        return []
    out = [env for env in (_read_meta(p) for p in sorted(root.iterdir()) if p.is_dir()) if env is not None]
    return sorted(out, key=lambda e: e.built_at)


def local_stacks(study: Study) -> List[Tuple[SoftwareEnv, LocalStack]]:
    """The software environments of ``study`` that declare a local stack."""
    return [(sw, sw.local) for sw in study.software if sw.local is not None]


def interpreters(study: Study, root: Optional[Path] = None) -> Dict[str, str]:
    """Software env -> its built stack's interpreter; ``UserError`` naming what to build."""
    out: Dict[str, str] = {}
    missing = []
    for sw, local in local_stacks(study):
        built = find(local, root)
        if built is None:
            missing.append(Problem(f"software {sw.name}", "its local stack is not built: run "
                                   "`reprogrid envs build STUDY.yaml` (or pass --python NAME=PYTHON)"))
        else:
            out[sw.name] = str(built.python)
    if missing:
        raise UserError.of("local software stacks not provisioned", missing)
    return out


def manifest_interpreters(software: Mapping[str, Any], skip: Iterable[str] = (),
                          root: Optional[Path] = None) -> Dict[str, str]:
    """Software env -> built stack interpreter, for the manifest's software entries with ``local``.

    Entries named in ``skip`` (an explicit interpreter was given) are not looked up; a
    stack that is not built raises ``UserError`` naming the command that builds it.
    """
    out: Dict[str, str] = {}
    missing = []
    for name, entry in software.items():
        local = entry.get("local") if isinstance(entry, Mapping) else None
        if name in skip or not isinstance(local, Mapping):
            continue
        stack = LocalStack(tuple(str(p) for p in local.get("packages") or ()),
                           {str(k): str(v) for k, v in (local.get("env") or {}).items()})
        built = find(stack, root)
        if built is None:
            missing.append(Problem(f"software {name}", "its local stack is not provisioned here: run `reprogrid envs "
                                   "build SUBMIT_DIR` (or pass --python NAME=PYTHON)"))
        else:
            out[name] = str(built.python)
    if missing:
        raise UserError.of("local software stacks not provisioned", missing)
    return out


def build(study: Study, *, root: Optional[Path] = None, only: Sequence[str] = (), say: Optional[Say] = None,
          pip_output: bool = True) -> List[Tuple[BuiltEnv, bool]]:
    """Provision every local stack of ``study`` (or those named in ``only``).

    Returns (env, built) pairs: ``built`` is False when the cached env was reused. A
    package pip cannot install raises ``UserError`` (exit 2) naming it and pip's error;
    nothing half-built is left that looks complete.
    """
    say = say or log.info
    stacks = local_stacks(study)
    unknown = [n for n in only if n not in {sw.name for sw, _ in stacks}]
    if unknown:
        raise UserError.of("unknown local stack", [Problem(n, "no software environment of this study declares "
                                                           f"`local` under that name (those that do: {', '.join(sw.name for sw, _ in stacks) or 'none'})")
                                                   for n in unknown])
    by_key: Dict[str, Tuple[LocalStack, List[str]]] = {}
    for sw, local in stacks:
        if not only or sw.name in only:
            by_key.setdefault(stack_key(local), (local, []))[1].append(sw.name)
    out = []
    for i, (key, (local, names)) in enumerate(by_key.items(), 1):
        out.append(_build_one(local, names, root or envs_root(), say, f"[{i}/{len(by_key)}]", pip_output))
    return out


@contextmanager
def _lock(root: Path, key: str) -> Iterator[None]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / f".{key}.lock", "a+")
    except OSError as err:
        raise file_system_error(err, f"provision the local stack in {root}", root) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# pip runs under this guard: it is the leader of pip's process group and kills the whole group
# (pip, the pip it starts with --python, any build backend) when the build that started it
# dies: at once through the parent-death signal on Linux, within half a second by watching
# its parent elsewhere, or when the build terminates it (an interrupt, an error).
_GUARD = """\
import os, signal, subprocess, sys
parent = int(sys.argv[1])
def die(*_):
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, die)
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() != parent:
    die()
child = subprocess.Popen(sys.argv[2:])
while True:
    try:
        sys.exit(child.wait(timeout=0.5))
    except subprocess.TimeoutExpired:
        if os.getppid() != parent:
            die()
"""
STAGING_MARK = ".building-"


def _staging_folders(root: Path, key: str) -> List[Path]:
    return sorted(root.glob(f".{key}{STAGING_MARK}*"))


def _sweep(root: Path, key: str, say: Say, label: str) -> None:
    """Remove what killed builds of ``key`` left: staging folders and a half-built env (we hold the lock)."""
    leftovers = _staging_folders(root, key) + ([root / key] if (root / key).exists() else [])
    for folder in leftovers:
        say(f"{label}: removing an incomplete build in {folder}")
        for attempt in range(20):  # a guard killing its pip may still be finishing
            try:
                shutil.rmtree(folder)
                break
            except FileNotFoundError:
                break
            except OSError as err:
                if attempt == 19:
                    raise UserError.of(f"cannot remove the incomplete build {folder}", [Problem(
                        str(folder), f"{err.strerror or err} ({err.filename or folder}): a process may still be writing "
                        "there (a pip left by a build killed some other way); stop it, remove the folder, then run "
                        "`reprogrid envs build` again")]) from None
                time.sleep(0.25)


def _build_one(local: LocalStack, names: List[str], root: Path, say: Say, step: str,
               pip_output: bool) -> Tuple[BuiltEnv, bool]:
    key = stack_key(local)
    label = f"{step} {', '.join(names)} ({', '.join(local.packages) or 'no packages'})"
    with _lock(root, key):
        cached = find(local, root)
        if cached is not None:
            say(f"{label}: cached in {cached.path}")
            return cached, False
        folder = root / key
        _sweep(root, key, say, label)
        staging = root / f".{key}{STAGING_MARK}{os.getpid()}"
        say(f"{label}: building in {folder}")
        started = time.monotonic()
        try:
            freeze = _provision(local, names, staging, say, pip_output, folder)
            seconds = time.monotonic() - started
            meta = {"key": key, "names": names, "packages": list(local.packages), "env": dict(local.env),
                    "python": _base_python(), "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "seconds": round(seconds, 1), "freeze": freeze}
            write_text_atomic(staging / META_FILE, json.dumps(meta, indent=1) + "\n")
            _relocate(staging, folder)
            os.rename(staging, folder)  # the env appears complete, or not at all
        except OSError as err:
            shutil.rmtree(staging, ignore_errors=True)
            raise file_system_error(err, f"provision the local stack of {', '.join(names)}", err.filename or staging) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        built = _read_meta(folder)
        assert built is not None
        say(f"{label}: built in {seconds:.0f} s ({len(freeze)} packages; versions in {folder / FREEZE_FILE})")
        return built, True


def _relocate(staging: Path, folder: Path) -> None:
    """Point the scripts pip and venv wrote in ``staging/bin`` (shebangs, activate) at ``folder``."""
    old, new = str(staging).encode(), str(folder).encode()
    for path in (staging / "bin").iterdir():
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
            continue
        data = path.read_bytes()
        if old in data:
            write_bytes_atomic(path, data.replace(old, new), mode=path.stat().st_mode & 0o777)


def _provision(local: LocalStack, names: List[str], folder: Path, say: Say, pip_output: bool,
               final: Path) -> List[str]:
    """Create the venv in ``folder`` (staging for ``final``), install the packages, write the
    wrapper and the freeze; returns the freeze."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    python = folder / "bin" / "python"
    log = folder / LOG_FILE
    if local.packages:
        # The toolkit's pip installs into the env (``--python``); ``--`` ends pip's options,
        # and the spec's validator only admits plain requirements, so no value reads as an option.
        argv = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-input",
                "--disable-pip-version-check", "--progress-bar", "off", "--", *local.packages]
        code, lines = _stream(argv, log, say if pip_output else None)
        if code != 0:
            kept = final.parent / f"{final.name}.failed.log"
            shutil.copyfile(log, kept)  # the env folder goes; pip's full output stays
            raise _install_error(local, names, lines, kept)
    freeze_argv = [sys.executable, "-m", "pip", "--python", str(python), "freeze", "--all", "--disable-pip-version-check"]
    proc = subprocess.run(freeze_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    freeze = [line for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []
    write_text_atomic(folder / FREEZE_FILE, "".join(line + "\n" for line in freeze))
    _write_wrapper(folder, local)
    return freeze


def _stream(argv: List[str], log: Path, say: Optional[Say]) -> Tuple[int, List[str]]:
    """Run ``argv``, copying its output to ``log`` (and, indented, to ``say``)."""
    lines: List[str] = []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "a", encoding="utf-8") as out:
        # pip under the guard, in a new session (its own process group): see _GUARD
        proc = subprocess.Popen([sys.executable, "-c", _GUARD, str(os.getpid()), *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True, env=env, start_new_session=True)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                out.write(line)
                lines.append(line.rstrip("\n"))
                if say is not None and line.strip():
                    say("    " + line.rstrip())
        finally:
            if proc.poll() is None:  # interrupted or failed here: the guard takes pip's group with it
                proc.terminate()
            code = proc.wait()
    return code, lines


_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_NO_VERSION = re.compile(r"Could not find a version that satisfies the requirement (\S+)")


def _install_error(local: LocalStack, names: List[str], lines: List[str], log: Path) -> UserError:
    """The exit-2 error for a failed install: the package, pip's own error, what to do."""
    errors = [line.strip() for line in lines if line.strip().startswith("ERROR:")]
    culprits = [m.group(1) for line in errors for m in (_NO_MATCH.search(line), _NO_VERSION.search(line)) if m]
    culprit = culprits[0] if culprits else None
    wanted = [p for p in local.packages if culprit and _base_name(p) == _base_name(culprit)] or list(local.packages)
    registry = "; ".join(dict.fromkeys(errors)) or (lines[-1].strip() if lines else "pip failed")
    problems = [Problem(f"software {', '.join(names)}: package {p}",
                        f"cannot be installed: {registry}. Check the name and the version on the index "
                        f"(`pip index versions {_base_name(p)}`), pick one built for Python "
                        f"{platform.python_version()} on {platform.machine()}, then run `reprogrid envs build` again "
                        f"(pip's full output: {log}; nothing half-built was kept)") for p in wanted]
    return UserError.of(f"could not provision the local stack of {', '.join(names)}", problems)


def _base_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _write_wrapper(folder: Path, local: LocalStack) -> None:
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in sorted(local.env.items()))
    text = ("#!/bin/sh\n# reprogrid local stack: this env's Python with the stack's environment variables.\n"
            + exports + 'exec "$(dirname "$0")/python" "$@"\n')
    write_text_atomic(folder / WRAPPER, text, mode=0o755)


def remove(keys_or_names: Sequence[str], root: Optional[Path] = None) -> List[BuiltEnv]:
    """Delete the envs whose key (or a prefix of it) or software env name is given."""
    envs = list_envs(root)
    chosen, problems = [], []
    for wanted in keys_or_names:
        hits = [e for e in envs if e.key.startswith(wanted) or wanted in e.names]
        if not hits:
            problems.append(Problem(wanted, "no provisioned env has that key or name; see `reprogrid envs list`"))
        chosen += [e for e in hits if e not in chosen]
    if problems:
        raise UserError.of("nothing to remove", problems)
    for env in chosen:
        with _lock(env.path.parent, env.key):
            (env.path / META_FILE).unlink(missing_ok=True)  # incomplete first, then gone
            shutil.rmtree(env.path, ignore_errors=True)
    return chosen


__all__ = ["BuiltEnv", "ENVS_VAR", "build", "envs_root", "find", "interpreters", "list_envs", "local_stacks",
           "manifest_interpreters", "remove", "stack_key"]
