"""What a dry run prints: a line per job, then what a launch would run, what cannot start here and why, the SFT stages
of chained runs, the GPU-hours and the statistical power of the planned studies."""

from __future__ import annotations

from pathlib import Path

from alignbench.runs.state import Job, Status, count, describe, one_line, varying_axes
from alignbench.sweep.estimate import describe_gpu_hours
from alignbench.sweep.plan import Planner


def print_plan(jobs: list[Job], to_run: list[Job], planned: str, planner: Planner, sweep_dir: Path) -> None:
    """`planned` says how many jobs were planned where, and how fast."""
    settings, axes = planner.config.sweep, varying_axes(jobs)
    for job in jobs:
        print(_plan_line(job, axes, settings.max_failures))
    print(f"dry run: {planned}: {describe(count(jobs))}; a launch would run {len(to_run)}")
    hours = describe_gpu_hours([job.gpu_minutes for job in to_run])
    for line in _cannot_start(to_run) + [_describe_stages(planner.stages), hours]:
        if line:
            print(f"  {line}")
    from alignbench.report.findings import planned_power  # pandas: a dry run's cost only

    studies = [planner.studies[job.run_key] for job in jobs if job.run_key and planner.studies.get(job.run_key)]
    for line in planned_power(studies, [sweep_dir, *filter(None, [settings.inputs_dir])]):
        print(f"  {line}")


def _plan_line(job: Job, axes: list[str], max_failures: int) -> str:
    cells = job.axes()
    line = f"{job.run_key or '-' * 16}  {job.status.value:<8} " + " ".join(f"{a}={cells.get(a)}" for a in axes)
    if job.status is Status.failed:
        retry = "will retry" if job.failures < max_failures else "gave up"
        line += f"  ({job.failures} failures, {retry}: {one_line(job.error, 120)})"
    elif job.status is Status.invalid:
        line += f"  ({one_line(job.error, 160)})"
    if job.problems and job.status is not Status.completed:
        line += "  (cannot start here: below)"
    return line


def _cannot_start(jobs: list[Job]) -> list[str]:
    """How many of the runs to do cannot start on this machine, grouped by why."""
    reasons: dict[str, int] = {}
    for job in jobs:
        for problem in job.problems:
            reasons[problem] = reasons.get(problem, 0) + 1
    if not reasons:
        return []
    blocked = sum(bool(job.problems) for job in jobs)
    lines = [f"{blocked} of the {len(jobs)} runs to do cannot start on this machine:"]
    return lines + [f"  {n} runs: {one_line(reason, 300)}" for reason, n in reasons.items()]


def _describe_stages(stages: dict[str, str]) -> str | None:
    """One line for a plan with chained runs: their SFT stages, how many are trained already and where."""
    if not stages:
        return None
    found = [where for where in stages.values() if where]
    places = ", ".join(f"{found.count(w)} in {w}" for w in ("inputs_dir", "sweep", "shared") if w in found)
    places = f" ({places})" if found else ""
    return (
        f"SFT stages of the chained runs: {len(stages)}, {len(found)} trained already{places}; "
        f"a launch trains each of the other {len(stages) - len(found)} once, into <paths.cache_dir>/stages/"
    )
