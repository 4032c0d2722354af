"""The study spec: what to run, validated, and expanded into runs with stable ids.

A study is workloads x software environments x hardware environments x repeats. This
module holds its dataclasses and the expansion into cells and runs; ``validate`` builds
them from plain data (YAML or a dict), and :meth:`Study.validated` sends dataclasses built
in Python through the same validator.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

import yaml

from reprogrid.core.naming import cell_name, run_id, slug
from reprogrid.job import catalogue

CPU_VENDORS = {"amd": (23, 25, 26), "intel": (6,)}
MICROARCH_LEVELS = ("x86_64-v1", "x86_64-v2", "x86_64-v3", "x86_64-v4")
POOL_PROFILES = ("ospool", "ospool-2022", "custom")
# ----------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Metrics:
    """Which metric judges a workload, and whether a higher value is better."""

    primary: str = catalogue.BUILTIN_PRIMARY
    higher_is_better: bool = catalogue.BUILTIN_HIGHER_IS_BETTER


@dataclass(frozen=True)
class Workload:
    """What one run trains. Its kind follows from the fields set (see ``job/catalogue.py``):

    - built-in: ``name`` is a catalogue example, or ``example`` names one, with ``options``
      (a variant, e.g. a narrower LSTM); ``task`` groups variants of one task for claims;
    - command: ``command`` (argv) runs in the sandbox and writes ``metrics.json``;
    - entry: ``entry`` (``FILE.py:NAME`` or ``module:NAME``) is called by the job.

    ``files`` (relative to the spec) ship with each job; ``data`` are the workload's own inputs.
    """

    name: str
    epochs: Optional[int] = None
    max_samples: Optional[int] = None
    determinism: bool = True
    example: Optional[str] = None
    options: Mapping[str, Any] = field(default_factory=dict)
    task: Optional[str] = None
    command: Tuple[str, ...] = ()
    entry: Optional[str] = None
    files: Tuple[str, ...] = ()
    data: Tuple[str, ...] = ()
    metrics: Optional[Metrics] = None

    @property
    def kind(self) -> str:
        if self.command:
            return catalogue.KIND_COMMAND
        if self.entry:
            return catalogue.KIND_ENTRY
        return catalogue.KIND_BUILTIN

    @property
    def builtin(self) -> Optional[str]:
        """The catalogue example a built-in workload runs (None for user workloads)."""
        if self.kind != catalogue.KIND_BUILTIN:
            return None
        return self.example or self.name

    @property
    def task_name(self) -> str:
        """The task this workload is a variant of (default: the example's name, or its own)."""
        return self.task or self.builtin or self.name

    @property
    def primary_metric(self) -> str:
        return self.metrics.primary if self.metrics else catalogue.BUILTIN_PRIMARY

    @property
    def higher_is_better(self) -> bool:
        return self.metrics.higher_is_better if self.metrics else catalogue.BUILTIN_HIGHER_IS_BETTER

    @property
    def data_file(self) -> Optional[str]:
        """The catalogue data file of a built-in workload (None for user workloads)."""
        return catalogue.data_file(self.builtin) if self.builtin else None


@dataclass(frozen=True)
class LocalStack:
    """The local stand-in for a container: Python packages that make the same stack here.

    ``packages`` are pip requirements (``tensorflow-cpu==2.15.1``, ``jax[cpu]==0.4.38``),
    ``env`` the environment variables the stack runs with (``KERAS_BACKEND: jax``).
    ``reprogrid envs build`` provisions it into a cached virtualenv keyed by their hash
    (``reprogrid.prepare.envs``); ``reprogrid dryrun`` runs the container's jobs with it.
    """

    packages: Tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    #: the base image the same stack installs into for the pool (``docker://python:3.11-slim``);
    #: ``reprogrid images def`` writes its Apptainer definition from the stack's lock
    base: Optional[str] = None


@dataclass(frozen=True)
class SoftwareEnv:
    """A container: ``image`` is a docker:// reference, a .sif path, an osdf:// URL or a /cvmfs path."""

    name: str
    image: str
    versions: Mapping[str, str] = field(default_factory=dict)
    local_python: Optional[str] = None
    description: str = ""
    local: Optional[LocalStack] = None

    @property
    def image_kind(self) -> str:
        if self.image.startswith("docker://"):
            return "docker"
        if self.image.startswith("osdf://"):
            return "osdf"
        if self.image.startswith("/cvmfs/"):
            return "cvmfs"
        return "sif"


@dataclass(frozen=True)
class CpuPin:
    vendor: Optional[str] = None
    family: Optional[int] = None
    model_number: Optional[int] = None
    model: Optional[str] = None
    microarch: Optional[str] = None
    min_microarch: Optional[str] = None
    flags: Tuple[str, ...] = ()
    without_flags: Tuple[str, ...] = ()


@dataclass(frozen=True)
class GpuPin:
    count: int = 1
    device_name: Optional[str] = None
    capability: Optional[float] = None
    min_capability: Optional[float] = None
    max_capability: Optional[float] = None
    min_memory_mb: Optional[int] = None


@dataclass(frozen=True)
class HardwareEnv:
    name: str
    cpu: Optional[CpuPin] = None
    gpu: Optional[GpuPin] = None
    sites: Tuple[str, ...] = ()
    os: Optional[str] = None
    requirements: Optional[str] = None
    description: str = ""

    @property
    def device(self) -> str:
        return "gpu" if self.gpu is not None else "cpu"


@dataclass(frozen=True)
class Resources:
    cpus: int = 1
    memory_mb: int = 4096
    disk_mb: int = 8192
    gpus: Optional[int] = None


@dataclass(frozen=True)
class DataInputs:
    """Where the data files come from: local paths, ``osdf://`` or ``https://`` URLs, or the samples."""

    inputs: Tuple[str, ...] = ()
    sample: bool = False


@dataclass(frozen=True)
class Throttles:
    max_jobs: Optional[int] = None
    max_idle: Optional[int] = None
    max_jobs_per_hardware: Optional[int] = None


@dataclass(frozen=True)
class Pool:
    profile: str = "ospool"
    cpu_model_attribute: Optional[str] = None

    @property
    def model_attribute(self) -> Optional[str]:
        if self.cpu_model_attribute:
            return self.cpu_model_attribute
        return "OSGVO_CPU_MODEL" if self.profile == "ospool-2022" else None


@dataclass(frozen=True)
class Output:
    destination: Optional[str] = None


@dataclass(frozen=True)
class Author:
    """A study author (``authors`` in the spec; see ``spec/credits.py``): ``orcid`` is its URL."""

    name: str
    orcid: Optional[str] = None
    affiliation: Optional[str] = None


class Cell(NamedTuple):
    """A workload in one software environment on one hardware environment; its repeats are runs."""

    cell: str
    workload: Workload
    software: SoftwareEnv
    hardware: HardwareEnv


class Run(NamedTuple):
    """One training run: a DAG node, a job, one result record (``run_id``: see ``core.naming``)."""

    run_id: str
    cell: str
    workload: Workload
    software: SoftwareEnv
    hardware: HardwareEnv
    repeat: int
    seed: int


@dataclass(frozen=True)
class Study:
    name: str
    workloads: Tuple[Workload, ...]
    software: Tuple[SoftwareEnv, ...]
    hardware: Tuple[HardwareEnv, ...]
    repeats: int = 1
    seed: int = 1
    seed_per_repeat: bool = False
    description: str = ""
    resources: Resources = field(default_factory=Resources)
    data: DataInputs = field(default_factory=DataInputs)
    retries: int = 2
    throttles: Throttles = field(default_factory=Throttles)
    pool: Pool = field(default_factory=Pool)
    output: Output = field(default_factory=Output)
    license: Optional[str] = None
    authors: Tuple[Author, ...] = ()

    @property
    def study_id(self) -> str:
        return slug(self.name)

    def to_dict(self) -> Dict[str, Any]:
        """The normalised spec as plain data (what ``study.yaml`` in a submit tree holds)."""
        data = asdict(self)
        resources = data["resources"]
        resources["memory"] = f"{resources.pop('memory_mb')}MB"
        resources["disk"] = f"{resources.pop('disk_mb')}MB"
        return _prune(data)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False, width=100)

    def cells(self) -> List[Cell]:
        """Every workload x software x hardware combination, in a stable order."""
        return [
            Cell(cell_name(w.name, s.name, h.name), w, s, h)
            for w in self.workloads
            for s in self.software
            for h in self.hardware
        ]

    def seeds(self) -> List[int]:
        """The seed of each repeat (the same for all unless ``seed_per_repeat``)."""
        return [self.seed + r if self.seed_per_repeat else self.seed for r in range(self.repeats)]

    @property
    def run_count(self) -> int:
        return len(self.workloads) * len(self.software) * len(self.hardware) * self.repeats

    def runs(self) -> List[Run]:
        """Every run, in a stable order: workload, software, hardware, repeat."""
        seeds = self.seeds()
        return [Run(run_id(c.cell, r), *c, r, seeds[r]) for c in self.cells() for r in range(self.repeats)]

    def gpus_for(self, hardware: HardwareEnv) -> int:
        if hardware.gpu is None:
            return 0
        return self.resources.gpus if self.resources.gpus is not None else hardware.gpu.count


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v not in (None, (), [], {}, "")}
    if isinstance(value, (list, tuple)):
        return [_prune(v) for v in value]
    return value


# ------------------------------------------------------------------------ validation


