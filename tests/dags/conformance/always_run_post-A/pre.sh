#!/bin/sh
echo "PRE A_A running"
exit 1
