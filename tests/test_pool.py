"""Reading condor_status -json captures: types, /Expr()/, case-insensitive names, nested GPU ads."""
from __future__ import annotations

import json

import classad
import pytest

from reprogrid.condor.matchmaking import Matchmaker, gpu_ads
from reprogrid.core.errors import UserError
from reprogrid.condor.pool import load_pool

AD = {
    "Name": "slot1@gpu-a", "Machine": "gpu-a", "Arch": "X86_64", "OpSys": "LINUX", "Cpus": 8,
    "memory": 16000, "Disk": 10000000, "HasFileTransfer": True, "has_avx2": True, "Weight": 1.5,
    "GPUs": 1, "AvailableGPUs": "/Expr({ GPUs_GPU_1 })/",
    "GPUs_GPU_1": {"Id": "GPU-1", "Capability": 8.0, "DeviceName": "NVIDIA A100", "GlobalMemoryMb": 40000},
    "START": True, "Requirements": "/Expr(START && (TARGET.RequestCpus <= 8))/", "Missing": None,
}


def write(tmp_path, data):
    path = tmp_path / "pool.json"
    path.write_text(json.dumps(data))
    return path


def test_types_expressions_and_case_insensitive_names(tmp_path):
    (ad,) = load_pool(write(tmp_path, [AD]))
    assert ad["MEMORY"] == 16000 and ad["cpus"] == 8 and ad["Weight"] == 1.5 and ad["HAS_AVX2"] is True
    assert isinstance(ad.lookup("Requirements"), classad.ExprTree)
    assert ad.eval("Requirements") is not True  # refers to TARGET: not evaluable alone
    (gpu,) = gpu_ads(ad)
    assert gpu["DeviceName"] == "NVIDIA A100" and gpu["Capability"] == 8.0


def test_gpu_jobs_match_by_capability(tmp_path):
    machines = load_pool(write(tmp_path, [AD]))
    mm = Matchmaker(machines)

    def job(cap, cpus=1):
        return classad.ClassAd(
            f"[RequestCpus={cpus}; RequestMemory=1; RequestDisk=1; RequestGPUs=1; RequireGPUs = Capability >= {cap};"
            " Requirements = (TARGET.Cpus >= RequestCpus) && (countMatches(MY.RequireGPUs,TARGET.AvailableGPUs) >= RequestGPUs)]")

    assert mm.matching_groups(job(8.0)) == [0]
    assert mm.matching_groups(job(9.0)) == []
    assert "countMatches" in mm.explain(job(9.0))[0]
    assert mm.matching_groups(job(8.0, cpus=16)) == []  # job side: TARGET.Cpus
    assert mm.matching_groups(job(8.0, cpus=8)) == [0]


def test_machine_start_expression_is_honoured(tmp_path):
    ad = dict(AD, Cpus=64)
    mm = Matchmaker(load_pool(write(tmp_path, [ad])))
    big = classad.ClassAd("[RequestCpus=16; RequestMemory=1; RequestDisk=1; Requirements = TARGET.Cpus >= RequestCpus]")
    assert mm.matching_groups(big) == []
    assert "START" in mm.explain(big)[0]


def test_identical_machines_form_one_group(tmp_path):
    ads = [dict(AD, Name=f"slot1@n{i}", Machine=f"n{i}") for i in range(5)]
    mm = Matchmaker(load_pool(write(tmp_path, ads)))
    assert len(mm.groups()) == 1 and mm.groups()[0].members == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("data, where", [
    ({"not": "a list"}, "JSON array"),
    ([1], "[0]"),
    ([{"Name": "a", "Requirements": "/Expr(((()/"}], "Requirements"),
    ([{"Name": "a", "name": "b"}], "twice"),
])
def test_bad_captures_name_file_index_and_attribute(tmp_path, data, where):
    path = write(tmp_path, data)
    with pytest.raises(UserError) as err:
        load_pool(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_invalid_json_names_line(tmp_path):
    path = tmp_path / "pool.json"
    path.write_text("[\n{,}\n]")
    with pytest.raises(UserError, match=r"pool.json:2"):
        load_pool(path)
