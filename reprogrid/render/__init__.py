"""Render: a validated study -> the submit tree (DAG, submit files, job bundle, manifest).

Owns the hardware pins as ClassAd requirements (``hardware``), the job zipapp
(``bundle``) and the rendering itself (``study``: Jinja templates in, text out; the tree
is written atomically). The tree's names and manifest format belong to ``reprogrid.tree``.
May import ``prepare``, ``spec``, ``tree``, ``condor``, ``core`` and ``job``.
"""
from reprogrid.render.bundle import build_job_bundle
from reprogrid.render.hardware import Pin, pin_for, pins_for_study, study_warnings
from reprogrid.render.study import RenderResult, manifest_text, render_files, render_study

__all__ = ["Pin", "RenderResult", "build_job_bundle", "manifest_text", "pin_for",
           "pins_for_study", "render_files", "render_study", "study_warnings"]
