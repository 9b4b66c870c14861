"""A sweep's plan: its jobs, each composed as the launch will compose it, with its run key and its status in the sweep
folder; for a dry run also why it could not start here and what it would cost."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf, open_dict

from alignbench.config.guard import config_problems, refuse
from alignbench.config.hub import ConcurrentProbe
from alignbench.config.rules import ConfigError, cuda_present, problems_here
from alignbench.config.secrets import value_problems
from alignbench.config.sources import hub_repos
from alignbench.config.strict import unknown_key_problems
from alignbench.runs.chain import ChainStage, stage_dirs, trained_stage
from alignbench.runs.identity import Identity, identify
from alignbench.runs.inputs import input_problems
from alignbench.runs.keys import digest
from alignbench.runs.provenance import secret_override
from alignbench.runs.reuse import missing_steps, trained_elsewhere
from alignbench.runs.state import Job, Status, status_of
from alignbench.sweep import hydra_private
from alignbench.sweep.estimate import gpu_minutes

log = logging.getLogger(__name__)


class Planner:
    """Plans the jobs of one sweep. After a dry run's planning, `studies` holds each run's study coordinates by
    run_key, and `stages` each SFT stage of its chained runs -> where it is trained already, or "" (a launch trains
    it)."""

    def __init__(self, config: DictConfig, config_loader: ConfigLoader) -> None:
        self.config, self.config_loader, self.dry_run = config, config_loader, bool(config.dry_run)
        self.parser = OverridesParser.create(config_loader=config_loader)
        self.studies: dict[str, Any] = {}
        self.stages: dict[str, str] = {}
        self.seconds = 0.0  # how long planning took
        self._composed: dict[tuple, DictConfig] = {}
        self._problems: dict[tuple, list[str]] = {}  # config_problems of each combination of groups
        self._cuda = cuda_present()
        self._probe = ConcurrentProbe()  # dry runs: each hub repo asked once, while the plan composes
        self._unique: dict[str, Identity] = {}  # dry runs: one per configuration that differs in more than seed
        self._refused: list[str] = []

    def plan(self, params: dict, grids: list[dict], arguments: list[str], sweep_dir: Path) -> list[Job]:
        """Every job of the sweep, or exit 1 if any job has a secret or a key the schema lacks (nothing written)."""
        tic = time.perf_counter()
        overrides = combinations(self.parser, params, grids, arguments)
        jobs = drop_duplicates([self._job(job_overrides, sweep_dir) for job_overrides in overrides])
        refuse(self._refused)
        if self.dry_run:
            self._check_here(jobs)
        self.seconds = time.perf_counter() - tic
        return jobs

    def _job(self, overrides: Sequence[str], sweep_dir: Path) -> Job:
        """The job's run_key from its composed config, and its status from its run directory; a dry run also says
        why it could not start here and what it would cost on the paper's hardware."""
        job = Job(list(overrides))
        try:
            identity = identify(self._compose(overrides))  # as the launch will: same keys, inputs and stage
            resolved, stage = identity.resolved, identity.stage
            job.run_key = identity.run_key
            job.eval_key = identity.eval_key if "evaluate" in resolved["stages"] else None
            if self.dry_run:
                for repo in hub_repos(resolved):
                    self._probe.prefetch(*repo)
                job.gpu_minutes = gpu_minutes(resolved)
                self.studies.setdefault(job.run_key, identity.study)
                self._unique.setdefault(_beyond_seed(resolved), identity)
                # the configuration's key first, replaced by its problems in _check_here once every job is planned
                job.problems = [_beyond_seed(resolved), *input_problems(identity.inputs)]
                if stage is not None and stage.key not in self.stages:
                    self.stages[stage.key] = _stage_found(stage, sweep_dir / job.run_key, self.config.sweep.name)
        except Exception as err:  # the same error the launch would hit; the other jobs still run
            job.status, job.error = Status.invalid, f"{type(err).__name__}: {err}"
            return job
        run_dir = sweep_dir / job.run_key
        status_of(run_dir, job)
        if job.status is Status.pending and (source := trained_elsewhere(identity.config, job.run_key, run_dir)):
            # trained in sweep.inputs_dir: a launch evaluates it, training again only to step adapters it lacks
            job.status = Status.outdated
            missing = missing_steps(identity.config, source)
            steps = identity.config.method.max_steps
            job.gpu_minutes = job.gpu_minutes and job.gpu_minutes * (max(missing) / steps if missing else 0.0)
        return job

    def _check_here(self, jobs: list[Job]) -> None:
        """Why each job could not start on this machine: the run's own rules, applied once per configuration
        (the rules never read the seed), with the hub answers the planning prefetched."""
        problems = {
            key: problems_here(identity.config, self._cuda, self._cuda, self._probe)
            for key, identity in self._unique.items()
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
        parsed = self.parser.parse_overrides(list(overrides))
        groups = [o for o in parsed if hydra_private.is_group(self.config_loader, o)]
        values = [o for o in parsed if not hydra_private.is_group(self.config_loader, o)]
        lines = [o.input_line for o in groups if o.input_line is not None]  # the parser sets every one
        key = tuple(lines)
        if key not in self._composed:
            config = self.config_loader.load_sweep_config(self.config, lines)
            with open_dict(config):
                del config["hydra"]
            self._composed[key] = config
            self._problems[key] = config_problems(config)
        config = copy.deepcopy(self._composed[key])
        hydra_private.apply_values(values, config)
        refused = self._problems[key] + _value_problems(values, config)
        if refused:  # a secret or a key the schema lacks: the whole sweep is refused before anything is written
            self._refused += refused
            raise ConfigError("; ".join(refused))
        return config


def combinations(parser: OverridesParser, params: dict, grids: list[dict], arguments: list[str]) -> list[list[str]]:
    """Each job's overrides: the product of each grid's axes with `params` and the command line (which wins over
    both), in Hydra's sweep syntax (`a=1,2`, `range(0,3)`)."""
    jobs = []
    for grid in grids:
        axes = [f"{key}={value}" for key, value in [*params.items(), *grid.items()]]
        jobs += hydra_private.expand(parser.parse_overrides(axes + arguments))
    return jobs


def _value_problems(values: list[Override], config: DictConfig) -> list[str]:
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


def drop_duplicates(jobs: list[Job]) -> list[Job]:
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


def plan_file(name: str, jobs: list[Job], axes: list[str]) -> dict:
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
