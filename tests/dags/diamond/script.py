#!/usr/bin/env python3
"""PRE/POST script: appends its arguments to scripts.txt in the DAG folder."""
import sys
with open("scripts.txt", "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\n")
