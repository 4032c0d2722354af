"""One owner per decision: the metric default lives in job/catalogue.py, the analysis's
column lists in job/schema.py (tagged by role), and no alias or re-export keeps an old path."""
from __future__ import annotations

import re
from pathlib import Path

from reprogrid.job import catalogue, schema

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "reprogrid"


def _sources():
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in PKG.rglob("*.py")}


def test_the_primary_metric_default_is_decided_by_the_catalogue_only():
    decisions = re.compile(r"""BUILTIN_METRICS\.get\(|^\s+higher_is_better: bool = True$|fillna\(True\)|"""
                           r"""primary_metric="test_accuracy"|= "test_accuracy"$|metrics else True$""", re.M)
    spelled = sorted(path for path, text in _sources().items()
                     if path != "reprogrid/job/catalogue.py" and decisions.search(text))
    assert spelled == []
    assert catalogue.builtin_direction(catalogue.BUILTIN_PRIMARY) is catalogue.BUILTIN_HIGHER_IS_BETTER


def test_the_analysis_reads_its_column_lists_from_the_schema():
    from reprogrid import analysis

    assert analysis.FINGERPRINT_ATTRIBUTES == schema.ENVIRONMENT_ATTRIBUTES
    assert analysis.OBSERVED_KEY == schema.OBSERVED_ENVIRONMENT
    assert analysis.METRICS == schema.METRIC_COLUMNS
    text = (PKG / "analysis" / "columns.py").read_text(encoding="utf-8")
    listed = [c for c in (*schema.ENVIRONMENT_ATTRIBUTES, *schema.OBSERVED_ENVIRONMENT, *schema.ANALYSIS_IDENTITY)
              if f'"{c}"' in text and c not in ("workload", "software_env", "hardware_env", "status", "seed",
                                                  "primary_metric", "primary_value", "higher_is_better", "task",
                                                  "gpu_count", "predictions_sha256", "cpu_model", "gpu_name",
                                                  "machine_name", "sample_data", "run_id",
                                                  "error_type")]  # set for an ok run with a NaN primary (issue 24)
    assert listed == [], "analysis/columns.py re-spells schema columns: tag them by role in job/schema.py"


def test_every_role_column_is_a_schema_column():
    roles = (schema.METRIC_COLUMNS, schema.ENVIRONMENT_ATTRIBUTES, schema.LOCATION_ATTRIBUTES,
             schema.OBSERVED_ENVIRONMENT, schema.ANALYSIS_IDENTITY)
    unknown = sorted({c for role in roles for c in role} - set(schema.COLUMN_NAMES))
    assert unknown == []


def test_no_alias_or_re_export_keeps_an_old_path():
    kept = sorted(path for path, text in _sources().items()
                  if re.search(r"GROUP_ATTRIBUTES|re-exported for|kept for older callers", text))
    assert kept == []


def test_the_manifest_is_built_by_one_function():
    from reprogrid.render import study

    builders = [name for name in dir(study) if name.startswith("manifest") and callable(getattr(study, name))]
    assert builders == ["manifest_text"]
    assert '"runs":' not in (PKG / "render" / "study.py").read_text(encoding="utf-8")  # tree.manifest_json writes the frame
