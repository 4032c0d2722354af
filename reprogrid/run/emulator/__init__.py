"""The emulated schedd and DAGMan: a local dry run that really executes every job.

``driver`` is the entry point (``dryrun``, ``plan``); ``dagfile`` parses DAGs into the
``model``; ``scheduler`` is the DAGMan loop; ``jobads`` turns submit files into job ads
through the bindings; ``executor`` and ``transfer`` run jobs in sandboxes; ``eventlog``,
``nodestatus`` and ``rescue`` write what DAGMan writes. Matchmaking is shared with the
pool check and lives in ``reprogrid.condor.matchmaking``.
"""
from reprogrid.run.emulator.driver import DryRunResult, PlanResult, dryrun, plan

__all__ = ["DryRunResult", "PlanResult", "dryrun", "plan"]
