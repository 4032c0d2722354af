#!/bin/sh
# reprogrid 0.1.0 job wrapper: runs the job bundle with the container's python3.
# Arguments are passed through to `reprogrid-job.pyz run`. REPROGRID_PYTHON overrides the
# interpreter (the emulated schedd sets it to map a software environment to a local one).
set -u
PY="${REPROGRID_PYTHON:-python3}"
mkdir -p results
echo "reprogrid job on $(hostname 2>/dev/null || echo unknown) with $("$PY" --version 2>&1)" >&2
exec "$PY" reprogrid-job.pyz run "$@"
