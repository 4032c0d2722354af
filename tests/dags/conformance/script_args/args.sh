#!/bin/sh
# htcondor's job_dagman_script_args-script.pl: writes <arg> for every argument after the first two
out="script_args-$1-$2.out"
shift 2
line=""
for a in "$@"; do line="$line <$a>"; done
echo "${line# }" > "$out"
