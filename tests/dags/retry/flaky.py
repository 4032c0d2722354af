#!/usr/bin/env python3
"""Fails on its first two attempts: counts attempts in counter.txt in the job's Iwd."""
import os, re, sys
ad = open(os.environ["_CONDOR_JOB_AD"]).read()
iwd = re.search(r'^Iwd = "(.*)"$', ad, re.M).group(1)
path = os.path.join(iwd, "counter.txt")
n = int(open(path).read()) + 1 if os.path.exists(path) else 1
open(path, "w").write(str(n))
sys.exit(0 if n >= 3 else 1)
