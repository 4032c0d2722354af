"""Report: the analysis tables -> one self-contained HTML page and a Markdown summary.

Owns the pages (``html``) and the plots (``plots``). May import ``analysis`` and below.
"""
from reprogrid.report.html import ReportPaths, build_report, render_html, render_markdown

__all__ = ["ReportPaths", "build_report", "render_html", "render_markdown"]
