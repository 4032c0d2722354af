"""Submitting a rendered study's DAG to a real schedd (an OSG access point).

Owns: finding the DAG in a submit tree, the exact ``condor_submit_dag`` command line
(for ``--print``), a cheap check that a schedd and the condor tools are here (it never
blocks for long: local look-ups, and a schedd location query under a short timeout),
and the submission itself through the htcondor2 bindings
(``Submit.from_dag`` + ``Schedd.submit``). Where HTCondor is missing it raises a
``UserError`` saying what is missing and how to run the study locally instead.
"""
from __future__ import annotations

import concurrent.futures
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

from reprogrid import tree
from reprogrid.condor.bindings import htcondor2
from reprogrid.core.errors import Problem, UserError

DAG_NAME = tree.DAG_FILE
LOCATE_TIMEOUT_S = 10.0
_DEFAULT_CONFIGS = ("/etc/condor/condor_config", "/usr/local/etc/condor_config")




def find_dag(submit_dir: Union[str, Path]) -> Path:
    """The absolute path of ``SUBMIT_DIR/study.dag``; a ``UserError`` when it is not there."""
    submit_dir = Path(submit_dir)
    dag = submit_dir / DAG_NAME
    if not submit_dir.is_dir():
        raise UserError.of("no submit directory", [Problem(str(submit_dir), "does not exist: render the study "
                                                           "first (reprogrid render study.yaml -o DIR)")])
    if not dag.is_file():
        raise UserError.of("no DAG to submit", [Problem(str(dag), "missing: is this a folder written by "
                                                        "`reprogrid render`?")])
    return dag.absolute()


def batch_name(submit_dir: Union[str, Path]) -> Optional[str]:
    """``reprogrid-<study name>`` from the submit tree's manifest, when it has one."""
    try:
        name = tree.study_name(tree.read_manifest(submit_dir))
    except UserError:
        return None
    if not name:
        return None
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return f"reprogrid-{safe}" if safe else None


@dataclass(frozen=True)
class SubmitOptions:
    """The ``condor_submit_dag`` options reprogrid uses (each maps to a bindings key)."""

    batch_name: Optional[str] = None
    max_idle: Optional[int] = None
    force: bool = False

    def bindings(self) -> Dict[str, Union[int, bool, str]]:
        """The ``options`` dictionary of ``htcondor2.Submit.from_dag``."""
        opts: Dict[str, Union[int, bool, str]] = {"UseDagDir": True}
        if self.batch_name:
            opts["BatchName"] = self.batch_name
        if self.max_idle is not None:
            opts["MaxIdle"] = int(self.max_idle)
        if self.force:
            opts["Force"] = True
        return opts


def submit_dag_command(dag: Union[str, Path], options: SubmitOptions = SubmitOptions(),
                       schedd: Optional[str] = None) -> List[str]:
    """The ``condor_submit_dag`` argument list equivalent to :func:`submit` with these options.

    ``-usedagdir`` runs DAGMan in the DAG's folder, so the command works from anywhere
    (the submit files' relative paths are relative to the submit tree).
    """
    cmd = ["condor_submit_dag", "-usedagdir"]
    if options.batch_name:
        cmd += ["-batch-name", options.batch_name]
    if options.max_idle is not None:
        cmd += ["-maxidle", str(int(options.max_idle))]
    if options.force:
        cmd.append("-force")
    if schedd:
        cmd += ["-r", schedd]  # condor_submit_dag: -r schedd_name
    cmd.append(str(Path(dag).absolute()))
    return cmd


@dataclass
class CondorCheck:
    """What this machine lacks to submit: empty ``missing`` means it can."""

    missing: List[str] = field(default_factory=list)
    schedd: object = None

    @property
    def ok(self) -> bool:
        return not self.missing


