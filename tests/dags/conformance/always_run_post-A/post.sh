#!/bin/sh
echo "POST A_A running ($1)" >> post.out
exit 1
