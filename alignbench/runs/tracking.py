"""Experiment trackers by name (W&B or none). record.json is always the primary copy; trackers mirror it."""

from __future__ import annotations

import netrc
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignbench.config.registry import Registry
from alignbench.config.schema import LoggerConfig


@dataclass
class Tracker:
    report_to: list[str]  # what TRL's report_to should say
    run: Any = None
    note: str | None = None  # one line for the user, e.g. how to upload an offline run

    def finish(self, summary: dict[str, Any], failed: bool) -> None:
        if self.run is None:
            return
        self.run.summary.update(summary)
        self.run.finish(exit_code=1 if failed else 0)  # a failed run shows as failed, not finished


@dataclass
class TrackedRun:
    """What a tracker is told about the run."""

    name: str
    config: dict[str, Any]
    tags: list[str]
    group: str | None = None  # the sweep's name
    job_type: str | None = None  # the method
    run_id: str | None = None  # stable for a grid cell, so a relaunched or requeued job continues its W&B run


def _no_tracker(cfg: LoggerConfig, run_dir: Path, run: TrackedRun) -> Tracker:
    return Tracker(report_to=["none"])


def _wandb_tracker(cfg: LoggerConfig, run_dir: Path, tracked: TrackedRun) -> Tracker:
    import wandb

    mode = cfg.mode
    if mode == "auto":
        mode = os.environ.get("WANDB_MODE") or ("online" if _has_wandb_credentials() else "offline")
    if mode == "disabled":
        return Tracker(report_to=["none"])
    run = wandb.init(
        project=cfg.project,
        entity=cfg.entity,
        name=tracked.name,
        group=tracked.group,
        job_type=tracked.job_type,
        tags=list(cfg.tags) + tracked.tags,
        config=tracked.config,
        id=tracked.run_id,
        resume="allow" if tracked.run_id else None,
        dir=str(run_dir),
        mode=mode,
        reinit="finish_previous",  # several jobs of one multirun share this process
        settings=wandb.Settings(quiet=True),
    )
    note = None
    if mode == "offline":
        note = f"W&B ran offline (no credentials); upload it with: wandb sync {Path(run.dir).parent}"
    return Tracker(report_to=["wandb"], run=run, note=note)


def _has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def axis_tags(choices: dict[str, str], overrides: list[str]) -> list[str]:
    """One tag per axis value, e.g. model:mistral, seed:3 (W&B allows 64 characters per tag)."""
    axes = dict(choices) | dict(o.lstrip("+").split("=", 1) for o in overrides)
    return [f"{name}:{value}"[:64] for name, value in axes.items()]


TRACKERS: Registry[Callable[..., Tracker]] = Registry("logger.name", {"wandb": _wandb_tracker, "none": _no_tracker})


def start_tracker(cfg: LoggerConfig, run_dir: Path, run: TrackedRun) -> Tracker:
    return TRACKERS.pick(cfg.name)(cfg, run_dir, run)
