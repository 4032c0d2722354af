"""The environment fingerprint: CPU, GPU, software stack, container, HTCondor slot, settings.

Everything the analysis groups outcomes by. Every probe is guarded: a missing tool, file
or library gives ``None`` (an absent GPU is ``gpu_count = 0``), never an exception, so a
failed run still records where it failed. Parsers are pure functions over text.
Standard library only, TensorFlow passed in when it imported.

The ``threads`` section records what the process could really run on and what
TensorFlow really uses: logical CPUs of the host and of the process (affinity), the
cgroup CPU quota, the thread variables the execute node set, and the *effective*
intra-/inter-op pool sizes (TensorFlow's rule: the configured value when > 0, else
``TF_NUM_INTRAOP_THREADS``/``TF_NUM_INTEROP_THREADS`` when > 0, else the CPUs the
process can schedule on; the API's ``0`` means "unset", never "no threads"). The
``numerics`` section says whether oneDNN is effectively on (TensorFlow's own answer when
it can be asked, else ``TF_ENABLE_ONEDNN_OPTS``, else the default: on for TF >= 2.9 on
x86-64 Linux) and the XLA/JIT setting. The ``frameworks`` section decides, once, which
Keras backend ran and which framework versions were installed versus ran.
``fingerprint_columns`` maps the whole onto the record's columns.
"""
from __future__ import annotations

import csv
import io
import json
import os
import platform
import subprocess
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional

# x86-64 microarchitecture levels, exactly the instruction lists HTCondor's
# sysapi (cpuflags_to_microarch_string) checks, highest level first.
MICROARCH_LEVELS = [
    ("x86_64-v4", ("avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl")),
    ("x86_64-v3", ("abm", "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave")),
    ("x86_64-v2", ("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3")),
]

# Environment variables that change numerics or describe the image.
ENV_VARS = [
    "TF_ENABLE_ONEDNN_OPTS", "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "TF_USE_LEGACY_KERAS",
    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "TF_XLA_FLAGS", "TF_GPU_ALLOCATOR",
    "TF_FORCE_GPU_ALLOW_GROWTH", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_AUTO_MIXED_PRECISION",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "KMP_AFFINITY", "KMP_BLOCKTIME",
    "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED",
    "CUDA_VERSION", "CUDNN_VERSION", "NCCL_VERSION", "NVIDIA_TENSORFLOW_VERSION", "NVIDIA_BUILD_ID",
    "TENSORFLOW_VERSION", "NVIDIA_DRIVER_CAPABILITIES",
    "APPTAINER_CONTAINER", "APPTAINER_NAME", "APPTAINER_COMMAND",
    "SINGULARITY_CONTAINER", "SINGULARITY_NAME", "SINGULARITY_COMMAND",
    "OSG_SITE_NAME", "GLIDEIN_Site", "KERAS_BACKEND",
]

# Variables that size thread pools: the usual BLAS/OpenMP/TF ones and HTCondor's default
# STARTER_NUM_THREADS_ENV_VARS (the starter sets each to the job's CPU request).
THREAD_ENV_VARS = [
    "OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "NUMEXPR_MAX_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS", "TF_NUM_THREADS", "TF_LOOP_PARALLEL_ITERATIONS", "CUBACORES", "GOMAXPROCS",
    "JULIA_NUM_THREADS", "PYTHON_CPU_COUNT", "ROOT_MAX_THREADS", "KMP_AFFINITY", "KMP_BLOCKTIME",
    "OMP_PROC_BIND", "OMP_PLACES",
]

# HTCondor attributes kept from $_CONDOR_JOB_AD / $_CONDOR_MACHINE_AD (a whitelist: ads
# can hold credentials-bearing environment strings that must not end up in a dataset).
JOB_AD_ATTRS = [
    "ClusterId", "ProcId", "GlobalJobId", "JobUniverse", "RequestCpus", "RequestMemory",
    "RequestDisk", "RequestGpus", "ContainerImage", "DAGNodeName", "DAGManJobId",
    "ReprogridStudy", "ReprogridRunId", "ReprogridCell", "ReprogridWorkload",
]
MACHINE_AD_ATTRS = [
    "Machine", "Name", "GLIDEIN_Site", "GLIDEIN_ResourceName", "GLIDEIN_Gatekeeper", "Microarch",
    "CpuFamily", "CpuModelNumber", "CpuModel", "OSGVO_CPU_MODEL", "OSG_OS_STRING", "OpSysAndVer",
    "Arch", "Cpus", "Memory", "TotalCpus", "has_avx", "has_avx2", "has_avx512f", "has_avx512dq",
    "has_avx512_vnni", "has_sse4_1", "has_sse4_2", "has_ssse3", "GPUs", "AvailableGPUs",
    "GPUs_DeviceName", "GPUs_Capability", "GPUs_GlobalMemoryMb", "GPUs_DriverVersion",
    "CUDADeviceName", "CUDACapability", "CUDADriverVersion", "CUDAGlobalMemoryMb", "CondorVersion",
    "ReprogridEmulated", "DetectedCpus",
]


