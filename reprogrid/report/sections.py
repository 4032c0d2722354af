"""The report's sections below the first screen: verdicts, factors, spread, determinism,
outcome groups, claims, hardware; each a list of HTML fragments a reader can skip.

Tables keep to the columns a reader needs at 1280 px (every column is in the DataFrames
of ``analysis.summarize``); long cells fold (``tables.html_cell``).
"""
from __future__ import annotations

import html
from typing import Any, List, Mapping, Optional

import pandas as pd

from reprogrid import analysis
from reprogrid.analysis import Tolerances
from reprogrid.report import figdata, userstudy
from reprogrid.report.tables import html_table

#: one line per table saying what its columns mean (printed above the table)
COLUMN_NOTES = {
    "survival": "Per workload, on its primary metric: n_envs = observed environments (software x hardware x "
                "observed machine/CPUs/pools/stack x seed), repeated_envs = those with 2+ runs, min/max/range over "
                "all runs, env_std over the environments' values (each environment once) with a 95% bootstrap "
                "interval, run_std = run-to-run std of a random environment (empty: no environment ran twice), "
                "between_share = share of the variance that lies between environments.",
    "verdicts": "Gundersen's degrees per workload (empty = not decided: see verdict); the basis columns give the "
                "figures each was decided on; the criteria are listed below the table.",
    "workload_explanations": "Per workload and device class: attributes (how many software environments' trees use "
                             "each; a | b = confounded, the data cannot tell them apart), n_leaves vs n_groups, "
                             "p_value = permutation test within the design over all its scopes together, q_value = "
                             "Benjamini-Hochberg over the rows; identified = pure and q_value <= 0.05.",
    "group_explanations": "Per scope: the smallest tree over every varying fingerprint attribute (rule), its leaves "
                          "vs groups, confounded sets, and the permutation test's p-value and its q-value.",
    "factors": "Per workload and factor: n_levels in these data, eta_sq = share of the between-environment sum of "
               "squares the factor's levels explain on their own (shares do not add up), effect = largest difference "
               "of level means (metric units), confounded_with = factors splitting the environments alike, moved_it "
               "= no when every environment is its own level or the effect is zero.",
    "claim_stability": "Claims comparing variants of one task: share = fraction of environments where it holds, "
                       "with a 95% Wilson interval; decision = holds / fails / unstable; kendall_tau = rank agreement "
                       "of each environment's ranking of the variants with the overall ranking (1 = same everywhere).",
    "k_curve": "P(k environments drawn at random reveal the full range of values) and P(they include a "
               "nondeterministic environment), exact; k_needed = smallest k reaching 95% for both.",
    "stats": "Test accuracy over every successful run: n runs, min/max/mean/std in percent, range in percentage "
             "points (pp).",
    "stats_all": "Every metric over every successful run: n, min, max, range (range_pp for accuracy), mean, std.",
    "determinism": "A cell = one workload, software env, hardware env, observed environment and seed; level = how "
                   "far its repeats agree.",
    "nondeterministic": "Cells whose repeats disagreed: n runs, distinct accuracies, accuracy range (pp), level, "
                        "and what the judgement rests on (hashes or metrics).",
    "group_factors": "Per attribute: scopes where it is the tree's root, where it appears anywhere, and where the "
                     "explanation was identified (beat chance).",
    "claims": "Each claim per observed environment: n_envs, n_support, share with its 95% Wilson interval, "
              "decision, and up to five failing environments.",
    "hardware_check": "Per requested hardware env: what ran (observed), n_machines; loose_pin = more than one kind "
                      "of machine; name_check = the model in the name against the observed model string: match, "
                      "mismatch, or cannot tell when the host hides its model; shared = the machine also ran other "
                      "environments.",
    "outcome_groups": "Every observed environment of each scope with its group (G1 = best value), value, loss, runs "
                      "and main fingerprint attributes.",
}


def note(key: str) -> str:
    """The one-line explanation of a table's columns."""
    return f"<p class='cols'>{html.escape(COLUMN_NOTES[key])}</p>"


