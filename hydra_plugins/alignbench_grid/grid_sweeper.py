"""The grid sweeper: Hydra's basic sweeper (same `a=x,y` syntax, sweeps in files under `hydra.sweeper.params`) made
resumable. Every job's run directory is `<sweep dir>/<run_key>`; a relaunch skips runs that are done, retries failed
ones up to `sweep.max_failures`, leaves runs another process holds alone, and `dry_run=true` prints the plan
without launching anything. The sweep ends with one line per failed run and a non-zero exit if any failed.

Hydra instantiates sweepers only from the `hydra_plugins` package, hence the location. (No `from __future__
import annotations`: Hydra execs plugin modules outside sys.modules, where dataclasses cannot resolve them.)
"""

import copy
import functools
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf, open_dict

from alignbench.config.guard import config_problems, refuse
from alignbench.config.hub import ConcurrentProbe
from alignbench.config.rules import ConfigError, cuda_present, problems_here
from alignbench.config.secrets import value_problems
from alignbench.config.sources import hub_repos
from alignbench.config.strict import unknown_key_problems
from alignbench.runs.failures import counts_against_retries, reason_of
from alignbench.runs.inputs import input_problems, with_inputs
from alignbench.runs.keys import digest, eval_key, resolve, run_key
from alignbench.runs.provenance import secret_override
from alignbench.runs.record import write_json_atomic
from alignbench.runs.stages import ChainStage, stage_dirs, trained_stage, with_stage
from alignbench.runs.state import PLAN, Job, Status, count, describe, one_line, status_of, varying_axes
from alignbench.runs.study import input_studies, study_coordinates
from alignbench.sweep.estimate import describe_gpu_hours, gpu_minutes
from alignbench.sweep.progress import results_table, sweep_progress

log = logging.getLogger(__name__)


@dataclass
class GridSweeperConf:
    _target_: str = "hydra_plugins.alignbench_grid.grid_sweeper.GridSweeper"
    max_batch_size: Optional[int] = None  # launch this many jobs at a time (e.g. to cap a SLURM array)
    params: Optional[Dict[str, str]] = None
    # A union of grids: each entry adds its own axes to `params` (e.g. ranks that differ per method).
    grids: Optional[List[Dict[str, str]]] = None


# Hydra plugins register their config node when Hydra scans `hydra_plugins` at start-up.
ConfigStore.instance().store(group="hydra/sweeper", name="grid", node=GridSweeperConf, provider="alignbench")


