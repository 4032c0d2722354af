"""`reprogrid pool import/check` on condor_status -json captures in the real format."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from reprogrid.access import poolcheck
from reprogrid.cli import main
from reprogrid.condor.inventory import builtin_machine_ads
from reprogrid.condor.pool import load_pool
from reprogrid.spec.presets import preset_study, preset_yaml
from reprogrid.spec import Pool

TODAY = Path(__file__).parent / "fixtures" / "pool" / "ospool-2024-11.json"


@pytest.fixture(scope="module")
def today():
    return load_pool(TODAY)


@pytest.fixture(scope="module")
def coakley():
    return preset_study("coakley2022")


def test_capture_is_in_the_real_format():
    raw = json.loads(TODAY.read_text())
    text = TODAY.read_text()
    assert '"/Expr(START)/"' in text and '"/Expr(false)/"' in text
    gpu = [ad for ad in raw if ad["GPUs"]]
    assert gpu and all(any(k.startswith("GPUs_GPU_") and isinstance(v, dict) for k, v in ad.items()) for ad in gpu)
    forms = {type(ad["AvailableGPUs"]).__name__ for ad in gpu}
    assert forms == {"list", "str"}  # [ "/Expr(GPUs_GPU_x)/" ] and "/Expr({ GPUs_GPU_x, ... })/"
    assert any(isinstance(ad["TotalCpus"], float) for ad in raw) and any(ad["GLIDEIN_ToRetire"] is None for ad in raw)
    assert any("GLIDEIN_SITE" in ad for ad in raw) and any("GLIDEIN_Site" in ad for ad in raw)
    assert not any("OSGVO_CPU_MODEL" in ad for ad in raw)


def test_summary_counts_what_slots_advertise(today):
    s = poolcheck.summarize_pool(today)
    assert (s.slots, s.partitionable, s.gpu_slots) == (32, 32, 5)
    assert s.cpu_families["23/49"] == 9 and s.cpu_families["25/17"] == 3 and s.cpu_families["6/85"] == 6
    assert s.microarch == {"x86_64-v3": 21, "x86_64-v4": 11}
    assert s.flags["has_avx512f"] == 11 and s.flags["has_avx2"] == 32
    assert s.gpus[("NVIDIA A40", 8.6, 45634)] == 8 and s.gpus[("NVIDIA A100-PCIE-40GB", 8.0, 40536)] == 4
    # GLIDEIN_SITE / osg_os_string spelled differently in some ads: names are case-insensitive
    assert s.sites["Nebraska"] == 3 and s.sites["Clemson"] == 3 and "(not advertised)" not in s.sites
    assert sum(s.os.values()) == 32 and "(not advertised)" not in s.os
    assert not s.cpu_models
    assert "no slot advertises OSGVO_CPU_MODEL" in s.describe()


def test_study_pinning_model_strings_finds_nothing_today(coakley, today):
    checks = {c.name: c for c in poolcheck.check_study(coakley, today)}
    assert coakley.pool.profile == "ospool-2022"
    for name, check in checks.items():
        if check.device == "cpu":
            assert check.matching_slots == 0, name
            assert "OSGVO_CPU_MODEL" in check.unadvertised
            assert any("OSGVO_CPU_MODEL ==" in reason for reason in check.excluded_by)
    assert checks["gpu-a100"].matching_slots == 2 and checks["gpu-a40"].matching_slots == 2
    assert checks["gpu-v100"].matching_slots == 0  # no V100 left in this capture
    assert checks["gpu-a40"].kinds[0].description.endswith("4 x NVIDIA A40, RHEL 9")


def test_todays_profile_matches_by_family_and_groups_slots(coakley, today):
    study = dataclasses.replace(coakley, pool=Pool("ospool"))
    checks = {c.name: c for c in poolcheck.check_study(study, today)}
    epyc = checks["amd-epyc-7302"]
    assert epyc.matching_slots == 7
    assert [(k.slots, dict(k.sites)) for k in epyc.kinds] == [(4, {"SDSC-PRP": 4}), (3, {"Nebraska": 3})]
    assert any("CPU model string" in u for u in epyc.unadvertised)
    assert checks["amd-epyc-7402"].matching_slots == 7  # 23/49 cannot tell a 7302 from a 7402
    assert checks["intel-xeon-gold-6148"].matching_slots == 5  # 6/85, v4: the T4 host is a GPU machine
    # 6/63 exists only at a site without docker:// support: the combination excludes it
    haswell = checks["intel-xeon-e5-2650v3"]
    assert haswell.matching_slots == 0 and haswell.excluded_by
    assert "HasDockerURL" in haswell.excluded_by[0]


def test_the_2022_inventory_serves_every_environment(coakley):
    checks = poolcheck.check_study(coakley, builtin_machine_ads())
    for check in checks:
        assert check.matching_slots >= 1, check.name
        assert check.unadvertised == [], check.name
    by_name = {c.name: c for c in checks}
    assert "'AMD EPYC 7302 16-Core Processor'" in by_name["amd-epyc-7302"].kinds[0].description


def test_start_is_evaluated_as_of_the_capture(coakley, tmp_path: Path):
    raw = json.loads(TODAY.read_text())
    a100 = [ad for ad in raw if ad.get("GPUs_DeviceName") == "NVIDIA A100-PCIE-40GB"]
    a100[0]["GLIDEIN_ToRetire"] = a100[0]["MyCurrentTime"] - 1  # retiring when captured
    path = tmp_path / "pool.json"
    path.write_text(json.dumps(raw))
    checks = {c.name: c for c in poolcheck.check_study(coakley, load_pool(path))}
    assert checks["gpu-a100"].matching_slots == 1


def test_cli_import_and_check(tmp_path: Path, capsys):
    assert main(["pool", "import", str(TODAY)]) == 0
    out = capsys.readouterr().out
    assert "32 slots (32 partitionable)" in out and "NVIDIA A40 (capability 8.6, 45634 MB)" in out
    spec = tmp_path / "study.yaml"
    spec.write_text(preset_yaml("coakley2022"))
    assert main(["pool", "check", str(spec), "--pool", str(TODAY)]) == 1
    out = capsys.readouterr().out
    assert "not advertised by any slot: OSGVO_CPU_MODEL" in out and "<-- no slot matches" in out
    data = yaml.safe_load(preset_yaml("coakley2022"))
    data["pool"] = {"profile": "ospool"}
    data["hardware"] = [h for h in data["hardware"] if h["name"] in ("amd-epyc-7302", "gpu-a40")]
    spec.write_text(yaml.safe_dump(data))
    assert main(["pool", "check", str(spec), "--pool", str(TODAY), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["matching_slots"]) for r in rows] == [("amd-epyc-7302", 7), ("gpu-a40", 2)]


def test_cli_bad_capture(tmp_path: Path, capsys):
    bad = tmp_path / "pool.json"
    bad.write_text('[{"Name": "slot1@x", "START": "/Expr(((()/"}]')
    assert main(["pool", "import", str(bad)]) == 2
    assert "START" in capsys.readouterr().err


def test_matchmakers_sharing_gpu_keys_group_as_each_alone():
    """The pool check's two checks share each machine's GPU ads as text (read once): the
    groups are those a Matchmaker of its own makes."""
    from reprogrid.condor.bindings import classad
    from reprogrid.condor.inventory import builtin_machine_ads
    from reprogrid.condor.matchmaking import Matchmaker

    machines = builtin_machine_ads()
    job = classad.ClassAd({"RequireGPUs": classad.ExprTree("Capability >= 7.0"), "RequestGPUs": 1,
                           "Requirements": classad.ExprTree("TARGET.GPUs >= 1")})
    shared: dict = {}
    for _ in range(2):
        alone, sharing = Matchmaker(machines), Matchmaker(machines, gpu_keys=shared)
        for maker in (alone, sharing):
            maker.note_job_refs([job])
        assert [g.members for g in sharing.groups()] == [g.members for g in alone.groups()]
        assert sharing.matching_groups(job) == alone.matching_groups(job)
    assert len(shared) == len(machines)
