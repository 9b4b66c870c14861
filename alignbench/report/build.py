"""One report from records: tables, figures, findings, provenance and the two index pages, in one folder."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alignbench.report.figures import Figure, draw_figures
from alignbench.report.findings import TEST, check_findings
from alignbench.report.pages import Summary, write_pages
from alignbench.report.provenance import provenance
from alignbench.report.render import write_csv, write_table
from alignbench.report.results import read_records, records_frame, runs_of
from alignbench.report.tables import Absent, Table, base_calibration, paper_tables, splits_found, study_tables
from alignbench.runs.record import Status


@dataclass
class Report:
    out: Path
    summary: Summary
    tables: list[Table | Absent]
    figures: list[Figure | Absent]
    findings: pd.DataFrame


def judge_warnings(records: list[dict]) -> dict[str, int]:
    """Each judge warning the records carry (an API judge answered by another model than configured), with how
    many runs carry it."""
    found = Counter(w for r in records for w in (r.get("benchmarks") or {}).get("warnings") or [])
    return dict(found.most_common())


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


def stand_ins(tables: list, runs) -> list[str]:
    """'tiny_llama for llama' of each tiny stand-in, when one joined a published value of the paper's tables."""
    joined = False
    for table in tables:
        cells = getattr(table, "cells", None)
        if cells is not None and "stand_in" in cells:
            ours = cells["ours"] if "ours" in cells else cells["mean"]
            joined |= bool((cells["stand_in"].astype(bool) & ours.notna() & cells["paper"].notna()).any())
    pairs = runs.loc[runs["model"] != runs["paper_model"], ["model", "paper_model"]].dropna().drop_duplicates()
    return [f"{m} for {p}" for m, p in sorted(pairs.itertuples(index=False, name=None))] if joined else []


def build_report(
    paths: Sequence[str | Path], out: str | Path | None = None, on_unreadable=None, strict: bool = False
) -> Report:
    """Read every record under `paths` and write the whole report into `out` (default: default_out).

    A record whose numbers do not match its digest (runs.digest) is marked (summary["flagged"], runs.csv `flags`),
    or with `strict` left out like an unreadable one.

    The report is written into a staging folder beside `out` and renamed into place only once complete (the old
    report moved aside, then deleted): a build killed midway leaves the previous report whole, and a rebuild keeps
    nothing of the previous one (no stale figure).
    """
    folders = [Path(p) for p in paths]
    records, unreadable = read_records(folders, on_unreadable, strict)
    out = Path(out) if out else default_out(folders)
    _check_replaceable(out)
    _clear_leftovers(out)
    staging = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        report = _write(records, unreadable, folders, staging)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report.out = out
    for figure in report.figures:
        if hasattr(figure, "paths"):
            figure.paths = {ext: out / path.relative_to(staging) for ext, path in figure.paths.items()}
    return report


def _check_replaceable(out: Path) -> None:
    """A folder the report would replace must be a report (or empty): a user's other files are never deleted."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "index.md").is_file())):
        raise ValueError(f"{out} exists and is not a report folder (no index.md): choose another --out")


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _clear_leftovers(out: Path) -> None:
    """Staging and set-aside folders of builds that were killed (their process is gone); a report set aside by a
    build killed between its two renames is put back first."""
    if not out.parent.is_dir():
        return
    for stale in out.parent.iterdir():
        if not stale.name.startswith(f"{out.name}."):
            continue
        kind, _, pid = stale.name.removeprefix(f"{out.name}.").partition("-")
        if kind in ("tmp", "old") and pid.isdigit() and stale.is_dir() and not _alive(pid):
            if kind == "old" and not out.exists():  # killed between its two renames: the previous report is back
                stale.rename(out)
                continue
            shutil.rmtree(stale, ignore_errors=True)


def _swap(staging: Path, out: Path) -> None:
    """`staging` becomes `out` by a rename; the previous `out` is renamed aside first and deleted after."""
    aside = out.with_name(f"{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(aside)
    try:
        staging.rename(out)
    except BaseException:
        if aside.exists() and not out.exists():
            aside.rename(out)  # the previous report back in place
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _write(records: list[dict], unreadable: list[str], paths: list[Path], out: Path) -> Report:
    """Every file of the report, into `out`."""
    frame = records_frame(records)
    runs = runs_of(frame)
    statuses = runs["status"].value_counts()
    completed, failed = int(statuses.get(Status.completed, 0)), int(statuses.get(Status.failed, 0))
    tables = [base_calibration(frame), *study_tables(frame), *paper_tables(frame)]
    for table in tables:
        if isinstance(table, Table):
            write_table(table, out / "tables")
    figures = draw_figures(frame, out / "figures")
    findings = check_findings(frame)
    summary = Summary(
        runs=len(runs),
        completed=completed,
        failed=failed,
        unreadable=len(unreadable),
        sources=[str(p) for p in paths],
        other=len(runs) - completed - failed,
        derived=int(runs["derived"].sum()),
        duplicates=len(frame.attrs.get("duplicates", [])),
        flagged=frame.attrs.get("flagged", {}),
        splits=splits_found(tables),
        stand_ins=stand_ins(tables, runs),
        power=power_lines(findings),
        judge_warnings=judge_warnings(records),
    )
    prov = provenance(records)
    write_csv(findings, out / "findings.csv")
    write_csv(frame, out / "results.csv")
    write_csv(runs, out / "runs.csv")
    (out / "provenance.json").write_text(json.dumps(prov, indent=1))
    write_pages(out, summary, tables, figures, findings, TEST, prov)
    return Report(out, summary, tables, figures, findings)
