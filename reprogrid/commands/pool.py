"""``reprogrid pool``: summarise a condor_status capture; check a study's pins against a pool."""
from __future__ import annotations

import argparse
import json

from reprogrid.commands._parser import add_command, exit_codes
from reprogrid.core.text import shown_block


EPILOG = """\
examples:
  condor_status -json > pool.json                 # on an access point (all slots)
  reprogrid pool import pool.json                 # what the pool offers
  reprogrid pool check study.yaml --pool pool.json
  reprogrid pool check study.yaml                 # against today's OSPool (built-in)
  reprogrid pool check study.yaml --pool ospool-2022   # the 2022 pool the paper ran on

`check` turns every hardware environment into the job ad condor_submit would make from
the study's own submit description, matches it against every slot (both ways, GPUs
included) and groups identical slots. It names pinned attributes that no slot
advertises (on today's OSPool: OSGVO_CPU_MODEL, gone since September 2024) and the
clauses that exclude every slot.

Without --pool, check judges the study against TODAY's OSPool: a built-in, dated
description of what today's pool advertises (see reprogrid/condor/ospool_today.py for
its date and sources). --pool ospool-2022 replays the 2022 OSPool the paper ran on
(it says so when used); --pool FILE uses your own condor_status -json capture.

""" + exit_codes('0  import: summarised; check: every hardware environment matches some slot', '1  check: some environment matches no slot (each is named, with what to pin instead)')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "pool", help="summarise a condor_status -json capture; check a study's hardware pins against it",
        description="Look at a pool before submitting: what its slots advertise, and how many "
                    "slots each hardware environment of a study would match.",
        epilog=EPILOG)
    sub = parser.add_subparsers(dest="pool_command", metavar="ACTION")
    p_import = add_command(sub, "import", help="summarise a condor_status -json capture",
                           epilog=EPILOG)
    p_import.add_argument("file", metavar="FILE", help="output of condor_status -json")
    p_import.add_argument("--model-attribute", metavar="ATTR",
                          help="the attribute holding the CPU model string (default: OSGVO_CPU_MODEL)")
    p_import.add_argument("--json", action="store_true", help="print JSON")
    p_import.set_defaults(func=_import)
    p_check = add_command(sub, "check", help="per hardware environment: matching slots, unadvertised pins",
                          epilog=EPILOG)
    p_check.add_argument("spec", metavar="SPEC", help="the study YAML file")
    p_check.add_argument("--pool", metavar="FILE|today|ospool-2022",
                         help="a condor_status -json capture; today (default: the built-in, dated description of "
                         "today's OSPool); ospool-2022 (the 2022 pool the original study ran on)")
    p_check.add_argument("--json", action="store_true", help="print JSON")
    p_check.set_defaults(func=_check)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _import(args: argparse.Namespace) -> int:
    from reprogrid.condor.pool import load_pool
    from reprogrid.access.poolcheck import summarize_pool

    summary = summarize_pool(load_pool(args.file), args.model_attribute)
    print(json.dumps(summary.as_dict()) if args.json else shown_block(summary.describe()))  # capture text: escaped
    return 0


def _check(args: argparse.Namespace) -> int:
    from reprogrid.access.poolcheck import check_study, describe_checks
    from reprogrid.spec.validate import load_study

    from reprogrid.condor.ospool_today import pool_ads
    from reprogrid.access.poolcheck import pool_findings

    study = load_study(args.spec)
    ads, label = pool_ads(args.pool)
    checks = check_study(study, ads)
    if args.json:
        print(json.dumps([c.as_dict() for c in checks]))
    else:
        print(f"pool: {label} ({len(ads)} slots); study {study.name}, pool profile {study.pool.profile}\n")
        print(shown_block(describe_checks(checks)))
        findings = pool_findings(study, ads, label)
        if findings:
            print("\nwhat this pool cannot do for the study:")
            print(shown_block("\n".join(f"  - {f}" for f in findings)))
    return 0 if all(c.matching_slots for c in checks) else 1
