"""`python -m alignbench.report.notebooks RUNS [RUNS ...] [--out DIR]`: run the study notebooks headless on a sweep's
records and save executed copies, outputs and figures included, that a user opens without a kernel.

The notebooks in notebooks/ are committed without outputs; they read the records from ALIGNBENCH_REPORT_RUNS
(os.pathsep-separated), which this sets for the kernel. Default --out: <first RUNS>/notebooks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
RUNS_VARIABLE = "ALIGNBENCH_REPORT_RUNS"


def execute(runs: list[str | Path], out: str | Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Execute each notebook (default: notebooks/*.ipynb) on the records under `runs`; the executed copies in `out`.

    A cell that fails raises nbclient's CellExecutionError naming the cell; the copy is written first, so its
    traceback can be read in the notebook too."""
    import nbformat
    from nbclient import NotebookClient

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    previous = os.environ.get(RUNS_VARIABLE)
    os.environ[RUNS_VARIABLE] = os.pathsep.join(str(Path(r).resolve()) for r in runs)  # the kernel inherits it
    try:
        for path in notebooks or sorted(NOTEBOOKS.glob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            client = NotebookClient(
                notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            )
            try:
                client.execute()
            finally:
                nbformat.write(notebook, out / path.name)
                written.append(out / path.name)
    finally:
        if previous is None:
            os.environ.pop(RUNS_VARIABLE, None)
        else:
            os.environ[RUNS_VARIABLE] = previous
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alignbench.report.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="sweep folders (multirun/<sweep>), run folders or record.json files")
    parser.add_argument("--out", help="where the executed copies go (default: <first RUNS>/notebooks)")
    args = parser.parse_args(argv)
    missing = [r for r in args.runs if not Path(r).exists()]
    if missing:
        print(f"alignbench.report.notebooks: {missing[0]}: no such file or directory", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.runs[0]) / "notebooks"
    from nbclient.exceptions import CellExecutionError

    try:
        written = execute(args.runs, out)
    except CellExecutionError as err:
        print(f"alignbench.report.notebooks: a cell failed: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    for path in written:
        print(f"executed: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
