#!/bin/sh
# htcondor's job_dagman_final-E-nodeB2 runs condor_rm on its DAGMan job; the dry run is removed by a signal
printf 'Job for node %s\n  DAG_STATUS=%s\n  FAILED_COUNT=%s\n  Removing parent DAGMan\n' "$1" "$2" "$3" >> nodes.out
kill -TERM "$PPID"
sleep 30
