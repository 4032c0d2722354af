#!/bin/sh
# A PRE/POST script: script.sh NODE KIND EXIT DAG_STATUS FAILED_COUNT RETURN
# Writes what htcondor's job_dagman_final-*-script.pl write, then exits with EXIT.
{
  echo "Node $1 $2"
  echo "  DAG_STATUS=$4"
  echo "  FAILED_COUNT=$5"
  echo "  RETURN=$6"
} >> scripts.out
exit "$3"
