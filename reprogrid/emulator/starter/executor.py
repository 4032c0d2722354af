"""Start one job the way a starter would, and finish it: sandbox, environment, transfers.

``prepare`` builds the scratch sandbox (inputs, ``.job.ad``, ``.machine.ad``), the argv
(executable + arguments from the job ad, no shell) and the environment (the job's
``environment``, ``_CONDOR_SCRATCH_DIR``, ``_CONDOR_JOB_AD``, ``_CONDOR_MACHINE_AD``,
thread counts = the slot's CPUs, the frameworks' default pools sized from the matched
machine's ``DetectedCpus`` (see :func:`host_thread_env`), ``PATH`` led by this Python's
folder). Container-universe
jobs run on the host with ``REPROGRID_PYTHON`` naming the interpreter mapped to their
``ReprogridSoftwareEnv``. Local-universe jobs run in their iwd without a sandbox.
``finish`` transfers outputs back and removes the sandbox.

Jobs die with the dry run that started them: each runs in its own process group (session)
and a :class:`Watchdog` process, told of every group as it starts, kills the groups that
are still alive, then every process carrying the dry run's owner marker (what a job
started in a session of its own, see ``processes``), and removes the scratch folder when
the dry run's end of its pipe closes, whichever way the dry run ended (SIGKILL included).
While the dry run lives, ``processes`` ends what a job leaves behind when the job ends.
PRE/POST scripts also get a parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)`` via
ctypes, Linux); jobs do not, because a ``preexec_fn`` turns every spawn into a full fork
(measured: 1,109 -> 269 no-op nodes/s). A sandbox that cannot be made raises ``OSError``
from ``prepare``; the schedd makes it a hold of the job. Scratch folders are named
``reprogrid-dryrun-<pid>-*``; :func:`sweep_scratch` removes those of dead runs.
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Set, Tuple, Union


from reprogrid.emulator.starter.argv import job_arguments, job_environment
from reprogrid.emulator.starter.forkgate import FORK_GATE
from reprogrid.core.files import pid_alive
from reprogrid.emulator.starter.processes import OWNER_VAR
from reprogrid.emulator.starter.transfer import TransferError, UrlMapper, parse_remaps, split_list, transfer_inputs, transfer_outputs
from reprogrid.condor.bindings import ad_string, classad
from reprogrid.core.scratch import SCRATCH_NAME, SCRATCH_PREFIX

UNIVERSE_LOCAL, UNIVERSE_SCHEDULER = 12, 7
#: The starter's STARTER_NUM_THREADS_ENV_VARS: each is set to the slot's CPUs.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "JULIA_NUM_THREADS", "CUBACORES", "ROOT_MAX_THREADS",
               "GOMAXPROCS", "OMP_THREAD_LIMIT", "TF_LOOP_PARALLEL_ITERATIONS", "PYTHON_CPU_COUNT")
#: TensorFlow's default intra-/inter-op pools: sized from the logical CPUs the process can
#: schedule on (the whole execute host: HTCondor does not pin cores by default). These
#: are TensorFlow's own overrides of that default, so they give the pools the host's size.
HOST_POOL_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def host_thread_env(machine: classad.ClassAd) -> Dict[str, str]:
    """The framework pool sizes a job would get by default on ``machine``'s host.

    From ``DetectedCpus`` (``TotalCpus`` when a captured ad lacks it); empty when neither
    is a positive number, so the job then sizes its pools from this host.
    """
    for attr in ("DetectedCpus", "TotalCpus"):
        value = machine.get(attr)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1:
            return {var: str(int(value)) for var in HOST_POOL_VARS}
    return {}


def _b(ad: classad.ClassAd, attr: str) -> bool:
    return attr in ad and ad.eval(attr) is True


def is_local(ad: classad.ClassAd) -> bool:
    return ad.get("JobUniverse") in (UNIVERSE_LOCAL, UNIVERSE_SCHEDULER)


def is_container(ad: classad.ClassAd) -> bool:
    return _b(ad, "WantContainer") or "ContainerImage" in ad or _b(ad, "WantDocker")


@dataclass
class Launch:
    argv: List[str]
    env: Dict[str, str]
    cwd: Path
    stdout: Optional[str]
    stderr: Optional[str]
    stdin: Optional[str]
    sandbox: Optional[Path]
    iwd: Path
    started: float = 0.0
    skip: Set[str] = field(default_factory=set)
    note: str = ""


@dataclass
class JobTemplate:
    """What every launch of one job ad has in common (its sandbox, slot and owner aside)."""

    iwd: Path
    local: bool
    exe: str
    inputs: List[str]
    env: Dict[str, str]
    args: List[str]
    stdout: Optional[str]
    stderr: Optional[str]
    stdin: Optional[str]
    note: str
    transfer_exe: bool


def _write_new(path: str, data: bytes) -> None:
    """``data`` as the file ``path`` (created or truncated), with plain os calls."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


