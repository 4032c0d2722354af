"""Render: a validated study -> the submit tree (DAG, submit files, job bundle, manifest).

Owns the hardware pins as ClassAd requirements (``pins``), the job zipapp
(``bundle``) and the rendering itself (``study``: Jinja templates in, text out; the tree
is written atomically). The tree's names and manifest format belong to ``reprogrid.tree``.
May import ``prepare``, ``spec``, ``tree``, ``condor``, ``core`` and ``job``.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".bundle": ["build_job_bundle"],
    ".pins": ["Pin", "pin_for", "pins_for_study", "study_warnings"],
    ".study": ["RenderResult", "manifest_text", "render_files", "render_study"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = [
    "Pin", "RenderResult", "build_job_bundle", "manifest_text", "pin_for", "pins_for_study",
    "render_files", "render_study", "study_warnings"
]
