"""The environment fingerprint: every field the analysis groups by, HTCondor ads, absent GPU."""
from __future__ import annotations

import json

from reprogrid.job import fingerprint, fingerprint_columns
from reprogrid.job.schema import COLUMN_NAMES


def test_fingerprint_sections_and_columns(tmp_path):
    job_ad = tmp_path / ".job.ad"
    job_ad.write_text('ClusterId = 4242\nProcId = 3\nReprogridRunId = "mnist_convnet--x--y--r0"\n'
                      'Environment = "SECRET_TOKEN=abc"\n')
    machine_ad = tmp_path / ".machine.ad"
    machine_ad.write_text('GLIDEIN_Site = "UChicago"\nGLIDEIN_ResourceName = "MWT2"\nMachine = "node7.example.edu"\n'
                          'Microarch = "x86_64-v3"\nOSG_OS_STRING = "RHEL 9"\n')
    environ = {
        "_CONDOR_JOB_AD": str(job_ad), "_CONDOR_MACHINE_AD": str(machine_ad),
        "APPTAINER_CONTAINER": "/cvmfs/singularity.opensciencegrid.org/tensorflow/tensorflow:2.8.0-gpu",
        "CUDNN_VERSION": "8.1.0.77", "CUDA_VERSION": "11.2.1", "NVIDIA_TENSORFLOW_VERSION": "22.03-tf2",
        "TF_ENABLE_ONEDNN_OPTS": "0", "OMP_NUM_THREADS": "1", "TF_DETERMINISTIC_OPS": "1", "UNRELATED": "x",
    }
    fp = fingerprint.collect(tf=None, environ=environ)
    assert set(fp) >= {"cpu", "gpu", "software", "os", "container", "condor", "env"}
    cols = fingerprint_columns.to_columns(fp)
    assert set(cols) <= set(COLUMN_NAMES)
    assert cols["condor_cluster_id"] == 4242 and cols["condor_proc_id"] == 3
    assert cols["glidein_site"] == "UChicago" and cols["glidein_resource"] == "MWT2"
    assert cols["machine_name"] == "node7.example.edu"
    assert cols["container_runtime"] == "apptainer" and cols["container_image"].endswith("2.8.0-gpu")
    assert (cols["env_cudnn_version"], cols["env_cuda_version"]) == ("8.1.0.77", "11.2.1")
    assert cols["nvidia_tensorflow_version"] == "22.03-tf2"
    assert (cols["tf_enable_onednn_opts"], cols["omp_num_threads"], cols["tf_deterministic_ops"]) == ("0", "1", "1")
    assert cols["python_version"] and cols["numpy_version"]
    assert all(cols[c] is None or isinstance(cols[c], str) for c in ("jax_version", "torch_version"))
    assert cols["cpu_count"] >= 1
    assert cols["microarch"] in (None, "x86_64-v1", "x86_64-v2", "x86_64-v3", "x86_64-v4")
    whole = json.loads(cols["fingerprint_json"])
    assert "SECRET_TOKEN" not in cols["fingerprint_json"]  # ads are whitelisted
    assert "UNRELATED" not in whole["env"]
    assert whole["condor"]["job"]["ReprogridRunId"] == "mnist_convnet--x--y--r0"


def test_no_gpu_is_none_not_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    fp = fingerprint.collect(tf=None, environ={})
    cols = fingerprint_columns.to_columns(fp)
    assert cols["gpu_count"] == 0 and cols["gpu_name"] is None
    assert fp["condor"] == {"job": None, "machine": None}
    assert cols["condor_cluster_id"] is None


def test_fingerprint_with_tensorflow():
    import pytest

    tf = pytest.importorskip("tensorflow")
    cols = fingerprint_columns.to_columns(fingerprint.collect(tf))
    assert cols["tensorflow_version"] == tf.__version__
    assert cols["keras_version"] and cols["tensorflow_compiler"]
    assert isinstance(cols["intra_op_threads"], int) and isinstance(cols["inter_op_threads"], int)


