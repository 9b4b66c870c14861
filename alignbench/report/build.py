"""One report from records: tables, figures, findings, provenance and the two index pages, in one folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from alignbench.report.figures import draw_figures
from alignbench.report.findings import TEST, check_findings
from alignbench.report.pages import write_pages
from alignbench.report.provenance import provenance
from alignbench.report.render import write_table
from alignbench.report.results import read_records, records_frame, runs_of
from alignbench.report.tables import Table, base_calibration, paper_tables, splits_found, study_tables
from alignbench.runs.record import Status


@dataclass
class Report:
    out: Path
    summary: dict
    tables: list
    figures: list
    findings: object  # pandas.DataFrame


def default_out(paths: list[Path]) -> Path:
    """<first sweep folder>/report; for a record file or a run folder, report/ beside it."""
    first = Path(paths[0])
    return (first.parent if first.is_file() else first) / "report"


def power_lines(findings) -> list[str]:
    """One line per takeaway whose primary check could not detect an effect of the paper's size."""
    primary = findings[findings["role"] == "primary"]
    return [
        f"{row.finding}: smallest detectable effect {row.mde:.3g} ({row.mde_basis}), "
        f"larger than the paper's {abs(row.paper_effect):.3g}: add seeds or cells"
        for row in primary.itertuples()
        if row.underpowered
    ]


def build_report(paths: list[str | Path], out: str | Path | None = None, on_unreadable=None) -> Report:
    """Read every record under `paths` and write the whole report into `out` (default: default_out)."""
    paths = [Path(p) for p in paths]
    records, unreadable = read_records(paths, on_unreadable)
    out = Path(out) if out else default_out(paths)
    frame = records_frame(records)
    runs = runs_of(frame)
    statuses = runs["status"].value_counts()
    summary = {
        "runs": len(runs),
        "completed": int(statuses.get(Status.completed, 0)),
        "failed": int(statuses.get(Status.failed, 0)),
        "unreadable": len(unreadable),
        "sources": [str(p) for p in paths],
    }
    summary["other"] = summary["runs"] - summary["completed"] - summary["failed"]
    summary["derived"] = int(runs["derived"].sum())
    summary["duplicates"] = len(frame.attrs.get("duplicates", []))

    tables = [base_calibration(frame), *study_tables(frame), *paper_tables(frame)]
    summary["splits"] = splits_found(tables)
    for table in tables:
        if isinstance(table, Table):
            write_table(table, out / "tables")
    figures = draw_figures(frame, out / "figures")
    findings = check_findings(frame)
    summary["power"] = power_lines(findings)
    prov = provenance(records)
    out.mkdir(parents=True, exist_ok=True)
    findings.to_csv(out / "findings.csv", index=False)
    frame.to_csv(out / "results.csv", index=False)
    runs.to_csv(out / "runs.csv", index=False)
    (out / "provenance.json").write_text(json.dumps(prov, indent=1))
    write_pages(out, summary, tables, figures, findings, TEST, prov)
    return Report(out, summary, tables, figures, findings)
