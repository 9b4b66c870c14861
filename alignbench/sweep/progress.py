"""A sweep's console lines: its progress as jobs finish, and the table of mean headline numbers under its summary."""

from __future__ import annotations

from statistics import mean
from typing import Any

from alignbench.config.benchmarks import PREFERENCE, SPECS
from alignbench.runs.console import SEED_LIKE, console_table, duration
from alignbench.runs.metrics import headline_values


def sweep_progress(name: str, done: int, total: int, failed: int, elapsed_s: float) -> str:
    """A sweep's line as its jobs finish: "sweep paper: job 3/8 done, 2 failed, ETA ~12 min". The ETA is the time
    per finished job so far (the launch's wall time over the jobs done: a parallel launcher's jobs overlap) times the
    jobs left; none before the first job ends or after the last."""
    line = f"sweep {name}: job {done}/{total} done"
    if failed:
        line += f", {failed} failed"
    if 0 < done < total:
        line += f", ETA ~{duration(elapsed_s / done * (total - done))}"
    return line


def results_table(runs: list[tuple[dict[str, str], dict[str, Any]]], axes: list[str]) -> list[str]:
    """Under a sweep's summary: the mean headline numbers of its completed runs for each value of each axis that
    varies (seeds averaged in), with n. `runs` holds each completed run's axis values and metrics."""
    rows = [(axes_of_run, headline_values(metrics)) for axes_of_run, metrics in runs]
    columns = [c for c in (PREFERENCE.name, *SPECS) if any(c in values for _, values in rows)]
    shown_axes = [axis for axis in axes if axis not in SEED_LIKE]
    if not rows or not columns or not shown_axes:
        return []
    labels, body = [], []
    for axis in shown_axes:
        for value in dict.fromkeys(run_axes.get(axis, "-") for run_axes, _ in rows):
            members = [values for run_axes, values in rows if run_axes.get(axis, "-") == value]
            labels.append(f"{axis}={value}")
            cells = [mean(v[c] for v in members if c in v) if any(c in v for v in members) else None for c in columns]
            body.append([str(len(members))] + ["-" if x is None else f"{x:.3f}" for x in cells])
    lines = ["results: mean over completed runs (pref = held-out preference accuracy; benchmarks: the paper's metric)"]
    table = [[label, *cells] for label, cells in zip(labels, body, strict=True)]
    return lines + console_table(table, ["", "n", *columns], ("left",) + ("right",) * (len(columns) + 1))