def figure(svg: Optional[Any], caption: str = "") -> str:
    """An inline SVG figure (``svg.Svg``: its title and description are its accessible name)."""
    if svg is None:
        return ""
    return f"<figure>{svg}" + (f"<figcaption>{html.escape(caption)}</figcaption>" if caption else "") + "</figure>"


def varying(factors: Optional[pd.DataFrame]) -> Optional[pd.DataFrame]:
    """The factor rows whose factor varies in the data."""
    if factors is None or factors.empty:
        return factors
    return factors[factors["n_levels"] > 1]


def accuracy(stats: pd.DataFrame) -> pd.DataFrame:
    """The accuracy rows of a ``metric_stats`` table, in percent."""
    acc = stats[stats["metric"] == analysis.ACCURACY].copy()
    for col in ("min", "max", "mean", "std"):
        acc[col + " (%)"] = acc[col] * 100
    return acc


def survival_section(tables: Mapping[str, pd.DataFrame]) -> List[str]:
    return ["<h2>The answer in figures</h2>", note("survival"),
            html_table(tables.get("survival"), ["workload", "metric", "n_runs", "n_envs", "repeated_envs", "min",
                                                "max", "range", "env_std", "env_std_low", "env_std_high", "run_std",
                                                "between_share", "distinct_outcomes", "nondeterministic_envs"]),
            "<details><summary>The same by device class</summary>" + note("survival")
            + html_table(tables.get("survival_by_device"), ["workload", "device_class", "n_runs", "n_envs", "min",
                                                            "max", "range", "env_std", "run_std", "distinct_outcomes"])
            + "</details>"]


def verdict_section(tables: Mapping[str, pd.DataFrame], tolerances: Tolerances, caveat: str = "",
                    withheld: bool = False) -> List[str]:
    e = html.escape
    verdicts = tables["verdicts"]
    if withheld and not verdicts.empty:  # no yes/yes/yes under a "No verdict" banner
        verdicts = verdicts.assign(verdict="withheld", outcomes_reproducible=None, analysis_reproducible=None,
                                   interpretation_reproducible=None)
    return ["<h2>Verdicts</h2>" + (f"<p class='prov warn'>{e(caveat)}</p>" if caveat else ""), note("verdicts"),
            html_table(verdicts, ["workload", "n_envs", "verdict", "outcomes_reproducible", "analysis_reproducible",
                                  "interpretation_reproducible", "outcome_basis", "analysis_basis",
                                  "interpretation_basis"]),
            "<p>Criteria (Gundersen's degrees, with this report's tolerances; each degree implies the next; a verdict "
            f"needs >= {analysis.MIN_ENVS} environments, >= {analysis.MIN_REPEATED} of them with 2+ runs):</p><ul>"
            + "".join(f"<li><strong>{e(k)}</strong>: {e(v)}</li>" for k, v in tolerances.criteria().items()) + "</ul>",
            "<details><summary>Verdicts by device class</summary>"
            + html_table(tables["verdicts_by_device"], ["workload", "device_class", "n_envs", "verdict", "range",
                                                        "env_std", "run_std", "outcomes_reproducible",
                                                        "analysis_reproducible", "interpretation_reproducible"])
            + "</details>"]


def factor_section(tables: Mapping[str, pd.DataFrame], k_svg: Optional[Any] = None,
                   k_curve: Optional[figdata.KCurve] = None) -> List[str]:
    """Factors, claim stability and the k-curve (``k_curve``: its description, which says
    how many environments are needed; ``k_svg``: the figure drawn from it)."""
    factors = tables.get("factors")
    needed = k_curve.needed if k_curve is not None else ""
    still = factors[factors["n_levels"] <= 1] if factors is not None and not factors.empty else None
    return ["<h2>Which factors move the result</h2>", note("factors"),
            html_table(varying(factors), ["workload", "factor", "n_levels", "eta_sq", "effect", "best_level",
                                          "worst_level", "confounded_with", "moved_it", "note"]),
            "<details><summary>Factors that do not vary in these data</summary>"
            + html_table(still, ["workload", "factor", "note"]) + "</details>",
            "<h2>Claim stability (variants of one task)</h2>", note("claim_stability"),
            html_table(tables.get("claim_stability"), ["task", "claim", "n_envs", "share", "share_low", "share_high",
                                                        "decision", "kendall_tau_mean", "kendall_tau_min"]),
            "<h2>How many environments are enough?</h2>", note("k_curve"),
            f"<p>Environments needed for 95%: {html.escape(needed) or 'n/a'}.</p>",
            figure(k_svg, "Exact probabilities over k (no sampling, so no interval); the dotted line is 95%.")]


