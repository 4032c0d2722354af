#!/bin/sh
# x_echostring.pl: each argument followed by a space, then a newline
for a in "$@"; do printf "%s " "$a"; done
echo
