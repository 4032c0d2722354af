"""Ready-made study specs: the original study (``coakley2022``) and the scaled-down demo.

Presets are YAML text, so ``reprogrid init`` writes exactly what a user would edit; they
go through the same validation as any study file.
"""
from __future__ import annotations

import copy
from typing import Dict, List

import yaml

from reprogrid.condor.inventory import MACHINES
from reprogrid.spec.definitions import Study
from reprogrid.spec.validate import study_from_dict

_SOFTWARE_2022 = [
    {"name": "dockerhub-2.8.0", "image": "docker://tensorflow/tensorflow:2.8.0-gpu",
     "versions": {"python": "3.8.10", "tensorflow": "2.8.0", "cuda": "11.2", "cudnn": "8.1"}},
    {"name": "dockerhub-2.9.1", "image": "docker://tensorflow/tensorflow:2.9.1-gpu",
     "versions": {"python": "3.8.10", "tensorflow": "2.9.1", "cuda": "11.2", "cudnn": "8.1"}},
    {"name": "ngc-22.03", "image": "docker://nvcr.io/nvidia/tensorflow:22.03-tf2-py3",
     "versions": {"python": "3.8.10", "tensorflow": "2.8.0", "cuda": "11.6.1", "cudnn": "8.3.3"}},
    {"name": "ngc-22.06", "image": "docker://nvcr.io/nvidia/tensorflow:22.06-tf2-py3",
     "versions": {"python": "3.8.10", "tensorflow": "2.9.1", "cuda": "11.7.1", "cudnn": "8.4.1"}},
]

_GPUS = {
    "gpu-a100": {"device_name": "NVIDIA A100-PCIE-40GB", "capability": 8.0},
    "gpu-a40": {"device_name": "NVIDIA A40", "capability": 8.6},
    "gpu-v100": {"capability": 7.0, "min_memory_mb": 16000},
}  # fresh copies are handed out: callers (and tests) edit what they get


def _cpu_hardware() -> List[Dict]:
    out = []
    for m in MACHINES:
        if m.gpu is not None:
            continue
        out.append({
            "name": m.hardware_env,
            "cpu": {
                "vendor": "amd" if m.cpu_family != 6 else "intel",
                "family": m.cpu_family,
                "model_number": m.cpu_model_number,
                "model": m.cpu_model,
                "microarch": m.microarch,
            },
        })
    return out


def coakley2022() -> Dict:
    """The original study: 3 workloads x 4 containers x 13 hardware environments x 5 repeats."""
    hardware = _cpu_hardware() + [{"name": name, "gpu": dict(gpu)} for name, gpu in _GPUS.items()]
    return {
        "name": "coakley2022",
        "description": (
            "Coakley, Kirkpatrick, Gundersen: Examining the Effect of Implementation Factors on "
            "Deep Learning Reproducibility (IEEE eScience 2022), as run on the 2022 OSPool."
        ),
        "seed": 1,
        "repeats": 5,
        "workloads": ["mnist_convnet", "bidirectional_lstm_imdb", "imbalanced_classification"],
        "software": copy.deepcopy(_SOFTWARE_2022),
        "hardware": hardware,
        "resources": {"cpus": 2, "memory": "8GB", "disk": "10GB", "gpus": 1},
        "data": {
            "inputs": [
                "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
                "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz",
                "osdf:///ospool/ap40/data/YOUR_USER/reprogrid/creditcard.csv",
            ]
        },
        "retries": 2,
        "throttles": {"max_idle": 200, "max_jobs_per_hardware": 25},
        "pool": {"profile": "ospool-2022"},
    }


#: The demo's two real software stacks: this machine's TensorFlow (Keras 3, what
#: ``pip install ".[tensorflow]"`` installed) and TensorFlow 2.15 with Keras 2, the last
#: Keras 2 release for Python 3.11, provisioned by ``reprogrid envs build demo``.
_DEMO_SOFTWARE = [
    {"name": "tf-keras3", "image": "docker://tensorflow/tensorflow:2.21.0",
     "description": "TensorFlow with Keras 3; runs locally on the interpreter running reprogrid"},
    {"name": "tf-2.15-keras2", "image": "docker://tensorflow/tensorflow:2.15.0",
     "versions": {"tensorflow": "2.15.1", "keras": "2.15.0"},
     "description": "TensorFlow 2.15 with Keras 2 (tf.keras), as the study's 2022 containers had",
     "local": {"packages": ["tensorflow-cpu==2.15.1"]}},
]

#: Emulated machines with different logical CPU counts (64, 80, 40): TensorFlow sizes its
#: default pools from them, as on the real hosts.
_DEMO_MACHINES = ["amd-epyc-7302", "intel-xeon-gold-6148", "intel-xeon-e5-2650v3"]


def demo() -> Dict:
    """A scaled-down study for one machine: every workload, 2 software stacks, 3 machines, 2 repeats."""
    full = coakley2022()
    return {
        "name": "demo",
        "description": ("Scaled-down coakley2022 on bundled SAMPLE data, for a local dry run: two real "
                        "TensorFlow stacks (Keras 3, and 2.15 with Keras 2) on three emulated machines "
                        "whose hosts have 64, 80 and 40 logical CPUs."),
        "seed": 1,
        "repeats": 2,
        "workloads": [
            {"name": "mnist_convnet", "epochs": 2, "max_samples": 1000},
            {"name": "bidirectional_lstm_imdb", "epochs": 2, "max_samples": 160},
            {"name": "imbalanced_classification", "epochs": 2, "max_samples": 2000},
        ],
        "software": copy.deepcopy(_DEMO_SOFTWARE),
        "hardware": [h for h in full["hardware"] if h["name"] in _DEMO_MACHINES],
        "resources": {"cpus": 1, "memory": "2GB", "disk": "1GB"},
        "data": {"sample": True},
        "retries": 1,
        "pool": {"profile": "ospool-2022"},
    }


PRESETS = {"coakley2022": coakley2022, "demo": demo}


def preset_yaml(name: str) -> str:
    """The preset as a commented YAML study file."""
    data = PRESETS[name]()
    header = (
        f"# reprogrid study: preset {name!r}.\n"
        "# Validate: reprogrid validate THIS_FILE   Render: reprogrid render THIS_FILE -o DIR\n"
        "# Reference of every key: docs/spec-reference.md\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, width=100)


def preset_study(name: str) -> Study:
    return study_from_dict(PRESETS[name](), source=f"preset {name}")
