"""A run's lifecycle in one place: what this attempt must do (train, evaluate, resume, or nothing), what the run
holds while its stages run (RunContext), and what happens however it ends: the record written, the tracker closed,
the summary printed, the base model released; a failure raised as RunFailed, carrying its record."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignbench.config.rules import ConfigError
from alignbench.config.schema import Config, Precision, Stage
from alignbench.modeling.models import release_base_model
from alignbench.runs.console import print_summary
from alignbench.runs.identity import Identity
from alignbench.runs.keys import keyed_config
from alignbench.runs.provenance import without_secrets
from alignbench.runs.record import RunRecord, Status, now
from alignbench.runs.recovery import previous_record
from alignbench.runs.reuse import link_trained, missing_steps, trained_elsewhere
from alignbench.runs.tracking import Tracker
from alignbench.training.checkpoints import discard, pick
from alignbench.training.train import Resume

log = logging.getLogger(__name__)


@dataclass
class JobInfo:
    """What Hydra knows about the job beyond its config."""

    choices: dict[str, str]  # config group -> option, e.g. model -> mistral
    overrides: list[str] = field(default_factory=list)  # the job's own overrides, e.g. seed=3
    sweep: str | None = None  # the sweep's name when the run directory is keyed by run_key (a grid cell)


class RunFailed(Exception):
    """A run failed once it had started: its record says why, and its summary has said it on the console (the entry
    point prints nothing more). The error is the cause (`__cause__`)."""

    def __init__(self, record: RunRecord) -> None:
        super().__init__(record.error)
        self.record = record


@dataclass
class Attempt:
    """What this launch does in a claimed run directory, from what an earlier attempt left there."""

    previous: RunRecord | None
    train: bool
    evaluate: bool
    resume: Resume | None = None  # the checkpoint training continues from (a killed or preempted attempt's)
    # eval.at_steps whose adapters a run trained before lacks: trained again up to the last of them, nothing kept
    # but those adapters (training.train.fill_steps)
    fill: list[int] = field(default_factory=list)

    @property
    def needed(self) -> bool:
        return self.train or self.evaluate


def attempt(identity: Identity, run_dir: Path) -> Attempt:
    """A run trained before (same run key, its adapter whole) is only evaluated, and only if its evaluation is missing,
    failed or configured differently (another eval key): adding a benchmark never retrains."""
    cfg, key = identity.config, identity.run_key
    previous = previous_record(run_dir, key)  # an unreadable record is set aside; a complete adapter kept
    if not _trained(previous, key) and (source := trained_elsewhere(cfg, key, run_dir)) is not None:
        link_trained(source, run_dir)  # the same run trained in sweep.inputs_dir: its adapter, not a new training
        previous = previous_record(run_dir, key)
        assert previous is not None, f"{source}'s adapter was linked into {run_dir} with its manifest"
        previous.trained_in = str(source)
        log.info("alignbench: %s reuses the adapter trained in %s (sweep.inputs_dir)", run_dir, source)
    trained_before = _trained(previous, key)
    damage = previous.adapter_problem(run_dir) if previous is not None and trained_before else None
    trained = trained_before and damage is None
    if Stage.train not in cfg.stages and not trained:
        raise ConfigError(
            f"stages=[{','.join(cfg.stages)}] needs a trained run in {run_dir}; "
            f"{damage or f'it has no adapter for run_key {key}'} (run with stages=[train,evaluate] first)"
        )
    if damage:
        log.warning("alignbench: warning: %s; the adapter is trained again", damage)
    train = Stage.train in cfg.stages and not trained
    done = trained and previous is not None and previous.is_done(*identity.keys)
    evaluate = Stage.evaluate in cfg.stages and not done
    fill = missing_steps(cfg, run_dir) if trained and evaluate else []
    if fill and Stage.train not in cfg.stages:
        raise ConfigError(
            f"eval.at_steps={list(cfg.eval.at_steps)}: {run_dir} has no adapter saved at step "
            f"{', '.join(map(str, fill))}, and stages=[{','.join(cfg.stages)}] trains nothing "
            "(run with stages=[train,evaluate] to train again up to the last of them)"
        )
    # A killed, preempted or requeued attempt left checkpoints: training continues from the newest complete one. A
    # fill starts from step 0 (a checkpoint may lie past a step it must save) and labels its checkpoints as this
    # run's, which they are.
    resume = (
        _resume_point(run_dir, key, identity.resolved) if train else _identity(key, identity.resolved) if fill else None
    )
    return Attempt(previous, train, evaluate, resume, fill)


def _trained(previous: RunRecord | None, key: str) -> bool:
    return previous is not None and previous.run_key == key and previous.trained_at is not None


def skip(attempt: Attempt, run_dir: Path, key: str) -> RunRecord | None:
    """A run with nothing left to do: its record kept as found (or as rebuilt from its complete adapter)."""
    previous = attempt.previous
    if previous is not None and previous != RunRecord.read(run_dir):  # rebuilt by runs.recovery: written now
        previous.write(run_dir)
    discard(run_dir)  # a kill between publishing the adapter and discarding the checkpoints left them
    log.info("alignbench: %s is already complete (run_key %s); skipped", run_dir, key)
    return previous


@dataclass
class RunContext:
    """What a run holds while its stages run (pipeline._execute): each stage reads and adds to it."""

    identity: Identity
    record: RunRecord
    run_dir: Path
    job: JobInfo
    precision: Precision
    attempt: Attempt
    tracker: Tracker | None = None
    data: Any = None  # data.load.PreferenceData, fitted to the tokenizer
    tokenizer: Any = None
    model: Any = None  # the base model (shared with later runs of this process)
    policy: Any = None  # the base with the adapter in it, once there is one

    @property
    def cfg(self) -> Config:
        return self.identity.config

    @classmethod
    def start(cls, identity: Identity, attempt: Attempt, run_dir: Path, job: JobInfo, precision: Precision):
        """The context of a run starting now, its record written (status running)."""
        keep = not attempt.train  # a re-evaluation keeps what training produced
        record = RunRecord.start(identity.keys, attempt.evaluate, attempt.previous, run_dir, identity.resolved, keep)
        record.choices, record.overrides, record.sweep = job.choices, job.overrides, job.sweep
        record.precision = precision.value
        record.study = identity.study
        _record_resume(record, attempt, run_dir)
        record.write(run_dir)
        return cls(identity, record, run_dir, job, precision, attempt)


@contextmanager
def lifecycle(ctx: RunContext) -> Iterator[RunContext]:
    """Run the stages inside; however they end, the record is written (completed, failed or interrupted), the
    tracker closed, the summary printed once and the shared base model left without this run's adapter."""
    record = ctx.record
    try:
        yield ctx
        record.status = Status.completed
    except Exception as err:
        # Its reason decides whether a retry is spent: a model that cannot be had or a full disk are not the run's
        # fault (runs.failures).
        record.fail(err)
        raise RunFailed(record) from err
    except BaseException as err:  # Ctrl-C, SIGTERM, preemption: interrupted, never a failure
        record.fail(err)
        raise
    finally:
        release_base_model(ctx.policy)  # the next run in this process may reuse the base: no adapter left in it
        record.finished_at = now()
        try:
            record.write_last(ctx.run_dir)  # a full disk: a failed record naming the cause, in place of the old one
        except OSError as err:
            raise RunFailed(record) from err
        finally:
            if ctx.tracker is not None:
                ctx.tracker.finish(record)
            print_summary(record, ctx.tracker.note if ctx.tracker else None)


