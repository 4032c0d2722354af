"""Version parsing and the one place that finds Keras (tf.keras on Keras 2, keras on Keras 3).

Python 3.8 syntax, standard library only at import time: TensorFlow (or JAX, or PyTorch,
for Keras 3 on those backends) is imported lazily so ``fingerprint`` and the failure path
work even where the framework itself is broken.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, Optional, Tuple


def parse_version(text: Optional[str]) -> Tuple[int, ...]:
    """Leading integer components of a version string: ``"2.10.0-rc1"`` -> ``(2, 10, 0)``.

    Compare the tuples, never floats of a prefix: ``float("2.10"[0:3]) >= 2.8`` is False,
    the bug that silently turned determinism off in the original study's scripts.
    """
    if not text:
        return ()
    parts = []
    for piece in str(text).strip().split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group(0)))
        if match.group(0) != piece:
            break
    return tuple(parts)


def version_at_least(text: Optional[str], minimum: Tuple[int, ...]) -> bool:
    """True when ``text`` parses to a version >= ``minimum`` (missing parts count as 0)."""
    parsed = parse_version(text)
    if not parsed:
        return False
    width = max(len(parsed), len(minimum))
    padded = parsed + (0,) * (width - len(parsed))
    wanted = tuple(minimum) + (0,) * (width - len(minimum))
    return padded >= wanted


def import_tf() -> Any:
    """Import TensorFlow (quietly where the image allows it)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # noqa: WPS433 (lazy on purpose)

    return tf


def keras_module() -> Any:
    """The Keras the study's examples used: ``tf.keras`` (Keras 2 on TF <= 2.15, Keras 3 after)."""
    tf = import_tf()
    return tf.keras


def keras_version() -> Optional[str]:
    """The Keras version string, whichever Keras ``tf.keras`` resolves to."""
    keras = keras_module()
    version = getattr(keras, "__version__", None)
    if version:
        return str(version)
    try:
        import keras as standalone  # noqa: WPS433

        return str(getattr(standalone, "__version__", "")) or None
    except Exception:  # pragma: no cover - depends on the image
        return None


# -- Keras 3 backends ----------------------------------------------------------------
# Keras 3 runs on TensorFlow, JAX or PyTorch, chosen by $KERAS_BACKEND (or keras.json)
# before ``import keras``. On TensorFlow the study's own path is kept (``tf.keras``, Keras 2
# or 3); on JAX or PyTorch TensorFlow is not imported at all.
BACKENDS = ("tensorflow", "jax", "torch")


def requested_backend(environ: Optional[Dict[str, str]] = None) -> str:
    """The Keras backend this process will run: ``$KERAS_BACKEND``, else ``tensorflow``."""
    environ = os.environ if environ is None else environ
    backend = (environ.get("KERAS_BACKEND") or "tensorflow").strip().lower()
    return backend or "tensorflow"


def import_framework() -> Tuple[Any, Any, str]:
    """(tf or None, the Keras module, backend name) for this process's backend.

    Raises ``ValueError`` for a backend this job side does not run (its message names them).
    """
    backend = requested_backend()
    if backend not in BACKENDS:
        raise ValueError("KERAS_BACKEND=%s is not supported; use one of %s" % (backend, ", ".join(BACKENDS)))
    if backend == "tensorflow":
        tf = import_tf()
        return tf, tf.keras, backend
    import keras  # noqa: WPS433 (Keras 3, lazy on purpose)

    actual = keras.backend.backend() if hasattr(keras.backend, "backend") else backend
    if actual != backend:  # pragma: no cover - keras.json overriding is not how the job side asks
        raise ValueError("asked for Keras backend %s, Keras runs %s" % (backend, actual))
    return None, keras, backend
