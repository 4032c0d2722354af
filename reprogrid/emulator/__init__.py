"""The emulated pool: a local dry run that really executes every job.

Built as HTCondor is: ``dagman`` (the DAG file, the node state machine, scripts,
throttles, rescue, node status and jobstate logs) talks to ``schedd`` (the queue, job
ads, matchmaking against the machine ads) only by submitting clusters, reading the job
event log and removing jobs; ``starter`` runs one job (sandbox, transfer, environment,
its processes, its events). ``driver`` is the entry point (``dryrun``, ``plan``).
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {".driver": ["DryRunResult", "PlanResult", "dryrun", "plan"]}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = ["DryRunResult", "PlanResult", "dryrun", "plan"]
