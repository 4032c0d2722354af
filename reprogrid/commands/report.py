"""reprogrid report: a gathered (or imported) dataset -> HTML report + Markdown summary."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, Optional

from reprogrid import tree
from reprogrid.commands._parser import add_command, exit_codes


EPILOG = """\
PATH is a gathered submit folder (or its study.dag), a dataset folder (from gather or `reprogrid import`),
one .parquet file, or an RO-Crate of `reprogrid export` (folder or .zip). The report states on its first screen whether the data are the
bundled samples or real data, which hardware environments were emulated, how many runs
failed or are missing. Verdicts use Gundersen's degrees (outcomes / analysis /
interpretation reproducible); the criteria and tolerances are printed in the report.

claims (checked in every environment; repeat --claim):
  "accuracy >= 0.85"                                threshold, every workload
  "mnist_convnet: test_accuracy > 0.99"             threshold, one workload
  "mnist_convnet beats imbalanced_classification"   comparison (primary metric; `on loss`)
  "my-wl: val_loss < 0.1"                           any metric the records carry: a key of
                                                    the workload's metrics.json, or `primary`
  A claim naming an unknown metric, or matching no successful run, exits 2 and lists the
  metrics the records carry.

examples:
  reprogrid report submit/mystudy                   # -> submit/mystudy/report/
  reprogrid report coakley -o coakley-report --claim "accuracy >= 0.85" --analysis-tol 0.01