def test_a_failing_probe_is_recorded_not_raised(monkeypatch):
    def boom():
        raise RuntimeError("no /proc here")

    monkeypatch.setattr(fingerprint, "cpu_info", boom)
    fp = fingerprint.collect(tf=None, environ={})
    assert fp["cpu"] == {"error": "RuntimeError: no /proc here"}
    assert fingerprint_columns.to_columns(fp)["cpu_model"] is None


# -- threads, CPUs, oneDNN: parsers on known text, then TensorFlow for real ----------------

def test_cgroup_quota_v2_v1_and_the_smallest_ancestor_wins():
    files = {"/sys/fs/cgroup/job/slot1/cpu.max": "max 100000\n", "/sys/fs/cgroup/job/cpu.max": "400000 100000\n",
             "/sys/fs/cgroup/cpu.max": "max 100000"}
    assert fingerprint.cgroup_quota("0::/job/slot1\n", files.get) == 4.0
    assert fingerprint.cgroup_quota("0::/\n", files.get) is None  # no quota anywhere
    v1 = {"/sys/fs/cgroup/cpu,cpuacct/htcondor/cpu.cfs_period_us": "100000",
          "/sys/fs/cgroup/cpu,cpuacct/htcondor/cpu.cfs_quota_us": "250000",
          "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1"}
    assert fingerprint.cgroup_quota("4:memory:/x\n3:cpu,cpuacct:/htcondor\n", v1.get) == 2.5
    assert fingerprint.parse_cpu_max("150000 100000") == 1.5 and fingerprint.parse_cfs("-1", "100000") is None


def test_effective_pools_follow_tensorflows_rule():
    pools = fingerprint.effective_pools
    assert pools(0, 0, {}, 64) == {"intra_op_pool": 64, "inter_op_pool": 64}  # 0 = unset: the schedulable CPUs
    assert pools(0, 0, {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "2"}, 64) == {"intra_op_pool": 1, "inter_op_pool": 2}
    assert pools(8, 0, {"TF_NUM_INTRAOP_THREADS": "1"}, 64)["intra_op_pool"] == 8  # the API's value wins
    assert pools(0, 0, {"TF_NUM_INTRAOP_THREADS": "0"}, 4)["intra_op_pool"] == 4
    assert fingerprint.onednn_default("2.9.1", "Linux", "x86_64") is True
    assert fingerprint.onednn_default("2.8.0", "Linux", "x86_64") is False
    assert fingerprint.onednn_default("2.12.0", "Linux", "aarch64") is False
    assert fingerprint.count_processors("processor\t: 0\nflags: a\n\nprocessor\t: 1\n") == 2


_PROBE = r"""
import json, os, sys
from reprogrid.job import fingerprint, fingerprint_columns
from reprogrid.job.compat import import_tf
tf = import_tf()
if len(sys.argv) > 1:
    tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))
a = tf.random.normal((256, 256))
tf.reduce_sum(tf.linalg.matmul(a, a)).numpy()
names = [open("/proc/self/task/%s/comm" % t).read().strip() for t in os.listdir("/proc/self/task")]
cols = fingerprint_columns.to_columns(fingerprint.collect(tf))
cols.pop("fingerprint_json")
print(json.dumps({"cols": cols, "inter_threads_seen": names.count("tf_Compute")}))
"""


