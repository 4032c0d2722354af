#!/bin/sh
echo "POST C_A running ($1)" >> post.out
exit 1
