"""Runs that start from an earlier stage (method=sft_dpo: SFT, then DPO from the SFT model).

The earlier stage is itself a run: its config is the chained run's own with the stage's method section (`method.sft`)
in place of `method`, i.e. exactly the config a plain `method=sft` run of the same model, data, adapter, quantization
and seed has, so its run key is that run's key. It is trained once per run key and shared by every chained run that
needs it, across processes and relaunches, with the run directories' own lock (runs.state.claim).

Where a stage's run is found, first match wins:
1. `<sweep.inputs_dir>/<stage key>`: a completed plain `method=sft` run of another grid sweep (sweep=paper_chain
   reuses multirun/paper's QLoRA SFT runs);
2. `<this sweep's folder>/<stage key>`: a plain SFT run of the same grid sweep (e.g. `-m method=sft,sft_dpo`);
3. `<paths.cache_dir>/stages/<stage key>`: the shared stage folder, a normal run directory (record.json + adapter)
   trained there, without evaluation, by the first chained run that needs it. A chained run that finds it claimed by
   another process waits for that process (sweep.stage_wait_s) instead of training it twice.
Only 1 and 2 are read, never written: a stage is trained in the shared folder alone.

Pure Python apart from `ensure_stage`, whose `run` is the pipeline's (passed in, so this module imports no torch).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from alignbench.runs.dirs import CacheDir
from alignbench.runs.keys import resolve, run_key
from alignbench.runs.record import RunRecord, Status
from alignbench.runs.state import lock_holder, wait_unlocked

# The method section of an earlier stage, by its key in the chained method's section (schema: SFTDPOMethodConfig).
STAGE_SECTIONS = ("sft",)


class StageUnavailable(RuntimeError):
    """The earlier stage could not be had: its training failed, or another process kept it claimed past
    sweep.stage_wait_s. `reason` (runs.failures.Reason) when it is not the chained run's own failure's."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class ChainStage:
    config: DictConfig  # the stage as a plain run of its method (train only)
    key: str  # its run key
    section: str  # where the chained method keeps its settings, e.g. "sft"

    @property
    def resolved(self) -> dict[str, Any]:
        return resolve(self.config)


def stage_of(config: DictConfig) -> ChainStage | None:
    """The earlier stage a run starts from, or None for a run that starts from the base."""
    section = next((name for name in STAGE_SECTIONS if name in config.method), None)
    if section is None:
        return None
    stage = copy.deepcopy(config)
    with open_dict(stage):
        stage.method = stage.method[section]  # the adapter section's ${method.lora...} now resolve to the stage's
        stage.stages = ["train"]  # not in the run key: a stage is trained, the chained run is what gets evaluated
        stage.eval.at_steps = []  # the stage's own checkpoints are not needed (and would change its key)
    return ChainStage(stage, run_key(resolve(stage)), section)


def stage_dirs(stage: ChainStage, run_dir: Path, sweep: str | None) -> list[tuple[str, Path]]:
    """(where, folder) in the order they are looked at; the shared folder last (the only one trained into)."""
    settings = stage.config.sweep
    found = []
    if settings.inputs_dir:
        found.append(("inputs_dir", Path(settings.inputs_dir).expanduser() / stage.key))
    if sweep:  # a grid sweep keys its run directories by run key, so a plain SFT run of this sweep is a sibling
        found.append(("sweep", run_dir.parent / stage.key))
    found.append(("shared", CacheDir(stage.config.paths.cache_dir).stages / stage.key))
    return found


def trained_stage(stage: ChainStage, folder: Path) -> RunRecord | None:
    """The folder's record if it holds this stage trained (its run key, its adapter saved)."""
    record = RunRecord.read(folder)
    return record if record is not None and record.trained(stage.key, folder) else None


def ensure_stage(
    stage: ChainStage, run_dir: Path, sweep: str | None, run: Callable[[ChainStage, Path], Any]
) -> dict[str, Any]:
    """Where the stage's trained run is: reused when some folder has it, else trained by `run(stage, folder)` (the
    pipeline's run, which claims the folder or returns None when another process holds it: then this waits for that
    process and looks again). Returns what the chained run's record says about its parent."""
    *lookups, (_, shared) = stage_dirs(stage, run_dir, sweep)
    for where, folder in lookups:
        if (record := trained_stage(stage, folder)) is not None:
            return _parent(stage, folder, record, where, reused=True)
    deadline = time.monotonic() + stage.config.sweep.stage_wait_s
    while True:
        if (record := trained_stage(stage, shared)) is not None:
            return _parent(stage, shared, record, "shared", reused=True)
        _refuse_if_given_up(stage, shared)
        try:
            result = run(stage, shared)
        except Exception as err:  # the stage's record says it failed; the chained run's says why it could not start
            raise StageUnavailable(
                f"its {stage.section} stage {stage.key} ({shared}) failed: {type(err).__name__}: {err}"
            ) from err
        if result is not None:  # trained here (run raises if it failed), or found trained once claimed
            if not result.trained(stage.key, shared):
                raise StageUnavailable(f"the {stage.section} stage {stage.key} in {shared} did not save an adapter")
            # Found trained once claimed: another process trained it between the look above and the claim (or its
            # record was rebuilt from its complete adapter: runs.recovery).
            return _parent(stage, shared, result, "shared", reused=result.pid != os.getpid())
        holder = lock_holder(shared)
        print(f"alignbench: waiting for {holder} to train the {stage.section} stage {stage.key} ({shared})", flush=True)
        if not wait_unlocked(shared, deadline):
            raise StageUnavailable(
                f"the {stage.section} stage {stage.key} in {shared} is still held by {holder} after "
                f"sweep.stage_wait_s={stage.config.sweep.stage_wait_s:g} s; relaunch once it is done (or wait longer)",
                reason="unavailable",  # not this run's fault: no retry spent (a failed stage keeps its own reason)
            )


def _refuse_if_given_up(stage: ChainStage, folder: Path) -> None:
    """A stage that failed sweep.max_failures times for a reason of its own (diverged, bad data, a bug) is not
    trained again by each chained run that needs it, as a grid cell would not be: the chained run fails at once,
    filed under the stage's reason."""
    from alignbench.runs.failures import counts_against_retries

    record = RunRecord.read(folder)
    cap = stage.config.sweep.max_failures
    if record is None or record.run_key != stage.key or record.failures < cap:
        return
    if record.status is Status.failed and counts_against_retries(record.reason):
        raise StageUnavailable(
            f"its {stage.section} stage {stage.key} ({folder}) failed {record.failures} times "
            f"(sweep.max_failures={cap}), last with {record.error}; "
            f"fix the cause and delete {folder} to train it again",
            reason=record.reason,
        )


def _parent(stage: ChainStage, folder: Path, record: RunRecord, where: str, reused: bool) -> dict[str, Any]:
    metrics = {k: v for k, v in record.metrics.items() if k in ("train/loss", "train/loss_last", "train/steps")}
    return {
        "stage": stage.section,
        "run_key": stage.key,
        "run_dir": str(folder),
        "where": where,  # inputs_dir | sweep | shared
        "reused": reused,  # False: this run trained it
        "trained_at": record.trained_at,
        "metrics": metrics,
    }
