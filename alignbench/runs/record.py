"""record.json as a typed RunRecord: the one status vocabulary, when a run is done, what a re-evaluation keeps, and
the atomic write. The JSON on disk keeps its keys, so reports and old run directories read it unchanged."""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from alignbench.runs import adapter
from alignbench.runs.digest import digest
from alignbench.runs.dirs import RECORD, RunDir  # noqa: F401 (RECORD: the name readers of records import)
from alignbench.runs.failures import DISK_FULL, Reason, counts_against_retries, describe, reason_of
from alignbench.runs.files import finite, write_json_atomic


class Status(StrEnum):
    """A run's state, as its record says it (the first four) or as a sweep sees its directory (all of them)."""

    completed = "completed"  # trained and evaluated as configured
    failed = "failed"  # raised; retried on relaunch until sweep.max_failures
    running = "running"  # started; in a sweep, also: another process holds its lock
    interrupted = "interrupted"  # Ctrl-C, SIGTERM, preemption: not the run's fault, no retry spent
    pending = "pending"  # no record, or a record whose process died: run it (again)
    outdated = "outdated"  # trained, but not evaluated as now configured: a launch re-evaluates only
    invalid = "invalid"  # the job's overrides do not compose; nothing can run


# What a re-evaluation keeps of a trained run: training's results, not the previous evaluation's.
KEPT_BY_EVALUATION = (
    "model_path",
    "adapter_path",
    "adapter_files",
    "trained_at",
    "data_source",
    "precision",
    "parent",
    "trained_in",
    "filled_steps",
)
KEPT_METRICS = ("train/", "data/")
KEPT_TIMINGS = ("parent_s", "train_s", "load_model_s")
# Written only once the run gets that far (absent from the JSON before).
LATE = (
    "adapter_files",
    "parent",
    "trained_in",
    "filled_steps",
    "torch_threads",
    "precision",
    "data_source",
    "data_issues",
    "base_reused",
    "cache_hits",
    "benchmarks",
    "finished_at",
    "error",
    "resumed_from",
    "resumes",
    "reason",
    "study",
    "digest",
)
# What a record must keep when a full disk leaves it only the space of the previous one (write_last).
ESSENTIAL = (
    "run_key",
    "eval_key",
    "status",
    "attempt",
    "failures",
    "reason",
    "error",
    "choices",
    "overrides",
    "sweep",
    "run_dir",
    "started_at",
    "finished_at",
    "trained_at",
    "adapter_path",
    "adapter_files",
    "study",
)


