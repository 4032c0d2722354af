"""reprogrid: reproducibility studies of deep-learning results on HTCondor and the OSPool.

The flow, one package per stage: ``spec`` (what to run) -> ``prepare`` (images, data) ->
``render`` (the submit tree, whose names and manifest ``tree`` owns) -> ``access`` (the real
pool) or ``emulator`` (the local dry run) -> ``job`` (inside the container) ->
``gather`` -> ``analysis`` -> ``report``; beside them ``core`` (errors, atomic files,
progress) and ``condor`` (the HTCondor bindings, escaping, matchmaking). ``cli``,
``commands`` and ``demo`` are thin layers over all of them. Imports run down the flow
only; import-linter contracts in setup.cfg, checked by the tests, keep it so
(docs/internals.md has the map).

For notebooks, the main functions are reachable from the top (imported on first use, so
``import reprogrid`` stays cheap)::

    import reprogrid
    study = reprogrid.load_study("study.yaml")        # or reprogrid.study_from_dict({...})
    reprogrid.render_study(study, "submit/mystudy")
    reprogrid.dryrun("submit/mystudy/study.dag")
    reprogrid.gather_results("submit/mystudy")          # reprogrid.gather is the stage
    df = reprogrid.load_dataset("submit/mystudy")
    tables = reprogrid.summarize(df)                   # every report table as a DataFrame
"""
import logging
from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Library code logs through logging.getLogger(__name__) and never prints; an application
# (the CLI: reprogrid.cli.configure_logging, -v/-q) decides what reaches the terminal.
logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "load_study": "spec", "study_from_dict": "spec", "Study": "spec", "preset_study": "spec",
    "render_study": "render", "dryrun": "emulator", "plan": "emulator",
    "gather_results": "gather", "load_dataset": "gather", "summarize": "analysis",
    "build_report": "report", "run_demo": "demo",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reprogrid' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), "gather" if name == "gather_results" else name)
    globals()[name] = value
    return value