def spread_section(tables: Mapping[str, pd.DataFrame], extra: Mapping[str, Any]) -> List[str]:
    """Ranges (tables), and per workload its cell means (a shaded table, no figure)."""
    e = html.escape
    body = ["<h2>How far outcomes move</h2>", note("stats"),
            html_table(accuracy(tables["stats"]), ["workload", "n", "min (%)", "max (%)", "range_pp", "mean (%)",
                                                   "std (%)"]),
            "<details><summary>All metrics (loss, fraud confusion counts)</summary>" + note("stats_all")
            + html_table(tables["stats"]) + "</details>"]
    for key, label in (("stats_by_software", "by software environment"), ("stats_by_hardware", "by hardware environment"),
                       ("stats_by_device", "by device class"), ("stats_by_observed", "by observed hardware (fingerprint)")):
        part = accuracy(tables[key])
        cols = [c for c in part.columns if c not in ("metric", "min", "max", "mean", "std", "range")]
        if key == "stats_by_software" and extra.get("same_stack"):
            label += " (NOT a software comparison: see SAME STACK above)"
        body.append(f"<details><summary>Test accuracy {e(label)}</summary>{note('stats')}{html_table(part, cols)}</details>")
    for workload in sorted(set(tables["cell_means"]["workload"].astype(str))):
        body += [f"<h2>{e(workload)}</h2>", heat_table(tables["cell_means"], workload)]
    return body