""" + exit_codes('0  report written from at least one successful record', '1  no successful record: the report is written but analyses nothing; the message says where the failures are and what to do')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "report", help="analyse a dataset and write an HTML report and a Markdown summary",
        description=__doc__, epilog=EPILOG)
    parser.add_argument("path", metavar="PATH", help="submit folder, dataset folder or .parquet file")
    parser.add_argument("-o", "--output", metavar="DIR", help="report folder (default: SUBMIT_DIR/report, or DATASET-report)")
    parser.add_argument("--claim", action="append", default=[], metavar="TEXT", help="a claim to check in every environment")
    parser.add_argument("--title", default=None, help="report title")
    parser.add_argument("--outcome-tol", type=float, default=0.0, metavar="X",
                        help="largest difference of the primary metric still called the same outcome, in the metric's "
                             "units (default 0)")
    parser.add_argument("--analysis-tol", type=float, default=0.005, metavar="X",
                        help="largest std between environments still called the same analysis result, in the metric's "
                             "units (default 0.005, i.e. 0.5 accuracy points), unless run-to-run noise is larger")
    parser.add_argument("--outcome-pp", type=float, default=None, help=argparse.SUPPRESS)  # old spelling, accuracy points
    parser.add_argument("--analysis-pp", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--interpretation-pp", type=float, default=None, help=argparse.SUPPRESS)  # no longer used
    parser.add_argument("--claim-share", type=float, default=1.0, metavar="F",
                        help="share of environments in which a claim's decision (holds / fails) must agree (default 1.0)")
    parser.add_argument("--decimals", type=int, default=None, metavar="N",
                        help="round accuracy/loss to N decimals before grouping outcomes (default: exact)")
    parser.add_argument("--png", action="store_true",
                        help="also write the figures as PNG (figures/overview.png, determinism.png; drawn by matplotlib)")
    parser.add_argument("--quiet", action="store_true", help="print only the report paths")
    parser.set_defaults(func=run)


def default_output(path: Path) -> Path:
    if path.is_dir() and tree.is_submit_dir(path):
        return path / "report"
    base = path.with_suffix("") if path.is_file() else path
    return base.parent / f"{base.name}-report"


def _resolve_path(raw: str) -> Path:
    """PATH as given -> what report reads, saying which form it got (stderr)."""
    import sys

    from reprogrid.commands._target import resolve

    path = Path(raw)
    if path.suffix == ".dag" or (path.is_dir() and tree.is_submit_dir(path)):
        return resolve(path, "report", need_dag=False).submit_dir
    kind = "Parquet file" if path.is_file() else "dataset folder"
    if path.exists():
        print(f"reprogrid report: got the {kind} {path}", file=sys.stderr)
    return path


def status_counts(submit_dir: Path, gathered: Dict[str, Any]) -> Dict[str, int]:
    """The gather counts in status's words: a run without a record whose job failed is
    "failed (no record)", as ``reprogrid status`` calls it, not "missing"."""
    counts = dict(gathered.get("counts") or {})
    missing = {r.get("run_id") for r in gathered.get("runs") or [] if r.get("class") == "missing"}
    if not missing or not tree.is_submit_dir(submit_dir):
        return counts
    from reprogrid.core.errors import UserError
    from reprogrid.access.status import StatusTracker

    try:
        progress = StatusTracker(submit_dir, cache=False).update()
    except (UserError, OSError):
        return counts
    failed = sum(1 for r in progress.runs if r.state == "failed" and r.run_id in missing)
    if failed:
        counts["missing"] = counts.get("missing", 0) - failed
        counts[FAILED_NO_RECORD] = failed
    return counts


FAILED_NO_RECORD = "failed (no record)"


def study_declarations(path: Path) -> Dict[str, Any]:
    """What the study declared, from a submit folder's manifest: every hardware environment
    (with its pins) and each software environment's stack lock (written into the manifest
    by render), so the report can say whether each ran as declared."""
    if not tree.is_submit_dir(path):
        return {}
    manifest = tree.read_manifest(path)
    locks = {str(name): dict(entry.get("lock") or {}) for name, entry in (manifest.get("software") or {}).items()
             if isinstance(entry, dict) and entry.get("lock")}
    return {"hardware_requested": dict(manifest.get("hardware") or {}), "locks": locks}


def run(args: argparse.Namespace) -> int:
    from reprogrid.export import dataset_dir, is_crate, open_crate

    if is_crate(args.path):  # an RO-Crate of `reprogrid export`: its dataset, read in place
        with open_crate(args.path) as folder:
            return _report(args, dataset_dir(folder), shown=Path(args.path))
    return _report(args, _resolve_path(args.path))


def _report(args: argparse.Namespace, path: Path, shown: Optional[Path] = None) -> int:
    import sys

    from reprogrid.analysis import Tolerances
    from reprogrid.core.errors import Problem, UserError
    from reprogrid.gather.dataset import find_dataset, load_dataset, read_report
    from reprogrid.report.html import build_report

    if not (0 < args.claim_share <= 1):
        raise UserError.of("bad option", [Problem("--claim-share", "must be in (0, 1], e.g. 0.9")])
    df = load_dataset(path)
    gathered = read_report(path) or {}
    dataset = find_dataset(path)
    provenance = {"source": f"{shown} (RO-Crate)" if shown else str(dataset), "counts": status_counts(path, gathered),
                  **study_declarations(path)}
    title = args.title or f"reprogrid report: {(shown or path).resolve().name}"
    outcome = args.outcome_tol if args.outcome_pp is None else args.outcome_pp / 100
    analysis_tol = args.analysis_tol if args.analysis_pp is None else args.analysis_pp / 100
    tol = Tolerances(outcome=outcome, analysis=analysis_tol, claim_share=args.claim_share)
    out = Path(args.output) if args.output else default_output(shown or path)
    paths = build_report(df, out, title=title, provenance=provenance, claims=args.claim, tolerances=tol,
                         decimals=args.decimals, png=args.png)
    if not args.quiet:
        print(paths.markdown.read_text(encoding="utf-8"))
    print(f"report: {paths.html}\nsummary: {paths.markdown}")
    ok = int((df["status"].astype(str) == "ok").sum()) if "status" in df.columns and len(df) else 0
    if ok == 0:
        print(no_records_message(path, len(df), provenance["counts"]), file=sys.stderr)
        return 1
    return 0


def no_records_message(path: Path, records: int, counts: Dict[str, int]) -> str:
    """What to do when there is nothing to analyse."""
    seen = ", ".join(f"{v} {k}" for k, v in counts.items() if v and k != "complete") or f"{records} record(s)"
    where = path if tree.is_submit_dir(path) else None
    steps = (f"look at why: reprogrid status {where} (hold reasons), reprogrid gather {where} (recorded errors), "
             f"{where}/study.dag.dagman.out; fix the cause, then run the study again and gather"
             if where else "check the study that produced this dataset: its runs recorded no successful result")
    return (f"reprogrid report: no successful record to analyse ({seen}); the report says only that. "
            f"What to do: {steps}.")
