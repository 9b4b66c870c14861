"""One job, top to bottom: identify the run -> check it can run here -> claim its run directory (skip what is done)
-> its stages (earlier stage, tracking, data, base model, train, evaluate) inside its lifecycle, which writes
record.json and closes the tracker however the run ends."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from alignbench import stages
from alignbench.config.rules import check_device
from alignbench.lifecycle import JobInfo, RunContext, RunFailed, attempt, lifecycle, skip
from alignbench.preflight import library_problems
from alignbench.runs.chain import ChainStage
from alignbench.runs.identity import identify
from alignbench.runs.inputs import input_problems
from alignbench.runs.record import RunRecord
from alignbench.runs.state import claim
from alignbench.training.preemption import Preempted

__all__ = ["JobInfo", "RunFailed", "run"]
log = logging.getLogger(__name__)


def run(config: DictConfig, run_dir: Path, job: JobInfo) -> RunRecord | None:
    """Train and evaluate one configuration, unless its run directory is done or another process holds it (None).
    A run trained before is only evaluated, and only if its evaluation is missing, failed or configured differently:
    adding a benchmark never retrains. Raises RunFailed when the run fails once started."""
    identity = identify(config)
    # Checked before the run directory is claimed: a config that cannot run here touches nothing.
    precision = check_device(identity.config, input_problems(identity.inputs) + library_problems(identity.config))
    with claim(run_dir) as claimed:
        if not claimed:
            log.info("alignbench: another process is running %s; skipped", run_dir)
            return None
        todo = attempt(identity, run_dir)
        if not todo.needed:
            return skip(todo, run_dir, identity.run_key)
        ctx = RunContext.start(identity, todo, run_dir, job, precision)
        try:
            with lifecycle(ctx):
                _execute(ctx)
        except Preempted as stop:
            stop.forward()  # the record says interrupted; submitit's handler requeues the job and exits here
            raise
        return ctx.record


def _execute(ctx: RunContext) -> None:
    """The run's stages, in order."""
    trains = ctx.attempt.train or ctx.attempt.fill
    if trains and (stage := ctx.identity.stage) is not None:
        stages.earlier_stage(ctx, stage, _run_stage)
    stages.start_tracking(ctx)
    stages.load_data(ctx)
    stages.load_model(ctx)
    if ctx.attempt.train:
        stages.train(ctx)
    else:
        if ctx.attempt.fill:
            stages.fill_steps(ctx)
        stages.load_adapter(ctx)
    if ctx.attempt.evaluate:
        stages.evaluate(ctx)


def _run_stage(stage: ChainStage, stage_dir: Path) -> RunRecord | None:
    """Train an earlier stage as the plain run it is (train only), in its own run directory and under its lock."""
    groups = ("model", "dataset", "method", "adapter", "quant", "logger", "eval", "judge")  # as __main__ records them
    try:
        return run(stage.config, stage_dir, JobInfo(choices={group: stage.config[group].name for group in groups}))
    except RunFailed as failed:  # the chained run says why its stage failed (runs.chain.StageUnavailable)
        if failed.__cause__ is None:
            raise
        raise failed.__cause__ from None
