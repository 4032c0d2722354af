"""``reprogrid images``: list the Apptainer images, print or run their builds, fill a spec."""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from reprogrid.prepare import images
from reprogrid.core.errors import Problem, UserError
from reprogrid.commands._parser import add_command, exit_codes


EPILOG = """\
examples:
  reprogrid images list
  reprogrid images list --osdf-user alice --ap ap40
  reprogrid images build dockerhub-2.8.0 --osdf-user alice      # print the steps
  reprogrid images build --all --run --osdf-user alice          # build + copy to OSDF
  reprogrid images fill study.yaml -o study-osdf.yaml --osdf-user alice
  reprogrid images build --all --fill-spec study.yaml -o study-osdf.yaml --osdf-user alice
  reprogrid images def study.yaml -o singularity/                # your own stacks' .def files

`images def` writes one definition per software environment whose `local` stack declares a
`base:` image: that base plus every pinned version of the stack's lock (<study>.lock/<env>.txt,
written by `reprogrid envs build study.yaml`), so the image holds what the dry run ran.

Each image is built in BUILD_DIR/<name>/ from a copy of singularity/<name>.def and the
job bundle (reprogrid-job.pyz), then copied to /ospool/<ap>/data/<user>/reprogrid/,
which jobs read as osdf:///ospool/<ap>/data/<user>/reprogrid/<name>.sif.
Building needs apptainer (an OSG access point has it); elsewhere the steps are printed.

""" + exit_codes('0  listed, printed, built or filled', '1  build --run: a build or copy step failed')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "images", help="Apptainer images of the software environments: list, build, fill a spec",
        description="List the Apptainer definition files in singularity/, print or run the "
                    "`apptainer build` steps, and point a study's software environments at "
                    "the images' OSDF locations.",
        epilog=EPILOG)
    sub = parser.add_subparsers(dest="images_command", metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--definitions", metavar="DIR", help="folder of *.def files (default: built-in singularity/)")
        p.add_argument("--osdf-user", metavar="USER", help="your user name on the access point (for OSDF paths)")
        p.add_argument("--ap", default=images.DEFAULT_AP, help="access point (default: %(default)s)")

    p_list = add_command(sub, "list", help="name, base image, versions and OSDF location of each image",
                         epilog=EPILOG)
    common(p_list)
    p_list.set_defaults(func=_list)

    p_build = add_command(sub, "build", help="print (or run with --run) the apptainer build steps",
                          epilog=EPILOG)
    p_build.add_argument("names", nargs="*", metavar="NAME", help="image names (see `images list`)")
    p_build.add_argument("--all", action="store_true", help="every image")
    p_build.add_argument("--run", action="store_true", help="run the steps (needs apptainer on PATH)")
    p_build.add_argument("--build-dir", default="build/images", help="where contexts and .sif files go "
                         "(default: %(default)s)")
    p_build.add_argument("--bundle", metavar="PYZ", help="a prebuilt reprogrid-job.pyz (default: build one)")
    p_build.add_argument("--fill-spec", metavar="STUDY_YAML", help="also write STUDY_YAML with image fields set")
    p_build.add_argument("-o", "--output", metavar="OUT_YAML", help="where --fill-spec writes")
    common(p_build)
    p_build.set_defaults(func=_build)

    p_fill = add_command(sub, "fill", help="write a study file whose software images are the OSDF .sif files",
                         epilog=EPILOG)
    p_fill.add_argument("spec", metavar="STUDY_YAML")
    p_fill.add_argument("-o", "--output", required=True, metavar="OUT_YAML")
    common(p_fill)
    p_fill.set_defaults(func=_fill)

    p_def = add_command(sub, "def", help="write Apptainer definitions of a study's own stacks (base + lock)",
                        epilog=EPILOG)
    p_def.add_argument("spec", metavar="STUDY_YAML")
    p_def.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for <env>.def (e.g. singularity/)")
    p_def.add_argument("--osdf-user", metavar="USER", help="your user name on the access point (for OSDF paths)")
    p_def.add_argument("--ap", default=images.DEFAULT_AP, help="access point (default: %(default)s)")
    p_def.set_defaults(func=_def)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _defs(args: argparse.Namespace):
    return images.catalogue(args.definitions)


def _list(args: argparse.Namespace) -> int:
    defs = _defs(args)
    user = args.osdf_user
    rows = [("NAME", "FROM", "TF", "PYTHON", "CUDA/CUDNN", "OSDF LOCATION")]
    for name, d in defs.items():
        loc = images.osdf_location(name, user, args.ap) if user else \
            f"osdf:///ospool/{args.ap}/data/<user>/reprogrid/{name}.sif"
        lab = d.labels
        cuda = f"{lab.get('org.reprogrid.cuda', '-')}/{lab.get('org.reprogrid.cudnn', '-')}"
        rows.append((name, d.base, lab.get("org.reprogrid.tensorflow", "?"),
                     lab.get("org.reprogrid.python", "?"), cuda, loc))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    if not user:
        print("\n(give --osdf-user to see your own OSDF locations)", file=sys.stderr)
    return 0


def _job_bundle(args: argparse.Namespace, build_dir: Path) -> Path:
    if args.bundle:
        path = Path(args.bundle)
        if not path.is_file():
            raise UserError.of("no job bundle", [Problem("--bundle", f"{path} does not exist")])
        return path
    from reprogrid.render.bundle import build_job_bundle

    return build_job_bundle(build_dir)


def _build(args: argparse.Namespace) -> int:
    defs = _defs(args)
    if args.all == bool(args.names):
        raise UserError.of("which images?", [Problem("NAME", "give image names or --all (not both)")])
    if args.fill_spec and not args.output:
        raise UserError.of("where to write?", [Problem("-o", "--fill-spec needs -o OUT_YAML")])
    if args.fill_spec and not args.osdf_user:
        raise UserError.of("whose OSDF folder?", [Problem("--osdf-user", "--fill-spec needs --osdf-user")])
    chosen = list(defs.values()) if args.all else images.select(defs, args.names)
    build_dir = Path(args.build_dir)
    plans = [images.build_plan(d, build_dir, args.osdf_user, args.ap) for d in chosen]
    apptainer = images.find_apptainer() if args.run else None
    if args.run and not apptainer:
        raise UserError("apptainer is not on PATH here: build on an OSG access point (it has apptainer), "
                        "or drop --run to print the steps")
    if apptainer and apptainer != "apptainer":
        plans = [images.build_plan(d, build_dir, args.osdf_user, args.ap, apptainer=apptainer) for d in chosen]
    bundle_path = _job_bundle(args, build_dir)
    for defn, plan in zip(chosen, plans):
        images.stage_context(plan, defn, bundle_path)
        print(plan.describe())
        print()
        if args.run:
            for step in plan.steps:
                print(f"+ {shlex.join(step)}", file=sys.stderr)
                done = subprocess.run(list(step), cwd=plan.context)
                if done.returncode != 0:
                    print(f"reprogrid images build: {plan.name}: {step[0]} exited {done.returncode}",
                          file=sys.stderr)
                    return 1
    if not args.run:
        print("# (printed only: add --run to build, on a machine with apptainer)", file=sys.stderr)
    if args.fill_spec:
        _write_filled(Path(args.fill_spec), Path(args.output), defs, args.osdf_user, args.ap,
                      only=None)
    return 0


def _def(args: argparse.Namespace) -> int:
    """Write each own stack's definition (checked by the strict parser first), then the steps."""
    from reprogrid.core.files import write_text_atomic
    from reprogrid.prepare import stacklock
    from reprogrid.spec.validate import load_study

    spec = Path(args.spec)
    study = load_study(spec)
    texts = stacklock.generated_definitions(study.software, spec.parent, study.name)
    out = Path(args.output)
    for name, text in texts.items():
        path = out / f"{name}.def"
        problems = images.check_reprogrid_image(images.parse_definition_text(text, path))
        if problems:  # a bug here, not the user's: say so rather than write a broken file
            raise UserError.of(f"{path}: generated definition fails its own checks", problems)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        write_text_atomic(out / f"{name}.def", text)
        print(f"wrote {out / (name + '.def')} (from {stacklock.lock_path(spec.parent, study.name, name)})")
    user = args.osdf_user or "YOUR_USER"
    apptainer = images.find_apptainer()
    print("\nnext steps" + ("" if apptainer else " (apptainer is not on PATH here: run them on an OSG access "
                                                 "point, which has it)") + ":")
    for name in texts:
        print(f"  reprogrid images build {name} --definitions {shlex.quote(str(out))} --osdf-user {user} --run")
        print(f"      # = apptainer build {name}.sif {name}.def, then cp {name}.sif "
              f"/ospool/{args.ap}/data/{user}/reprogrid/ (OSDF upload)")
        print(f"  # then in {spec.name}: software {name}: image: osdf:///ospool/{args.ap}/data/{user}/reprogrid/{name}.sif")
    return 0


def _fill(args: argparse.Namespace) -> int:
    if not args.osdf_user:
        raise UserError.of("whose OSDF folder?", [Problem("--osdf-user", "required: your access point user name")])
    _write_filled(Path(args.spec), Path(args.output), _defs(args), args.osdf_user, args.ap, only=None)
    return 0


def _write_filled(spec: Path, out: Path, defs, user: str, ap: str, only: Optional[List[str]]) -> None:
    import yaml

    from reprogrid.core.files import write_text_atomic

    try:
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    except OSError as err:
        raise UserError.of("cannot read study file", [Problem(str(spec), str(err))]) from err
    except yaml.YAMLError as err:
        raise UserError.of("study file is not valid YAML", [Problem(str(spec), str(err))]) from err
    if not isinstance(data, dict):
        raise UserError.of("bad study file", [Problem(str(spec), "must be a YAML mapping")])
    changed = images.fill_image_fields(data, defs, user, ap, only)
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    _validate_if_possible(text, out)
    write_text_atomic(out, text)
    for name, location in changed.items():
        print(f"{name}: image = {location}")
    print(f"wrote {out}", file=sys.stderr)


def _validate_if_possible(text: str, out: Path) -> None:
    """Check the filled study with the spec's validator before writing it."""
    import yaml

    from reprogrid.spec.validate import study_from_dict

    study_from_dict(yaml.safe_load(text), source=str(out))