def condor_config_file() -> Optional[str]:
    """The condor_config HTCondor would read, or None (the bindings then use /dev/null)."""
    env = os.environ.get("CONDOR_CONFIG")
    if env:
        return env if env == "ONLY_ENV" or Path(env).is_file() else None
    candidates = list(_DEFAULT_CONFIGS)
    home = os.path.expanduser("~condor")
    if home and not home.startswith("~"):
        candidates.append(os.path.join(home, "condor_config"))
    for path in candidates:
        if Path(path).is_file():
            return path
    return None


def check_condor(schedd_name: Optional[str] = None, timeout: float = LOCATE_TIMEOUT_S) -> CondorCheck:
    """Check, cheaply, for a condor_config, ``condor_submit_dag``/``condor_dagman`` and a schedd.

    Local look-ups only, except locating the schedd, which runs under ``timeout`` seconds.
    """
    check = CondorCheck()
    if condor_config_file() is None:
        # The bindings set CONDOR_CONFIG=/dev/null themselves when they find no config.
        where = os.environ.get("CONDOR_CONFIG")
        where = None if where == "/dev/null" else where
        check.missing.append(f"a condor_config (CONDOR_CONFIG={where} does not exist)" if where else
                             "a condor_config (CONDOR_CONFIG is unset and /etc/condor/condor_config "
                             "does not exist)")
    for tool in ("condor_submit_dag", "condor_dagman"):
        if shutil.which(tool) is None:
            check.missing.append(f"{tool} on PATH")
    if check.missing:
        return check  # no point asking for a schedd without a configuration or tools
    condor = htcondor2()

    def locate():
        if schedd_name:
            ad = condor.Collector().locate(condor.DaemonType.Schedd, schedd_name)
            return condor.Schedd(ad)
        return condor.Schedd()

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        check.schedd = pool.submit(locate).result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        check.missing.append(f"a reachable schedd{' named ' + schedd_name if schedd_name else ''} "
                             f"(no answer in {timeout:g} s)")
    except Exception as err:  # the bindings raise HTCondorException (and others) here
        check.missing.append(f"a schedd{' named ' + schedd_name if schedd_name else ''} ({err})")
    finally:
        pool.shutdown(wait=False)
    return check


def no_condor_error(check: CondorCheck, submit_dir: Union[str, Path]) -> UserError:
    """The error for a machine that cannot submit, with the local alternative."""
    problems = [Problem("missing", what) for what in check.missing]
    problems.append(Problem("instead", f"run the study here with the schedd emulated: "
                                       f"reprogrid dryrun {Path(submit_dir) / DAG_NAME}"))
    problems.append(Problem("or", "copy the submit directory to an OSG access point (e.g. ap40.uw.osg-htc.org) "
                                  "and run `reprogrid submit` there"))
    return UserError.of("cannot submit: this machine has no HTCondor schedd", problems)


def describe_dag(dag: Union[str, Path], options: SubmitOptions = SubmitOptions()):
    """The DAGMan job's submit description (``htcondor2.Submit.from_dag``), as
    ``condor_submit_dag`` would write it to ``study.dag.condor.sub`` (which it also writes).
    Needs ``condor_dagman`` on PATH."""
    return htcondor2().Submit.from_dag(str(Path(dag).absolute()), options.bindings())


@dataclass(frozen=True)
class Submitted:
    """The DAGMan job the schedd accepted."""

    cluster: int
    dag: Path


def submit(submit_dir: Union[str, Path], options: Optional[SubmitOptions] = None,
           schedd_name: Optional[str] = None) -> Submitted:
    """Submit ``SUBMIT_DIR/study.dag`` through the bindings; ``UserError`` when it cannot."""
    dag = find_dag(submit_dir)
    if options is None:
        options = SubmitOptions(batch_name=batch_name(submit_dir))
    check = check_condor(schedd_name)
    if not check.ok:
        raise no_condor_error(check, submit_dir)
    try:
        description = describe_dag(dag, options)
        result = check.schedd.submit(description)
    except Exception as err:  # the bindings' own errors: DAG syntax, schedd refusal
        raise UserError.of("the schedd did not accept the DAG", [Problem(str(dag), str(err))]) from err
    return Submitted(cluster=int(result.cluster()), dag=dag)
