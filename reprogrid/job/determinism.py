"""Seeding and op determinism, as the original study did it, with integer version checks.

``tf.keras.utils.set_random_seed(seed)`` (Python, numpy and TF seeds) plus
``tf.config.experimental.enable_op_determinism()`` where TensorFlow >= 2.8. On older
TensorFlow the seeds are set one by one and ``TF_DETERMINISTIC_OPS=1`` is exported, the
documented way before 2.8. Switching determinism off calls none of these. Keras 3 on JAX
or PyTorch: :func:`prepare_environment` before the import, :func:`apply_backend` after.
"""
from __future__ import annotations

import os
import random
from typing import Any, Dict, Optional

from .compat import version_at_least

OP_DETERMINISM_SINCE = (2, 8)
SET_RANDOM_SEED_SINCE = (2, 7)


def plan(tf_version: Optional[str], enabled: bool) -> Dict[str, bool]:
    """What :func:`apply` will call for this TensorFlow version (pure, for tests and records)."""
    if not enabled:
        return {"set_random_seed": False, "enable_op_determinism": False, "env_deterministic_ops": False}
    modern = version_at_least(tf_version, OP_DETERMINISM_SINCE)
    return {
        "set_random_seed": True,
        "enable_op_determinism": modern,
        "env_deterministic_ops": not modern,
    }


def apply(tf: Any, seed: int, enabled: bool = True) -> Dict[str, Any]:
    """Seed everything and turn op determinism on (when ``enabled``); returns what was done."""
    steps = plan(getattr(tf, "__version__", None), enabled)
    done = dict(steps)
    done["seed"] = int(seed)
    if not enabled:
        return done
    utils = getattr(getattr(tf, "keras", None), "utils", None)
    if version_at_least(tf.__version__, SET_RANDOM_SEED_SINCE) and hasattr(utils, "set_random_seed"):
        utils.set_random_seed(int(seed))
    else:  # pragma: no cover - TF < 2.7
        import numpy as np

        random.seed(int(seed))
        np.random.seed(int(seed))
        tf.random.set_seed(int(seed))
    if steps["enable_op_determinism"]:
        tf.config.experimental.enable_op_determinism()
    elif steps["env_deterministic_ops"]:  # pragma: no cover - TF < 2.8
        os.environ["TF_DETERMINISTIC_OPS"] = "1"
    return done


# -- Keras 3 on JAX or PyTorch -------------------------------------------------------
#: XLA's documented switch for deterministic GPU reductions/scatters (CPU XLA already is).
XLA_DETERMINISTIC_FLAG = "--xla_gpu_deterministic_ops=true"
#: What torch.use_deterministic_algorithms needs for cuBLAS on CUDA >= 10.2 (PyTorch docs).
CUBLAS_WORKSPACE = ":4096:8"


def prepare_environment(backend: str, enabled: bool = True, environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Set the variables a backend reads at start-up (call before importing it); returns them.

    JAX: ``--xla_gpu_deterministic_ops=true`` added to ``XLA_FLAGS``. PyTorch:
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` unless the job already set one. TensorFlow: none
    (its switches are calls, see :func:`apply`). A value the job set is kept.
    """
    environ = os.environ if environ is None else environ
    done = {}  # type: Dict[str, str]
    if not enabled:
        return done
    if backend == "jax":
        flags = environ.get("XLA_FLAGS", "")
        if "xla_gpu_deterministic_ops" not in flags:
            environ["XLA_FLAGS"] = (flags + " " + XLA_DETERMINISTIC_FLAG).strip()
        done["XLA_FLAGS"] = environ["XLA_FLAGS"]
    elif backend == "torch":
        environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        done["CUBLAS_WORKSPACE_CONFIG"] = environ["CUBLAS_WORKSPACE_CONFIG"]
    return done


def apply_backend(backend: str, keras: Any, tf: Any, seed: int, enabled: bool = True) -> Dict[str, Any]:
    """Seed and make deterministic the way ``backend`` documents it; returns what was done.

    TensorFlow: :func:`apply` (the study's calls). JAX and PyTorch (Keras 3):
    ``keras.utils.set_random_seed`` seeds Python, NumPy and the backend; PyTorch also gets
    ``torch.use_deterministic_algorithms(True)`` and cuDNN autotuning off.
    """
    if backend == "tensorflow":
        return apply(tf, seed, enabled)
    done = {"seed": int(seed), "backend": backend, "set_random_seed": bool(enabled)}  # type: Dict[str, Any]
    if not enabled:
        return done
    keras.utils.set_random_seed(int(seed))
    if backend == "torch":
        import torch  # noqa: WPS433 (only on the PyTorch backend)

        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        done["use_deterministic_algorithms"] = True
    return done