def _probe_all(configs):
    """Run the probe in fresh processes (TF reads its thread settings once), in parallel."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[1])
    drop = set(fingerprint.THREAD_ENV_VARS) | {"TF_ENABLE_ONEDNN_OPTS"}
    procs = []
    for env_extra, cpus, argv in configs:
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(env_extra, PYTHONPATH=repo, TF_CPP_MIN_LOG_LEVEL="3")
        pin = (lambda c=cpus: os.sched_setaffinity(0, c)) if cpus else None
        procs.append(subprocess.Popen([sys.executable, "-c", _PROBE, *argv], env=env, preexec_fn=pin,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True))
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def test_threads_affinity_and_onednn_change_the_record_for_real():
    import os

    import pytest

    pytest.importorskip("tensorflow")
    first_cpu = min(os.sched_getaffinity(0))
    base, env_set, pinned = _probe_all([
        ({}, None, []),
        ({"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "3", "OMP_NUM_THREADS": "2",
          "TF_ENABLE_ONEDNN_OPTS": "0"}, None, []),
        ({"TF_ENABLE_ONEDNN_OPTS": "1"}, {first_cpu}, ["2"]),
    ])
    b, e, p = base["cols"], env_set["cols"], pinned["cols"]
    visible = len(os.sched_getaffinity(0))
    # Unset (the API says 0): TF sizes both pools from the CPUs the process can schedule on.
    assert b["intra_op_threads"] == 0 and b["intra_op_pool"] == visible and b["inter_op_pool"] == visible
    assert b["cpu_affinity_count"] == visible and b["cpu_logical_count"] >= visible
    assert json.loads(b["thread_env_json"]) == {} and b["onednn_enabled"] in (True, False)
    assert b["xla_jit"] and b["keras_backend"] == "tensorflow"
    # The environment variables size the pools; TF really started that many inter-op threads.
    assert (e["intra_op_pool"], e["inter_op_pool"]) == (1, 3) and env_set["inter_threads_seen"] == 3
    assert json.loads(e["thread_env_json"]) == {"OMP_NUM_THREADS": "2", "TF_NUM_INTEROP_THREADS": "3",
                                                "TF_NUM_INTRAOP_THREADS": "1"}
    assert e["onednn_enabled"] is False and p["onednn_enabled"] is True
    # taskset to one CPU: the host is unchanged, the process sees one CPU, the default pool follows.
    assert p["cpu_affinity_count"] == 1 and p["cpu_logical_count"] == b["cpu_logical_count"]
    assert p["inter_op_pool"] == 1 and pinned["inter_threads_seen"] == 1
    assert p["intra_op_threads"] == 2 and p["intra_op_pool"] == 2  # the configured value wins
    assert base["inter_threads_seen"] == b["inter_op_pool"]


# -- the Keras backend and framework versions: decided once, by the fingerprint ------------

class _Keras3:
    """A Keras 3 module as the job side sees it: ``keras.config.backend()`` names the backend."""

    __version__ = "3.4.1"

    def __init__(self, backend):
        self.config = type("config", (), {"backend": staticmethod(lambda: backend)})


def test_installed_frameworks_are_not_recorded_as_having_run(monkeypatch):
    import sys

    monkeypatch.setattr(fingerprint, "_dist_version", lambda name: {"jax": "0.4.30", "torch": "2.3.0"}[name])
    monkeypatch.delitem(sys.modules, "jax", raising=False)  # the version that ran is the loaded module's
    tf_run = fingerprint_columns.to_columns(fingerprint.collect(tf=None, environ={}, keras=_Keras3("tensorflow")))
    assert tf_run["keras_backend"] == "tensorflow" and tf_run["keras_version"] == "3.4.1"
    assert (tf_run["jax_version"], tf_run["torch_version"]) == (None, None)
    whole = json.loads(tf_run["fingerprint_json"])
    assert whole["frameworks"]["installed"] == {"jax": "0.4.30", "torch": "2.3.0"} and whole["frameworks"]["ran"] == {}
    jax_run = fingerprint_columns.to_columns(fingerprint.collect(tf=None, environ={}, keras=_Keras3("jax")))
    assert (jax_run["keras_backend"], jax_run["jax_version"], jax_run["torch_version"]) == ("jax", "0.4.30", None)
    nothing = fingerprint_columns.to_columns(fingerprint.collect(tf=None, environ={"KERAS_BACKEND": "jax"}))
    assert (nothing["keras_backend"], nothing["jax_version"]) == (None, None)  # no Keras ran: no backend


def test_the_backend_is_decided_by_the_fingerprint_alone():
    from pathlib import Path

    job = Path(fingerprint.__file__).parent
    deciding = sorted(p.name for p in job.glob("*.py")
                      if p.name != "fingerprint.py" and ("backend_columns" in p.read_text() or
                                                         "config.backend()" in p.read_text()))
    assert deciding == []
