"""The fingerprint -> the record's environment columns (``schema.COLUMNS``).

The fingerprint decides (``frameworks``: the Keras backend, the framework versions that
ran); this module only copies its answers into columns: ``keras_backend``, and
``jax_version``/``torch_version`` for the framework that ran the model (installed but
unused frameworks stay in ``fingerprint_json`` under ``frameworks.installed``).
Missing parts give None.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from .fingerprint import int_or_none


def to_columns(fp: Dict[str, Any]) -> Dict[str, Any]:
    """The fingerprint's record columns (see schema.COLUMNS); missing parts give None."""
    cpu = fp.get("cpu") or {}
    gpu = fp.get("gpu") or {}
    sw = fp.get("software") or {}
    osi = fp.get("os") or {}
    cont = fp.get("container") or {}
    condor = fp.get("condor") or {}
    env = fp.get("env") or {}
    job = condor.get("job") or {}
    machine = condor.get("machine") or {}
    first = (gpu.get("devices") or [{}])[0]
    flags = cpu.get("flags")
    out = _base_columns(fp, cpu, gpu, sw, osi, cont, job, machine, env, first, flags)
    out.update(_thread_columns(fp.get("threads") or {}, fp.get("numerics") or {}))
    out.update(_framework_columns(fp.get("frameworks") or {}, sw))
    return out


def _thread_columns(threads: Dict[str, Any], numerics: Dict[str, Any]) -> Dict[str, Any]:
    """The schema v2 columns of what the process really ran on (None where not probed)."""
    env = threads.get("env")
    return {
        "cpu_logical_count": threads.get("host_logical"),
        "cpu_affinity_count": threads.get("affinity"),
        "cpu_quota": threads.get("cgroup_quota"),
        "intra_op_pool": threads.get("intra_op_pool"),
        "inter_op_pool": threads.get("inter_op_pool"),
        "thread_env_json": json.dumps(env, sort_keys=True) if isinstance(env, dict) else None,
        "onednn_enabled": numerics.get("onednn_enabled"),
        "xla_jit": numerics.get("xla_jit"),
    }


def _framework_columns(frameworks: Dict[str, Any], sw: Dict[str, Any]) -> Dict[str, Any]:
    ran = frameworks.get("ran") or {}
    return {"keras_backend": frameworks.get("keras_backend"), "keras_version": frameworks.get("keras") or sw.get("keras"),
            "jax_version": ran.get("jax"), "torch_version": ran.get("torch")}


def _base_columns(fp: Dict[str, Any], cpu: Dict[str, Any], gpu: Dict[str, Any], sw: Dict[str, Any],
                  osi: Dict[str, Any], cont: Dict[str, Any], job: Dict[str, Any], machine: Dict[str, Any],
                  env: Dict[str, Any], first: Dict[str, Any], flags: Any) -> Dict[str, Any]:
    return {
        "cpu_vendor": cpu.get("vendor"),
        "cpu_model": cpu.get("model"),
        "cpu_family": cpu.get("family"),
        "cpu_model_number": cpu.get("model_number"),
        "cpu_flags": " ".join(flags) if isinstance(flags, list) else None,
        "microarch": cpu.get("microarch"),
        "has_avx2": cpu.get("has_avx2"),
        "has_avx512f": cpu.get("has_avx512f"),
        "cpu_count": cpu.get("count"),
        "gpu_count": gpu.get("count", 0) if "error" not in gpu else None,
        "gpu_name": first.get("name"),
        "gpu_uuid": first.get("uuid"),
        "gpu_driver": first.get("driver_version"),
        "gpu_capability": first.get("compute_cap"),
        "gpu_memory_mb": first.get("memory.total"),
        "python_version": sw.get("python"),
        "tensorflow_version": sw.get("tensorflow"),
        "tensorflow_compiler": sw.get("tensorflow_compiler"),
        "numpy_version": sw.get("numpy"),
        "cuda_version": _str_or_none(sw.get("cuda_build")),
        "cudnn_version": _str_or_none(sw.get("cudnn_build")),
        "env_cuda_version": env.get("CUDA_VERSION"),
        "env_cudnn_version": env.get("CUDNN_VERSION"),
        "nvidia_tensorflow_version": env.get("NVIDIA_TENSORFLOW_VERSION"),
        "os_name": osi.get("name"),
        "kernel": osi.get("kernel"),
        "container_image": cont.get("image"),
        "container_runtime": cont.get("runtime"),
        "condor_cluster_id": int_or_none(job.get("ClusterId")) if "ClusterId" in job else None,
        "condor_proc_id": int_or_none(job.get("ProcId")) if "ProcId" in job else None,
        "glidein_site": machine.get("GLIDEIN_Site"),
        "glidein_resource": machine.get("GLIDEIN_ResourceName"),
        "machine_name": machine.get("Machine") or machine.get("Name"),
        "tf_enable_onednn_opts": env.get("TF_ENABLE_ONEDNN_OPTS"),
        "tf_deterministic_ops": env.get("TF_DETERMINISTIC_OPS"),
        "omp_num_threads": env.get("OMP_NUM_THREADS"),
        "intra_op_threads": sw.get("intra_op_threads"),
        "inter_op_threads": sw.get("inter_op_threads"),
        "fingerprint_json": json.dumps(fp, sort_keys=True, default=str),
    }


def _str_or_none(value: Any) -> Optional[str]:
    return None if value is None or value == "" else str(value)



