"""The HTCondor layer: the one adapter to the bindings, escaping, matchmaking, pools, inventory.

Owns: how reprogrid talks to HTCondor's Python bindings (``bindings``: the only place
``htcondor``/``classad`` are imported for parsing submit text and expressions), how values
are escaped for submit files, ClassAds and DAGs (``escaping``), symmetric matchmaking
(``matchmaking``, used by the emulator and by the pre-submit pool check), reading
``condor_status -json`` captures (``pool``) and the built-in machine inventory
(``inventory``). May import ``core`` only.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".bindings": ["classad", "parse_expression", "submit_to_job_ads"],
    ".inventory": ["builtin_machine_ads"],
    ".pool": ["load_pool"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = ["builtin_machine_ads", "classad", "load_pool", "parse_expression", "submit_to_job_ads"]
