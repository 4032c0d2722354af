"""The terminal-sized summary (``summary.md``): the same answer lines as the page's first
screen, then the provenance, verdicts, ranges, nondeterminism, groups, factors and claims."""
from __future__ import annotations

from typing import Any, Dict, Mapping

import pandas as pd

from reprogrid.analysis import Tolerances
from reprogrid.core.text import markdown_text
from reprogrid.report import userstudy
from reprogrid.report.facts import provenance_lines, survival_lines, verdict_caveat, verdicts_withheld
from reprogrid.report.sections import COLUMN_NOTES, accuracy, varying
from reprogrid.report.tables import md_table


def stack_section_markdown(extra: Mapping[str, Any]) -> str:
    """What each software environment really ran, for summary.md."""
    return "## Software stack observed per software environment\n\n" + md_table(
        extra.get("software_stacks"), ["software_env", "n_runs", "stack"])


def render_markdown(tables: Dict[str, pd.DataFrame], facts: Mapping[str, Any], extra: Mapping[str, Any], *,
                    title: str, tolerances: Tolerances) -> str:
    """The summary: answers first, then provenance and the main tables."""
    withheld = verdicts_withheld(facts, extra)
    parts = [f"# {markdown_text(title)}\n", "## Does this result survive a change of environment?\n",
             *[f"- {markdown_text(line)}" for line in survival_lines(tables, withheld, extra.get("answers"))], ""]
    parts += ["## What these data are\n", *[f"- {markdown_text(line)}" for line in provenance_lines(facts, extra)], ""]
    parts += [stack_section_markdown(extra), userstudy.stack_difference_markdown(extra)]
    caveat = ("No verdict: " + withheld) if withheld else verdict_caveat(facts, extra)
    verdicts = tables["verdicts"]
    if withheld and not verdicts.empty:
        verdicts = verdicts.assign(verdict="withheld", outcomes_reproducible=None, analysis_reproducible=None,
                                   interpretation_reproducible=None)
    parts += ["## Verdicts\n", *([f"**{markdown_text(caveat)}**\n"] if caveat else []),
              md_table(verdicts, ["workload", "n_envs", "verdict", "range", "env_std", "run_std",
                                  "outcomes_reproducible", "analysis_reproducible", "interpretation_reproducible"])]
    parts += ["Criteria:\n", *[f"- **{k}**: {v}" for k, v in tolerances.criteria().items()], ""]
    parts += ["## Test accuracy across all environments\n",
              md_table(accuracy(tables["stats"]), ["workload", "n", "min (%)", "max (%)", "range_pp", "mean (%)",
                                                   "std (%)"])]
    bad = tables["nondeterministic"]
    parts += [f"## Nondeterministic cells ({len(bad)})\n",
              md_table(bad, ["workload", "software_env", "hardware_env", "n", "level", "accuracy_range_pp", "evidence"])]
    parts += ["## What separates the outcome groups\n", COLUMN_NOTES["workload_explanations"] + "\n",
              md_table(tables.get("workload_explanations"), ["workload", "device_class", "n_groups", "n_leaves",
                                                             "attributes", "p_value", "q_value", "identified"]),
              "Within each software environment:\n",
              md_table(tables["group_explanations"], ["workload", "device_class", "software_env", "n_groups",
                                                      "n_leaves", "attributes", "confounded", "p_value", "identified"])]
    parts += ["## Factors (variance decomposition)\n", COLUMN_NOTES["factors"] + "\n",
              md_table(varying(tables.get("factors")), ["workload", "factor", "n_levels", "eta_sq", "effect",
                                                        "confounded_with", "moved_it"])]
    if tables.get("claim_stability") is not None and not tables["claim_stability"].empty:
        parts += ["## Claim stability\n", COLUMN_NOTES["claim_stability"] + "\n",
                  md_table(tables["claim_stability"], ["task", "claim", "n_envs", "share", "share_low", "share_high",
                                                       "decision", "kendall_tau_mean"])]
    if not tables["claims"].empty:
        parts += ["## Claims\n", md_table(tables["claims"], ["claim", "n_envs", "n_support", "share", "failing"])]
    hw = extra["hardware_rows"]
    off = hw[hw["agrees"].astype(str) != "yes"] if not hw.empty else hw
    if not off.empty:
        parts += ["## Requested vs observed hardware (not a plain yes)\n",
                  md_table(off, [c for c in ["hardware_env", "requested_vendor", "observed_vendor", "observed",
                                             "n_machines", "name_check", "agrees"] if c in off.columns])]
    return "\n".join(parts).rstrip() + "\n"
