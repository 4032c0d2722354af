"""Where the package's data folders are: templates, Singularity definitions, sample data.

An installed package carries ``templates/`` and ``singularity/`` as ``reprogrid/_templates``
and ``reprogrid/_singularity`` (see setup.py); a source checkout (or editable install) uses
the top-level folders of the repository.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _data_dir(name: str) -> Path:
    installed = PACKAGE_DIR / f"_{name}"
    if installed.is_dir():
        return installed
    checkout = PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"reprogrid's {name}/ folder is missing: reinstall the package (pip install .)"
    )


def templates_dir() -> Path:
    """The built-in Jinja template folder."""
    return _data_dir("templates")


def singularity_dir() -> Path:
    """The built-in Apptainer/Singularity definition files."""
    return _data_dir("singularity")


def sample_data_dir() -> Path:
    """Small sample data files in the published formats (labelled as samples)."""
    return PACKAGE_DIR / "sampledata"
