"""Gather: per-run records -> one checked Parquet dataset; imported published runs.

Owns the dataset's Arrow schema, part-file writer and readers (``dataset``), the
collection of a submit tree's records checked against its manifest (``collect``; a run's
class by ``classify``; a re-gather that rewrites only the changed part files by
``regather``, from the last gather's ``index``, split by part) and importers of published runs into the same schema (``importers``). May import ``tree``, ``core`` and
``job`` (the result schema).
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".collect": ["CLASSES", "GatherResult", "gather", "scan_results"],
    ".dataset": [
        "REPORT_NAME", "arrow_schema", "conform", "find_dataset", "load_dataset", "load_table",
        "read_report", "write_dataset"
    ],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = [
    "CLASSES", "GatherResult", "REPORT_NAME", "arrow_schema", "conform", "find_dataset", "gather",
    "load_dataset", "load_table", "read_report", "scan_results", "write_dataset"
]
