"""The emulated DAGMan: the DAG file and model, the node state machine, scripts, throttles,
retry/abort, rescue DAGs, recovery, the node status file and the jobstate log."""
