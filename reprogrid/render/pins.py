"""Hardware pins -> HTCondor requirements, per pool profile, with honest warnings.

What a pool can express is limited (docs/hardware-pins.md): ``CpuFamily``/``CpuModelNumber`` do not
identify a CPU model, and the exact model string (``OSGVO_CPU_MODEL`` on the 2022 OSPool)
is gone from today's OSPool. :func:`pin_for` turns a hardware environment into the
``requirements`` clauses and GPU submit commands for a pool profile and says, in
warnings, what it could not honour and why. Pure functions; values are escaped here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from reprogrid.condor.escaping import classad_number, classad_string
from reprogrid.spec.definitions import CPU_VENDORS, HardwareEnv, Pool

#: Other CPU models that share a family/model number (docs/hardware-pins.md), to explain loose pins.
SHARED_FAMILY_MODEL = {
    (23, 49): ("AMD EPYC 7302", "EPYC 7402", "EPYC 7F52"),
    (25, 1): ("AMD EPYC 7443", "EPYC 7513", "EPYC 7713"),
    (6, 85): ("Intel Xeon Gold 6148", "Gold 6242"),
}

#: A CPU job must neither land on a GPU machine nor be handed one.
NO_GPU_CLAUSE = "(ifThenElse(isUndefined(TARGET.TotalGPUs), 0, TARGET.TotalGPUs) == 0)"


@dataclass(frozen=True)
class Pin:
    """What a hardware environment becomes in a submit description."""

    clauses: Tuple[str, ...]
    gpu_commands: Tuple[Tuple[str, str], ...] = ()
    environment: Tuple[Tuple[str, str], ...] = ()
    warnings: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def requirements(self) -> str:
        return " && ".join(self.clauses) if self.clauses else "true"


def pin_for(hardware: HardwareEnv, pool: Pool, gpus: int = 0) -> Pin:
    """Requirements clauses, GPU submit commands and warnings for ``hardware`` on ``pool``."""
    clauses: List[str] = []
    warnings: List[str] = []
    env: List[Tuple[str, str]] = []
    name = hardware.name
    cpu = hardware.cpu
    if cpu is not None:
        if cpu.vendor is not None and cpu.family is None:
            families = CPU_VENDORS[cpu.vendor]
            if len(families) == 1:
                clauses.append(f"(TARGET.CpuFamily == {families[0]})")
            else:
                clauses.append("(" + " || ".join(f"TARGET.CpuFamily == {f}" for f in families) + ")")
        if cpu.family is not None:
            clauses.append(f"(TARGET.CpuFamily == {classad_number(cpu.family)})")
        if cpu.model_number is not None:
            clauses.append(f"(TARGET.CpuModelNumber == {classad_number(cpu.model_number)})")
        if cpu.model is not None:
            attribute = pool.model_attribute
            if attribute:
                clauses.append(f"(TARGET.{attribute} == {classad_string(cpu.model)})")
            else:
                shared = SHARED_FAMILY_MODEL.get((cpu.family, cpu.model_number))
                loose = (
                    f"; CpuFamily/CpuModelNumber {cpu.family}/{cpu.model_number} also match "
                    + ", ".join(shared) if shared else ""
                )
                warnings.append(
                    f"hardware {name!r}: cpu.model {cpu.model!r} cannot be pinned on pool profile "
                    f"{pool.profile!r}: the pool advertises no CPU model string (the OSPool stopped "
                    f"advertising OSGVO_CPU_MODEL in September 2024){loose}. The job may land on any "
                    "CPU matching the other pins; the fingerprint records the model it really got. "
                    "Set pool.cpu_model_attribute if your pool advertises one."
                )
        if cpu.microarch is not None:
            clauses.append(f"(TARGET.Microarch == {classad_string(cpu.microarch)})")
        if cpu.min_microarch is not None:
            clauses.append(f"(TARGET.Microarch >= {classad_string(cpu.min_microarch)})")
        for flag in cpu.flags:
            clauses.append(f"(TARGET.has_{flag} =?= true)")
        for flag in cpu.without_flags:
            clauses.append(f"(TARGET.has_{flag} =!= true)")
        if cpu.family is None and cpu.model_number is None and cpu.model is not None and not pool.model_attribute:
            warnings.append(f"hardware {name!r}: only cpu.model is pinned and the pool cannot honour it; add vendor/family/model_number")
    if hardware.sites:
        clauses.append("(" + " || ".join(f"TARGET.GLIDEIN_Site == {classad_string(s)}" for s in hardware.sites) + ")")
    if hardware.os is not None:
        clauses.append(f"(TARGET.OSG_OS_STRING == {classad_string(hardware.os)})")
    if hardware.requirements is not None:
        clauses.append(f"({hardware.requirements})")

    gpu_commands: List[Tuple[str, str]] = []
    gpu = hardware.gpu
    if gpu is None:
        clauses.append(NO_GPU_CLAUSE)
        env.append(("CUDA_VISIBLE_DEVICES", ""))
    else:
        gpu_commands.append(("request_gpus", str(gpus or gpu.count)))
        if gpu.device_name is not None:
            gpu_commands.append(("require_gpus", f"DeviceName == {classad_string(gpu.device_name)}"))
        low, high = gpu.min_capability, gpu.max_capability
        if gpu.capability is not None:
            low = high = gpu.capability
        if low is not None:
            gpu_commands.append(("gpus_minimum_capability", classad_number(low)))
        if high is not None:
            gpu_commands.append(("gpus_maximum_capability", classad_number(high)))
        if gpu.min_memory_mb is not None:
            gpu_commands.append(("gpus_minimum_memory", classad_number(gpu.min_memory_mb)))
        if gpu.device_name is None and low is None and gpu.min_memory_mb is None:
            warnings.append(f"hardware {name!r}: the GPU is not pinned (no device_name, capability or min_memory_mb); any GPU will do")
    return Pin(tuple(clauses), tuple(gpu_commands), tuple(env), tuple(warnings))


def pins_for_study(study) -> Dict[str, Pin]:
    """The pin of every hardware environment of ``study``, by name."""
    return {h.name: pin_for(h, study.pool, study.gpus_for(h)) for h in study.hardware}


def study_warnings(study) -> List[str]:
    """Every warning the study's pins raise on its pool profile."""
    return [w for pin in pins_for_study(study).values() for w in pin.warnings]