def _identity(key: str, resolved: dict) -> Resume:
    """What checkpoints of this run carry (run key, keyed config), continuing from none."""
    return Resume(key, without_secrets(keyed_config(resolved)))


def _resume_point(run_dir: Path, key: str, resolved: dict) -> Resume:
    """What checkpoints of this run carry, and the one to continue from (a ConfigError if the run directory holds
    another configuration's; torn or corrupt ones are set aside on the way)."""
    resume = _identity(key, resolved)
    resume.picked = pick(run_dir, key, resume.keyed)
    resume.checkpoint = resume.picked.path
    return resume


def _record_resume(record: RunRecord, attempt: Attempt, run_dir: Path) -> None:
    """resumed_from for this attempt, and the run's history of resumes and set-aside checkpoints."""
    previous = attempt.previous
    history = (previous.resumes if previous and previous.run_key == record.run_key else None) or []
    picked = attempt.resume.picked if attempt.resume else None
    if picked and (picked.path or picked.set_aside):
        record.resumed_from = str(picked.path.relative_to(run_dir)) if picked.path else None
        entry = {"attempt": record.attempt, "checkpoint": record.resumed_from, "step": picked.step}
        history = [*history, entry | ({"set_aside": picked.set_aside} if picked.set_aside else {})]
        if picked.path:
            print(f"alignbench: resuming {run_dir} from {record.resumed_from} (step {picked.step})", flush=True)
    record.resumes = history or None
