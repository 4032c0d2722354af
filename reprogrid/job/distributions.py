"""The Python distributions installed where the job ran: name -> version, bounded in size.

Read with ``importlib.metadata`` (Python 3.8+, no import of the packages themselves), so
a record says what the stack really held, not what its image's name promises. Names are
normalised as pip compares them (PEP 503: lower case, runs of ``-_.`` as ``-``); where a
distribution is installed twice on ``sys.path`` the first one (the one ``import`` finds)
counts. The map is sorted and bounded (``LIMIT`` entries, long names and versions cut), so
a huge environment cannot blow up a record; ``TRUNCATED_KEY`` then says how many were left out.
"""
import json
import re
from typing import Dict, Optional

LIMIT = 1000
MAX_TEXT = 100
TRUNCATED_KEY = "(truncated)"
_SEPARATORS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    """PEP 503's normal form of a distribution name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return _SEPARATORS.sub("-", str(name)).lower()


def installed(limit: int = LIMIT) -> Dict[str, str]:
    """Normalised name -> version of every distribution visible on ``sys.path``, sorted."""
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8: nothing to say
        return {}
    found = {}  # type: Dict[str, str]
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
            version = dist.version
        except Exception:  # a broken METADATA file must not sink the run
            continue
        if not name:
            continue
        key = normalize(name)[:MAX_TEXT]
        if key not in found:
            found[key] = str(version or "")[:MAX_TEXT]
    names = sorted(found)
    out = {name: found[name] for name in names[:limit]}
    if len(names) > limit:
        out[TRUNCATED_KEY] = "%d more" % (len(names) - limit)
    return out


def installed_json(limit: int = LIMIT) -> Optional[str]:
    """:func:`installed` as the record's ``distributions_json`` (None if it cannot be read)."""
    try:
        return json.dumps(installed(limit), sort_keys=True)
    except Exception:
        return None
