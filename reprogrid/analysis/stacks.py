"""What each software environment really ran: the software stack observed in its records.

A software environment is a request (a container named for TF 2.8); the records say what
answered it (Python, TensorFlow, Keras and its backend, CUDA/cuDNN where present). When
several requested environments ran one and the same stack (a dry run maps every container
to this machine's TensorFlow), they were not different here, and no difference between
them may be read as a software effect. :func:`software_stacks` tabulates the stacks;
:func:`same_stack_groups` finds the environments that did not differ.

"Same stack" is decided on the installed distributions the records carry
(``distributions_json``, schema 3: *all* installed distributions, the packaging tools
pip/setuptools/wheel left out), not only on TensorFlow/Keras/CUDA; older records fall back to
their ``numpy_version``. :func:`distribution_differences` lists what differs between
environments, :func:`identical_across_stacks` the workloads whose result did not move
although the stacks really differed (a finding).
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd

from reprogrid.job.distributions import TOOLING, TRUNCATED_KEY, normalize

#: Record column -> label in the stack table.
STACK_COLUMNS = (
    ("python_version", "python"),
    ("tensorflow_version", "tensorflow"),
    ("keras_version", "keras"),
    ("cuda_version", "cuda"),
    ("cudnn_version", "cudnn"),
)


#: What "same stack" was decided on, as the report says it.
BASIS_ALL = "all installed distributions the records carry (pip, setuptools and wheel left out)"
BASIS_NUMPY = "Python/TF/Keras/CUDA and the NumPy version only (these records carry no distribution list)"


def observed_distributions(dist_json: Any, numpy_version: Any) -> Optional[Tuple[Tuple[str, str], ...]]:
    """One record's installed distributions as sorted (name, version) pairs; the record's
    ``numpy_version`` alone where it carries no list (schema < 3); None when neither."""
    text = _text(dist_json)
    if text:
        try:
            dists = json.loads(text)
        except ValueError:
            dists = None
        if isinstance(dists, dict):
            return tuple(sorted((normalize(k), str(v)) for k, v in dists.items()
                                if normalize(k) not in TOOLING and k != TRUNCATED_KEY))
    numpy = _text(numpy_version)
    return (("numpy", numpy),) if numpy else None


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
    numpy = dict(row.get("distributions") or ()).get("numpy")
    if numpy:
        parts.append(f"NumPy {numpy}")
    return ", ".join(parts)


def software_stacks(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (software environment, observed stack): the stack and how many runs ran it.

    Columns: ``software_env``, ``n_runs``, ``python``, ``tensorflow``, ``keras``,
    ``keras_backend``, ``cuda``, ``cudnn``, ``stack`` (one readable label),
    ``distributions`` (sorted (name, version) pairs, see :func:`observed_distributions`) and
    ``basis`` (:data:`BASIS_ALL` or :data:`BASIS_NUMPY`). An environment whose runs saw two
    stacks has two rows. Records without any version (a run that failed before its
    fingerprint) are left out.
    """
    columns = ["software_env", "n_runs", *[label for _, label in STACK_COLUMNS], "keras_backend", "stack",
               "distributions", "basis"]
    if df is None or df.empty or "software_env" not in df.columns:
        return pd.DataFrame(columns=columns)
    counts: Dict[Tuple[str, Tuple[Tuple[str, Optional[str]], ...]], int] = {}
    n = len(df)

    def column(name: str) -> List[Any]:
        return df[name].tolist() if name in df.columns else [None] * n

    stack_cols = [column(col) for col, _ in STACK_COLUMNS]
    raw_rows = zip(df["software_env"].tolist(), column("keras_backend"), column("distributions_json"),
                   column("numpy_version"), *stack_cols)
    seen: Dict[Tuple[Any, ...], Optional[Tuple[str, Tuple[Tuple[str, Any], ...]]]] = {}
    for raw in raw_rows:  # one parse per distinct record stack, not per run
        key = seen.get(raw, False)
        if key is False:
            key = seen[raw] = _stack_key(raw)
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    rows = []
    for (env, items), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        row = dict(items)
        rows.append({"software_env": env, "n_runs": n, **row, "stack": stack_label(row)})
    return pd.DataFrame(rows, columns=columns)


def _stack_key(raw: Tuple[Any, ...]) -> Optional[Tuple[str, Tuple[Tuple[str, Any], ...]]]:
    """(software env, sorted stack items) of one record's (env, keras_backend, distributions
    JSON, numpy version, *STACK_COLUMNS values); None for a record without any version."""
    env, backend, dist_json, numpy_version, *values = raw
    row: Dict[str, Any] = {label: _text(v) for (_, label), v in zip(STACK_COLUMNS, values)}
    if not any(row.values()):
        return None
    row["keras_backend"] = _backend(backend, row["keras"])
    row["distributions"] = observed_distributions(dist_json, numpy_version) or ()
    row["basis"] = BASIS_ALL if _text(dist_json) else BASIS_NUMPY
    return str(env), tuple(sorted(row.items()))


