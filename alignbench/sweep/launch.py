"""A grid sweep, resumable: plan every job, then print the plan (dry run) or launch the runs to do (pending, or failed
fewer than `sweep.max_failures` times) in the sweep folder's `<run_key>` directories, and summarise."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig, OmegaConf

from alignbench.runs.failures import reason_of
from alignbench.runs.files import write_json_atomic
from alignbench.runs.state import PLAN, Job, count, describe, varying_axes
from alignbench.sweep import hydra_private
from alignbench.sweep.dry_run import print_plan
from alignbench.sweep.plan import Planner, plan_file
from alignbench.sweep.progress import sweep_progress
from alignbench.sweep.summary import summarise


def sweep(
    config: DictConfig,
    config_loader: ConfigLoader,
    launcher: Launcher,
    params: dict,
    grids: list[dict],
    arguments: list[str],
    max_batch_size: int | None,
) -> list:
    """The GridSweeper's sweep (hydra_plugins/alignbench_grid): the union of `grids`, each grid's axes with `params`
    (`hydra.sweeper.params`) and the command line's `arguments` (which win over both)."""
    settings, sweep_dir = config.sweep, Path(config.hydra.sweep.dir)
    planner = Planner(config, config_loader)
    jobs = planner.plan(params, grids, arguments, sweep_dir)
    planned = f"{len(jobs)} jobs in {sweep_dir} planned in {planner.seconds:.1f} s"
    to_run = [job for job in jobs if job.should_run(settings.max_failures)]
    if config.dry_run:
        print_plan(jobs, to_run, planned, planner, sweep_dir)
        return []
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    write_json_atomic(sweep_dir / PLAN, plan_file(settings.name, jobs, varying_axes(jobs)))
    print(f"sweep {settings.name}: {planned}: {describe(count(jobs))}; launching {len(to_run)}", flush=True)
    _launch(launcher, to_run, settings.name, max_batch_size or len(to_run) or 1)
    summarise(jobs, sweep_dir)
    return []


def _launch(launcher: Launcher, to_run: list[Job], name: str, batch_size: int) -> None:
    """Launch the jobs in batches, each in `<sweep dir>/<run_key>`; a job that failed keeps its error and reason."""
    progress = Progress(name, len(to_run))
    # The basic launcher runs the jobs one after the other in this process: each says when it ends. Other
    # launchers (joblib, submitit) hand their batch back whole: the batch says it.
    per_job = hydra_private.wrap_in_process(launcher, progress.watch)
    for start in range(0, len(to_run), batch_size):
        batch = to_run[start : start + batch_size]
        overrides = [job.overrides + [f"hydra.sweep.subdir={job.run_key}"] for job in batch]
        failed = 0
        for job, result in zip(batch, launcher.launch(overrides, initial_job_idx=start), strict=True):
            try:
                value = result.return_value  # re-raises what the job raised outside the pipeline
            except Exception as err:
                value = {"error": f"{type(err).__name__}: {err}", "reason": reason_of(err).value}
            if failed_job(value):
                job.error, job.reason = value["error"], value.get("reason")
                failed += 1
        if not per_job:
            progress.finished(len(batch), failed)


def failed_job(value: Any) -> bool:
    """Whether a job's return value says it failed (the entry point returns {"status": "failed", "error": ...})."""
    return isinstance(value, dict) and bool(value.get("error"))


class Progress:
    """A sweep's line each time jobs finish ("sweep paper: job 3/8 done, 2 failed, ETA ~12 min"), timed from the
    first launch by `clock`."""

    def __init__(self, name: str, total: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self.name, self.total, self.clock = name, total, clock
        self.done = self.failed = 0
        self.started = clock()

    def finished(self, jobs: int, failed: int) -> str:
        self.done, self.failed = self.done + jobs, self.failed + failed
        line = sweep_progress(self.name, self.done, self.total, self.failed, self.clock() - self.started)
        print(line, flush=True)
        return line

    def watch(self, task_function: Callable) -> Callable:
        """`task_function` that reports each job as it ends (an interrupted one is not counted: the sweep stops)."""

        @functools.wraps(task_function)
        def watched(cfg: DictConfig) -> Any:
            try:
                value = task_function(cfg)
            except Exception:
                self.finished(1, 1)
                raise
            self.finished(1, int(failed_job(value)))
            return value

        return watched