#: Pauses before each new try of an ``exec`` refused with ETXTBSY (then the job is held).
_BUSY_PAUSES = (0.01, 0.05, 0.2, 0.5)

_null_fd: Optional[int] = None
_null_lock = threading.Lock()


def _devnull() -> int:
    """This process's own /dev/null descriptor (close-on-exec: a job gets it only as a stream)."""
    global _null_fd
    if _null_fd is None:
        with _null_lock:  # launches run on several threads: one descriptor, not one leaked per race
            if _null_fd is None:
                _null_fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    return _null_fd


def remove_sandbox(path: Path) -> None:
    """Remove a sandbox as ``shutil.rmtree(path, ignore_errors=True)`` would, with plain
    ``unlink`` calls for its files (a job's sandbox is mostly flat) and ``rmtree`` for the
    folders in it. The folder is opened without following a link, as rmtree does, so a
    job that swapped its sandbox for a symlink gets nothing outside it removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)  # gone, a link or not a folder: rmtree's own handling
        return
    try:
        with os.scandir(fd) as it:
            entries = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in it]
        for name, is_dir in entries:
            try:
                if is_dir:
                    shutil.rmtree(os.path.join(path, name), ignore_errors=True)
                else:
                    os.unlink(name, dir_fd=fd)
            except OSError:
                pass
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


class Executor:
    """Turns (job ad, machine ad) into a ``Launch`` and back; holds the run-wide settings."""

    def __init__(self, scratch_root: Path, urls: UrlMapper, pythons: Mapping[str, str]) -> None:
        self.scratch_root = scratch_root
        self.urls = urls
        self.pythons = dict(pythons)
        self.bin_dir = os.path.dirname(sys.executable)
        self._machine_bytes: Dict[int, bytes] = {}
        self._inside: Dict[tuple, bool] = {}

    def machine_bytes(self, machine: classad.ClassAd) -> bytes:
        key = id(machine)
        data = self._machine_bytes.get(key)
        if data is None:
            # The marker lets the job's fingerprint (and so the report) tell an emulated
            # machine from a real one: the ad's site and CPU are the ones requested.
            text = machine.printOld().rstrip("\n") + "\nReprogridEmulated = true\n"
            data = self._machine_bytes[key] = text.encode()
        return data

    def template(self, ad: classad.ClassAd) -> JobTemplate:
        """What every launch of ``ad`` shares (the caller may keep it, e.g. one per shared job ad)."""
        iwd = Path(ad_string(ad, "Iwd") or ".")
        local = is_local(ad)
        cmd = ad_string(ad, "Cmd") or ""
        inputs: List[str] = []
        if not local:
            inputs = split_list(ad_string(ad, "TransferInput"))
            if is_container(ad) and (ad_string(ad, "ReprogridSoftwareEnv") or "") in self.pythons:
                # the image is not started: its software env's local stack stands in for it (issue 20)
                # (condor_submit moves the image into TransferInput and keeps its file name here)
                image = os.path.basename(ad_string(ad, "ContainerImage") or "")
                inputs = [item for item in inputs if item.rstrip("/").rsplit("/", 1)[-1] != image]
        env: Dict[str, str] = {}
        if _b(ad, "GetEnv"):
            env.update(os.environ)
        env.update(job_environment(ad))
        env["PATH"] = self.bin_dir + os.pathsep + env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env["BATCH_SYSTEM"] = "HTCondor"
        note = ""
        if is_container(ad):
            software = ad_string(ad, "ReprogridSoftwareEnv")
            python = self.pythons.get(software or "", sys.executable)
            env["REPROGRID_PYTHON"] = python
            image = ad_string(ad, "ContainerImage") or "?"
            note = (f"container universe: image {image} is not started; the job runs on the host "
                    f"with REPROGRID_PYTHON={python}" + (f" (software env {software})" if software else ""))
        resolve = (lambda p: None if p is None else (p if os.path.isabs(p) else str(iwd / p)))
        return JobTemplate(
            iwd=iwd, local=local, exe=cmd if os.path.isabs(cmd) else str(iwd / cmd), inputs=inputs, env=env,
            args=job_arguments(ad), stdout=resolve(ad_string(ad, "Out")), stderr=resolve(ad_string(ad, "Err")),
            stdin=resolve(ad_string(ad, "In")), note=note,
            transfer_exe=ad.get("TransferExecutable", True) is not False)

    def _inside_iwd(self, exe: str, iwd: Path) -> bool:
        key = (exe, iwd)
        hit = self._inside.get(key)
        if hit is None:
            hit = self._inside[key] = _inside(Path(exe), iwd)
        return hit

    def prepare(self, ad: classad.ClassAd, machine: classad.ClassAd, tag: str, slot: str, cpus: int,
                owner: str = "", ad_text: Optional[str] = None, template: Optional[JobTemplate] = None) -> Launch:
        """The sandbox made and filled, and the job's argv and environment (``owner``: the
        marker of its processes, see ``processes``; ``ad_text``: the job ad to write, the
        ad's own text by default; ``template``: :meth:`template` of ``ad`` when the caller
        keeps one). Raises ``OSError`` when the sandbox cannot be made and ``TransferError``
        when an input cannot be transferred."""
        t = template if template is not None else self.template(ad)
        sandbox = self.scratch_root / tag
        box = str(sandbox)
        try:
            os.mkdir(box)
        except FileNotFoundError:
            os.makedirs(box)
        job_ad_path = box + "/.job.ad"
        machine_ad_path = box + "/.machine.ad"
        _write_new(job_ad_path, (ad_text if ad_text is not None else ad.printOld()).encode())
        _write_new(machine_ad_path, self.machine_bytes(machine))
        exe = t.exe
        skip = {".job.ad", ".machine.ad"}
        if not t.local:
            # condor copies the executable into the sandbox unless transfer_executable = false;
            # executables from system folders (/bin/true, /usr/bin/env) are run in place.
            copy_exe = t.transfer_exe and os.path.isfile(exe) and self._inside_iwd(exe, t.iwd)
            if t.inputs or copy_exe:
                with FORK_GATE.writing():  # no fork may see these files open for writing
                    if t.inputs:
                        transfer_inputs(t.inputs, t.iwd, sandbox, self.urls)
                    if copy_exe:
                        name = os.path.basename(exe)
                        copied = box + "/" + name
                        shutil.copy2(exe, copied)
                        exe = copied
                        skip.add(name)
        env = dict(t.env)
        env["_CONDOR_SCRATCH_DIR"] = box
        env["_CONDOR_JOB_AD"] = job_ad_path
        env["_CONDOR_MACHINE_AD"] = machine_ad_path
        env["_CONDOR_SLOT"] = slot
        if owner:
            env[OWNER_VAR] = owner
        env.setdefault("TMPDIR", box)
        env.setdefault("TEMP", box)
        env.setdefault("TMP", box)
        for var in THREAD_VARS:
            env.setdefault(var, str(cpus))
        for var, value in host_thread_env(machine).items():
            env.setdefault(var, value)
        return Launch(argv=[exe] + t.args, env=env, cwd=t.iwd if t.local else sandbox,
                      stdout=t.stdout, stderr=t.stderr, stdin=t.stdin,
                      sandbox=sandbox, iwd=t.iwd, skip=skip, note=t.note)

    def spawn(self, launch: Launch) -> subprocess.Popen:
        null = _devnull()  # one /dev/null for every job's unset streams, not an open and close per spawn

        def opener(path: Optional[str], mode: str):
            if path is None or path == "/dev/null":
                return null
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return open(path, mode)

        out = opener(launch.stdout, "wb")
        err = out if (launch.stderr == launch.stdout and out is not null) else opener(launch.stderr, "wb")
        inp = opener(launch.stdin, "rb") if launch.stdin and launch.stdin != "/dev/null" else null
        try:
            pauses = iter(_BUSY_PAUSES)
            while True:
                try:
                    # No preexec_fn here: it makes every spawn a full fork (measured 1,109 -> 269 nodes/s);
                    # the watchdog kills the job's whole group (grandchildren too) when the dry run dies.
                    with FORK_GATE.forking():
                        return subprocess.Popen(launch.argv, cwd=str(launch.cwd), env=launch.env, stdin=inp,
                                                stdout=out, stderr=err, start_new_session=True, close_fds=True)
                except OSError as error:
                    # a fork made outside the gate (a caller's own thread) can still hold the
                    # executable open for a moment: the refusal is transient, try again
                    pause = next(pauses, None)
                    if error.errno != errno.ETXTBSY or pause is None:
                        raise
                    time.sleep(pause)
        finally:
            for fh in {id(x): x for x in (out, err, inp)}.values():
                if fh is not null:
                    fh.close()

    def discard(self, tag: str) -> None:
        """Remove what a failed ``prepare`` left of a sandbox."""
        path = self.scratch_root / tag
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            try:
                path.unlink()
            except OSError:
                pass

    watchdog: Optional["Watchdog"] = None

    def adopt(self, pgid: int) -> None:
        """Tell the watchdog of a new process group (a job or a script) to kill if we die."""
        if self.watchdog is not None:
            self.watchdog.add(pgid)

    def release(self, pgid: int) -> None:
        """The group's leader was reaped: the watchdog forgets it."""
        if self.watchdog is not None:
            self.watchdog.remove(pgid)

    def commit(self) -> None:
        """Tell the watchdog the groups adopted and released since the last commit."""
        if self.watchdog is not None:
            self.watchdog.flush()

    def helper_pids(self) -> Tuple[int, ...]:
        """Children of the dry run that are no job's (the watchdog)."""
        return (self.watchdog.proc.pid,) if self.watchdog is not None else ()

    def finish(self, ad: classad.ClassAd, launch: Launch, keep_outputs: bool = True,
               remove: Optional[Callable[[Path], None]] = None) -> None:
        """Transfer outputs back (raises ``TransferError``) and remove the sandbox (through
        ``remove`` when given, e.g. off the loop's path)."""
        try:
            if keep_outputs and not is_local(ad) and launch.sandbox is not None:
                outputs = ad_string(ad, "TransferOutput")
                transfer_outputs(split_list(outputs) if outputs is not None else None,
                                 parse_remaps(ad_string(ad, "TransferOutputRemaps")), launch.sandbox,
                                 launch.iwd, launch.skip, launch.started)
        finally:
            if launch.sandbox is not None:
                if remove is not None:
                    remove(launch.sandbox)
                else:
                    remove_sandbox(launch.sandbox)


