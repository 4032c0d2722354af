"""``reprogrid plan``: choose the hardware (and software) environments that can move a result."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reprogrid.commands._parser import add_command, exit_codes

EPILOG = """\
examples:
  reprogrid plan --hardware 6 --gpu 2                  # over today's OSPool (built-in description)
  reprogrid plan --pool pool.json --hardware 8 --min-slots 20   # over your condor_status -json capture
  reprogrid plan --pool ospool-2022 --hardware 10 --gpu 3       # the 2022 pool the paper ran on
  reprogrid plan --hardware 6 --into study.yaml         # replace the study's hardware: section
  reprogrid plan --after submit/pilot --hardware 4      # weights from what moved the pilot's results
  reprogrid plan --software --requirements requirements.txt --stacks 4

Each chosen environment is a pin the pool honours (at least --min-slots slots, counted
with the study's own rendered job and real matchmaking) and shares no slot with another
choice. Together they cover the values that can move a result (vendor, Microarch /
AVX-512, logical CPU counts, GPU capability and memory), weighted by evidence: by
default the reference study's outcome-group explanations (docs/statistics.md),
--after DATASET: your pilot's; --weight NAME=W overrides one. Without --hardware/--gpu
the planner adds environments until none adds a value. The hardware: section goes to
stdout (paste it into a study, or --into STUDY writes it there), the table to stderr.

""" + exit_codes("0  planned",
                  bad_input="2  bad input (a file, an option, a budget the pool cannot meet): the message names it and the fix")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "plan", help="choose hardware (and software) environments that can move a result, from a pool",
        description="Which machines should I test my model on? Choose N CPU and M GPU environments from a "
                    "pool that are honoured, distinguishable and cover what can move a result.",
        epilog=EPILOG)
    parser.add_argument("--pool", metavar="FILE|today|ospool-2022",
                        help="a condor_status -json capture; today (default: the built-in, dated description of "
                        "today's OSPool); ospool-2022 (the 2022 pool the paper ran on)")
    parser.add_argument("--hardware", type=int, metavar="N",
                        help="CPU environments to choose (given alone: no GPU environment, as --gpu 0)")
    parser.add_argument("--gpu", type=int, metavar="M",
                        help="GPU environments to choose (given alone: no CPU environment, as --hardware 0)")
    parser.add_argument("--min-slots", type=int, default=1, metavar="S",
                        help="slots each environment must match (default 1; on a real capture use more)")
    parser.add_argument("--weight", action="append", default=[], metavar="NAME=W",
                        help="override an attribute's weight (vendor, microarch, avx512, cpu_family_model, "
                        "cpu_model, logical_cpus, gpu_device, gpu_capability, gpu_memory_mb)")
    parser.add_argument("--into", metavar="STUDY", help="write the hardware: section into this study file")
    parser.add_argument("--model-attribute", metavar="ATTR",
                        help="the machine attribute holding a CPU model string, if your pool advertises one")
    parser.add_argument("--after", metavar="DATASET", help="a gathered pilot (submit folder or dataset)")
    parser.add_argument("--software", action="store_true", help="propose software stacks instead")
    parser.add_argument("--requirements", metavar="FILE", help="--software: the workload's pip requirements")
    parser.add_argument("--versions", metavar="FILE",
                        help="--software: candidate versions, lines 'package version ...' (default: a curated, "
                        "dated table in reprogrid.plan.software)")
    parser.add_argument("--stacks", type=int, default=4, metavar="K", help="--software: stacks to propose (default 4)")
    parser.set_defaults(func=run)


def _software(args: argparse.Namespace) -> int:
    import yaml

    from reprogrid.plan.evidence import REFERENCE_EVIDENCE, REFERENCE_SOURCE
    from reprogrid.plan.software import VERSIONS, VERSIONS_NOTE, propose_stacks, read_requirements, read_versions
    from reprogrid.plan.pilot import read_pilot

    versions = read_versions(Path(args.versions)) if args.versions else VERSIONS
    note = f"versions from {args.versions}" if args.versions else VERSIONS_NOTE
    reqs = read_requirements(Path(args.requirements) if args.requirements else None)
    evidence, source = REFERENCE_EVIDENCE, REFERENCE_SOURCE
    if args.after:
        pilot = read_pilot(args.after)
        evidence, source = pilot.evidence, pilot.source
    if args.stacks < 1:
        from reprogrid.core.errors import Problem, UserError

        raise UserError.of("bad --stacks", [Problem(f"--stacks {args.stacks}", "must be at least 1")])
    stacks, weights = propose_stacks(args.stacks, versions, reqs, evidence)
    print(f"# proposed by `reprogrid plan --software`; {note}\n# weights: {source}")
    print(yaml.safe_dump({"software": [s.entry() for s in stacks]}, sort_keys=False, width=100), end="")
    print("weights: " + ", ".join(f"{d} {w:g}" for d, w in weights.items()), file=sys.stderr)
    for s in stacks:
        print(f"  {s.name}: " + ", ".join(f"{d}={v}" for d, v in s.values.items()), file=sys.stderr)
    print(f"note: {note}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.software:
        return _software(args)
    import yaml

    from reprogrid.core.errors import Problem, UserError
    from reprogrid.plan.evidence import parse_weights
    from reprogrid.plan.output import hardware_yaml, header, table, write_into
    from reprogrid.plan.pilot import read_pilot
    from reprogrid.plan.planner import build_view, default_pool_profile, plan_hardware
    from reprogrid.spec.validate import load_study

    weights = parse_weights(args.weight)
    study, base_dir, profile = None, None, default_pool_profile(args.pool, args.model_attribute)
    if args.into:
        path = Path(args.into)
        loaded = load_study(path)
        study = yaml.safe_load(path.read_text(encoding="utf-8"))
        base_dir, profile = path.parent, loaded.pool
        if args.model_attribute and not profile.cpu_model_attribute:
            raise UserError.of("conflicting pool profile", [Problem(
                "--model-attribute", f"the study {path} sets pool.profile {profile.profile}; set "
                f"pool.cpu_model_attribute: {args.model_attribute} in the study instead")])
    pilot = read_pilot(args.after) if args.after else None
    view = build_view(args.pool, study, profile, base_dir)
    plan = plan_hardware(view, hardware=args.hardware, gpu=args.gpu, min_slots=args.min_slots,
                         weights=weights, pilot=pilot)
    section = hardware_yaml(plan.entries, header(plan))
    for note in (pilot.notes if pilot else []):
        print(f"pilot: {note}", file=sys.stderr)
    print(table(plan), file=sys.stderr)
    if args.into:
        write_into(Path(args.into), section)
        print(f"reprogrid plan: wrote {len(plan.entries)} hardware environments into {args.into}", file=sys.stderr)
    else:
        print(section, end="")
    return 0
