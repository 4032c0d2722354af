"""Emulated machines behave like their real hosts: thread pools sized from the host's logical CPUs.

On a real execute node TensorFlow sizes its default pools from every CPU of the host
(HTCondor does not pin cores), while the starter sets OMP_NUM_THREADS and friends to the
slot's CPUs. The emulator reproduces both, so the same run on an emulated 64-CPU and a
96-CPU machine splits its reductions differently: different bits, each repeatable.
"""
from __future__ import annotations

import json

import pytest

from reprogrid.condor.inventory import MACHINES, builtin_machine_ads
from reprogrid.emulator.starter.executor import THREAD_VARS, host_thread_env

LOGICAL = {"amd-epyc-7f52": 32, "amd-epyc-7302": 64, "amd-epyc-7402": 96, "amd-epyc-7443": 96,
           "amd-epyc-7513": 128, "amd-epyc-7713": 128, "intel-xeon-e5-2640v4": 40,
           "intel-xeon-e5-2650v3": 40, "intel-xeon-gold-6148": 80, "intel-xeon-gold-6242": 64}


def test_inventory_advertises_each_hosts_logical_cpus_as_a_startd_does():
    ads = {ad["ReprogridHardwareEnv"]: ad for ad in builtin_machine_ads() if ad["GPUs"] == 0}
    assert {env: ad["DetectedCpus"] for env, ad in ads.items()} == LOGICAL
    for ad in builtin_machine_ads():
        assert ad["DetectedCpus"] == ad["TotalCpus"] == ad["TotalSlotCpus"] == ad["Cpus"] >= 32
    assert all(m.cpus >= 32 for m in MACHINES if m.gpu is not None)


def test_host_pools_come_from_detected_cpus_and_fall_back_to_total_cpus():
    from reprogrid.condor.bindings import classad

    assert host_thread_env(classad.ClassAd({"DetectedCpus": 96, "TotalCpus": 8})) == {
        "TF_NUM_INTRAOP_THREADS": "96", "TF_NUM_INTEROP_THREADS": "96"}
    assert host_thread_env(classad.ClassAd({"TotalCpus": 40.0}))["TF_NUM_INTRAOP_THREADS"] == "40"
    assert host_thread_env(classad.ClassAd({"Cpus": 4})) == {}
    assert "OMP_NUM_THREADS" in THREAD_VARS and "TF_NUM_INTRAOP_THREADS" not in THREAD_VARS


def test_a_64_and_a_96_cpu_machine_give_different_bits_each_repeatable(tmp_path):
    pytest.importorskip("tensorflow")
    from reprogrid.gather import gather, load_dataset
    from reprogrid.render import render_study
    from reprogrid import emulator
    from reprogrid.spec import study_from_dict
    from reprogrid.spec.presets import coakley2022

    raw = coakley2022()
    raw.update(name="hosts", repeats=2, data={"sample": True}, resources={"cpus": 1, "memory": "2GB", "disk": "1GB"})
    raw["workloads"] = [{"name": "mnist_convnet", "epochs": 1, "max_samples": 96}]
    raw["software"] = raw["software"][:1]
    raw["hardware"] = [h for h in raw["hardware"] if h["name"] in ("amd-epyc-7302", "amd-epyc-7402")]
    study = study_from_dict(raw)
    submit = tmp_path / "submit"
    render_study(study, submit)
    run = emulator.dryrun(submit / "study.dag", slots=2, progress=False)
    assert run.exit_code == 0, (submit / "study.dag.dagman.out").read_text()[-2000:]
    gather(submit)
    df = load_dataset(submit)
    assert len(df) == 4 and set(df["status"]) == {"ok"}
    per_host = df.groupby("hardware_env")["weights_sha256"].agg(lambda s: sorted(set(s)))
    assert all(len(hashes) == 1 for hashes in per_host), per_host  # repeats: bitwise identical
    assert per_host["amd-epyc-7302"] != per_host["amd-epyc-7402"]  # 64 vs 96 threads: other bits
    assert set(df["omp_num_threads"]) == {"1"}  # the starter's variables: the slot's CPUs
    pools = {row.hardware_env: json.loads(row.fingerprint_json)["env"] for row in df.itertuples()}
    machines = {row.hardware_env: json.loads(row.fingerprint_json)["condor"]["machine"] for row in df.itertuples()}
    assert machines["amd-epyc-7402"]["DetectedCpus"] == 96 and machines["amd-epyc-7302"]["ReprogridEmulated"] is True
    assert pools["amd-epyc-7302"]["TF_NUM_INTRAOP_THREADS"] == "64"
    assert pools["amd-epyc-7402"]["TF_NUM_INTEROP_THREADS"] == "96"
    # The report names what was emulated and what one host cannot give, next to each machine.
    from reprogrid.report.emulation import emulation_limits

    lines = emulation_limits(df)
    assert [line.split(" ")[0] for line in lines] == ["amd-epyc-7302", "amd-epyc-7402"]
    assert "96 logical CPUs" in lines[1] and "instruction set x86_64-v3" in lines[1]
    assert "microarchitecture of AMD EPYC 7402 24-Core Processor" in lines[1] and "GPU" in lines[1]
