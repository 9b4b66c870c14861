"""Where a sweep stands, as a matrix of its cells: `python -m alignbench.report.status multirun/paper`.

    python -m alignbench.report.status multirun/paper                       # rows model x quant, columns the rest
    python -m alignbench.report.status multirun/paper --rows model --cols method

Each cell counts the runs that differ only in the axes that are neither rows nor columns (usually the seeds):
`5/5` all completed, `3/5 F1 R1` three completed, one failed, one running (the rest pending); with
`--metric eval/pref/accuracy` a cell reads `0.943 (5/5)`: the metric's mean over its completed runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import mean

from alignbench.runs.console import SEED_LIKE, console_table
from alignbench.runs.dirs import RECORD
from alignbench.runs.state import PLAN, Job, Status, count, describe, one_line, status_of, varying_axes


def load_jobs(sweep_dir: Path) -> tuple[list[Job], list[str]]:
    """The sweep's jobs and axes: from the plan its last launch wrote, else from the records alone."""
    plan_file = sweep_dir / PLAN
    if plan_file.is_file():
        plan = json.loads(plan_file.read_text())
        jobs = [Job(entry["overrides"], entry["run_key"], entry.get("eval_key")) for entry in plan["jobs"]]
        for job, entry in zip(jobs, plan["jobs"], strict=True):
            if job.run_key is None:
                job.status, job.error = Status.invalid, entry.get("error")
        axes = plan["axes"]
    else:
        records = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob(f"*/{RECORD}"))]
        jobs = [Job(r.get("overrides", []), r["run_key"]) for r in records]
        axes = varying_axes(jobs)
    for job in jobs:
        if job.run_key:
            status_of(sweep_dir / job.run_key, job)
    return jobs, axes


def matrix(jobs: list[Job], rows: list[str], cols: list[str], metric: str | None = None) -> str:
    def label(job: Job, keys: list[str]) -> tuple[str, ...]:
        axes = job.axes()
        return tuple(axes.get(key, "-") for key in keys)

    row_labels = list(dict.fromkeys(label(job, rows) for job in jobs))  # the sweep's own order
    col_labels = list(dict.fromkeys(label(job, cols) for job in jobs))
    cells: dict[tuple, list[Job]] = {}
    for job in jobs:
        cells.setdefault((label(job, rows), label(job, cols)), []).append(job)

    def cell(members: list[Job]) -> str:
        if not members:
            return ""
        n = count(members)
        text = f"{n[Status.completed]}/{len(members)}"
        marks = ((Status.failed, "F"), (Status.invalid, "X"), (Status.running, "R"), (Status.outdated, "O"))
        for status, mark in marks:
            if n[status]:
                text += f" {mark}{n[status]}"
        if not metric:
            return text
        # The metric's mean over the cell's completed runs; failed runs are counted above, never averaged.
        values = [
            job.record.metrics[metric]
            for job in members
            if job.status is Status.completed
            and job.record is not None  # completed: status_of read it from its record
            and isinstance(job.record.metrics.get(metric), int | float)
        ]
        return (f"{mean(values):.3f}" if values else "-") + f" ({text})"

    body = [[" ".join(r)] + [cell(cells.get((r, c), [])) for c in col_labels] for r in row_labels]
    # One header line per column axis; the first column names the rows on the last one.
    corner = "\n".join([*cols[:-1], " x ".join(rows)])
    headers = [corner] + ["\n".join(c) for c in col_labels]
    return "\n".join(console_table(body, headers, indent=""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alignbench.report.status", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep's folder, e.g. multirun/paper")
    parser.add_argument("--rows", help="comma-separated axes for the rows (default: the last non-seed axes)")
    parser.add_argument("--cols", help="comma-separated axes for the columns (default: the first half)")
    parser.add_argument(
        "--metric",
        help="show this record metric's mean per cell, e.g. eval/pref/accuracy or "
        "eval/mmlu/acc (over completed runs; '-' where none has it)",
    )
    args = parser.parse_args(argv)

    if not args.sweep_dir.is_dir():
        print(
            f"{args.sweep_dir}: no such sweep folder; launch one with `python -m alignbench -m sweep=<name>`, "
            "or see its plan with `... dry_run=true`",
            file=sys.stderr,
        )
        return 2
    jobs, axes = load_jobs(args.sweep_dir)
    if not jobs:
        print(f"{args.sweep_dir}: no plan.json and no run records yet", file=sys.stderr)
        return 2
    grid_axes = [a for a in axes if a not in SEED_LIKE] or axes
    cols = args.cols.split(",") if args.cols else grid_axes[: (len(grid_axes) + 1) // 2]
    rows = args.rows.split(",") if args.rows else [a for a in grid_axes if a not in cols]
    unknown = [a for a in rows + cols if a not in axes]
    if unknown:
        print(f"unknown axis {unknown}; this sweep's axes are {axes}", file=sys.stderr)
        return 2
    print(f"{args.sweep_dir}: {len(jobs)} runs: {describe(count(jobs))}")
    if cols:
        mean_of = f"mean {args.metric} (completed/total), " if args.metric else "completed/total, "
        print(
            f"cells: {mean_of}F failed, R running, O evaluated with another eval config, X invalid overrides; "
            "the rest are pending\n"
        )
        print(matrix(jobs, rows, cols, args.metric))
    for job in jobs:
        if job.status in (Status.failed, Status.invalid):
            print(f"  {job.status.value.upper()} {job.run_key or ' '.join(job.overrides)}: {one_line(job.error)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
