#!/bin/sh
# htcondor's job_dagman_final-I-nodeB halts its DAG (condor_hold of DAGMan / the halt file); here: the halt file
printf 'Job for node %s\n  DAG_STATUS=%s\n  FAILED_COUNT=%s\n  Halting DAG\n' "$1" "$2" "$3" >> nodes.out
touch final-I.dag.halt
sleep 1
echo "  OK done with $1" >> nodes.out
