"""Did each software environment run as declared? The records' installed distributions
against the stack's lock (the lock file itself is owned by :mod:`reprogrid.prepare.stacklock`;
the report and gather receive its pins as plain data from the manifest).
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Tuple

from reprogrid.job.distributions import TOOLING, normalize


def lock_differences(lock: Mapping[str, str], observed: Mapping[str, str]) -> List[str]:
    """What the records hold that the lock does not say: ``numpy 2.4.1 (lock 1.26.4)``,
    ``scipy missing (lock 1.11.4)``; distributions the lock does not name are not listed
    (the image or interpreter brings its own tooling)."""
    out = []
    for name in sorted(lock):
        if normalize(name) in TOOLING:
            continue
        got = observed.get(normalize(name))
        if got is None:
            out.append(f"{name} missing (lock {lock[name]})")
        elif got != lock[name]:
            out.append(f"{name} {got} (lock {lock[name]})")
    return out


def compare_with_locks(locks: Mapping[str, Mapping[str, str]],
                       records: Iterable[Tuple[Any, Any]]) -> List[Dict[str, Any]]:
    """Per software environment with a lock: ``state`` ``as declared``, ``differs`` (with the
    ``differences``) or ``unknown`` (its records carry no distribution list). ``records`` are
    (software env, ``distributions_json``) pairs of the runs."""
    seen: Dict[str, List[Dict[str, str]]] = {}
    for env, text in records:
        try:
            dists = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            dists = None
        if isinstance(dists, dict):
            seen.setdefault(str(env), []).append({normalize(k): str(v) for k, v in dists.items()})
    out = []
    for env in sorted(locks):
        if not seen.get(env):
            out.append({"software_env": env, "state": "unknown", "differences": [], "n_locked": len(locks[env])})
            continue
        diffs = sorted({d for observed in seen[env] for d in lock_differences(locks[env], observed)})
        out.append({"software_env": env, "state": "differs" if diffs else "as declared", "differences": diffs,
                    "n_locked": len(locks[env])})
    return out


def lock_sentence(result: Mapping[str, Any]) -> str:
    """One result of :func:`compare_with_locks` in words."""
    env = result["software_env"]
    if result["state"] == "as declared":
        return f"Lock: {env} ran as declared (all {result['n_locked']} distribution(s) of its lock, same versions)."
    if result["state"] == "differs":
        return f"Lock: {env} did NOT run as declared: {', '.join(result['differences'][:6])}."
    return f"Lock: {env} has a lock, but its records carry no distribution list to compare with it."
