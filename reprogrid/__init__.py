"""reprogrid: reproducibility studies of deep-learning results on HTCondor and the OSPool.

The flow, one module per stage: ``spec`` (what to run) -> ``render`` (submit tree) ->
``emulator`` (local dry run) or the real pool -> ``job`` (inside the container) ->
``gather`` -> ``analysis`` -> ``report``; ``cli`` is a thin layer over all of them.

For notebooks, the main functions are reachable from the top (imported on first use, so
``import reprogrid`` stays cheap)::

    import reprogrid
    study = reprogrid.load_study("study.yaml")        # or reprogrid.study_from_dict({...})
    reprogrid.render_study(study, "submit/mystudy")
    reprogrid.dryrun("submit/mystudy/study.dag")
    reprogrid.gather_results("submit/mystudy")          # reprogrid.gather is the module
    df = reprogrid.load_dataset("submit/mystudy")
    tables = reprogrid.summarize(df)                   # every report table as a DataFrame
"""
from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_study": "spec", "study_from_dict": "spec", "Study": "spec",
    "render_study": "render", "dryrun": "emulator", "plan": "emulator",
    "gather_results": "gather", "load_dataset": "gather", "summarize": "analysis",
    "build_report": "report", "run_demo": "demo", "preset_study": "presets",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reprogrid' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), "gather" if name == "gather_results" else name)
    globals()[name] = value
    return value
