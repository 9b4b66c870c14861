"""A table to Markdown, CSV (numbers) and LaTeX (booktabs) files, through pandas' own writers; every CSV and every
Markdown text of the report goes through the helpers here (`write_csv`, `md_text`), so record strings can neither
run as spreadsheet formulas nor land as raw HTML."""

from __future__ import annotations

import csv
from html import escape
from pathlib import Path

import pandas as pd

from alignbench.report.tables import MISSING, Table

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection: what a spreadsheet reads as a formula


def csv_cell(value):
    """A text cell a spreadsheet would run as a formula gets a leading single quote; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell (and column name) escaped by csv_cell; numeric columns untouched."""
    safe = frame.copy()
    for column in safe.columns:
        if not (pd.api.types.is_numeric_dtype(safe[column]) or pd.api.types.is_bool_dtype(safe[column])):
            safe[column] = safe[column].map(csv_cell)
    safe.columns = [csv_cell(c) for c in safe.columns]
    return safe


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The one way the report writes a CSV: escaped against formula injection, without the index; text quoted (a
    carriage return inside a cell stays in it), numbers bare."""
    csv_safe(frame).to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path


def md_text(value) -> str:
    """A string from a record, safe in Markdown: < > & escaped (no raw HTML), | escaped (no broken table row)."""
    return escape(str(value), quote=False).replace("|", "&#124;")


def md_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell, index value and column name of `frame` through md_text (numbers stay numbers)."""
    safe = frame.map(lambda v: md_text(v) if isinstance(v, str) else v)
    safe.columns = [md_text(c) for c in safe.columns]
    return safe


def flat(table: Table) -> pd.DataFrame:
    """The display table with its row levels as ordinary columns."""
    return table.display.reset_index()


def markdown(table: Table, display: pd.DataFrame | None = None) -> str:
    """The display table (or `display`, a part of it) as GitHub Markdown (pandas -> tabulate), record strings
    escaped."""
    shown = table.display if display is None else display
    return md_frame(shown.reset_index()).to_markdown(index=False)


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
    paths["md"].write_text(f"### {md_text(table.title)}\n\n{md_text(table.note)}\n\n{markdown(table)}\n")
    write_csv(table.cells, paths["csv"])
    paths["tex"].write_text(latex(table))
    return paths
