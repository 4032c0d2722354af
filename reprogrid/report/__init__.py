"""Report: the analysis tables -> one self-contained HTML page and a Markdown summary.

Owns the page (``html``: the first screen; ``answer``: its lines and badges; ``facts``:
provenance sentences; ``sections``: everything below; ``tables``: how values and tables
are shown), ``summary.md`` (``markdown``), and the figures: described once (``figdata``),
drawn as SVG text for the page and ``figures/*.svg`` (``svgfigures`` with the writer
``svg``), and by matplotlib for PNG and notebooks (``figures``, imported only then). May
import ``analysis`` and below.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".figures": ["determinism_figure", "export_figures", "overview_figure"],
    ".html": ["ReportPaths", "build_report", "render_html"],
    ".markdown": ["render_markdown"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = ["ReportPaths", "build_report", "determinism_figure", "export_figures", "overview_figure", "render_html",
           "render_markdown"]
