"""Shared test helpers: paths to the repository, the shared reference data, presets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("CONDOR_CONFIG", "/dev/null")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def reference_csv() -> Path:
    path = SHARED_REFERENCE / "coakley2022_runs.csv"
    if not path.exists():
        pytest.skip(f"the original study's data is not beside the checkout ({path})")
    return path