PR_SET_PDEATHSIG = 1
_libc = None


def _set_pdeathsig(parent: int) -> None:  # runs in the child between fork and exec
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the dry run died before the signal was armed
        os._exit(137)


def die_with_parent():  # noqa: ANN201 - a preexec_fn or None
    """A ``preexec_fn`` arming ``PR_SET_PDEATHSIG`` (Linux), so the child dies with us."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    return lambda: _set_pdeathsig(parent)


_SCRATCH = SCRATCH_NAME  # the name of a scratch root, owned by core.scratch

_WATCHDOG = r"""
import os, shutil, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
groups = set()
for line in sys.stdin.buffer:
    if line[:1] == b"+":
        groups.add(int(line[1:]))
    elif line[:1] == b"-":
        groups.discard(int(line[1:]))
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
key = ("\0" + sys.argv[2] + "=" + sys.argv[3] + ".").encode()
for _ in range(8):  # what the jobs left (setsid, double-forked) carries their owner marker
    hit = False
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/" + name + "/environ", "rb") as fh:
                if key in b"\0" + fh.read():
                    os.kill(int(name), signal.SIGKILL)
                    hit = True
        except OSError:
            pass
    if not hit:
        break
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


class Watchdog:
    """A small process that outlives a killed dry run to kill its jobs and remove its scratch.

    It reads ``+pgid`` / ``-pgid`` lines on a pipe; at end of file (the dry run exited or
    was killed) it SIGKILLs every group still listed and every process whose environment
    carries this dry run's owner marker (``processes.OWNER_VAR``: what the jobs started in
    sessions of their own), and removes the scratch folder.
    ``keep_fds`` (the DAG's lock) stay open in it, so the DAG stays locked until the
    jobs are gone.
    """

    def __init__(self, scratch_root: Path, keep_fds: tuple = ()) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(scratch_root), OWNER_VAR, str(os.getpid())],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                                     pass_fds=keep_fds)
        self.pipe = self.proc.stdin
        self._pending = []

    _pending: List[str]

    def add(self, pgid: int) -> None:
        self._pending.append(f"+{pgid}\n")

    def remove(self, pgid: int) -> None:
        self._pending.append(f"-{pgid}\n")

    def flush(self) -> None:
        """Send the groups added and removed since the last flush (one write per loop turn;
        what a job starts in the meantime still carries the owner marker it kills by)."""
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        try:
            self.pipe.write(text.encode())
            self.pipe.flush()
        except (BrokenPipeError, ValueError):
            pass

    def close(self) -> None:
        """Our normal end: the watchdog kills what is left (nothing, normally) and exits."""
        self._pending = []
        try:
            self.pipe.close()
        except BrokenPipeError:
            pass
        self.proc.wait()


def make_scratch(parent: Optional[Union[str, Path]] = None) -> Path:
    """A fresh scratch root, ``reprogrid-dryrun-<pid>-<random>``, after sweeping dead runs' ones."""
    root = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    sweep_scratch(root)
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=root))


def sweep_scratch(root: Path) -> List[Path]:
    """Remove the scratch folders of dry runs whose process is gone (never a live run's)."""
    removed = []
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(SCRATCH_PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        m = _SCRATCH.match(entry.name)
        if m and entry.is_dir(follow_symlinks=False) and not pid_alive(int(m.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


__all__ = ["Executor", "Launch", "TransferError", "Watchdog", "die_with_parent", "host_thread_env", "is_container",
           "is_local", "make_scratch", "remove_sandbox", "sweep_scratch"]
