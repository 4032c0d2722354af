"""Importers: published results of other studies -> the project's result schema.

``import_coakley2022(csv_path)`` reads the per-run table of Coakley, Kirkpatrick and
Gundersen (eScience 2022; its published ``coakley2022_runs.csv``, one row per training
run) and returns a DataFrame with exactly the columns of ``reprogrid.job.schema``, so
gather's dataset layout, the analysis and the report treat it like any gathered study.

How the columns map (nothing is invented; what the table does not hold stays null):

- ``experiment`` -> ``workload``; ``run`` -> ``repeat``; seed 1 and op determinism on, as
  the study's scripts set them (TF 2.8/2.9 in every image); ``sample_data`` False.
- ``hardware_env`` is named from what the execute node reported, since the table holds
  no requested environment: the CPU model for CPU jobs (``amd-epyc-7302``,
  ``intel-xeon-gold-6148``), the GPU family for GPU jobs (``nvidia-a100``); so requested
  and observed hardware agree by construction.
- ``job`` -> ``condor_cluster_id`` (when numeric); ``site`` -> ``glidein_site``;
  ``driver_version`` -> ``gpu_driver``; ``cuda_version``/``cudnn_version`` are the
  images' environment variables -> ``env_cuda_version``/``env_cudnn_version``;
  ``compiler_version`` -> ``tensorflow_compiler``; ``date_time`` -> ``started_at``.
- ``has_avx2`` is True for ``x86_64-v3``/``v4`` (both levels require AVX2).
- ``cpu_logical_count`` (logical CPUs of the execute node, what TensorFlow sized its
  default pools from) -> ``cpu_logical_count``; ``omp_num_threads`` (set by HTCondor to
  the CPU request) -> ``omp_num_threads`` and ``thread_env_json``
  (``{"OMP_NUM_THREADS": "4"}``). Both are optional (older copies of the table lack
  them). Pools, affinity and quota were not recorded and stay null.
- No prediction hashes were published: determinism is judged on equal metrics.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from reprogrid.core import naming
from reprogrid.core.errors import Problem, UserError
from reprogrid.gather.dataset import arrow_schema, write_dataset
from reprogrid.job import catalogue
from reprogrid.job.schema import COLUMN_NAMES, COLUMN_TYPES, SCHEMA_VERSION

PathLike = Union[str, "os.PathLike[str]"]

COAKLEY2022_STUDY_ID = "coakley2022"
COAKLEY2022_STUDY_NAME = "Coakley, Kirkpatrick, Gundersen (eScience 2022): published runs"
#: the software environments of the paper's 780 runs (the table has two more)
COAKLEY2022_PAPER_SOFTWARE = ("dockerhub-2.8.0", "dockerhub-2.9.1", "ngc-22.03", "ngc-22.06")
COAKLEY2022_COLUMNS = (
    "software_env", "device", "job", "experiment", "run", "date_time", "python_version",
    "tensorflow_version", "compiler_version", "epochs", "test_loss", "test_accuracy",
    "cpu_vendor", "cpu_model", "cpu_family", "cpu_model_number", "microarch", "has_avx512f",
    "gpu_name", "driver_version", "cuda_version", "cudnn_version", "site",
)
#: later additions to the published table (logical CPUs of the node, HTCondor's OMP_NUM_THREADS)
COAKLEY2022_OPTIONAL = ("cpu_logical_count", "omp_num_threads")
_NUMERIC = ("run", "epochs", "test_loss", "test_accuracy", "cpu_family", "cpu_model_number", *COAKLEY2022_OPTIONAL)
_REQUIRED = ("software_env", "device", "experiment", "run", "test_accuracy", "test_loss", "cpu_model")


def cpu_env_name(cpu_model: str) -> str:
    """``AMD EPYC 7302 16-Core Processor`` -> ``amd-epyc-7302``; ``Intel(R) Xeon(R) Gold 6148
    CPU @ 2.40GHz`` -> ``intel-xeon-gold-6148``; ``... E5-2640 v4 ...`` -> ``intel-xeon-e5-2640-v4``."""
    text = re.sub(r"\((R|TM|tm|r)\)", " ", cpu_model)
    text = re.sub(r"@.*$", " ", text)
    text = re.sub(r"\b\d+-Core\b|\bProcessor\b|\bCPU\b", " ", text, flags=re.I)
    return _label(text) or "unknown-cpu"


def gpu_env_name(gpu_name: str) -> str:
    """``NVIDIA A100-PCIE-40GB`` -> ``nvidia-a100``; ``Tesla V100-PCIE-16GB`` -> ``nvidia-v100``."""
    match = re.search(r"\b([A-Z]+\d+[A-Za-z]*)\b", gpu_name.replace("Tesla", " ").replace("NVIDIA", " "))
    return f"nvidia-{match.group(1).lower()}" if match else (_label(gpu_name) or "unknown-gpu")


def _label(text: str) -> str:
    """Lower-case words joined by single dashes (a readable hardware environment name)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def import_coakley2022(csv_path: PathLike, *, paper_only: bool = False):
    """The original study's per-run CSV as a DataFrame in the result schema (one row per run).

    ``paper_only`` keeps the paper's four software environments (its 780 runs) and drops
    the cuDNN 8.2.1 rebuild and the Colab runs. Raises ``UserError`` naming the file,
    column and line when the table is not the published one.
    """
    path = Path(csv_path)
    raw = _read_table(path)
    numbers = _check_table(raw, path)
    if paper_only:
        keep = raw["software_env"].isin(COAKLEY2022_PAPER_SOFTWARE)
        raw = raw[keep].reset_index(drop=True)
        numbers = {k: v[keep].reset_index(drop=True) for k, v in numbers.items()}
    df = _schema_frame(_columns(raw, numbers), len(raw))
    _check_unique(df, path)
    return df