@dataclass
class RunRecord:
    run_key: str
    eval_key: str | None = None  # set once evaluated, so a run trained but not evaluated is evaluated on relaunch
    status: Status = Status.running
    attempt: int = 0  # every start counts, interrupted ones included
    failures: int = 0
    choices: dict[str, str] = field(default_factory=dict)  # config group -> option, e.g. model -> mistral
    overrides: list[str] = field(default_factory=list)
    sweep: str | None = None
    run_dir: str = ""
    host: str = ""
    pid: int = 0
    model_path: str | None = None
    adapter_path: str | None = None  # only once the adapter is saved
    # Its files' sizes and sha256 (runs.adapter.listed): the adapter is verified by them even if its manifest is lost.
    adapter_files: dict[str, dict[str, Any]] | None = None
    trained_at: str | None = None
    # A chained run's earlier stage (method=sft_dpo: the SFT run it started from and whose model was its reference):
    # stage, run_key, run_dir, where it was found, reused (False: this run trained it), trained_at, a few metrics.
    parent: dict[str, Any] | None = None
    # The run directory whose training this run reuses (the same run key trained in sweep.inputs_dir: runs.reuse);
    # None: trained here. eval.at_steps adapters it lacked and trained again (to the last of them), if any.
    trained_in: str | None = None
    filled_steps: list[int] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # flat: train/..., data/..., eval/..., baseline/...
    timings: dict[str, float] = field(default_factory=dict)
    started_at: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # resolved, secrets dropped
    versions: dict[str, str] = field(default_factory=dict)
    torch_threads: int | None = None
    precision: str | None = None
    data_source: str | None = None
    data_issues: dict[str, Any] | None = None  # rows and pairs left out, by reason, with the first rows (data.load)
    base_reused: bool | None = None
    cache_hits: dict[str, bool] | None = None
    benchmarks: dict[str, Any] | None = None  # judges, sources, errors, missing, baseline reuse
    finished_at: str | None = None
    error: str | None = None
    # The checkpoint this attempt's training continued from (relative to run_dir), and every attempt's resume and
    # every checkpoint set aside (torn or corrupt), oldest first: {"attempt", "checkpoint", "step", "set_aside"}.
    resumed_from: str | None = None
    resumes: list[dict[str, Any]] | None = None
    reason: str | None = None  # why it failed or stopped (runs.failures.Reason); some reasons spend no retry
    # The run's place in the study (runs.study): every axis it can differ on and its cell (configuration sans seed).
    study: dict[str, Any] | None = None
    # Checksums of its metrics and per-item evaluation files (runs.digest), rewritten with every write: the report
    # recomputes them, so a number edited by hand or an item file changed afterwards is caught.
    digest: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know: kept on rewrite

    @classmethod
    def start(
        cls,
        keys: tuple[str, str],
        evaluate: bool,
        previous: RunRecord | None,
        run_dir: Path,
        resolved: dict[str, Any],
        keep_training: bool,
    ) -> RunRecord:
        """The record of a run starting now: one more attempt after `previous`; a re-evaluation (keep_training)
        keeps what training produced."""
        from alignbench.runs.provenance import library_versions, without_secrets

        record = cls(
            run_key=keys[0],
            eval_key=keys[1] if evaluate else None,
            run_dir=str(run_dir),
            attempt=(previous.attempt if previous else 0) + 1,
            failures=previous.failures if previous else 0,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=now(),
            config=without_secrets(resolved),
            versions=library_versions(),
        )
        if keep_training:
            assert previous is not None, "only a trained run is re-evaluated (lifecycle.attempt)"
            for name, value in previous.kept_by_evaluation().items():
                setattr(record, name, value)
        return record

    def trained(self, run_key: str, run_dir: Path) -> bool:
        """Trained for this run_key, with its adapter complete in the run directory."""
        return self.run_key == run_key and self.trained_at is not None and self.adapter_problem(run_dir) is None

    def adapter_problem(self, run_dir: Path) -> str | None:
        """Why the run directory's adapter is not the one this record trained (a file missing or changed), or None."""
        return adapter.problem(run_dir, self.run_key, self.adapter_files)

    def fail(self, err: BaseException) -> None:
        """The run ended with `err`: failed (or interrupted), why, and a retry spent only if it was the run's fault."""
        self.reason = reason_of(err).value
        self.status = Status.interrupted if self.reason == Reason.interrupted else Status.failed
        self.failures += self.status is Status.failed and counts_against_retries(self.reason)
        self.error = describe(err)

    def is_done(self, run_key: str, eval_key: str | None) -> bool:
        """Completed for this run_key and, unless eval_key is None (training only), evaluated with this eval_key
        and every benchmark: one that could not run (no data, no key) is tried again."""
        if self.status is not Status.completed or self.run_key != run_key:
            return False
        return eval_key is None or (self.eval_key == eval_key and not (self.benchmarks or {}).get("errors"))

    def kept_by_evaluation(self) -> dict[str, Any]:
        """What a re-evaluation of this trained run starts from: training's fields, metrics and timings."""
        kept = {name: getattr(self, name) for name in KEPT_BY_EVALUATION}
        kept["metrics"] = {k: v for k, v in self.metrics.items() if k.startswith(KEPT_METRICS)}
        kept["timings"] = {k: v for k, v in self.timings.items() if k in KEPT_TIMINGS}
        return kept

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data = {k: v for k, v in data.items() if not (k in LATE and v is None)}
        return data | extra

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        known = {f.name for f in fields(cls)} - {"extra"}
        record = cls(**{k: v for k, v in data.items() if k in known})
        record.status = Status(record.status)
        record.extra = {k: v for k, v in data.items() if k not in known}
        return record

    @classmethod
    def read(cls, run_dir: Path) -> RunRecord | None:
        """The run directory's record, or None when it has none (or only a hand-damaged one)."""
        try:
            return cls.from_json(json.loads(RunDir(run_dir).record.read_text()))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, TypeError, ValueError):  # written atomically: only a hand-edited file
            return None

    def write(self, run_dir: Path) -> None:
        self.digest = digest(self.metrics, run_dir)
        write_json_atomic(RunDir(run_dir).record, self.to_json())

    def write_last(self, run_dir: Path) -> None:
        """The record as the run ended. On a full disk the atomic write cannot get room for a second copy: the
        record then becomes a failed one naming the cause (a run whose record could not be written did not
        complete), rewritten in place within the space the previous copy holds, and the OSError is raised."""
        try:
            self.write(run_dir)
        except OSError as err:
            if self.status is not Status.failed:
                self.fail(err)  # what the summary then says, whether or not it reaches the disk
            if err.errno in DISK_FULL:  # if not even the essentials fit, the previous record stays
                _rewrite_in_place(RunDir(run_dir).record, self.to_json())
            raise


def _rewrite_in_place(path: Path, data: dict[str, Any]) -> bool:
    """Overwrite `path` with `data`, compact, within the bytes it already holds (a full disk has no room for more):
    the whole record if it fits, else its ESSENTIAL fields. False if neither fits or the file is gone."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    essential = {k: v for k, v in data.items() if k in ESSENTIAL} | {"incomplete": "disk full: only this was kept"}
    for candidate in (data, essential):
        text = json.dumps(finite(candidate), separators=(",", ":"), default=str, allow_nan=False).encode()
        if len(text) <= size:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.pwrite(fd, text, 0)
                os.ftruncate(fd, len(text))
                os.fsync(fd)
            finally:
                os.close(fd)
            return True
    return False


@contextmanager
def timed(timings: dict[str, float], key: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = round(time.perf_counter() - start, 3)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
