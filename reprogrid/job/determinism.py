"""Seeding and op determinism, as the original study did it, with integer version checks.

``tf.keras.utils.set_random_seed(seed)`` (Python, numpy and TF seeds) plus
``tf.config.experimental.enable_op_determinism()`` where TensorFlow >= 2.8. On older
TensorFlow the seeds are set one by one and ``TF_DETERMINISTIC_OPS=1`` is exported, the
documented way before 2.8. Switching determinism off calls none of these.
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