def required_attributes(hardware: HardwareEnv, pool: Pool) -> List[str]:
    """Machine attributes the pin reads (for `pool check`: which does the pool not advertise)."""
    attrs: List[str] = []
    cpu = hardware.cpu
    if cpu is not None:
        if cpu.vendor is not None or cpu.family is not None:
            attrs.append("CpuFamily")
        if cpu.model_number is not None:
            attrs.append("CpuModelNumber")
        if cpu.model is not None and pool.model_attribute:
            attrs.append(pool.model_attribute)
        if cpu.microarch is not None or cpu.min_microarch is not None:
            attrs.append("Microarch")
    if hardware.sites:
        attrs.append("GLIDEIN_Site")
    if hardware.os is not None:
        attrs.append("OSG_OS_STRING")
    if hardware.gpu is not None:
        attrs.append("AvailableGPUs")
    return attrs


def describe_pins(hardware: HardwareEnv) -> Optional[str]:
    """One line saying what the environment pins, for listings."""
    parts = []
    if hardware.cpu is not None:
        c = hardware.cpu
        for label, value in (("vendor", c.vendor), ("family", c.family), ("model#", c.model_number), ("model", c.model), ("microarch", c.microarch)):
            if value is not None:
                parts.append(f"{label}={value}")
    if hardware.gpu is not None:
        g = hardware.gpu
        parts.append(f"gpu={g.device_name or 'any'}" + (f" cc={g.capability}" if g.capability else ""))
    return ", ".join(parts) or None
