"""docs/notebooks/quickstart.ipynb runs, top to bottom, in a kernel of this very
environment (nbclient), so it cannot rot: study -> render -> emulated dry run -> status ->
gather -> report tables and plots."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("tensorflow")

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "notebooks" / "quickstart.ipynb"
KERNEL = "reprogrid-test"


@pytest.fixture
def kernel_here(tmp_path: Path, monkeypatch) -> str:
    """A kernelspec whose interpreter is the one running the tests (not whatever
    'python3' means on this machine)."""
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "reprogrid tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("REPROGRID_PROGRESS", "0")
    return KERNEL


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_quickstart_notebook_runs(tmp_path: Path, kernel_here: str):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path / "run"
    work.mkdir()
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name=kernel_here,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any failure

    def text_of(cell) -> str:
        parts = []
        for out in cell.outputs:
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
        return "".join(parts)

    outputs = "\n".join(text_of(c) for c in nb.cells if c.cell_type == "code")
    assert re.search(r"exit code 0: \d+ nodes done, 0 failed, 5 jobs", outputs)  # 4 runs + FINAL gather
    assert "study quickstart: 4 runs - done 4," in outputs
    assert "4 records" in outputs
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the accuracy plot was not shown inline"
    html = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "text/html" in o.get("data", {})]
    assert len(html) >= 3, "the report's tables were not shown as DataFrames"
    assert (work / "quickstart-work" / "report" / "report.html").is_file()
    assert len(list((work / "quickstart-work" / "submit" / "results").glob("*.parquet"))) == 4