def _read_table(path: Path):
    """The CSV as text columns, every expected column present (else a UserError naming them)."""
    import pandas as pd

    if not path.is_file():
        raise UserError.of("cannot import", [Problem(str(path), "file not found: pass the study's per-run CSV (coakley2022_runs.csv)")])
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise UserError.of("cannot import", [Problem(str(path), f"not a readable CSV ({err})")]) from None
    missing = [c for c in COAKLEY2022_COLUMNS if c not in raw.columns]
    if missing:
        raise UserError.of("not the coakley2022 table", [Problem(
            f"{path}: header", f"missing column(s) {', '.join(missing)}; expected the columns of coakley2022_runs.csv")])
    for col in COAKLEY2022_OPTIONAL:  # added to the published table later: empty when absent
        if col not in raw.columns:
            raw[col] = ""
    return raw


def _check_table(raw, path: Path) -> Dict[str, Any]:
    """The numeric columns parsed; every bad cell (first five per column) as one UserError."""
    import pandas as pd

    problems: List[Problem] = []
    numbers: Dict[str, Any] = {}
    for col in _NUMERIC:
        values = pd.to_numeric(raw[col].where(raw[col] != "", None), errors="coerce")
        bad = values.isna() & (raw[col] != "")
        if col in _REQUIRED:
            bad |= raw[col] == ""
        for i in list(bad[bad].index[:5]):
            problems.append(Problem(f"{path}: line {i + 2}, column {col}", f"expected a number, got {raw.at[i, col]!r}"))
        numbers[col] = values
    for col in ("software_env", "experiment", "cpu_model"):
        for i in list(raw.index[raw[col] == ""][:5]):
            problems.append(Problem(f"{path}: line {i + 2}, column {col}", "must not be empty"))
    bad_device = ~raw["device"].isin(["cpu", "gpu"])
    for i in list(bad_device[bad_device].index[:5]):
        problems.append(Problem(f"{path}: line {i + 2}, column device", f"expected cpu or gpu, got {raw.at[i, 'device']!r}"))
    if problems:
        raise UserError.of("cannot import the coakley2022 table", problems)
    return numbers


def _columns(raw, numbers: Dict[str, Any]) -> Dict[str, Any]:
    """Every schema column (None where the table does not say), from the checked table."""
    out: Dict[str, Any] = {name: None for name in COLUMN_NAMES}
    out.update(_run_columns(raw, numbers))
    out.update(_machine_columns(raw, numbers))
    out.update(_thread_columns(raw, numbers))
    out.update(_workload_columns(raw, numbers))
    return out


def _text(raw, col: str):
    return raw[col].where(raw[col] != "", None)


def _run_columns(raw, numbers: Dict[str, Any]) -> Dict[str, Any]:
    """Identity, naming and results: workload, environments, run id, metrics, provenance."""
    import pandas as pd

    is_gpu = raw["device"] == "gpu"
    hardware = [gpu_env_name(g) if gpu and g else cpu_env_name(c)
                for gpu, g, c in zip(is_gpu, raw["gpu_name"], raw["cpu_model"])]
    repeat = numbers["run"].astype("Int64")
    workload, software = raw["experiment"], raw["software_env"]
    run_id = [naming.run_id(naming.cell_name(w, s, h), int(r)) for w, s, h, r in zip(workload, software, hardware, repeat)]
    return dict(
        schema_version=SCHEMA_VERSION, study_id=COAKLEY2022_STUDY_ID, study_name=COAKLEY2022_STUDY_NAME,
        run_id=run_id, workload=workload, software_env=software, hardware_env=hardware,
        repeat=repeat, seed=1, status="ok", epochs=numbers["epochs"].astype("Int64"),
        determinism=True, sample_data=False,
        test_loss=numbers["test_loss"].astype(float), test_accuracy=numbers["test_accuracy"].astype(float),
        started_at=raw["date_time"].str.replace(" ", "T", n=1).where(raw["date_time"] != "", None),
        condor_cluster_id=pd.to_numeric(raw["job"].where(raw["job"].str.fullmatch(r"\d+"), None), errors="coerce").astype("Int64"),
        glidein_site=_text(raw, "site"),
        fingerprint_json=[json.dumps({"source": "coakley2022_runs.csv", "line": i + 2, "job": j, "device": d}, sort_keys=True)
                          for i, (j, d) in enumerate(zip(raw["job"], raw["device"]))],
    )


