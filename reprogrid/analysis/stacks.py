"""What each software environment really ran: the software stack observed in its records.

A software environment is a request (a container named for TF 2.8); the records say what
answered it (Python, TensorFlow, Keras and its backend, CUDA/cuDNN where present). When
several requested environments ran one and the same stack (a dry run maps every container
to this machine's TensorFlow), they were not different here, and no difference between
them may be read as a software effect. :func:`software_stacks` tabulates the stacks;
:func:`same_stack_groups` finds the environments that did not differ.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pandas as pd

#: Record column -> label in the stack table.
STACK_COLUMNS = (
    ("python_version", "python"),
    ("tensorflow_version", "tensorflow"),
    ("keras_version", "keras"),
    ("cuda_version", "cuda"),
    ("cudnn_version", "cudnn"),
)


def _text(value: Any) -> Optional[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _backend(column: Any, keras: Optional[str]) -> Optional[str]:
    """Keras's backend: the record's ``keras_backend`` column (the job's fingerprint decides it);
    a record without one that ran Keras 2 (tf.keras) ran on TensorFlow."""
    if _text(column):
        return str(column)
    if keras and keras.split(".")[0].isdigit() and int(keras.split(".")[0]) < 3:
        return "tensorflow"
    return None


def stack_label(row: Dict[str, Optional[str]]) -> str:
    """``Python 3.11.7, TF 2.21.0, Keras 3.15.1 (tensorflow backend), CUDA 12.3, cuDNN 8.9``."""
    parts = []
    if row.get("python"):
        parts.append(f"Python {row['python']}")
    parts.append(f"TF {row.get('tensorflow') or 'not recorded'}")
    keras = row.get("keras")
    if keras:
        backend = row.get("keras_backend")
        parts.append(f"Keras {keras}" + (f" ({backend} backend)" if backend else " (backend not recorded)"))
    if row.get("cuda"):
        parts.append(f"CUDA {row['cuda']}")
    if row.get("cudnn"):
        parts.append(f"cuDNN {row['cudnn']}")
    return ", ".join(parts)


def software_stacks(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (software environment, observed stack): the stack and how many runs ran it.

    Columns: ``software_env``, ``n_runs``, ``python``, ``tensorflow``, ``keras``,
    ``keras_backend``, ``cuda``, ``cudnn``, ``stack`` (one readable label). An environment
    whose runs saw two stacks has two rows. Records without any version (a run that
    failed before its fingerprint) are left out.
    """
    columns = ["software_env", "n_runs", *[label for _, label in STACK_COLUMNS], "keras_backend", "stack"]
    if df is None or df.empty or "software_env" not in df.columns:
        return pd.DataFrame(columns=columns)
    counts: Dict[Tuple[str, Tuple[Tuple[str, Optional[str]], ...]], int] = {}
    none = pd.Series([None] * len(df), index=df.index)
    backends = df["keras_backend"] if "keras_backend" in df.columns else none
    for index, env in df["software_env"].items():
        row = {label: _text(df.at[index, col]) if col in df.columns else None for col, label in STACK_COLUMNS}
        if not any(row.values()):
            continue
        row["keras_backend"] = _backend(backends.get(index), row["keras"])
        key = (str(env), tuple(sorted(row.items())))
        counts[key] = counts.get(key, 0) + 1
    rows = []
    for (env, items), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        row = dict(items)
        rows.append({"software_env": env, "n_runs": n, **row, "stack": stack_label(row)})
    return pd.DataFrame(rows, columns=columns)


def same_stack_groups(stacks: pd.DataFrame) -> List[Tuple[str, List[str]]]:
    """Groups of two or more software environments that each ran one stack, the same one.

    Returns ``[(stack label, [software envs])]``: these environments did not differ in
    what they claim to vary, so no verdict may be drawn across them.
    """
    if stacks is None or stacks.empty:
        return []
    per_env = stacks.groupby("software_env", sort=True)["stack"].agg(lambda s: tuple(sorted(set(s))))
    groups: Dict[Tuple[str, ...], List[str]] = {}
    for env, labels in per_env.items():
        if len(labels) == 1:
            groups.setdefault(labels, []).append(str(env))
    return [(labels[0], envs) for labels, envs in sorted(groups.items()) if len(envs) > 1]