class GridSweeper(BasicSweeper):
    def __init__(
        self,
        max_batch_size: Optional[int] = None,
        params: Optional[Dict[str, str]] = None,
        grids: Optional[List[Dict[str, str]]] = None,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.grids = [dict(grid) for grid in grids] if grids else [{}]

    def sweep(self, arguments: List[str]) -> Any:
        self._parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self._composed: Dict[tuple, DictConfig] = {}
        self._problems: Dict[tuple, List[str]] = {}  # config_problems of each combination of groups
        self._cuda = cuda_present()
        self._probe = ConcurrentProbe()  # dry runs: each hub repo asked once, while the plan composes
        self._unique: Dict[str, Any] = {}  # dry runs: one typed config per configuration that differs in more than seed
        self._stages: Dict[str, str] = {}  # dry runs: SFT stage of chained runs -> where it is trained already, or ""
        self._refused: List[str] = []
        settings = self.config.sweep
        sweep_dir = Path(self.config.hydra.sweep.dir)
        tic = time.perf_counter()
        jobs = _drop_duplicates([self._plan(overrides, sweep_dir) for overrides in self._enumerate(arguments)])
        refuse(self._refused)
        if self.config.dry_run:
            self._check_here(jobs)
        axes = varying_axes(jobs)
        planned = f"{len(jobs)} jobs in {sweep_dir} planned in {time.perf_counter() - tic:.1f} s"
        to_run = [job for job in jobs if job.should_run(settings.max_failures)]

        if self.config.dry_run:
            for job in jobs:
                print(_plan_line(job, axes, settings.max_failures))
            print(f"dry run: {planned}: {describe(count(jobs))}; a launch would run {len(to_run)}")
            for line in (
                _cannot_start(to_run)
                + [_describe_stages(self._stages)]
                + [describe_gpu_hours([job.gpu_minutes for job in to_run])]
            ):
                if line:
                    print(f"  {line}")
            from alignbench.report.findings import planned_power  # pandas: a dry run's cost only

            studies = [job.study for job in jobs if getattr(job, "study", None)]
            for line in planned_power(studies, [sweep_dir, *filter(None, [settings.inputs_dir])]):
                print(f"  {line}")
            return []

        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        write_json_atomic(sweep_dir / PLAN, _plan_file(settings.name, jobs, axes))
        print(f"sweep {settings.name}: {planned}: {describe(count(jobs))}; launching {len(to_run)}", flush=True)
        batch_size = self.max_batch_size or len(to_run) or 1
        progress = Progress(settings.name, len(to_run))
        # The basic launcher runs the jobs one after the other in this process: each says when it ends. Other
        # launchers (joblib, submitit) hand their batch back whole: the batch says it.
        per_job = isinstance(self.launcher, BasicLauncher)
        if per_job:
            self.launcher.task_function = progress.watch(self.launcher.task_function)
        for start in range(0, len(to_run), batch_size):
            batch = to_run[start : start + batch_size]
            overrides = [job.overrides + [f"hydra.sweep.subdir={job.run_key}"] for job in batch]
            failed = 0
            for job, result in zip(batch, self.launcher.launch(overrides, initial_job_idx=start), strict=True):
                try:
                    value = result.return_value  # re-raises what the job raised outside the pipeline
                except Exception as err:
                    value = {"error": f"{type(err).__name__}: {err}", "reason": reason_of(err).value}
                if failed_job(value):
                    job.error, job.reason = value["error"], value.get("reason")
                    failed += 1
            if not per_job:
                progress.finished(len(batch), failed)
        self._finish(jobs, sweep_dir)
        return []

    def _enumerate(self, arguments: List[str]) -> List[List[str]]:
        """The product of each grid's axes with `params` and the command line (which wins over both)."""
        jobs = []
        for grid in self.grids:
            grid_params = [f"{key}={value}" for key, value in grid.items()]
            overrides = self._parser.parse_overrides(self._parse_config() + grid_params + list(arguments))
            jobs += self.split_arguments(overrides, max_batch_size=None)[0]
        return jobs

    def _plan(self, overrides: Sequence[str], sweep_dir: Path) -> Job:
        """The job's run_key from its composed config, and its status from its run directory; a dry run also says
        why it could not start here and what it would cost on the paper's hardware."""
        job = Job(list(overrides))
        try:
            config = self._compose(overrides)
            resolved = resolve(config)
            inputs = with_inputs(resolved)  # a merge's input runs are part of its key, as at launch
            stage = with_stage(config, resolved)  # so is a chained run's SFT stage
            job.run_key = run_key(resolved)
            job.eval_key = eval_key(resolved) if "evaluate" in resolved["stages"] else None
            if self.config.dry_run:
                for repo in hub_repos(resolved):
                    self._probe.prefetch(*repo)
                job.gpu_minutes = gpu_minutes(resolved)
                job.study = study_coordinates(resolved, input_studies(i.record.to_json() for i in inputs if i.record))
                self._unique.setdefault(_beyond_seed(resolved), config)
                # the configuration's key first, replaced by its problems in _check_here once every job is planned
                job.problems = [_beyond_seed(resolved), *input_problems(inputs)]
                if stage is not None and stage.key not in self._stages:
                    self._stages[stage.key] = _stage_found(stage, sweep_dir / job.run_key, self.config.sweep.name)
        except Exception as err:  # the same error the launch would hit; the other jobs still run
            job.status, job.error = Status.invalid, f"{type(err).__name__}: {err}"
            return job
        return status_of(sweep_dir / job.run_key, job)

    def _check_here(self, jobs: List[Job]) -> None:
        """Why each job could not start on this machine: the run's own rules, applied once per configuration
        (the rules never read the seed), with the hub answers the planning prefetched."""
        problems = {
            key: problems_here(OmegaConf.to_object(config), self._cuda, self._cuda, self._probe)
            for key, config in self._unique.items()
        }
        self._probe.close()
        for job in jobs:
            job.problems = problems[job.problems[0]] + job.problems[1:] if job.problems else []

    def _compose(self, overrides: Sequence[str]) -> DictConfig:
        """The job's config (without `hydra`), as the launch will compose it.

        Composing is ~0.2 s a job, a minute for 320. Only group overrides (model=..., method=...) change which
        files are merged; value overrides (seed=3) are applied to the merged config last, so this composes once
        per combination of groups and applies the values with Hydra's own function, in Hydra's order.
        """
        parsed = self._parser.parse_overrides(list(overrides))
        groups = [o for o in parsed if self._is_group(o)]
        values = [o for o in parsed if not self._is_group(o)]
        key = tuple(o.input_line for o in groups)
        if key not in self._composed:
            config = self.hydra_context.config_loader.load_sweep_config(self.config, [o.input_line for o in groups])
            with open_dict(config):
                del config["hydra"]
            self._composed[key] = config
            self._problems[key] = config_problems(config)
        config = copy.deepcopy(self._composed[key])
        ConfigLoaderImpl._apply_overrides_to_config(values, config)
        refused = self._problems[key] + self._value_problems(values, config)
        if refused:  # a secret or a key the schema lacks: the whole sweep is refused before anything is written
            self._refused += refused
            raise ConfigError("; ".join(refused))
        return config

    @staticmethod
    def _value_problems(values: List[Override], config: DictConfig) -> List[str]:
        """config_problems of what the value overrides changed (the rest was checked once per group combination):
        a `+` key the schema lacks, a resolved value with credentials (`${oc.env:URL}`)."""
        problems = unknown_key_problems(config) if any(o.is_add() or o.is_force_add() for o in values) else []
        for override in values:
            node = OmegaConf.select(config, override.key_or_group, default=None)
            try:
                value = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
            except Exception:  # a broken interpolation fails the run with its own message
                continue
            problems += value_problems(override.key_or_group, value)
        return problems

    def _is_group(self, override: Override) -> bool:
        """Hydra's own rule (hydra._internal.defaults_list.Overrides): a group name without a dict value."""
        repository = self.hydra_context.config_loader.repository
        return repository.group_exists(override.key_or_group) and not isinstance(override.value(), dict)

    def _finish(self, jobs: List[Job], sweep_dir: Path) -> None:
        """Summarise from the run directories, so that runs done elsewhere or earlier count as well."""
        for job in jobs:
            if job.run_key:
                error, reason = job.error, job.reason
                status_of(sweep_dir / job.run_key, job)
                job.error, job.reason = job.error or error, job.reason or reason
        counts = count(jobs)
        print(f"\nsweep {sweep_dir}: {len(jobs)} runs: {describe(counts)}")
        not_started = [job for job in jobs if job.status is Status.pending and job.error]
        for line in _failures_by_reason([j for j in jobs if j.status in (Status.failed, Status.invalid)], not_started):
            print(line)
        completed = [job for job in jobs if job.status is Status.completed and job.record is not None]
        table = results_table([(job.axes(), job.record.metrics) for job in completed], varying_axes(jobs))
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


def _failures_by_reason(failed: List[Job], not_started: List[Job]) -> List[str]:
    """The runs that failed or could not start, grouped by why (runs.failures.Reason), most frequent first; a group
    that is not the runs' fault says that no retry was spent on it."""
    groups: Dict[str, List[tuple]] = {}
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


def _drop_duplicates(jobs: List[Job]) -> List[Job]:
    """Two jobs with one run_key are one run (e.g. an axis the run does not depend on); keep the first."""
    seen: dict[str, Job] = {}
    kept = []
    for job in jobs:
        if job.run_key and job.run_key in seen:
            log.warning("%s is the same run as %s; launched once", job.overrides, seen[job.run_key].overrides)
            continue
        if job.run_key:
            seen[job.run_key] = job
        kept.append(job)
    return kept


def _beyond_seed(resolved: dict) -> str:
    return digest({key: value for key, value in resolved.items() if key != "seed"})


def _stage_found(stage: ChainStage, run_dir: Path, sweep: str) -> str:
    """Where a chained run's SFT stage is trained already (inputs_dir | sweep | shared), or "" (a launch trains it)."""
    for where, folder in stage_dirs(stage, run_dir, sweep):
        if trained_stage(stage, folder) is not None:
            return where
    return ""


def _describe_stages(stages: Dict[str, str]) -> Optional[str]:
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


def _cannot_start(jobs: List[Job]) -> List[str]:
    """How many of the runs to do cannot start on this machine, grouped by why."""
    reasons: Dict[str, int] = {}
    for job in jobs:
        for problem in job.problems:
            reasons[problem] = reasons.get(problem, 0) + 1
    if not reasons:
        return []
    blocked = sum(bool(job.problems) for job in jobs)
    lines = [f"{blocked} of the {len(jobs)} runs to do cannot start on this machine:"]
    return lines + [f"  {n} runs: {one_line(reason, 300)}" for reason, n in reasons.items()]


def _plan_line(job: Job, axes: List[str], max_failures: int) -> str:
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


def _plan_file(name: str, jobs: List[Job], axes: List[str]) -> dict:
    """What `python -m alignbench.report.status` needs to show the cells that have no run directory yet."""
    return {
        "sweep": name,
        "axes": axes,
        "jobs": [
            {
                "run_key": j.run_key,
                "eval_key": j.eval_key,
                "overrides": [o for o in j.overrides if not secret_override(o)],
                "error": j.error if j.run_key is None else None,
            }
            for j in jobs
        ],
    }
