"""The notebooks execute headless (nbclient, through `alignbench.report.notebooks`, what `make notebooks` runs)
against the records of a real tiny sweep, so they never rot; the executed copies keep their outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from alignbench.report.notebooks import execute, main

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_paper_tables.ipynb", "02_tradeoffs.ipynb"])
def test_notebook_runs_without_error(name, tiny_sweep, edge_records, tmp_path):
    committed = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in committed.cells if cell.cell_type == "code")  # committed clean
    (saved,) = execute([tiny_sweep, edge_records], tmp_path / "out", [NOTEBOOKS / name])  # raises CellExecutionError
    assert saved == tmp_path / "out" / name
    notebook = nbformat.read(saved, as_version=4)  # the executed copy a user opens, outputs and all
    assert nbformat.read(NOTEBOOKS / name, as_version=4) == committed  # the committed notebook stays clean
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in outputs)
    assert "tiny_llama" in shown  # the sweep's runs reached the notebook


def test_a_missing_sweep_folder_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    missing = tmp_path / "nowhere"
    assert capsys.readouterr().err == f"alignbench.report.notebooks: {missing}: no such file or directory\n"
    assert not (tmp_path / "nowhere").exists()
