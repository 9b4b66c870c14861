"""The report's two front pages: index.md (links the files) and a self-contained index.html (embeds them)."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

import pandas as pd

from alignbench.report.figures import Figure
from alignbench.report.render import flat, markdown
from alignbench.report.tables import Absent, Table

FINDING_COLUMNS = [
    "finding",
    "role",
    "check",
    "expect",
    "cells",
    "seeds",
    "effect",
    "iqm",
    "ci_low",
    "ci_high",
    "p_improvement",
    "p_holm",
    "verdict",
    "why",
    "paper_text",
    "mde",
]
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1500px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.6em 0 1.4em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; }
th, td:first-child { white-space: nowrap; }
th { background: #f1f3f5; }
.scroll { overflow-x: auto; }
img { max-width: 100%; border: 1px solid #eee; }
.note, .absent { color: #555; font-size: 13px; }
.supported { background: #d3f9d8; } .contradicted { background: #ffe3e3; }
.inconclusive { background: #fff3bf; } .absent-v { background: #f1f3f5; }
code { background: #f1f3f5; padding: 0 3px; }
"""


def _summary_lines(summary: dict) -> list[str]:
    lines = [
        f"Runs found: {summary['runs']} ({summary['completed']} completed, {summary['failed']} failed, "
        f"{summary['other']} running or interrupted); unreadable records skipped: {summary['unreadable']}.",
        f"Sources: {', '.join(summary['sources'])}.",
    ]
    lines += [f"Split into separate tables, never averaged: {line}." for line in summary.get("splits", [])]
    if summary.get("derived"):
        lines.append(f"{summary['derived']} old records (no study block): axes derived from their config.")
    if summary.get("duplicates"):
        lines.append(f"{summary['duplicates']} records reached twice (same run key) were counted once.")
    lines += [f"Power: {line}" for line in summary.get("power", [])]
    return lines


def _findings_frame(findings: pd.DataFrame) -> pd.DataFrame:
    shown = findings[FINDING_COLUMNS].copy()
    signed, plain = ("effect", "iqm", "ci_low", "ci_high"), ("p_improvement", "p_holm", "mde")
    for column in signed + plain:
        form = "+.3g" if column in signed else ".3g"  # effects carry their sign; probabilities and sizes do not
        shown[column] = shown[column].map(lambda v, form=form: "" if pd.isna(v) else format(v, form))
    return shown


def index_md(summary: dict, tables: list, figures: list, findings: pd.DataFrame, test: str, prov: dict) -> str:
    """Markdown that shows the findings and tables inline and links every file of the report."""
    out = [
        "# Study report",
        "",
        *_summary_lines(summary),
        "",
        "## The paper's takeaways, checked",
        "",
        f"Test: {test}. Effect = mean over cells of the mean seed-paired difference (a - b), in the metric's unit; "
        "the paper column runs the same check on the published numbers (one value per cell).",
        "",
    ]
    for row in findings.drop_duplicates("finding").itertuples():
        hint = f" (runs from `sweep={row.sweep}`)" if row.finding_verdict == "absent" else ""
        out.append(
            f"- {row.finding} **{row.finding_verdict}**{hint}: {row.claim} _Evidence: {row.evidence}._ "
            f"Paper's numbers: {row.paper_text}."
        )
    out += ["", _findings_frame(findings).to_markdown(index=False), "", "## Tables", ""]
    for table in tables:
        if isinstance(table, Absent):
            out += [f"### {table.title}", "", f"No runs yet: `python -m alignbench -m sweep={table.sweep}`.", ""]
            continue
        files = " · ".join(f"[{ext}](tables/{table.name}.{ext})" for ext in ("md", "csv", "tex"))
        out += [f"### {table.title}", "", f"{table.note} Files: {files}", "", markdown(table), ""]
    out += ["## Figures", ""]
    for figure in figures:
        if isinstance(figure, Absent):
            out += [f"- {figure.title}: no runs yet (`sweep={figure.sweep}`)"]
        else:
            out += [
                f"### {figure.title}",
                "",
                f"![{figure.title}](figures/{figure.name}.png) ([svg](figures/{figure.name}.svg))",
                "",
            ]
    out += [
        "",
        "## Provenance",
        "",
        "Files: [findings.csv](findings.csv) · [results.csv](results.csv) · [runs.csv](runs.csv) · "
        "[provenance.json](provenance.json)",
        "",
        "```json",
        json.dumps(prov, indent=1),
        "```",
        "",
    ]
    return "\n".join(out)


