"""A table to Markdown, CSV (numbers) and LaTeX (booktabs) files, through pandas' own writers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from alignbench.report.tables import MISSING, Table


def flat(table: Table) -> pd.DataFrame:
    """The display table with its row levels as ordinary columns."""
    return table.display.reset_index()


def markdown(table: Table) -> str:
    """The display table as GitHub Markdown (pandas -> tabulate)."""
    return flat(table).to_markdown(index=False)


def latex(table: Table) -> str:
    """A booktabs table (pandas Styler): ± becomes $\\pm$, the missing mark an en dash."""
    body = flat(table).to_latex(
        index=False, escape=True, caption=table.title, label=f"tab:{table.name}", position="htbp"
    )
    return body.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace(MISSING, "--")


def write_table(table: Table, folder: Path) -> dict[str, Path]:
    """<name>.md, <name>.csv (one row per cell and benchmark: mean, std, n, ...), <name>.tex."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {ext: folder / f"{table.name}.{ext}" for ext in ("md", "csv", "tex")}
    paths["md"].write_text(f"### {table.title}\n\n{table.note}\n\n{markdown(table)}\n")
    table.cells.to_csv(paths["csv"], index=False)
    paths["tex"].write_text(latex(table))
    return paths
