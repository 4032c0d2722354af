"""Run: a rendered submit tree, executed: on a real pool or with the schedd emulated.

Owns submission through the bindings (``submit``), monitoring from the node status file
and the event log (``status``), the pre-submit check of a study against a pool
(``poolcheck``) and the local dry run (``emulator``: DAGMan and the schedd emulated,
every job really executed). May import ``render`` and everything below it.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".emulator.driver": ["dryrun", "plan"],
    ".poolcheck": ["check_study", "describe_checks", "summarize_pool"],
    ".status": ["study_status"],
    ".submission": ["SubmitOptions", "submit", "submit_dag_command"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = [
    "SubmitOptions", "check_study", "describe_checks", "dryrun", "plan", "study_status", "submit",
    "submit_dag_command", "summarize_pool"
]
