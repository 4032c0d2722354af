#!/bin/sh
# A node job: node.sh NAME DAG_STATUS FAILED_COUNT EXIT [OUTFILE]
# Writes what htcondor's job_dagman_final-* node scripts write, then exits with EXIT.
out=${5:-nodes.out}
{
  echo "Job for node $1"
  echo "  DAG_STATUS=$2"
  echo "  FAILED_COUNT=$3"
  if [ "$4" = 0 ]; then echo "  OK done with $1"; else echo "  FAILED done with $1"; fi
} >> "$out"
exit "$4"
