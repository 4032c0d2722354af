"""The study spec: what to run (``definitions``), its one validator (``validate``), presets.

Owns the study's dataclasses, their validation (every problem at once, with its path and
fix) and the expansion into cells and runs with stable ids. May import ``core``,
``condor`` (to parse raw requirements) and the workload catalogue of ``job``.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".definitions": [
        "Cell", "CpuPin", "DataInputs", "GpuPin", "HardwareEnv", "Output", "Pool", "Resources", "Run",
        "SoftwareEnv", "Study", "Throttles", "Workload"
    ],
    ".presets": ["PRESETS", "coakley2022", "demo", "preset_study", "preset_yaml"],
    ".validate": ["load_study", "study_from_dict", "validate_study"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = [
    "Cell", "CpuPin", "DataInputs", "GpuPin", "HardwareEnv", "Output", "PRESETS", "Pool", "Resources",
    "Run", "SoftwareEnv", "Study", "Throttles", "Workload", "coakley2022", "demo", "load_study",
    "preset_study", "preset_yaml", "study_from_dict", "validate_study"
]
