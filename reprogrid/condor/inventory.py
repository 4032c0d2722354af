"""The built-in machine inventory: slot ClassAds of the original study's 2022 OSPool.

This is the pool profile for replaying the paper (``--pool ospool-2022``; messages that
use it say so). Today's OSPool no longer advertises ``OSGVO_CPU_MODEL``: pins are judged
against :mod:`reprogrid.condor.ospool_today` by default.

One partitionable slot ad per kind of machine the study ran on (10 CPU models, and the
hosts of the A100, A40 and V100 GPUs), with the attributes the OSPool advertises
(docs/hardware-pins.md): ``CpuFamily``/``CpuModelNumber``, ``Microarch``, ``has_*`` ISA flags (absent
when false), the 2022-era ``OSGVO_CPU_MODEL``, GPU ads nested as ``GPUs_GPU_<id>`` and
listed in ``AvailableGPUs``, site and container support. ``render``'s fidelity tests and
the emulator's matchmaking both use it; ``ReprogridHardwareEnv`` names the environment
of the ``coakley2022`` preset that each machine realises.

Each model carries its host's real logical CPU count (``cpus``: the study's published
``cpu_logical_count`` for the CPU machines, the vendor's threads per socket for the GPU
hosts), advertised as a startd that owns the whole host does: ``DetectedCpus``,
``TotalCpus``, ``TotalSlotCpus`` and the partitionable slot's ``Cpus``. The emulator sizes
a job's framework thread pools from ``DetectedCpus``, as on that host.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from reprogrid.condor.bindings import classad
from reprogrid.core.digest import sha256


@dataclass(frozen=True)
class GpuModel:
    device_name: str
    capability: float
    memory_mb: int
    driver_version: float = 11.7
    count: int = 1


@dataclass(frozen=True)
class MachineModel:
    """One kind of execute machine, as /proc/cpuinfo and nvidia-smi describe it."""

    hardware_env: str
    cpu_model: str
    cpu_family: int
    cpu_model_number: int
    microarch: str
    site: str
    cpus: int
    memory_mb: int = 64_000
    disk_kb: int = 200_000_000
    gpu: Optional[GpuModel] = None
    os_string: str = "RHEL 8"
    extra_flags: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def flags(self) -> Tuple[str, ...]:
        # x86_64-v3 machines have AVX2; v4 adds the AVX-512 family (has_* as advertised).
        flags = ["sse4_1", "sse4_2", "ssse3", "avx", "avx2", "fma"]
        if self.microarch == "x86_64-v4":
            flags += ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"]
        return tuple(flags) + self.extra_flags


_A100 = GpuModel("NVIDIA A100-PCIE-40GB", 8.0, 40_536, 11.7, 4)
_A40 = GpuModel("NVIDIA A40", 8.6, 45_634, 11.5, 4)
_V100_16 = GpuModel("Tesla V100-PCIE-16GB", 7.0, 16_160, 11.4, 2)
_V100_32 = GpuModel("Tesla V100-PCIE-32GB", 7.0, 32_510, 11.4, 2)

#: The study's execute machines. Sites are those recorded in the study's data.
MACHINES: Tuple[MachineModel, ...] = (
    MachineModel("amd-epyc-7302", "AMD EPYC 7302 16-Core Processor", 23, 49, "x86_64-v3", "UChicago", 64),
    MachineModel("amd-epyc-7402", "AMD EPYC 7402 24-Core Processor", 23, 49, "x86_64-v3", "SDSC-PRP", 96),
    MachineModel("amd-epyc-7f52", "AMD EPYC 7F52 16-Core Processor", 23, 49, "x86_64-v3", "SDSC-PRP", 32),
    MachineModel("amd-epyc-7443", "AMD EPYC 7443 24-Core Processor", 25, 1, "x86_64-v3", "UNL", 96),
    MachineModel("amd-epyc-7513", "AMD EPYC 7513 32-Core Processor", 25, 1, "x86_64-v3", "UCSD", 128),
    MachineModel("amd-epyc-7713", "AMD EPYC 7713 64-Core Processor", 25, 1, "x86_64-v3", "Purdue", 128),
    MachineModel("intel-xeon-e5-2640v4", "Intel(R) Xeon(R) CPU E5-2640 v4 @ 2.40GHz", 6, 79, "x86_64-v3", "Wisconsin", 40),
    MachineModel("intel-xeon-e5-2650v3", "Intel(R) Xeon(R) CPU E5-2650 v3 @ 2.30GHz", 6, 63, "x86_64-v3", "MWT2", 40),
    MachineModel("intel-xeon-gold-6148", "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", 6, 85, "x86_64-v4", "Clemson", 80),
    MachineModel("intel-xeon-gold-6242", "Intel(R) Xeon(R) Gold 6242 CPU @ 2.80GHz", 6, 85, "x86_64-v4", "SU-ITS", 64),
    # GPU hosts: one socket's hardware threads, from the vendors' data sheets
    # (EPYC 7713 64C/128T, 7282 16C/32T, 7413 24C/48T; Gold 6154 18C/36T, 6248 20C/40T).
    MachineModel("gpu-a100", "AMD EPYC 7713 64-Core Processor", 25, 1, "x86_64-v3", "SDSC-PRP", 128, memory_mb=512_000, gpu=_A100),
    MachineModel("gpu-a100", "AMD EPYC 7282 16-Core Processor", 23, 49, "x86_64-v3", "Nebraska", 32, memory_mb=256_000, gpu=_A100),
    MachineModel("gpu-a40", "AMD EPYC 7413 24-Core Processor", 25, 1, "x86_64-v3", "SDSC-PRP", 48, memory_mb=256_000, gpu=_A40),
    MachineModel("gpu-v100", "Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz", 6, 85, "x86_64-v4", "Syracuse", 36, memory_mb=192_000, gpu=_V100_16),
    MachineModel("gpu-v100", "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 6, 85, "x86_64-v4", "UCSD", 40, memory_mb=384_000, gpu=_V100_32),
)


def _gpu_id(machine_name: str, index: int) -> str:
    return sha256(f"{machine_name}/{index}".encode()).hexdigest()[:8]


def machine_ad(model: MachineModel, index: int = 0) -> "classad.ClassAd":
    """The partitionable slot ad of one machine of ``model`` (``index`` names the host)."""
    host = f"{model.hardware_env}-{model.cpu_model_number}-{index}.{model.site.lower()}.example"
    name = f"slot1@{host}"
    ad = classad.ClassAd()
    ad.update(
        {
            "MyType": "Machine",
            "Name": name,
            "Machine": host,
            "SlotType": "Partitionable",
            "PartitionableSlot": True,
            "Arch": "X86_64",
            "OpSys": "LINUX",
            "OpSysAndVer": "AlmaLinux8",
            "OSG_OS_STRING": model.os_string,
            "Cpus": model.cpus,
            "TotalCpus": model.cpus,
            "TotalSlotCpus": model.cpus,
            "DetectedCpus": model.cpus,
            "Memory": model.memory_mb,
            "TotalMemory": model.memory_mb,
            "Disk": model.disk_kb,
            "CpuFamily": model.cpu_family,
            "CpuModelNumber": model.cpu_model_number,
            "OSGVO_CPU_MODEL": model.cpu_model,
            "Microarch": model.microarch,
            "GLIDEIN_Site": model.site,
            "GLIDEIN_ResourceName": f"{model.site}-CE",
            "FileSystemDomain": host,
            "UidDomain": host,
            "HasFileTransfer": True,
            "HasFileTransferPluginMethods": "file,http,https,osdf,pelican,stash",
            "HasContainer": True,
            "HasSingularity": True,
            "HasSIF": True,
            "HasSandboxImage": True,
            "HasDockerURL": True,
            "ReprogridHardwareEnv": model.hardware_env,
            "Requirements": classad.ExprTree("START"),
            "START": True,
        }
    )
    for flag in model.flags:
        ad[f"has_{flag}"] = True
    gpus = model.gpu.count if model.gpu else 0
    ad["GPUs"] = gpus
    ad["TotalGPUs"] = gpus
    if model.gpu:
        ids = [_gpu_id(name, i) for i in range(gpus)]
        ad["GPUs_DeviceName"] = model.gpu.device_name
        ad["GPUs_Capability"] = model.gpu.capability
        ad["GPUs_GlobalMemoryMb"] = model.gpu.memory_mb
        ad["GPUs_DriverVersion"] = model.gpu.driver_version
        ad["DetectedGPUs"] = ", ".join(f"GPU-{i}" for i in ids)
        for gid in ids:
            ad[f"GPUs_GPU_{gid}"] = classad.ClassAd(
                {
                    "Id": f"GPU-{gid}",
                    "DeviceName": model.gpu.device_name,
                    "Capability": model.gpu.capability,
                    "GlobalMemoryMb": model.gpu.memory_mb,
                    "DriverVersion": model.gpu.driver_version,
                    "ECCEnabled": True,
                }
            )
        ad["AvailableGPUs"] = classad.ExprTree("{ " + ", ".join(f"GPUs_GPU_{gid}" for gid in ids) + " }")
    else:
        ad["AvailableGPUs"] = classad.ExprTree("{ }")
    return ad


def builtin_machine_ads() -> List["classad.ClassAd"]:
    """One slot ad per machine kind of the original study's pool (fresh objects each call)."""
    return [machine_ad(model) for model in MACHINES]
