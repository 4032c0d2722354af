"""Report: the analysis tables -> one self-contained HTML page and a Markdown summary.

Owns the page (``html``: the first screen; ``answer``: its lines and badges; ``facts``:
provenance sentences; ``sections``: everything below; ``tables``: how values and tables
are shown), ``summary.md`` (``markdown``), the exportable figures (``figures``: also the
notebook API) and the other plots (``plots``). May import ``analysis`` and below.
"""
from reprogrid.report.figures import determinism_figure, export_figures, overview_figure
from reprogrid.report.html import ReportPaths, build_report, render_html
from reprogrid.report.markdown import render_markdown

__all__ = ["ReportPaths", "build_report", "determinism_figure", "export_figures", "overview_figure", "render_html",
           "render_markdown"]
