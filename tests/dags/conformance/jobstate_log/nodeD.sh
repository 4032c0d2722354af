#!/bin/sh
# htcondor's nodeD fails once; it also gets the DAGMan job id
[ -n "$1" ] && [ "$2" = 1 ]
