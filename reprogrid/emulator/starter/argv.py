"""Arguments and environment from a job ad, split as the starter does (no shell involved).

``Arguments``/``Environment`` hold HTCondor's V2 syntax (whitespace separates, single quotes
group, ``''`` inside quotes is a literal quote); ``Args``/``Env`` the old V1 syntax
(whitespace-separated arguments; ``;``-separated NAME=value pairs).
"""
from __future__ import annotations

from typing import Dict, List
from reprogrid.condor.bindings import ad_string, classad



def split_v2(raw: str) -> List[str]:
    out: List[str] = []
    cur: List[str] = []
    have = False
    quoted = False
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if quoted:
            if ch == "'":
                if i + 1 < n and raw[i + 1] == "'":
                    cur.append("'")
                    i += 2
                    continue
                quoted = False
            else:
                cur.append(ch)
        elif ch == "'":
            quoted = True
            have = True
        elif ch.isspace():
            if have or cur:
                out.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(ch)
        i += 1
    if have or cur:
        out.append("".join(cur))
    return out


def job_arguments(ad: classad.ClassAd) -> List[str]:
    v2 = ad_string(ad, "Arguments")
    if v2 is not None:
        return split_v2(v2)
    v1 = ad_string(ad, "Args")
    return v1.split() if v1 else []


def job_environment(ad: classad.ClassAd) -> Dict[str, str]:
    env: Dict[str, str] = {}
    v2 = ad_string(ad, "Environment")
    if v2 is not None:
        items = split_v2(v2)
    else:
        v1 = ad_string(ad, "Env") or ""
        items = [s for s in v1.split(";") if s]
    for item in items:
        if "=" in item:
            key, value = item.split("=", 1)
            env[key] = value
    return env
