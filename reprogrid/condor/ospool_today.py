"""Today's OSPool, as a built-in, dated description of what its execute slots advertise.

``validate``, ``render``, ``pool check`` and ``dryrun --plan`` judge hardware pins
against this description unless told otherwise (a ``condor_status -json`` capture of
the pool as it is overrides it; the ``ospool-2022`` profile replays the paper's pool,
:mod:`reprogrid.condor.inventory`). It is a description, not a census: one slot ad per
kind of machine, with the attributes today's pool advertises and without the ones it
no longer does. What it claims, and where each claim comes from:

- CPU: ``CpuFamily`` and ``CpuModelNumber`` (the integers of /proc/cpuinfo, HTCondor's
  machine ClassAd attributes), ``Microarch`` (``x86_64-v1`` ... ``x86_64-v4``) and the
  ``has_<flag>`` ISA flags (``has_avx2``, ``has_avx512f``, ...) are advertised; the
  exact CPU model string ``OSGVO_CPU_MODEL`` is NOT (the OSPool pilot stopped
  advertising it in September 2024), so no pin can name a CPU model and CPUs that share
  family/model number (AMD EPYC 7302/7402/7F52: 23/49) cannot be told apart.
- OS as ``OSG_OS_STRING`` (and ``OSGVO_OS_STRING``, the name in the OSPool guide),
  ``GLIDEIN_Site``, containers (``HasSingularity``), OSDF transfers, GPUs with
  ``GPUs_DeviceName``/``GPUs_Capability``/``GPUs_GlobalMemoryMb`` and per-GPU ads.
- Machines: the kinds the original study ran on still serve the pool (as in the
  study's data), plus newer generations (Zen 4 EPYC, Ice Lake and Sapphire Rapids Xeon,
  H100/L40S GPUs).

Sources (:data:`SOURCES`): the OSPool user guide "Control Where Your Jobs Run / Job
Requirements"; the HTCondor manual's machine ClassAd attributes (``CpuFamily``,
``CpuModelNumber``, GPU attributes); docs/hardware-pins.md of this repository for the
removal of ``OSGVO_CPU_MODEL`` and the shared family/model numbers.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Tuple, Union

from reprogrid.condor.bindings import classad
from reprogrid.core.errors import Problem, UserError
from reprogrid.condor.inventory import MACHINES, GpuModel, MachineModel, builtin_machine_ads, machine_ad
from reprogrid.condor.pool import load_pool

#: When this description was written; a report or a check that uses it says so.
DESCRIBED = "2026-12-02"

SOURCES: Tuple[str, ...] = (
    "OSPool user guide, Control Where Your Jobs Run / Job Requirements: "
    "https://osg-htc.org/osg-portal-documentation/htc_workloads/specific_resource/requirements",
    "HTCondor manual, Machine ClassAd Attributes: "
    "https://htcondor.readthedocs.io/en/latest/classad-attributes/machine-classad-attributes.html",
    "docs/hardware-pins.md (this repository): OSGVO_CPU_MODEL no longer advertised since September 2024; "
    "CPU models that share CpuFamily/CpuModelNumber",
)

#: Attributes the 2022 pool advertised that today's pool does not.
NOT_ADVERTISED: Tuple[str, ...] = ("OSGVO_CPU_MODEL",)

#: Name used in messages.
LABEL = f"today's OSPool (built-in description of {DESCRIBED})"

_H100 = GpuModel("NVIDIA H100 80GB HBM3", 9.0, 81_559, 12.4, 4)
_L40S = GpuModel("NVIDIA L40S", 8.9, 46_068, 12.4, 4)

#: Newer kinds of machine than the study's (family/model numbers as /proc/cpuinfo gives them;
#: logical CPUs of one socket with SMT: sites differ, a condor_status capture says the truth).
NEWER: Tuple[MachineModel, ...] = (
    MachineModel("today-amd-epyc-9454", "AMD EPYC 9454 48-Core Processor", 25, 17, "x86_64-v4", "UW-Madison",
                 cpus=96),
    MachineModel("today-intel-xeon-gold-6338", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", 6, 106, "x86_64-v4", "Purdue",
                 cpus=64),
    MachineModel("today-intel-xeon-gold-6430", "Intel(R) Xeon(R) Gold 6430", 6, 143, "x86_64-v4", "UCSD",
                 cpus=64),
    MachineModel("today-gpu-h100", "AMD EPYC 9454 48-Core Processor", 25, 17, "x86_64-v4", "SDSC-PRP",
                 cpus=96, memory_mb=768_000, gpu=_H100),
    MachineModel("today-gpu-l40s", "Intel(R) Xeon(R) Gold 6430", 6, 143, "x86_64-v4", "UW-Madison",
                 cpus=64, memory_mb=512_000, gpu=_L40S),
)


def _today(ad: "classad.ClassAd", model: MachineModel) -> "classad.ClassAd":
    for attr in NOT_ADVERTISED:
        if attr in ad:
            del ad[attr]
    ad["OSGVO_OS_STRING"] = model.os_string
    ad["ReprogridPoolDescription"] = f"ospool-today {DESCRIBED}"
    return ad


def today_machine_ads() -> List["classad.ClassAd"]:
    """One slot ad per kind of machine on today's OSPool (fresh objects each call).

    ``ReprogridHardwareEnv`` still names the 2022 environment a machine kind realises
    (or ``today-...`` for newer kinds) so plans can say what a job would land on.
    """
    kinds = list(MACHINES) + [replace(m, os_string="RHEL 9") for m in NEWER]
    return [_today(machine_ad(model, index=1), model) for model in kinds]


#: Names --pool accepts besides a file.
TODAY, PAPER = "today", "ospool-2022"
#: The one pool that validate, render, pool check and ``dryrun --plan`` judge pins against
#: when no --pool is given (a dry run's *execution* emulates the paper's machines instead).
DEFAULT_POOL = TODAY
PAPER_LABEL = ("the 2022 OSPool the paper ran on (built-in inventory; replays the paper's pool: "
               "today's OSPool no longer advertises OSGVO_CPU_MODEL)")


def pool_ads(pool: Optional[Union[str, Path]] = None) -> Tuple[List["classad.ClassAd"], str]:
    """The machine ads a pin is judged against, and a label saying which pool that is.

    ``pool``: None or ``"today"`` (this description), ``"ospool-2022"`` (the paper's pool)
    or a ``condor_status -json`` capture, which overrides both.
    """
    if pool is None:
        pool = DEFAULT_POOL
    if str(pool) == TODAY:
        return today_machine_ads(), LABEL
    if str(pool) == PAPER:
        return builtin_machine_ads(), PAPER_LABEL
    path = Path(pool)
    if not path.is_file():
        raise UserError.of(f"no pool capture at {path}", [Problem(
            f"--pool {path}", "does not exist: capture one on an access point with "
            f"condor_status -json > {path.name} and copy it here; or leave --pool out to use the built-in "
            f"description of today's OSPool ({DESCRIBED}), or pass --pool {PAPER} for the 2022 pool the "
            "paper ran on")])
    return load_pool(path), f"the pool capture {path}"
