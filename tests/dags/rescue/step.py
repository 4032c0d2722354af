#!/usr/bin/env python3
"""Appends its node name to runs.txt in the Iwd; node B fails unless Iwd/fixed exists."""
import os, re, sys
ad = open(os.environ["_CONDOR_JOB_AD"]).read()
iwd = re.search(r'^Iwd = "(.*)"$', ad, re.M).group(1)
with open(os.path.join(iwd, "runs.txt"), "a") as f:
    f.write(sys.argv[1] + "\n")
if sys.argv[1] == "B" and not os.path.exists(os.path.join(iwd, "fixed")):
    sys.exit(5)
