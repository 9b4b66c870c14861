"""The end of a sweep: its counts, a line per run that failed or could not start (grouped by why), the results table,
and exit 1 if any run failed."""

from __future__ import annotations

import sys
from pathlib import Path

from alignbench.runs.failures import counts_against_retries
from alignbench.runs.state import Job, Status, count, describe, one_line, status_of, varying_axes
from alignbench.sweep.progress import results_table


def summarise(jobs: list[Job], sweep_dir: Path) -> None:
    """Summarise from the run directories, so that runs done elsewhere or earlier count as well."""
    for job in jobs:
        if job.run_key:
            error, reason = job.error, job.reason
            status_of(sweep_dir / job.run_key, job)
            job.error, job.reason = job.error or error, job.reason or reason
    counts = count(jobs)
    print(f"\nsweep {sweep_dir}: {len(jobs)} runs: {describe(counts)}")
    not_started = [job for job in jobs if job.status is Status.pending and job.error]
    for line in failures_by_reason([j for j in jobs if j.status in (Status.failed, Status.invalid)], not_started):
        print(line)
    completed = [(j.axes(), j.record.metrics) for j in jobs if j.status is Status.completed and j.record is not None]
    table = results_table(completed, varying_axes(jobs))
    if table:
        print("\n".join(["", *table]))
    if counts[Status.pending] > len(not_started):
        print(
            f"  {counts[Status.pending] - len(not_started)} runs did not finish; relaunch the same command to "
            "complete them"
        )
    if counts[Status.failed] or counts[Status.invalid] or not_started:
        sys.stdout.flush()
        # Hydra reports a sweeper's exception as an error with a hint about stack traces; the summary above
        # already says everything, so the exit code alone carries the failure.
        raise SystemExit(1)


def failures_by_reason(failed: list[Job], not_started: list[Job]) -> list[str]:
    """The runs that failed or could not start, grouped by why (runs.failures.Reason), most frequent first; a group
    that is not the runs' fault says that no retry was spent on it."""
    groups: dict[str, list[tuple]] = {}
    for job in failed + not_started:
        reason = "invalid" if job.status is Status.invalid else job.reason or "error"
        label = "NOT STARTED" if job in not_started else job.status.value.upper()
        groups.setdefault(reason, []).append((label, job))
    lines = []
    for reason, members in sorted(groups.items(), key=lambda item: -len(item[1])):
        spent = "" if counts_against_retries(reason) or reason == "invalid" else "; not the runs' fault: no retry spent"
        lines.append(f"  {reason}: {len(members)} run{'s' if len(members) > 1 else ''}{spent}")
        for label, job in members:
            lines.append(f"    {label} {job.run_key or ' '.join(job.overrides)}: {one_line(job.error)}")
    return lines
