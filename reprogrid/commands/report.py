"""``reprogrid report``: a gathered (or imported) dataset -> HTML report + Markdown summary."""
from __future__ import annotations

import argparse
from pathlib import Path

from reprogrid import tree

ORDER = 70

EPILOG = """\
PATH is a gathered submit folder, a dataset folder (from gather or `reprogrid import`)
or one .parquet file. The report states on its first screen whether the data are the
bundled samples or real data, which hardware environments were emulated, how many runs
failed or are missing. Verdicts use Gundersen's degrees (outcomes / analysis /
interpretation reproducible); the criteria and tolerances are printed in the report.

claims (checked in every environment; repeat --claim):
  "accuracy >= 0.85"                                threshold, every workload
  "mnist_convnet: test_accuracy > 0.99"             threshold, one workload
  "mnist_convnet beats imbalanced_classification"   comparison (accuracy; `on loss`)

examples:
  reprogrid report submit/mystudy                   # -> submit/mystudy/report/
  reprogrid report coakley -o coakley-report --claim "accuracy >= 0.85" --analysis-tol 0.01
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="analyse a dataset and write an HTML report and a Markdown summary",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser.add_argument("--quiet", action="store_true", help="print only the report paths")
    parser.set_defaults(func=run)


def default_output(path: Path) -> Path:
    if path.is_dir() and tree.is_submit_dir(path):
        return path / "report"
    base = path.with_suffix("") if path.is_file() else path
    return base.parent / f"{base.name}-report"


def run(args: argparse.Namespace) -> int:
    from reprogrid.analysis import Tolerances
    from reprogrid.core.errors import Problem, UserError
    from reprogrid.gather.dataset import find_dataset, load_dataset, read_report
    from reprogrid.report.html import build_report

    path = Path(args.path)
    if not (0 < args.claim_share <= 1):
        raise UserError.of("bad option", [Problem("--claim-share", "must be in (0, 1], e.g. 0.9")])
    df = load_dataset(path)
    gathered = read_report(path) or {}
    dataset = find_dataset(path)
    provenance = {"source": str(dataset), "counts": gathered.get("counts", {})}
    title = args.title or f"reprogrid report: {path.resolve().name}"
    outcome = args.outcome_tol if args.outcome_pp is None else args.outcome_pp / 100
    analysis_tol = args.analysis_tol if args.analysis_pp is None else args.analysis_pp / 100
    tol = Tolerances(outcome=outcome, analysis=analysis_tol, claim_share=args.claim_share)
    out = Path(args.output) if args.output else default_output(path)
    paths = build_report(df, out, title=title, provenance=provenance, claims=args.claim, tolerances=tol,
                         decimals=args.decimals)
    if not args.quiet:
        print(paths.markdown.read_text(encoding="utf-8"))
    print(f"report: {paths.html}\nsummary: {paths.markdown}")
    return 0

