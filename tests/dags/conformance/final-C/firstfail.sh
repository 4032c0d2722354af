#!/bin/sh
# fails on the first attempt (retry 0), succeeds on the retry, as htcondor's job_dagman_final-C-nodeA.pl
if [ "$4" = 0 ]; then exec ./node.sh "$1" "$2" "$3" 1; else exec ./node.sh "$1" "$2" "$3" 0; fi
