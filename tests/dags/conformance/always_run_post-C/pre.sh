#!/bin/sh
echo "PRE C_A running"
exit 1
