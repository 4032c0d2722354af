"""A study as a research object: ``export_crate`` writes a gathered submit folder as a
Workflow Run RO-Crate (Provenance Run Crate profile) and ``open_crate`` reads one back.

Reads what gather, analysis and report produced; nothing below ``commands`` imports it.
The names are lazy (``core.lazy``): ``reprogrid report`` asks only whether its input is a
crate (``reader``), and so never imports the writer's rocrate, requests and spec.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".reader": ["dataset_dir", "is_crate", "open_crate"],
    ".writer": ["build_crate", "export_crate"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = ["build_crate", "dataset_dir", "export_crate", "is_crate", "open_crate"]
