"""A study as a research object: ``export_crate`` writes a gathered submit folder as a
Workflow Run RO-Crate (Provenance Run Crate profile) and ``open_crate`` reads one back.

Reads what gather, analysis and report produced; nothing below ``commands`` imports it.
"""
from reprogrid.export.reader import dataset_dir, is_crate, open_crate
from reprogrid.export.writer import build_crate, export_crate

__all__ = ["build_crate", "dataset_dir", "export_crate", "is_crate", "open_crate"]
