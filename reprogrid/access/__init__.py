"""Access: operations on a real pool (a rendered submit tree on a real schedd).

Owns submission through the bindings (``submission``), monitoring from the node status
file (``nodestatus``) and the event log (``status``) and the pre-submit check of a study against a pool
(``poolcheck``). The local dry run is ``reprogrid.emulator``. May import ``render`` and
everything below it.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".poolcheck": ["check_study", "describe_checks", "summarize_pool"],
    ".status": ["study_status"],
    ".submission": ["SubmitOptions", "submit", "submit_dag_command"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = ["SubmitOptions", "check_study", "describe_checks", "study_status", "submit",
           "submit_dag_command", "summarize_pool"]
