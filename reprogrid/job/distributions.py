"""The Python distributions installed where the job ran: name -> version, bounded in size.

Read from the ``*.dist-info`` / ``*.egg-info`` folders on ``sys.path`` as ``importlib.metadata``
finds them (Python 3.8+, no import of the packages themselves), so
a record says what the stack really held, not what its image's name promises. Names are
normalised as pip compares them (PEP 503: lower case, runs of ``-_.`` as ``-``); where a
distribution is installed twice on ``sys.path`` the first one (the one ``import`` finds)
counts. The map is sorted and bounded (``LIMIT`` entries, long names and versions cut), so
a huge environment cannot blow up a record; ``TRUNCATED_KEY`` then says how many were left out.
"""
import json
import os
import pathlib
import re
import sys
from typing import Dict, Iterator, Optional, Tuple

LIMIT = 1000
MAX_TEXT = 100
TRUNCATED_KEY = "(truncated)"
#: The packaging tools every environment brings its own of: not part of a stack's lock, nor of
#: what "same stack" compares.
TOOLING = frozenset(("pip", "setuptools", "wheel", "distribute"))
_SEPARATORS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    """PEP 503's normal form of a distribution name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return _SEPARATORS.sub("-", str(name)).lower()


def _from_folder_names(entry: str) -> Iterator[Tuple[str, str]]:
    """(name, version) of the distributions installed in one ``sys.path`` folder, read from
    their ``NAME-VERSION.dist-info`` / ``.egg-info`` folder names (wheels escape ``-`` in the
    name as ``_``); a name that does not split that way is read from its METADATA."""
    try:
        names = sorted(os.listdir(entry or "."))
    except OSError:
        return
    for folder in names:
        for suffix in (".dist-info", ".egg-info"):
            if not folder.endswith(suffix):
                continue
            parts = folder[: -len(suffix)].split("-")
            if len(parts) >= 2 and parts[1][:1].isdigit():
                yield parts[0], parts[1]
            else:
                found = _from_metadata(os.path.join(entry or ".", folder))
                if found is not None:
                    yield found


def _from_metadata(path: str) -> Optional[Tuple[str, str]]:
    try:
        from importlib import metadata

        dist = metadata.PathDistribution(pathlib.Path(path))
        name = dist.metadata["Name"]
        return (name, dist.version) if name else None
    except Exception:  # a broken METADATA file must not sink the run
        return None


def installed(limit: int = LIMIT) -> Dict[str, str]:
    """Normalised name -> version of every distribution visible on ``sys.path``, sorted.

    The order of ``sys.path`` decides between two installs of one name, as ``import`` and
    ``importlib.metadata`` do. Reading folder names (not every METADATA file, which carries
    the whole long description) keeps this to milliseconds in a big environment."""
    found = {}  # type: Dict[str, str]
    for entry in sys.path:
        for name, version in _from_folder_names(entry):
            key = normalize(name)[:MAX_TEXT]
            if key not in found:
                found[key] = str(version)[:MAX_TEXT]
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
