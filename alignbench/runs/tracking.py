"""Experiment trackers by name (W&B or none). record.json is always the primary copy; trackers mirror it."""

from __future__ import annotations

import json
import logging
import netrc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Literal, cast

from alignbench.config.registry import Registry
from alignbench.config.schema import LoggerConfig
from alignbench.runs.dirs import RunDir
from alignbench.runs.keys import digest
from alignbench.runs.record import RunRecord, Status
from alignbench.runs.state import PLAN

log = logging.getLogger(__name__)
# A W&B server that did not answer is not asked again by this process's next jobs for this long (seconds).
RETRY_UNREACHABLE_S = 600
_UNREACHABLE: dict[str, tuple[float, str]] = {}  # server -> (when it failed, why)
TRAINER = "trainer"  # the one config key under which the trainer's own arguments are kept
STEP = "train/steps"  # x-axis of the training curves; record.json's metric of the same name is the last step
TABLE_ROWS = 1000  # per table: enough to browse; the whole file stays in the run directory
# The trainer's end-of-training totals: record.json's train/ metrics already carry them into the summary.
TOTALS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos")
NOT_SCORES = ("items", "seconds")  # what each benchmark also records beside its scores: how much, how long


@dataclass
class TrackedRun:
    """What a tracker is told about the run."""

    name: str
    config: dict[str, Any]
    tags: list[str]
    group: str  # the sweep's name (`adhoc` for single runs): every run of a study filters by it
    job_type: str | None = None  # the method
    run_id: str | None = None  # stable for a grid cell, so a relaunched or requeued job continues its W&B run


class Tracker:
    """No tracker: every hook is a no-op and record.json is the only copy."""

    note: str | None = None  # one line for the user, e.g. how to upload an offline run

    def log_trainer_settings(self, settings: dict[str, Any]) -> None:
        """The trainer's own arguments (TRL's TrainingArguments), kept apart from alignbench's config."""

    def log_training(self, step: int, logs: dict[str, float]) -> None:
        """One log line of the trainer, at optimizer step `step`."""

    def finish(self, record: RunRecord) -> None:
        """Mirror the record as it ended: summary, tables, adapter."""


class WandbTracker(Tracker):
    """One W&B run: the trainer's arguments under config["trainer"], its log lines as curves, the record's metrics
    and their deltas as the summary, generations and per-item outputs as tables, the adapter on request."""

    def __init__(self, run: Any, log_adapter: bool, note: str | None):
        self.run, self.log_adapter, self.note = run, log_adapter, note
        self.failed = False  # W&B failed once while the run went on: said once, then left alone
        # Curves are drawn against the optimizer step as a logged value: a relaunched grid cell resumes its W&B run
        # and trains from step 1 again, which W&B's own monotonic step would drop.
        run.define_metric(STEP)
        run.define_metric("train/*", step_metric=STEP)

    def log_trainer_settings(self, settings: dict[str, Any]) -> None:
        self._safely("log the trainer's settings", self.run.config.update, {TRAINER: settings}, allow_val_change=True)

    def log_training(self, step: int, logs: dict[str, float]) -> None:
        curves = {f"train/{k}": v for k, v in logs.items() if k not in TOTALS}
        if curves:
            self._safely("log training", self.run.log, {STEP: step, **curves})

    def finish(self, record: RunRecord) -> None:
        # In a `finally` after the run: raising here would hide the run's own outcome.
        self._safely("mirror the run", self._mirror, record)
        exit_code = 0 if record.status is Status.completed else 1  # a failed run shows as failed
        self._safely("finish its run", self.run.finish, exit_code=exit_code, always=True)

    def _safely(self, what: str, call: Callable, *args, always: bool = False, **kwargs) -> None:
        """W&B problems never fail the run: the first one is said in one line, later calls are skipped."""
        if self.failed and not always:
            return
        try:
            call(*args, **kwargs)
        except Exception as err:
            if not self.failed:
                log.warning("alignbench: W&B could not %s (%s); record.json has it all", what, _first_line(err))
            self.failed = True

    def _mirror(self, record: RunRecord) -> None:
        import wandb

        self.run.summary.update(with_deltas(record.metrics))
        if record.status is not Status.completed:  # what a failed run left behind may be a previous attempt's
            return
        run_dir = RunDir(record.run_dir)
        outputs = [run_dir.generations, *sorted(run_dir.eval.glob("*.jsonl"))]
        tables = {f"tables/{path.stem}": table(path) for path in outputs if path.is_file()}
        if tables:
            self.run.log(tables)
        adapter = run_dir.adapter
        if self.log_adapter and adapter.is_dir():
            artifact = wandb.Artifact(
                f"adapter-{record.run_key}",
                type="model",
                metadata={"run_key": record.run_key, "choices": record.choices, "overrides": record.overrides},
            )
            # The adapter is final once saved and lives beside the run's W&B files: no copy in W&B's staging folder
            # (offline, that copy would stay until `wandb sync`, one per run of a sweep).
            artifact.add_dir(str(adapter), policy="immutable")
            self.run.log_artifact(artifact)


