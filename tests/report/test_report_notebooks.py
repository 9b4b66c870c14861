"""The notebooks execute headless (nbclient) against the records of a real tiny sweep, so they never rot."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize("name", ["01_paper_tables.ipynb", "02_tradeoffs.ipynb"])
def test_notebook_runs_without_error(name, tiny_sweep, edge_records, monkeypatch):
    monkeypatch.setenv("ALIGNBENCH_REPORT_RUNS", os.pathsep.join([str(tiny_sweep), str(edge_records)]))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # committed clean
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()  # raises CellExecutionError
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in outputs)
    assert "tiny_llama" in shown  # the sweep's runs reached the notebook