def same_stack_groups(stacks: pd.DataFrame) -> List[Tuple[str, List[str]]]:
    """Groups of two or more software environments that each ran one stack, the same one.

    Returns ``[(stack label, [software envs])]``: these environments did not differ in
    what they claim to vary, so no verdict may be drawn across them.
    """
    if stacks is None or stacks.empty:
        return []
    keyed = stacks.assign(_key=[(label, tuple(d or ())) for label, d in zip(stacks["stack"], stacks["distributions"])]
                          if "distributions" in stacks.columns else list(zip(stacks["stack"], [()] * len(stacks))))
    per_env = keyed.groupby("software_env", sort=True)["_key"].agg(lambda s: tuple(sorted(set(s))))
    groups: Dict[Tuple[Any, ...], List[str]] = {}
    for env, keys in per_env.items():
        if len(keys) == 1:
            groups.setdefault(keys, []).append(str(env))
    out = []
    for keys, envs in sorted(groups.items()):
        if len(envs) > 1:
            label, dists = keys[0]
            out.append((label + (f" and the same {len(dists)} installed distribution(s)" if dists else ""), envs))
    return out


def distribution_differences(stacks: pd.DataFrame) -> pd.DataFrame:
    """The distributions whose version differs between software environments: one row per
    distribution, one column per environment (its version(s); "not installed" where absent).
    Only environments whose records name their distributions take part."""
    if stacks is None or stacks.empty or "distributions" not in stacks.columns:
        return pd.DataFrame(columns=["distribution"])
    per_env: Dict[str, Dict[str, set]] = {}
    for env, dists in zip(stacks["software_env"].astype(str), stacks["distributions"]):
        if dists:
            versions = per_env.setdefault(env, {})
            for name, version in dists:
                versions.setdefault(name, set()).add(version)
    envs = sorted(per_env)
    if len(envs) < 2:
        return pd.DataFrame(columns=["distribution", *envs])
    rows = []
    for name in sorted({n for v in per_env.values() for n in v}, key=lambda n: (_rank(n, per_env, envs), n)):
        cells = [", ".join(sorted(per_env[e].get(name, ()))) or "not installed" for e in envs]
        if len(set(cells)) > 1:
            rows.append({"distribution": name, **dict(zip(envs, cells))})
    return pd.DataFrame(rows, columns=["distribution", *envs])


#: Distributions that run the model or its numerics: listed first where stacks differ.
NUMERICS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "keras", "tf-keras", "jax", "jaxlib", "torch", "numpy",
            "scipy", "scikit-learn", "ml-dtypes", "nvidia-cudnn-cu12", "nvidia-cublas-cu12", "intel-openmp", "mkl")


def _rank(name: str, per_env: Dict[str, Dict[str, set]], envs: List[str]) -> int:
    """Reading order of a difference: the numerics first, then versions that differ, then
    distributions that only one side has (a stack's tooling and helpers)."""
    if name in NUMERICS:
        return 0
    return 1 if all(name in per_env[e] for e in envs) else 2


def identical_across_stacks(df: pd.DataFrame, diffs: pd.DataFrame) -> List[Dict[str, Any]]:
    """Workloads whose successful runs gave one outcome in software environments whose
    stacks really differ (``diffs`` from :func:`distribution_differences`): a finding.

    Each item: ``workload``, ``software_envs``, ``differing`` (``numpy 1.26.4 vs 2.4.6``...),
    ``evidence`` (``identical prediction hashes`` or ``identical metrics``), ``n_runs``."""
    if df is None or df.empty or diffs is None or diffs.empty:
        return []
    differing_envs = [c for c in diffs.columns if c != "distribution"]
    ok = df[(df["status"].astype(str) == "ok") & df["software_env"].astype(str).isin(differing_envs)]
    out = []
    for workload, part in ok.groupby(ok["workload"].astype(str), sort=True):
        envs = sorted(set(part["software_env"].astype(str)))
        if len(envs) < 2:
            continue
        hashes = part["predictions_sha256"] if "predictions_sha256" in part.columns else pd.Series(dtype=object)
        if len(hashes) and hashes.notna().all():
            same, evidence = hashes.nunique() == 1, "identical prediction hashes"
        else:
            metrics = part["metrics_json"] if "metrics_json" in part.columns else part.get("test_accuracy")
            same, evidence = metrics is not None and metrics.astype(str).nunique() == 1, "identical metrics"
        if same:
            rows = diffs[[c for c in ["distribution", *envs] if c in diffs.columns]]
            differing = [f"{r['distribution']} " + " vs ".join(str(r[e]) for e in envs) for _, r in rows.iterrows()
                         if len({str(r[e]) for e in envs}) > 1]
            if differing:
                out.append({"workload": workload, "software_envs": envs, "differing": differing,
                            "evidence": evidence, "n_runs": int(len(part))})
    return out
