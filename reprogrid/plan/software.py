"""Software stacks worth trying: framework minor versions, Keras backend, oneDNN on/off.

Owns the curated table of candidate versions (no package index is queried at run time:
``VERSIONS`` below is dated; ``--versions FILE`` replaces it with the user's own list,
one ``package version [version ...]`` line each) and the proposal rule: every stack the
requirements allow (the newest patch of each TensorFlow minor version; Keras 2 for
TensorFlow <= 2.15, Keras 3 after it, with the JAX / PyTorch backends when the
requirements name them; oneDNN on and off) is a candidate, and stacks are chosen
greedily to cover the most weighted new values (oldest and newest framework first). The
workload's other requirements go into every proposed stack unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from reprogrid.core.errors import Problem, UserError
from reprogrid.plan.evidence import SOFTWARE_DIMENSIONS, EvidenceRow, dimension_weights

#: When the table below was written, and what it is.
VERSIONS_DATE = "2026-12-07"
VERSIONS_NOTE = (f"curated table of {VERSIONS_DATE} (PyPI releases known to reprogrid, newest patch per minor "
                 "version; no index is queried: pass --versions FILE for newer ones)")
#: package -> versions (newest patch of each minor that PyPI published).
VERSIONS: Dict[str, Tuple[str, ...]] = {
    "tensorflow": ("2.12.1", "2.13.1", "2.14.1", "2.15.1", "2.16.2", "2.17.1", "2.18.1", "2.19.1", "2.20.0"),
    "keras": ("2.15.0", "3.5.0", "3.6.0", "3.8.0", "3.10.0"),
    "jax": ("0.4.30", "0.4.38"),
    "torch": ("2.4.1", "2.5.1"),
}
#: The last TensorFlow whose tf.keras is Keras 2 (2.16 switched to Keras 3).
LAST_KERAS2_TF = Version("2.15.99")
TF_PACKAGES = ("tensorflow", "tensorflow-cpu")
#: The frameworks --software varies (requirement names after TF_PACKAGES fold into tensorflow).
FRAMEWORKS = ("tensorflow", "keras", "jax", "jaxlib", "torch")


@dataclass(frozen=True)
class Stack:
    """One proposed software stack."""

    tensorflow: str
    keras: str
    backend: str
    onednn: bool
    backend_version: str = ""  # the jax / torch version for those backends
    others: Tuple[str, ...] = ()  # the workload's other requirements, carried into every stack

    @property
    def values(self) -> Dict[str, str]:
        minor = ".".join(self.tensorflow.split(".")[:2])
        return {"framework_version": f"tensorflow {minor}", "keras_backend": self.backend,
                "onednn": "on" if self.onednn else "off"}

    @property
    def name(self) -> str:
        minor = ".".join(self.tensorflow.split(".")[:2])
        keras = "keras2" if self.keras.startswith("2.") else f"keras3-{self.backend}"
        return f"tf-{minor}-{keras}-onednn-{'on' if self.onednn else 'off'}"

    def entry(self) -> Dict[str, Any]:
        """The ``software:`` entry (a local stand-in included, as ``reprogrid envs build`` makes it)."""
        packages = [f"tensorflow-cpu=={self.tensorflow}"]
        if not self.keras.startswith("2."):
            packages.append(f"keras=={self.keras}")
        if self.backend in ("jax", "torch") and self.backend_version:
            packages.append(f"{self.backend}=={self.backend_version}")
        packages += list(self.others)
        env = {"TF_ENABLE_ONEDNN_OPTS": "1" if self.onednn else "0"}
        if self.backend in ("jax", "torch"):
            env["KERAS_BACKEND"] = self.backend
        return {"name": self.name, "image": f"docker://tensorflow/tensorflow:{self.tensorflow}",
                "versions": {"tensorflow": self.tensorflow, "keras": self.keras},
                "description": f"proposed by reprogrid plan --software ({VERSIONS_NOTE})",
                "local": {"packages": packages, "env": env}}


def read_versions(path: Path) -> Dict[str, Tuple[str, ...]]:
    """``--versions FILE``: lines ``package version [version ...]`` (``#`` comments)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError.of("cannot read the versions list", [Problem(f"--versions {path}", f"{err}; pass a text file")])
    out: Dict[str, List[str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < 2:
            raise UserError.of("bad versions list", [Problem(f"{path}:{n}", "expected: package version [version ...]")])
        for word in words[1:]:
            try:
                Version(word)
            except InvalidVersion:
                raise UserError.of("bad versions list", [Problem(f"{path}:{n}", f"{word!r} is not a version")]) from None
        out.setdefault(words[0].lower(), []).extend(words[1:])
    return {k: tuple(v) for k, v in out.items()}


def read_requirements(path: Optional[Path]) -> Dict[str, Requirement]:
    """The workload's pip requirements (``name`` -> requirement): the frameworks bound the
    proposed stacks, the others are carried into each of them."""
    if path is None:
        return {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UserError.of("cannot read the requirements", [Problem(f"--requirements {path}", f"{err}")])
    out: Dict[str, Requirement] = {}
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement as err:
            raise UserError.of("bad requirements file", [Problem(f"{path}:{n}", f"{err}; write e.g. tensorflow>=2.12,<2.18")]) from None
        name = "tensorflow" if req.name.lower() in TF_PACKAGES else req.name.lower()
        out[name] = req
    return out


def _allowed(package: str, versions: Mapping[str, Sequence[str]], reqs: Mapping[str, Requirement]) -> List[str]:
    req = reqs.get(package)
    return sorted((v for v in versions.get(package, ()) if req is None or req.specifier.contains(v, prereleases=False)),
                  key=Version)


def candidate_stacks(versions: Mapping[str, Sequence[str]], reqs: Mapping[str, Requirement]) -> List[Stack]:
    """Every stack the requirements allow (see the module docstring)."""
    tfs = _allowed("tensorflow", versions, reqs)
    keras = _allowed("keras", versions, reqs)
    newest = {b: (_allowed(b, versions, reqs) or [""])[-1] for b in ("jax", "torch")}
    out = []
    for tf in tfs:
        if Version(tf) <= LAST_KERAS2_TF:
            pairs = [(".".join(tf.split(".")[:2]) + ".0", "tensorflow (Keras 2)")]
        else:
            k3 = [k for k in keras if Version(k) >= Version("3")]
            if not k3:
                continue
            backends = ["tensorflow"] + [b for b in ("jax", "torch") if b in reqs and newest[b]]
            pairs = [(k3[-1], b) for b in backends]
        for k, backend in pairs:
            out += [Stack(tf, k, backend, onednn, newest.get(backend, "")) for onednn in (True, False)]
    return out


def propose_stacks(count: int, versions: Mapping[str, Sequence[str]], reqs: Mapping[str, Requirement],
                   evidence: Sequence[EvidenceRow], device_class: str = "cpu") -> Tuple[List[Stack], Dict[str, float]]:
    """``count`` stacks: greedy weighted coverage; ties go to the framework version farthest
    from those already chosen (so the oldest and the newest come first)."""
    if reqs and not any(name in FRAMEWORKS for name in reqs):
        raise UserError.of("no framework to vary", [Problem(
            "--requirements", f"names none of TensorFlow, Keras, JAX or PyTorch ({', '.join(sorted(reqs))}): "
            "--software varies frameworks (TensorFlow/Keras/JAX/PyTorch) and none was found; add the framework "
            "the workload imports, e.g. tensorflow>=2.12")])
    others = tuple(str(req) for name, req in sorted(reqs.items()) if name not in FRAMEWORKS)
    stacks = [replace(s, others=others) for s in candidate_stacks(versions, reqs)]
    if not stacks:
        raise UserError.of("no stack to propose", [Problem(
            "--requirements", "no known TensorFlow version satisfies the requirements: widen them, or pass "
            f"--versions FILE with the versions you can install ({VERSIONS_NOTE})")])
    weights = dimension_weights(evidence, device_class, SOFTWARE_DIMENSIONS)
    weights.pop("cuda_cudnn", None)  # set by the image, not chosen here
    sizes = {d: len({s.values[d] for s in stacks}) for d in weights}
    order = sorted({Version(s.tensorflow) for s in stacks})
    chosen: List[Stack] = []
    covered = set()
    while len(chosen) < min(count, len(stacks)):
        def key(s: Stack) -> Tuple[float, int, str]:
            gain = sum(weights[d] / sizes[d] for d, v in s.values.items() if d in weights and (d, v) not in covered)
            pos = order.index(Version(s.tensorflow))
            far = min((abs(pos - order.index(Version(c.tensorflow))) for c in chosen), default=len(order) - pos)
            return (round(gain, 12), far, s.name)
        best = max((s for s in stacks if s not in chosen), key=key)
        chosen.append(best)
        covered |= set(best.values.items())
    return chosen, weights