def heat_table(cell_means: pd.DataFrame, workload: str) -> str:
    """Mean primary metric per hardware (rows) x software (columns) as an HTML table, each cell
    shaded from the lowest (light) to the highest (dark) value, with its min-max when the
    runs differ: the heat map without drawing a figure."""
    part = cell_means[cell_means["workload"].astype(str) == workload]
    if part.empty:
        return ""
    scale = 100.0 if str(part["metric"].iloc[0] if "metric" in part else analysis.ACCURACY) in analysis.FRACTION_METRICS else 1.0
    lo, hi = float(part["mean"].min()), float(part["mean"].max())
    software = sorted(set(part["software_env"].astype(str)))
    cells = {(str(r.hardware_env), str(r.software_env)): r for r in part.itertuples(index=False)}
    rows = []
    for hw in sorted(set(part["hardware_env"].astype(str))):
        tds = []
        for sw in software:
            r = cells.get((hw, sw))
            if r is None:
                tds.append("<td class='na'></td>")
                continue
            share = 0.0 if hi == lo else (float(r.mean) - lo) / (hi - lo)
            spread = f" ({r.min * scale:.2f}-{r.max * scale:.2f})" if r.max > r.min else ""
            tds.append(f"<td style='background:rgba(74,111,165,{0.08 + 0.5 * share:.2f})'>"
                       f"{r.mean * scale:.2f}{spread}</td>")
        rows.append(f"<tr><th>{html.escape(hw)}</th>{''.join(tds)}</tr>")
    head = "".join(f"<th>{html.escape(sw)}</th>" for sw in software)
    unit = "%" if scale == 100 else "metric units"
    return (f"<p class='cols'>{html.escape(workload)}: mean per hardware x software environment ({unit}; darker = "
            f"higher; min-max in brackets where the runs differ).</p><div class='tw'><table><thead><tr>"
            f"<th>hardware \\ software</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def determinism_section(tables: Mapping[str, pd.DataFrame], svg: Optional[Any] = None) -> List[str]:
    det = tables["determinism"]
    return ["<h2>Determinism</h2>", note("determinism"),
            figure(svg, "Each square: the worst level over its cells; the counts per level are in the table below. "
                        "Also as figures/determinism.svg."),
            "<p><em>bitwise identical</em>: equal prediction hashes; <em>equal metrics</em>: no hashes recorded, equal "
            "primary metric and loss; <em>equal accuracy only</em>: hashes or loss differ; <em>different</em>: the "
            "primary metric differs; <em>unknown (1 run)</em>: one run, nothing to compare. Repeats that landed on "
            "machines with other logical CPUs, pools or stack are other cells, not nondeterminism.</p>",
            "<p class='cols'>How many cells reached each level (count).</p>",
            html_table(det["level"].value_counts().rename_axis("level").reset_index() if not det.empty else det),
            f"<h3>Nondeterministic cells ({len(tables['nondeterministic'])})</h3>", note("nondeterministic"),
            html_table(tables["nondeterministic"], ["workload", "software_env", "hardware_env", "observed_env",
                                                    "n", "distinct_accuracy", "accuracy_range_pp", "level", "evidence"])]


def group_section(tables: Mapping[str, pd.DataFrame]) -> List[str]:
    return ["<h2>Outcome groups and what explains them</h2>",
            "<p>Observed environments whose runs gave identical outcomes form a group (G1 = best value). An "
            "explanation is the smallest decision tree over every fingerprint attribute that varies; attributes the "
            "data cannot tell apart are reported together as a confounded set. It counts as identified only when a "
            "permutation test within the design (hardware attributes shuffled within software stacks, software "
            "attributes within hardware) shows chance does not do as well.</p>",
            "<h3>Per workload (all software environments together)</h3>", note("workload_explanations"),
            html_table(tables.get("workload_explanations"), ["workload", "device_class", "n_scopes", "n_envs",
                                                             "n_groups", "n_leaves", "attributes", "p_value",
                                                             "q_value", "identified"]),
            "<h3>Within each software environment</h3>", note("group_explanations"),
            html_table(tables["group_explanations"], ["workload", "device_class", "software_env", "n_envs", "n_groups",
                                                      "n_leaves", "attributes", "confounded", "rule", "p_value",
                                                      "q_value", "status", "groups"]),
            "<h3>Attributes that separate groups</h3>", note("group_factors"), html_table(tables["group_factors"]),
            "<h3>Across all environments</h3>", note("group_explanations"),
            html_table(tables["group_explanations_all"], ["workload", "device_class", "n_envs", "n_groups", "n_leaves",
                                                          "attributes", "confounded", "p_value", "q_value", "status"]),
            "<details><summary>Every environment and its group</summary>" + note("outcome_groups")
            + html_table(tables["outcome_groups"], ["workload", "device_class", "software_env", "hardware_env",
                                                    "observed_env", "group", "value", "loss", "n", "cpu_vendor",
                                                    "microarch", "cpu_logical_count", "gpu_name"])
            + "</details>"]


def claims_section(tables: Mapping[str, pd.DataFrame]) -> List[str]:
    return ["<h2>Claims</h2>", note("claims"),
            html_table(tables["claims"], ["claim", "n_envs", "n_support", "share", "share_low", "share_high",
                                          "decision", "failing"])]


def hardware_section(rows: pd.DataFrame) -> List[str]:
    """Requested vs observed hardware, every hardware environment of the study: ``agrees`` is
    green (yes), red (no: another vendor than requested) or plain (emulated, cannot tell)."""
    return ["<h2>Requested vs observed hardware</h2>", note("hardware_check"),
            userstudy.hardware_check_html(rows, ["hardware_env", "device_class", "n_runs", "requested_vendor",
                                                 "observed_vendor", "observed", "n_machines", "loose_pin",
                                                 "name_check", "shared", "agrees"])]
