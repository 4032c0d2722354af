"""sha256 digests without loading OpenSSL: CPython's own sha256 module where it has one.

``hashlib``'s import loads OpenSSL (``_hashlib``, about 4 ms); the digests are the same.
Used where a short command hashes a few bytes (``validate``'s built-in GPU ids, ``status``'s
check that a log was not rewritten); bulk hashing of files keeps ``hashlib``.
"""
from __future__ import annotations

from typing import Any


def sha256(data: bytes = b"") -> Any:
    """A sha256 hash object (``hexdigest()``, ``update()``) of ``data``, as ``hashlib.sha256``."""
    try:
        from _sha256 import sha256 as new  # Python <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256 as new  # Python >= 3.12
        except ImportError:
            from hashlib import sha256 as new
    return new(data)