def with_deltas(metrics: dict[str, Any]) -> dict[str, Any]:
    """metrics plus `delta/<name>` = eval/<name> - baseline/<name> for every score measured on both (what the
    adapter changed), e.g. delta/pref/accuracy, delta/mmlu/acc."""
    trained = {key[len("eval/") :]: value for key, value in metrics.items() if key.startswith("eval/")}
    deltas = {
        f"delta/{name}": value - metrics[f"baseline/{name}"]
        for name, value in trained.items()
        if name.rsplit("/", 1)[-1] not in NOT_SCORES
        and _is_number(value)
        and _is_number(metrics.get(f"baseline/{name}"))
    }
    return metrics | deltas


def table(path: Path, limit: int = TABLE_ROWS):
    """A JSON-lines file as a wandb.Table: one column per key, nested values as JSON text."""
    import wandb

    with path.open() as lines:
        rows = [json.loads(line) for line in islice(lines, limit)]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    data = [[_cell(row.get(column)) for column in columns] for row in rows]
    return wandb.Table(columns=columns, data=data, allow_mixed_types=True)  # a column may hold None and numbers


def _cell(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float) else json.dumps(value, ensure_ascii=False)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def wandb_run_id(sweep: str | None, run_key: str, run_dir: Path) -> str:
    """The W&B run id of a run directory: the same for every attempt in it, so a resumed or requeued run continues
    its W&B run. A grid cell's is `<sweep>-<run_key>`; a single run's also names its directory (a fresh one per
    launch, the same one only when resumed through hydra.run.dir)."""
    return f"{sweep}-{run_key}" if sweep else f"{run_key}-{digest(str(run_dir.resolve()))[:8]}"


def _no_tracker(cfg: LoggerConfig, run_dir: Path, run: TrackedRun) -> Tracker:
    return Tracker()


def _wandb_tracker(cfg: LoggerConfig, run_dir: Path, tracked: TrackedRun) -> Tracker:
    import wandb

    # A str, not a TrackerMode: WANDB_MODE may name any mode W&B knows (shared, dryrun), which W&B checks itself.
    mode: str = cfg.mode
    why: str | None = f"logger.mode={cfg.mode}"
    if mode == "auto":
        mode, why = os.environ.get("WANDB_MODE", ""), "WANDB_MODE"
        if not mode:
            mode, why = ("online", None) if _has_wandb_credentials() else ("offline", "no credentials")
    if mode == "disabled":
        return Tracker()
    # W&B's own console lines (credentials found, retries, where its logs are) would come on top of ours; what
    # matters is said once by alignbench: it started (offline: how to upload), or why not.
    wandb.setup(settings=wandb.Settings(silent=True))
    server = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai") if mode == "online" else mode
    down = _UNREACHABLE.get(server)
    if down is not None and time.monotonic() - down[0] < RETRY_UNREACHABLE_S:
        # The jobs of a sweep share this process: one wait for a server that is down, not one per job.
        log.warning("alignbench: W&B did not start (still unreachable: %s); running without it", down[1])
        return Tracker()
    try:
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
            mode=cast("Literal['online', 'offline', 'disabled', 'shared']", mode),
            reinit="finish_previous",  # several jobs of one multirun share this process
            # Bounded waits: for the server at the start, for uploads at the end (a server lost mid-run).
            settings=wandb.Settings(silent=True, init_timeout=cfg.init_timeout, finish_timeout=cfg.finish_timeout),
        )
    except Exception as err:  # e.g. the server is unreachable: the run goes on, record.json is the primary copy
        log.warning("alignbench: W&B did not start (%s); running without it", _first_line(err))
        _UNREACHABLE[server] = (time.monotonic(), _first_line(err))
        return Tracker()
    _UNREACHABLE.pop(server, None)
    note = f"W&B run {run.url}" if mode == "online" and run.url else None
    if mode == "offline":
        why = f"{why}={mode}" if why == "WANDB_MODE" else why
        note = f"W&B ran offline ({why}); upload it with: wandb sync {Path(run.dir).parent}"
    return WandbTracker(run, cfg.log_adapter, note)


def _has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def _first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def axis_tags(overrides: list[str], axes: list[str] | None) -> list[str]:
    """A tag per axis that picked this run, e.g. model:mistral, seed:3: the sweep's varying axes (None: every
    override, as for a single run). Constants of a sweep would tag all its runs alike and filter nothing."""
    picked = (o.split("=", 1) for o in overrides if "=" in o)
    chosen = [(key, value) for key, value in picked if axes is None or key in axes]
    return [f"{key.lstrip('+~')}:{value}"[:64] for key, value in chosen]  # W&B allows 64 characters per tag


def sweep_axes(run_dir: Path) -> list[str] | None:
    """The override keys that vary across the sweep, from the plan the grid sweeper writes beside its runs."""
    plan = run_dir.parent / PLAN
    return json.loads(plan.read_text())["axes"] if plan.is_file() else None


TRACKERS: Registry[Callable[..., Tracker]] = Registry("logger.name", {"wandb": _wandb_tracker, "none": _no_tracker})


def start_tracker(cfg: LoggerConfig, run_dir: Path, run: TrackedRun) -> Tracker:
    return TRACKERS.pick(cfg.name)(cfg, run_dir, run)