# -- parsers (pure) -----------------------------------------------------------------

def parse_cpuinfo(text: str) -> Dict[str, Any]:
    """Vendor, model string, family/model numbers and flags of the first processor block."""
    out = {"vendor": None, "model": None, "family": None, "model_number": None, "flags": []}  # type: Dict[str, Any]
    for line in text.splitlines():
        if not line.strip():
            if out["model"] is not None or out["flags"]:
                break
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "vendor_id":
            out["vendor"] = value
        elif key == "model name":
            out["model"] = value
        elif key == "cpu family":
            out["family"] = int_or_none(value)
        elif key == "model":
            out["model_number"] = int_or_none(value)
        elif key in ("flags", "features"):
            out["flags"] = sorted(set(value.split()))
    return out


def microarch(flags: Iterable[str], machine: Optional[str] = None) -> Optional[str]:
    """``x86_64-v1``..``x86_64-v4`` as HTCondor computes ``Microarch``; None off x86_64."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64"):
        return None
    present = set(flags)
    for level, required in MICROARCH_LEVELS:
        if present.issuperset(required):
            return level
    return "x86_64-v1"


def parse_classad_value(text: str) -> Any:
    """A ClassAd literal from an ``Attr = value`` line: string, int, real, bool or expression text."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        out = []
        i = 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                nxt = inner[i + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                i += 2
            else:
                out.append(inner[i])
                i += 1
        return "".join(out)
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if lowered in ("undefined", "error"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_classad_lines(text: str) -> Dict[str, Any]:
    """An ad in the ``Attr = value`` line format of ``$_CONDOR_JOB_AD``; keys keep their case."""
    ad = {}  # type: Dict[str, Any]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("["):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name or " " in name:
            continue
        ad[name] = parse_classad_value(value)
    return ad


def pick(ad: Dict[str, Any], names: Iterable[str]) -> Dict[str, Any]:
    """The attributes ``names`` from ``ad``, matched case-insensitively (as ClassAds are)."""
    lowered = {key.lower(): value for key, value in ad.items()}
    return {name: lowered[name.lower()] for name in names if name.lower() in lowered}


def parse_nvidia_smi_csv(text: str, fields: List[str]) -> List[Dict[str, Any]]:
    """Rows of ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits``."""
    gpus = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not "".join(row).strip():
            continue
        values = [cell.strip() for cell in row]
        gpu = dict(zip(fields, values))
        if "memory.total" in gpu:
            gpu["memory.total"] = int_or_none(gpu["memory.total"])
        gpus.append(gpu)
    return gpus


def parse_os_release(text: str) -> Dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def count_processors(cpuinfo: str) -> Optional[int]:
    """Logical CPUs in a /proc/cpuinfo text (its ``processor`` lines); None when there are none."""
    n = sum(1 for line in cpuinfo.splitlines() if line.split(":", 1)[0].strip().lower() == "processor")
    return n or None


def parse_cpu_max(text: str) -> Optional[float]:
    """cgroup v2 ``cpu.max`` (``"200000 100000"`` -> 2.0 CPUs; ``"max 100000"`` -> None: no quota)."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = float(parts[0])
        period = float(parts[1]) if len(parts) > 1 else 100000.0
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def parse_cfs(quota_text: str, period_text: str) -> Optional[float]:
    """cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` in CPUs (quota -1 -> None)."""
    quota, period = int_or_none(quota_text), int_or_none(period_text)
    if quota is None or period is None or quota <= 0 or period <= 0:
        return None
    return quota / float(period)


def positive_int(value: Any) -> Optional[int]:
    """A thread count from a setting: an integer > 0, else None (unset, 0, garbage)."""
    number = int_or_none(value)
    return number if number is not None and number > 0 else None


def effective_pools(configured_intra: Any, configured_inter: Any, environ: Dict[str, str],
                    schedulable: Optional[int]) -> Dict[str, Optional[int]]:
    """The pool sizes TensorFlow uses (tensorflow/core/common_runtime/process_util.cc).

    intra-op: the configured value when > 0, else ``TF_NUM_INTRAOP_THREADS`` when > 0, else
    ``port::MaxParallelism()`` = the CPUs the process can schedule on (its affinity mask).
    inter-op: the same with ``TF_NUM_INTEROP_THREADS``. None when a needed number is unknown.
    """
    intra = positive_int(configured_intra) or positive_int(environ.get("TF_NUM_INTRAOP_THREADS")) or schedulable
    inter = positive_int(configured_inter) or positive_int(environ.get("TF_NUM_INTEROP_THREADS")) or schedulable
    return {"intra_op_pool": intra, "inter_op_pool": inter}


def onednn_default(tf_version: Optional[str], system: str, machine: str) -> Optional[bool]:
    """oneDNN's default without ``TF_ENABLE_ONEDNN_OPTS``: on from TF 2.9 on x86-64 Linux."""
    if not tf_version:
        return None
    from .compat import version_at_least

    x86 = machine.lower() in ("x86_64", "amd64")
    return bool(system == "Linux" and x86 and version_at_least(tf_version, (2, 9)))


def parse_bool_env(value: Optional[str]) -> Optional[bool]:
    """TensorFlow's ReadBoolFromEnvVar: ``0``/``false`` -> False, ``1``/``true`` -> True, else None."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("0", "false"):
        return False
    if text in ("1", "true"):
        return True
    return None


# -- probes (I/O, each guarded) -------------------------------------------------------

def int_or_none(value: Any) -> Optional[int]:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def cpu_info() -> Dict[str, Any]:
    text = _read("/proc/cpuinfo")
    info = parse_cpuinfo(text) if text else {"vendor": None, "model": platform.processor() or None, "family": None, "model_number": None, "flags": []}
    info["microarch"] = microarch(info["flags"])
    info["has_avx2"] = "avx2" in info["flags"]
    info["has_avx512f"] = "avx512f" in info["flags"]
    try:
        info["count"] = len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        info["count"] = os.cpu_count()
    info["machine"] = platform.machine()
    return info


def _cgroup_dirs(path: str) -> List[str]:
    """A cgroup path and its ancestors, deepest first ("/a/b" -> ["/a/b", "/a", "/"])."""
    out = []
    path = "/" + path.strip("/")
    while True:
        out.append(path)
        if path == "/":
            return out
        path = path.rsplit("/", 1)[0] or "/"


def cgroup_quota(proc_cgroup: str, read: Callable[[str], Optional[str]], root: str = "/sys/fs/cgroup") -> Optional[float]:
    """The CPU quota (CPUs) of this process's cgroup: the smallest over it and its ancestors.

    ``proc_cgroup`` is /proc/self/cgroup; ``read`` reads a file (None when absent). cgroup v2
    reads ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``; None when no quota.
    """
    quotas = []  # type: List[float]
    for line in proc_cgroup.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for directory in _cgroup_dirs(path):
            sub = "" if directory == "/" else directory
            if controllers == "":
                text = read(root + sub + "/cpu.max")
                quota = parse_cpu_max(text) if text else None
            elif "cpu" in controllers.split(","):
                base = None
                for name in (controllers, "cpu,cpuacct", "cpu"):
                    if read(root + "/" + name + sub + "/cpu.cfs_period_us") is not None:
                        base = root + "/" + name + sub
                        break
                quota = parse_cfs(read(base + "/cpu.cfs_quota_us") or "", read(base + "/cpu.cfs_period_us") or "") if base else None
            else:
                break
            if quota is not None:
                quotas.append(quota)
    return min(quotas) if quotas else None


def threads_info(tf: Any, environ: Dict[str, str]) -> Dict[str, Any]:
    """Host and schedulable CPUs, cgroup quota, thread variables, configured and effective TF pools."""
    text = _read("/proc/cpuinfo")
    host = (count_processors(text) if text else None) or os.cpu_count()
    try:
        affinity = len(os.sched_getaffinity(0))  # type: Optional[int]
    except (AttributeError, OSError):
        affinity = None
    proc_cgroup = _read("/proc/self/cgroup")
    quota = cgroup_quota(proc_cgroup, _read) if proc_cgroup else None
    out = {"host_logical": host, "affinity": affinity, "cgroup_quota": quota,
           "env": {name: environ[name] for name in THREAD_ENV_VARS if name in environ}}  # type: Dict[str, Any]
    configured = (None, None)  # type: Any
    if tf is not None:
        try:
            configured = (int(tf.config.threading.get_intra_op_parallelism_threads()),
                          int(tf.config.threading.get_inter_op_parallelism_threads()))
        except Exception:
            configured = (None, None)
        out["intra_op_configured"], out["inter_op_configured"] = configured
        out.update(effective_pools(configured[0], configured[1], environ, affinity or host))
    return out


def numerics_info(tf: Any, environ: Dict[str, str]) -> Dict[str, Any]:
    """oneDNN effectively on (and how we know), XLA/JIT setting, Keras backend."""
    out = {}  # type: Dict[str, Any]
    if tf is None:
        return out
    version = getattr(tf, "__version__", None)
    state, source = None, None
    try:
        from tensorflow.python.util import _pywrap_util_port  # type: ignore

        state, source = bool(_pywrap_util_port.IsMklEnabled()), "tensorflow IsMklEnabled()"
    except Exception:
        pass
    if state is None:
        state = parse_bool_env(environ.get("TF_ENABLE_ONEDNN_OPTS"))
        source = "TF_ENABLE_ONEDNN_OPTS" if state is not None else "default for this TF version and platform"
        if state is None:
            state = onednn_default(version, platform.system(), platform.machine())
    out["onednn_enabled"], out["onednn_source"] = state, source
    jit = None
    try:
        jit = tf.config.optimizer.get_jit()
    except Exception:
        pass
    parts = [str(jit) if jit else "off"]
    if environ.get("TF_XLA_FLAGS"):
        parts.append("TF_XLA_FLAGS=" + environ["TF_XLA_FLAGS"])
    out["xla_jit"] = "; ".join(parts)
    return out


def keras_backend(tf: Any, keras: Any) -> Optional[str]:
    """``tensorflow``/``jax``/``torch``: what the Keras module that ran says; tf.keras 2 is tensorflow.

    Nothing is imported here: a run that loaded no Keras (and no TensorFlow) ran no backend.
    """
    if keras is not None:
        try:
            config = getattr(keras, "config", None)
            if config is not None and hasattr(config, "backend"):
                return str(config.backend())
            return str(keras.backend.backend())
        except Exception:
            pass
    return "tensorflow" if tf is not None else None


FRAMEWORKS = ("jax", "torch")


def frameworks_info(tf: Any, keras: Any) -> Dict[str, Any]:
    """The one decision of which Keras backend ran and which framework versions: ``installed``
    (distributions present, read without importing them) versus ``ran`` (the backend's own
    framework: a JAX run ran jax, a PyTorch run torch, a TensorFlow run neither, even when
    Keras 3 loaded the others for its utilities)."""
    backend = keras_backend(tf, keras)
    installed = {name: _dist_version(name) for name in FRAMEWORKS}
    ran = {}  # type: Dict[str, Optional[str]]
    if backend in FRAMEWORKS:
        module = sys.modules.get(backend)
        ran[backend] = str(getattr(module, "__version__", "") or "") or installed.get(backend)
    version = getattr(keras, "__version__", None) if keras is not None else None
    return {"keras_backend": backend, "keras": str(version) if version else None, "installed": installed, "ran": ran}


NVIDIA_FIELDS = ["name", "uuid", "driver_version", "memory.total", "compute_cap"]


def nvidia_smi() -> Optional[List[Dict[str, Any]]]:
    """GPUs as nvidia-smi lists them; None when nvidia-smi is absent or fails."""
    for fields in (NVIDIA_FIELDS, NVIDIA_FIELDS[:-1]):  # old drivers lack compute_cap
        try:
            proc = subprocess.run(
                ["nvidia-smi", "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if proc.returncode == 0:
            return parse_nvidia_smi_csv(proc.stdout, fields)
    return None


def tf_gpus(tf: Any) -> List[Dict[str, Any]]:
    out = []
    try:
        for device in tf.config.list_physical_devices("GPU"):
            details = {}
            try:
                details = dict(tf.config.experimental.get_device_details(device))
            except Exception:
                pass
            cap = details.get("compute_capability")
            out.append({
                "device": device.name,
                "name": details.get("device_name"),
                "compute_cap": "%d.%d" % tuple(cap) if cap else None,
            })
    except Exception:
        pass
    return out


def gpu_info(tf: Any = None) -> Dict[str, Any]:
    smi = nvidia_smi()
    tf_list = tf_gpus(tf) if tf is not None else []
    gpus = list(smi or [])
    if not gpus:
        gpus = [{"name": g["name"], "compute_cap": g["compute_cap"]} for g in tf_list]
    for gpu, tfgpu in zip(gpus, tf_list):
        if not gpu.get("compute_cap") and tfgpu.get("compute_cap"):
            gpu["compute_cap"] = tfgpu["compute_cap"]
    return {"count": len(gpus), "devices": gpus, "tf_devices": tf_list, "nvidia_smi": smi is not None}


def software_info(tf: Any = None) -> Dict[str, Any]:
    info = {"python": platform.python_version(), "python_implementation": platform.python_implementation()}  # type: Dict[str, Any]
    numpy = sys.modules.get("numpy")  # the loaded one; else the installed one, read without importing it
    info["numpy"] = getattr(numpy, "__version__", None) if numpy is not None else _dist_version("numpy")
    if tf is None:
        return info
    info["tensorflow"] = getattr(tf, "__version__", None)
    try:
        info["tensorflow_git"] = tf.version.GIT_VERSION
        info["tensorflow_compiler"] = tf.version.COMPILER_VERSION
    except Exception:
        pass
    try:
        from .compat import keras_version

        info["keras"] = keras_version()
    except Exception:
        info["keras"] = None
    try:
        build = dict(tf.sysconfig.get_build_info())
        info["build_info"] = {str(k): (v if isinstance(v, (bool, int, float, str)) or v is None else str(v)) for k, v in build.items()}
        info["cuda_build"] = build.get("cuda_version")
        info["cudnn_build"] = build.get("cudnn_version")
    except Exception:
        pass
    try:
        info["intra_op_threads"] = int(tf.config.threading.get_intra_op_parallelism_threads())
        info["inter_op_threads"] = int(tf.config.threading.get_inter_op_parallelism_threads())
    except Exception:
        pass
    return info


def _dist_version(name: str) -> Optional[str]:
    """The installed distribution's version (``importlib.metadata``), None when absent."""
    try:
        from importlib import metadata

        return metadata.version(name)
    except Exception:
        return None


def os_info() -> Dict[str, Any]:
    release = parse_os_release(_read("/etc/os-release") or "")
    return {
        "name": release.get("PRETTY_NAME") or platform.platform(),
        "id": release.get("ID"),
        "version_id": release.get("VERSION_ID"),
        "kernel": platform.release(),
        "hostname": platform.node(),
    }


def container_info(environ: Dict[str, str]) -> Dict[str, Any]:
    if any(k.startswith("APPTAINER_") for k in environ):
        runtime = "apptainer"
        image = environ.get("APPTAINER_CONTAINER") or environ.get("APPTAINER_NAME")
    elif any(k.startswith("SINGULARITY_") for k in environ):
        runtime = "singularity"
        image = environ.get("SINGULARITY_CONTAINER") or environ.get("SINGULARITY_NAME")
    elif os.path.exists("/.dockerenv"):
        runtime, image = "docker", None
    else:
        runtime, image = None, None
    return {"runtime": runtime, "image": image}


def condor_info(environ: Dict[str, str]) -> Dict[str, Any]:
    out = {}  # type: Dict[str, Any]
    for key, env, names in (("job", "_CONDOR_JOB_AD", JOB_AD_ATTRS), ("machine", "_CONDOR_MACHINE_AD", MACHINE_AD_ATTRS)):
        path = environ.get(env)
        text = _read(path) if path else None
        out[key] = pick(parse_classad_lines(text), names) if text else None
    return out


def collect(tf: Any = None, environ: Optional[Dict[str, str]] = None, keras: Any = None) -> Dict[str, Any]:
    """The whole fingerprint as a JSON-able dict (``tf``, ``keras``: the modules that ran, or None)."""
    environ = dict(os.environ if environ is None else environ)
    sections = {
        "cpu": cpu_info,
        "gpu": lambda: gpu_info(tf),
        "software": lambda: software_info(tf),
        "os": os_info,
        "container": lambda: container_info(environ),
        "condor": lambda: condor_info(environ),
        "env": lambda: {name: environ[name] for name in ENV_VARS if name in environ},
        "threads": lambda: threads_info(tf, environ),
        "numerics": lambda: numerics_info(tf, environ),
        "frameworks": lambda: frameworks_info(tf, keras),
    }
    out = {"fingerprint_version": 2}  # type: Dict[str, Any]
    for name, probe in sections.items():
        try:
            out[name] = probe()
        except Exception as err:  # a probe must never sink the run
            out[name] = {"error": "%s: %s" % (type(err).__name__, err)}
    return out


def main_json(with_tf: bool = True) -> str:
    """The fingerprint as pretty JSON (the ``fingerprint`` subcommand)."""
    tf = None
    if with_tf:
        try:
            from .compat import import_tf

            tf = import_tf()
        except Exception as err:  # pragma: no cover - depends on the image
            sys.stderr.write("tensorflow did not import: %s\n" % err)
    return json.dumps(collect(tf), indent=2, sort_keys=True, default=str)
