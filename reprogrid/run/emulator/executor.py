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
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Set


from reprogrid.run.emulator.argv import job_arguments, job_environment
from reprogrid.run.emulator.transfer import TransferError, UrlMapper, parse_remaps, split_list, transfer_inputs, transfer_outputs
from reprogrid.condor.bindings import classad

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


def _s(ad: classad.ClassAd, attr: str) -> Optional[str]:
    if attr not in ad:
        return None
    v = ad.eval(attr)
    return v if isinstance(v, str) else None


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


class Executor:
    """Turns (job ad, machine ad) into a ``Launch`` and back; holds the run-wide settings."""

    def __init__(self, scratch_root: Path, urls: UrlMapper, pythons: Mapping[str, str]) -> None:
        self.scratch_root = scratch_root
        self.urls = urls
        self.pythons = dict(pythons)
        self.bin_dir = os.path.dirname(sys.executable)
        self._machine_text: Dict[int, str] = {}

    def machine_text(self, machine: classad.ClassAd) -> str:
        key = id(machine)
        text = self._machine_text.get(key)
        if text is None:
            # The marker lets the job's fingerprint (and so the report) tell an emulated
            # machine from a real one: the ad's site and CPU are the ones requested.
            text = self._machine_text[key] = machine.printOld().rstrip("\n") + "\nReprogridEmulated = true\n"
        return text

    def prepare(self, ad: classad.ClassAd, machine: classad.ClassAd, tag: str, slot: str, cpus: int) -> Launch:
        iwd = Path(_s(ad, "Iwd") or ".")
        local = is_local(ad)
        sandbox = Path(self.scratch_root / tag)
        sandbox.mkdir(parents=True)
        job_ad_path = sandbox / ".job.ad"
        machine_ad_path = sandbox / ".machine.ad"
        job_ad_path.write_text(ad.printOld())
        machine_ad_path.write_text(self.machine_text(machine))
        cmd = _s(ad, "Cmd") or ""
        exe = cmd if os.path.isabs(cmd) else str(iwd / cmd)
        skip = {".job.ad", ".machine.ad"}
        if not local:
            transfer_inputs(split_list(_s(ad, "TransferInput")), iwd, sandbox, self.urls)
            # condor copies the executable into the sandbox unless transfer_executable = false;
            # executables from system folders (/bin/true, /usr/bin/env) are run in place.
            if ad.get("TransferExecutable", True) is not False and Path(exe).is_file() and _inside(Path(exe), iwd):
                copied = sandbox / Path(exe).name
                shutil.copy2(exe, copied)
                exe = str(copied)
                skip.add(copied.name)
        env: Dict[str, str] = {}
        if _b(ad, "GetEnv"):
            env.update(os.environ)
        env.update(job_environment(ad))
        env["PATH"] = self.bin_dir + os.pathsep + env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env["_CONDOR_SCRATCH_DIR"] = str(sandbox)
        env["_CONDOR_JOB_AD"] = str(job_ad_path)
        env["_CONDOR_MACHINE_AD"] = str(machine_ad_path)
        env["_CONDOR_SLOT"] = slot
        env["BATCH_SYSTEM"] = "HTCondor"
        env.setdefault("TMPDIR", str(sandbox))
        env.setdefault("TEMP", str(sandbox))
        env.setdefault("TMP", str(sandbox))
        for var in THREAD_VARS:
            env.setdefault(var, str(cpus))
        for var, value in host_thread_env(machine).items():
            env.setdefault(var, value)
        note = ""
        if is_container(ad):
            software = _s(ad, "ReprogridSoftwareEnv")
            python = self.pythons.get(software or "", sys.executable)
            env["REPROGRID_PYTHON"] = python
            image = _s(ad, "ContainerImage") or "?"
            note = (f"container universe: image {image} is not started; the job runs on the host "
                    f"with REPROGRID_PYTHON={python}" + (f" (software env {software})" if software else ""))
        stdout = _s(ad, "Out")
        stderr = _s(ad, "Err")
        stdin = _s(ad, "In")
        resolve = (lambda p: None if p is None else (p if os.path.isabs(p) else str(iwd / p)))
        return Launch(argv=[exe] + job_arguments(ad), env=env, cwd=iwd if local else sandbox,
                      stdout=resolve(stdout), stderr=resolve(stderr), stdin=resolve(stdin),
                      sandbox=sandbox, iwd=iwd, skip=skip, note=note)

    def spawn(self, launch: Launch) -> subprocess.Popen:
        def opener(path: Optional[str], mode: str):
            if path is None or path == "/dev/null":
                return subprocess.DEVNULL
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return open(path, mode)

        out = opener(launch.stdout, "wb")
        err = out if (launch.stderr == launch.stdout and out is not subprocess.DEVNULL) else opener(launch.stderr, "wb")
        inp = opener(launch.stdin, "rb") if launch.stdin and launch.stdin != "/dev/null" else subprocess.DEVNULL
        try:
            return subprocess.Popen(launch.argv, cwd=str(launch.cwd), env=launch.env, stdin=inp,
                                    stdout=out, stderr=err, start_new_session=True, close_fds=True)
        finally:
            for fh in {id(x): x for x in (out, err, inp)}.values():
                if fh is not subprocess.DEVNULL:
                    fh.close()

    def finish(self, ad: classad.ClassAd, launch: Launch, keep_outputs: bool = True) -> None:
        """Transfer outputs back (raises ``TransferError``) and remove the sandbox."""
        try:
            if keep_outputs and not is_local(ad) and launch.sandbox is not None:
                outputs = _s(ad, "TransferOutput")
                transfer_outputs(split_list(outputs) if outputs is not None else None,
                                 parse_remaps(_s(ad, "TransferOutputRemaps")), launch.sandbox,
                                 launch.iwd, launch.skip, launch.started)
        finally:
            if launch.sandbox is not None:
                shutil.rmtree(launch.sandbox, ignore_errors=True)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


__all__ = ["Executor", "Launch", "TransferError", "is_local", "is_container", "host_thread_env"]