def _html_table(frame: pd.DataFrame) -> str:
    return f'<div class="scroll">{frame.to_html(index=False, border=0, na_rep="—", escape=True)}</div>'


def _findings_html(findings: pd.DataFrame) -> str:
    shown = _findings_frame(findings)
    rows = []
    for _, row in shown.iterrows():
        klass = "absent-v" if row["verdict"] == "absent" else row["verdict"]
        cells = "".join(f"<td>{escape(str(v))}</td>" for v in row)
        rows.append(f'<tr class="{klass}">{cells}</tr>')
    head = "".join(f"<th>{escape(c)}</th>" for c in shown.columns)
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def index_html(summary: dict, tables: list, figures: list, findings: pd.DataFrame, test: str, prov: dict) -> str:
    """One file with every table as HTML and every figure embedded (base64 PNG): mail it, open it offline."""
    body = ["<h1>Study report</h1>", *[f'<p class="note">{escape(line)}</p>' for line in _summary_lines(summary)]]
    body.append("<h2>The paper's takeaways, checked</h2><ul>")
    for row in findings.drop_duplicates("finding").itertuples():
        hint = f" (runs from <code>sweep={escape(row.sweep)}</code>)" if row.finding_verdict == "absent" else ""
        klass = "absent-v" if row.finding_verdict == "absent" else row.finding_verdict
        body.append(
            f'<li>{escape(row.finding)} <span class="{klass}"><b>{escape(row.finding_verdict)}</b></span>{hint}: '
            f"{escape(row.claim)} <i>Evidence: {escape(row.evidence)}.</i> Paper's numbers: "
            f"{escape(row.paper_text)}.</li>"
        )
    body += [
        "</ul>",
        f'<p class="note">Test: {escape(test)}. Effect = mean over cells of the mean seed-paired difference '
        "(a - b), in the metric's unit; the paper column runs the same check on the published numbers.</p>",
        _findings_html(findings),
    ]
    body.append("<h2>Tables</h2>")
    for table in tables:
        body.append(f"<h3>{escape(table.title)}</h3>")
        if isinstance(table, Absent):
            body.append(
                f'<p class="absent">No runs yet: <code>python -m alignbench -m sweep={escape(table.sweep)}</code></p>'
            )
            continue
        body += [f'<p class="note">{escape(table.note)}</p>', _html_table(flat(table))]
    body.append("<h2>Figures</h2>")
    for figure in figures:
        if isinstance(figure, Absent):
            body.append(
                f'<p class="absent">{escape(figure.title)}: no runs yet (<code>sweep={escape(figure.sweep)}</code>)</p>'
            )
            continue
        data = base64.b64encode(Path(figure.paths["png"]).read_bytes()).decode()
        body.append(
            f'<h3>{escape(figure.title)}</h3><img alt="{escape(figure.title)}" src="data:image/png;base64,{data}">'
        )
    body += ["<h2>Provenance</h2>", f"<pre>{escape(json.dumps(prov, indent=1))}</pre>"]
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Study report</title>'
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def write_pages(
    folder: Path,
    summary: dict,
    tables: list[Table | Absent],
    figures: list[Figure | Absent],
    findings: pd.DataFrame,
    test: str,
    prov: dict,
) -> tuple[Path, Path]:
    """index.md and index.html in `folder`."""
    md, html = folder / "index.md", folder / "index.html"
    md.write_text(index_md(summary, tables, figures, findings, test, prov))
    html.write_text(index_html(summary, tables, figures, findings, test, prov))
    return md, html