def _machine_columns(raw, numbers: Dict[str, Any]) -> Dict[str, Any]:
    """The execute node's CPU and GPU and the image's software stack."""
    microarch = _text(raw, "microarch")
    return dict(
        cpu_vendor=_text(raw, "cpu_vendor"), cpu_model=_text(raw, "cpu_model"),
        cpu_family=numbers["cpu_family"].astype("Int64"), cpu_model_number=numbers["cpu_model_number"].astype("Int64"),
        microarch=microarch,
        has_avx2=microarch.isin(["x86_64-v3", "x86_64-v4"]).where(microarch.notna(), None),
        has_avx512f=raw["has_avx512f"].str.lower().map({"true": True, "false": False}),
        gpu_count=(raw["device"] == "gpu").astype(int), gpu_name=_text(raw, "gpu_name"), gpu_driver=_text(raw, "driver_version"),
        python_version=_text(raw, "python_version"), tensorflow_version=_text(raw, "tensorflow_version"),
        tensorflow_compiler=_text(raw, "compiler_version"),
        env_cuda_version=_text(raw, "cuda_version"), env_cudnn_version=_text(raw, "cudnn_version"),
    )


def _thread_columns(raw, numbers: Dict[str, Any]) -> Dict[str, Any]:
    """Logical CPUs of the node and the OMP_NUM_THREADS HTCondor set (nothing more is known:
    pools, affinity and quota were not recorded and stay null)."""
    omp = numbers["omp_num_threads"].astype("Int64")
    omp_text = [None if pd_isna(v) else str(int(v)) for v in omp]
    return dict(
        cpu_logical_count=numbers["cpu_logical_count"].astype("Int64"),
        omp_num_threads=omp_text,
        thread_env_json=[None if v is None else json.dumps({"OMP_NUM_THREADS": v}, sort_keys=True) for v in omp_text],
    )


def _workload_columns(raw, numbers: Dict[str, Any]) -> Dict[str, Any]:
    """The workload columns (schema 2), as the job side fills them for a built-in example."""
    workload = raw["experiment"]
    return dict(
        workload_kind="builtin", task=workload,
        variant_json=[json.dumps({"example": w, "options": {}}, sort_keys=True) for w in workload],
        metrics_json=[json.dumps({"test_accuracy": a, "test_loss": l}, sort_keys=True)
                      for a, l in zip(numbers["test_accuracy"].astype(float), numbers["test_loss"].astype(float))],
        primary_metric=catalogue.BUILTIN_PRIMARY, primary_value=numbers[catalogue.BUILTIN_PRIMARY].astype(float),
        higher_is_better=catalogue.BUILTIN_HIGHER_IS_BETTER,
    )


def pd_isna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _schema_frame(out: Dict[str, Any], n: int):
    import pandas as pd

    return pd.DataFrame({name: _series(out[name], n, name) for name in COLUMN_NAMES})


def _check_unique(df, path: Path) -> None:
    dupes = df["run_id"][df["run_id"].duplicated()]
    if len(dupes):
        raise UserError.of("cannot import the coakley2022 table", [Problem(
            f"{path}", f"run {dupes.iloc[0]!r} appears twice (same experiment, software, hardware and run)")])


def _series(value: Any, n: int, name: str):
    """A column of the schema's pandas dtype (nullable ints and bools)."""
    import pandas as pd

    dtype = {"int": "Int64", "float": "float64", "bool": "boolean", "str": "str"}[COLUMN_TYPES[name]]
    if value is None or not hasattr(value, "__len__") or isinstance(value, str):
        value = [value] * n
    series = pd.Series(list(value) if not isinstance(value, pd.Series) else value.reset_index(drop=True))
    return series.astype(dtype)


def write_imported(df, output: PathLike, *, source: Optional[str] = None) -> int:
    """Write an imported DataFrame as a dataset gather/report can read; returns the rows."""
    import pyarrow as pa

    table = pa.Table.from_pandas(df[COLUMN_NAMES], schema=arrow_schema(), preserve_index=False)
    report = {"schema": "reprogrid.import/1", "source": source, "study_id": _first_or_none(df, "study_id"),
              "counts": {"complete": int((df["status"] == "ok").sum()), "failed": int((df["status"] == "failed").sum())}}
    return write_dataset([table], output, report)


def _first_or_none(df, col: str) -> Optional[str]:
    return None if df.empty else str(df[col].iloc[0])
