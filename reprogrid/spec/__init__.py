"""The study spec: what to run (``model``), its one validator (``validate``), presets.

Owns the study's dataclasses, their validation (every problem at once, with its path and
fix) and the expansion into cells and runs with stable ids. May import ``core``,
``condor`` (to parse raw requirements) and the workload catalogue of ``job``.
"""
from reprogrid.spec.model import (
    Cell, CpuPin, DataInputs, GpuPin, HardwareEnv, Output, Pool, Resources, Run, SoftwareEnv, Study,
    Throttles, Workload,
)
from reprogrid.spec.presets import PRESETS, coakley2022, demo, preset_study, preset_yaml
from reprogrid.spec.validate import load_study, study_from_dict

__all__ = [
    "Cell", "CpuPin", "DataInputs", "GpuPin", "HardwareEnv", "Output", "PRESETS", "Pool", "Resources", "Run",
    "SoftwareEnv", "Study", "Throttles", "Workload", "coakley2022", "demo", "load_study", "preset_study",
    "preset_yaml", "study_from_dict",
]
