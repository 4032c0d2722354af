"""The environment fingerprint: every field the analysis groups by, HTCondor ads, absent GPU."""
from __future__ import annotations

import json

from reprogrid.job import fingerprint
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
    cols = fingerprint.to_columns(fp)
    assert set(cols) <= set(COLUMN_NAMES)
    assert cols["condor_cluster_id"] == 4242 and cols["condor_proc_id"] == 3
    assert cols["glidein_site"] == "UChicago" and cols["glidein_resource"] == "MWT2"
    assert cols["machine_name"] == "node7.example.edu"
    assert cols["container_runtime"] == "apptainer" and cols["container_image"].endswith("2.8.0-gpu")
    assert (cols["env_cudnn_version"], cols["env_cuda_version"]) == ("8.1.0.77", "11.2.1")
    assert cols["nvidia_tensorflow_version"] == "22.03-tf2"
    assert (cols["tf_enable_onednn_opts"], cols["omp_num_threads"], cols["tf_deterministic_ops"]) == ("0", "1", "1")
    assert cols["python_version"] and cols["numpy_version"]
    assert cols["cpu_count"] >= 1
    assert cols["microarch"] in (None, "x86_64-v1", "x86_64-v2", "x86_64-v3", "x86_64-v4")
    whole = json.loads(cols["fingerprint_json"])
    assert "SECRET_TOKEN" not in cols["fingerprint_json"]  # ads are whitelisted
    assert "UNRELATED" not in whole["env"]
    assert whole["condor"]["job"]["ReprogridRunId"] == "mnist_convnet--x--y--r0"


def test_no_gpu_is_none_not_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    fp = fingerprint.collect(tf=None, environ={})
    cols = fingerprint.to_columns(fp)
    assert cols["gpu_count"] == 0 and cols["gpu_name"] is None
    assert fp["condor"] == {"job": None, "machine": None}
    assert cols["condor_cluster_id"] is None


def test_fingerprint_with_tensorflow():
    import pytest

    tf = pytest.importorskip("tensorflow")
    cols = fingerprint.to_columns(fingerprint.collect(tf))
    assert cols["tensorflow_version"] == tf.__version__
    assert cols["keras_version"] and cols["tensorflow_compiler"]
    assert isinstance(cols["intra_op_threads"], int) and isinstance(cols["inter_op_threads"], int)


def test_a_failing_probe_is_recorded_not_raised(monkeypatch):
    def boom():
        raise RuntimeError("no /proc here")

    monkeypatch.setattr(fingerprint, "cpu_info", boom)
    fp = fingerprint.collect(tf=None, environ={})
    assert fp["cpu"] == {"error": "RuntimeError: no /proc here"}
    assert fingerprint.to_columns(fp)["cpu_model"] is None
