"""The report's two front pages: index.md (links the files) and a self-contained index.html (embeds them)."""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

import jinja2
import pandas as pd

from alignbench.report.figures import Figure
from alignbench.report.provenance import common_items, differing_rows
from alignbench.report.render import flat, markdown, md_frame, md_text
from alignbench.report.tables import MISSING, Absent, Table

TEMPLATES = Path(__file__).with_name("templates")

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
.scroll { overflow-x: auto; max-width: 100%; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
p, li { overflow-wrap: anywhere; }
details { margin: 0 0 1.4em; } summary { cursor: pointer; color: #1c5fb8; font-size: 13px; }
table.data td { white-space: nowrap; }
table.prov td { white-space: normal; } table.prov td:last-child { min-width: 30em; }
p.common { font-size: 12px; line-height: 1.8; } p.common code { white-space: nowrap; }
.note, .absent { color: #555; font-size: 13px; }
.supported { background: #d3f9d8; } .contradicted { background: #ffe3e3; }
.inconclusive { background: #fff3bf; } .absent-v { background: #f1f3f5; }
code { background: #f1f3f5; padding: 0 3px; }
"""


class Summary(TypedDict):
    """What the report says about its runs before any table (report.build)."""

    runs: int
    completed: int
    failed: int
    unreadable: int  # records skipped
    sources: list[str]  # the folders and files read
    other: int  # running or interrupted
    derived: int  # old records whose study coordinates were derived from their config
    duplicates: int  # records reached twice, counted once
    flagged: dict[str, list[str]]  # run_dir -> why its numbers are not what the run wrote
    splits: list[str]  # the coordinates a table was split on
    stand_ins: list[str]  # tiny models in the place of the paper's
    power: list[str]  # takeaways whose check could not detect an effect of the paper's size
    judge_warnings: dict[str, int]  # a record's judge warning (another model answered than configured) -> runs


def _summary_lines(summary: Summary) -> list[str]:
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
    for run_dir, problems in summary.get("flagged", {}).items():
        lines.append(f"Flagged, its numbers are not what the run wrote: {run_dir}: {'; '.join(problems)}.")
    if summary.get("stand_ins"):
        lines.append(
            f"Tiny stand-ins ({', '.join(summary['stand_ins'])}) join the paper's tables in the place of its 7B "
            "models: shown beside the published values, never compared with them (no Δ)."
        )
    lines += [f"Power: {line}" for line in summary.get("power", [])]
    for warning, runs in summary.get("judge_warnings", {}).items():
        lines.append(f"Judge model warning ({runs} run{'s' * (runs != 1)}): {warning}.")
    return lines


def _findings_frame(findings: pd.DataFrame) -> pd.DataFrame:
    shown = findings[FINDING_COLUMNS].copy()
    signed, plain = ("effect", "iqm", "ci_low", "ci_high"), ("p_improvement", "p_holm", "mde")
    for column in signed + plain:
        form = "+.3g" if column in signed else ".3g"  # effects carry their sign; probabilities and sizes do not
        shown[column] = shown[column].map(lambda v, form=form: "" if pd.isna(v) else format(v, form))
    return shown


def index_md(summary: Summary, tables: list, figures: list, findings: pd.DataFrame, test: str, prov: dict) -> str:
    """Markdown that shows the findings and tables inline and links every file of the report. Every string that
    comes from a record goes through md_text (no raw HTML)."""
    out = [
        "# Study report",
        "",
        *[md_text(line) for line in _summary_lines(summary)],
        "",
        "## The paper's takeaways, checked",
        "",
        f"Test: {md_text(test)}. Effect = mean over cells of the mean seed-paired difference (a - b), in the metric's "
        "unit; the paper column runs the same check on the published numbers (one value per cell).",
        "",
    ]
    for row in findings.drop_duplicates("finding").itertuples():
        hint = f" (runs from `sweep={md_text(row.sweep)}`)" if row.finding_verdict == "absent" else ""
        out.append(
            f"- {md_text(row.finding)} **{md_text(row.finding_verdict)}**{hint}: {md_text(row.claim)} "
            f"_Evidence: {md_text(row.evidence)}._ Paper's numbers: {md_text(row.paper_text)}."
        )
    out += ["", md_frame(_findings_frame(findings)).to_markdown(index=False), "", "## Tables", ""]
    for table in tables:
        if isinstance(table, Absent):
            out += [
                f"### {md_text(table.title)}",
                "",
                f"No runs yet: `python -m alignbench -m sweep={md_text(table.sweep)}`.",
                "",
            ]
            continue
        files = " · ".join(f"[{ext}](tables/{table.name}.{ext})" for ext in ("md", "csv", "tex"))
        out += [f"### {md_text(table.title)}", "", f"{md_text(table.note)} Files: {files}", ""]
        if table.brief is None:
            out += [markdown(table), ""]
        elif len(table.brief):
            out += [
                f"{_rows(len(table.brief))} of {len(table.display)} with runs of ours, the benchmarks they have "
                f"(all rows: [md](tables/{table.name}.md)).",
                "",
                markdown(table, table.brief),
                "",
            ]
        else:
            out += [
                f"No run of ours joins this table (all {len(table.display)} rows: [md](tables/{table.name}.md)).",
                "",
            ]
    out += ["## Figures", ""]
    for figure in figures:
        if isinstance(figure, Absent):
            out += [f"- {md_text(figure.title)}: no runs yet (`sweep={md_text(figure.sweep)}`)"]
        else:
            out += [
                f"### {md_text(figure.title)}",
                "",
                f"![{md_text(figure.title)}](figures/{figure.name}.png) ([svg](figures/{figure.name}.svg))",
                "",
            ]
    out += [
        "",
        "## Provenance",
        "",
        md_text(_provenance_line(prov)),
        "",
        "Files: [findings.csv](findings.csv) · [results.csv](results.csv) · [runs.csv](runs.csv) · "
        "[provenance.json](provenance.json)",
        "",
    ]
    differing = differing_rows(prov)
    if differing:
        frame = pd.DataFrame(differing, columns=["differs between runs", "values"])
        out += [md_frame(frame).to_markdown(index=False), ""]
    else:
        out += ["Nothing differs between the runs but their seeds.", ""]
    common = common_items(prov)
    out += [
        f"Shared by all runs ({len(common)} keys): " + " · ".join(f"`{md_text(k)}={md_text(v)}`" for k, v in common),
        "",
    ]
    return "\n".join(out)


def _rows(n: int) -> str:
    return f"{n} row{'s' * (n != 1)}"


def _provenance_line(prov: dict) -> str:
    sweeps = ", ".join(f"{name} ({n})" for name, n in prov["sweeps"].items())
    dates = f"; first started {prov['first_started']}, last finished {prov['last_finished']}"
    return f"{prov['runs']} records from the sweeps {sweeps}{dates if prov['first_started'] else ''}."


def _grid(frame: pd.DataFrame, classes: list[str] | None = None) -> dict:
    """A frame as the template's table: column names and rows of text (missing values as the missing mark)."""
    rows = [
        {
            "cells": [MISSING if pd.isna(v) else str(v) for v in values],
            "klass": classes[i] if classes else "",
        }
        for i, values in enumerate(frame.itertuples(index=False, name=None))
    ]
    return {"columns": [str(c) for c in frame.columns], "rows": rows}


def _verdict_class(verdict: str) -> str:
    return "absent-v" if verdict == "absent" else verdict


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return environment.get_template("index.html.j2")


def index_html(summary: Summary, tables: list, figures: list, findings: pd.DataFrame, test: str, prov: dict) -> str:
    """One file with every table as HTML and every figure embedded (base64 PNG): mail it, open it offline. Built
    from templates/index.html.j2 with autoescape: a record's strings are always text."""
    shown = _findings_frame(findings)
    takeaways = [
        {
            "finding": row.finding,
            "verdict": row.finding_verdict,
            "klass": _verdict_class(row.finding_verdict),
            "sweep": row.sweep if row.finding_verdict == "absent" else "",
            "claim": row.claim,
            "evidence": row.evidence,
            "paper_text": row.paper_text,
        }
        for row in findings.drop_duplicates("finding").itertuples()
    ]
    page_tables: list[dict[str, Any]] = []
    for table in tables:
        if isinstance(table, Absent):
            page_tables.append({"title": table.title, "sweep": table.sweep})
            continue
        brief = None if table.brief is None else _grid(table.brief.reset_index())
        page_tables.append(
            {
                "title": table.title,
                "sweep": "",
                "note": table.note,
                "full": _grid(flat(table)),
                "brief": brief,
                "brief_line": ""
                if brief is None
                else f"{_rows(len(table.brief))} with runs of ours, the benchmarks they have.",
            }
        )
    page_figures = [
        {"title": f.title, "sweep": f.sweep}
        if isinstance(f, Absent)
        else {"title": f.title, "sweep": "", "png": base64.b64encode(Path(f.paths["png"]).read_bytes()).decode()}
        for f in figures
    ]
    differing = pd.DataFrame(differing_rows(prov), columns=["differs between runs", "values (runs)"])
    return _template().render(
        style=STYLE,
        summary=_summary_lines(summary),
        takeaways=takeaways,
        test=test,
        findings=_grid(shown, [_verdict_class(v) for v in shown["verdict"]]),
        tables=page_tables,
        figures=page_figures,
        provenance={"line": _provenance_line(prov), "differing": _grid(differing), "common": common_items(prov)},
    )


def write_pages(
    folder: Path,
    summary: Summary,
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
