"""``reprogrid envs``: the local software stacks that stand in for a study's containers."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reprogrid.commands._parser import add_command, exit_codes
from reprogrid.core.text import shown_block

if TYPE_CHECKING:  # pragma: no cover
    from reprogrid.spec.definitions import Study


EPILOG = """\
A software environment in a study is a container. To run it on this machine, give it a
`local` block: the Python packages that make the same stack here, and the environment
variables it runs with. For example, in study.yaml:

  software:
    - name: keras3-jax
      image: docker://example/keras3-jax:latest
      local:
        packages: ["keras==3.8.0", "jax[cpu]==0.4.38"]
        env: {KERAS_BACKEND: jax}
    - name: tf215-keras2
      image: docker://tensorflow/tensorflow:2.15.0
      local:
        packages: ["tensorflow-cpu==2.15.1"]

`envs build` provisions each into a virtualenv under the cache folder (shown by `envs
list`; set $REPROGRID_ENVS to move it), keyed by a hash of the packages, the variables
and this Python. An unchanged stack is reused, never rebuilt; the exact versions pip
installed are recorded beside it (freeze.txt). `reprogrid dryrun` then runs that
container's jobs with the env's interpreter (`--python NAME=PYTHON` still overrides).
Built from a study file, each stack's freeze is also its LOCK, written beside the study
as <study name>.lock/<env>.txt (review and commit it; --update-lock rewrites it). A stack
that also declares `base: docker://python:3.11-slim` gets an Apptainer image with the
same pinned versions: `reprogrid images def STUDY -o singularity/`.
Nothing is downloaded by `render` or at import: only `envs build` (and `reprogrid demo`,
which says so) installs packages.

examples:
  reprogrid envs build study.yaml                 # every stack the study declares
  reprogrid envs build demo                       # the demo preset's stacks
  reprogrid envs build submit/mystudy --only keras3-jax
  reprogrid envs list
  reprogrid envs remove 3f9a1c                    # by key prefix, or by software env name

""" + exit_codes('0  built (or reused), listed or removed', bad_input="2  bad input (a spec, a name, a package pip cannot install): the message names it, pip's own error and the fix; nothing half-built is ever listed or used")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "envs", help="local software stacks for the containers: build, list, remove",
        description="Provision, list and remove the cached virtualenvs that play a study's "
                    "containers on this machine (software[i].local in the spec).",
        epilog=EPILOG)
    sub = parser.add_subparsers(dest="envs_command", metavar="ACTION")
    p_build = add_command(sub, "build", help="provision the study's local stacks (reuses cached ones)",
                          epilog=EPILOG)
    p_build.add_argument("spec", metavar="SPEC", help="a study file, a rendered submit folder, or a preset name (demo)")
    p_build.add_argument("--only", action="append", default=[], metavar="SOFTWARE_ENV",
                         help="build only this software environment's stack (repeatable)")
    p_build.add_argument("-q", "--quiet", action="store_true", help="do not echo pip's output")
    p_build.add_argument("--update-lock", action="store_true",
                         help="rewrite the study's stack locks (<study>.lock/<env>.txt) from the built stacks")
    p_build.set_defaults(func=_build)
    p_list = add_command(sub, "list", help="the provisioned stacks: key, software envs, packages, size",
                         epilog=EPILOG)
    p_list.set_defaults(func=_list)
    p_remove = add_command(sub, "remove", help="delete provisioned stacks by key prefix or software env name",
                           epilog=EPILOG)
    p_remove.add_argument("targets", nargs="+", metavar="KEY_OR_NAME")
    p_remove.set_defaults(func=_remove)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def load_spec(spec: str) -> "Study":
    """A study from a study file, a submit folder (its study.yaml) or a preset name."""
    from reprogrid import tree
    from reprogrid.core.errors import Problem, UserError
    from reprogrid.spec.presets import PRESETS, preset_study
    from reprogrid.spec.validate import load_study

    path = Path(spec)
    if path.is_dir():
        if not (path / tree.STUDY_FILE).is_file():
            raise UserError.of("no study here", [Problem(spec, f"a folder without {tree.STUDY_FILE}: pass a study file or a submit folder")])
        return load_study(path / tree.STUDY_FILE)
    if path.is_file():
        return load_study(path)
    if spec in PRESETS:
        return preset_study(spec)
    raise UserError.of("no such study", [Problem(spec, f"not a file, a submit folder or a preset ({', '.join(PRESETS)})")])


def _build(args: argparse.Namespace) -> int:
    from reprogrid.prepare import envs

    study = load_spec(args.spec)
    if not envs.local_stacks(study):
        print(f"{study.name}: no software environment declares a `local` stack; nothing to build "
              "(see `reprogrid envs --help`)")
        return 0
    print(f"provisioning the local stacks of {study.name} in {envs.envs_root()} (downloads from the package index)")
    results = envs.build(study, only=args.only, say=lambda text: print(shown_block(text), flush=True), pip_output=not args.quiet)
    for env, built in results:
        print(f"{'built ' if built else 'cached'}  {', '.join(env.names)}: {env.python}")
    if Path(args.spec).is_file():
        _write_locks(study, Path(args.spec).parent, results, args.update_lock)
    return 0


def _write_locks(study: "Study", base_dir: Path, results: list, update: bool) -> None:
    """Each built stack's freeze as its software environment's lock beside the study file."""
    import platform

    from reprogrid.prepare import stacklock

    for env, _built in results:
        for name in env.names:
            path = stacklock.lock_path(base_dir, study.name, name)
            state = stacklock.write_lock(path, env.freeze, platform.python_version(), update)
            if state == "differs":
                print(f"lock     {name}: {path} differs from the built stack; keep it, or rewrite it with "
                      "--update-lock (then review and commit it)")
            else:
                print(f"lock     {name}: {path} ({state}; review and commit it)")


def _list(args: argparse.Namespace) -> int:
    from reprogrid.prepare import envs

    found = envs.list_envs()
    print(f"{len(found)} provisioned stack(s) in {envs.envs_root()}")
    for env in found:
        pkgs = ", ".join(env.packages) or "no packages"
        variables = " ".join(f"{k}={v}" for k, v in sorted(env.env.items()))
        print(f"  {env.key}  {', '.join(env.names)}: {pkgs}{'  ' + variables if variables else ''}  "
              f"({env.size_mb:.0f} MB, built {env.built_at} in {env.seconds:.0f} s)")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from reprogrid.prepare import envs

    for env in envs.remove(args.targets):
        print(f"removed {env.key} ({', '.join(env.names)})")
    return 0
