#!/bin/sh
# fails on the first try (htcondor's job_dagman_jobstate_log-nodeC-post.pl)
[ "$2" != 0 ]
