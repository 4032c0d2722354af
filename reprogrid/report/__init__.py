"""Report: the analysis tables -> one self-contained HTML page and a Markdown summary.

Owns the pages (``html``) and the plots (``plots``). May import ``analysis`` and below.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".html": ["ReportPaths", "build_report", "render_html", "render_markdown"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = ["ReportPaths", "build_report", "render_html", "render_markdown"]
