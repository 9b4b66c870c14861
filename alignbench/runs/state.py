"""The state of a grid's run directories (completed, failed, running, pending, outdated) and the lock that lets only
one process train a run. Pure Python: planning 320 jobs must not import torch."""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alignbench.runs.dirs import RunDir
from alignbench.runs.record import RunRecord, Status

PLAN = "plan.json"


@dataclass
class Job:
    """One cell of the grid as planned: its overrides, its key, and what the run directory says about it."""

    overrides: list[str]
    run_key: str | None = None
    eval_key: str | None = None
    status: Status = Status.pending
    failures: int = 0
    error: str | None = None  # last failure, or why the overrides do not compose
    reason: str | None = None  # why it last failed (runs.failures.Reason), as its record or its launch said
    record: RunRecord | None = field(default=None, repr=False)
    problems: list[str] = field(default_factory=list)  # why it cannot start on this machine (dry runs say)
    gpu_minutes: float | None = None  # its training time on the paper's hardware (dry runs say)

    def should_run(self, max_failures: int) -> bool:
        if self.status is Status.failed:
            return self.failures < max_failures
        return self.status in (Status.pending, Status.outdated)

    def axes(self) -> dict[str, str]:
        return dict(o.split("=", 1) for o in self.overrides)


def status_of(run_dir: Path, job: Job) -> Job:
    """Fill in the job's status from its run directory (its record and its lock)."""
    assert job.run_key is not None, "a job's run directory is named by its run key: only a planned job has one"
    record = job.record = RunRecord.read(run_dir)
    if record is not None:
        job.failures, job.error, job.reason = record.failures, record.error, record.reason
    if is_locked(run_dir):
        job.status = Status.running
    elif record is None:
        job.status = Status.pending
    elif record.is_done(job.run_key, job.eval_key):
        job.status = Status.completed
    elif record.status is Status.completed:
        job.status = Status.outdated  # trained, but evaluated otherwise or not fully: a launch re-evaluates only
    elif record.status is Status.failed:
        job.status = Status.failed
    else:  # "running" or "interrupted" with nobody holding the lock: the process died or was stopped; run it again
        job.status = Status.pending
    return job


def is_locked(run_dir: Path) -> bool:
    try:
        fd = os.open(RunDir(run_dir).lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextmanager
def claim(run_dir: Path) -> Iterator[bool]:
    """Hold the run's lock for the duration; yields False if another process holds it.

    flock is released by the kernel when its holder dies, kill -9 included, so a crash never leaves a run locked.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(RunDir(run_dir).lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _lock_within(fd, seconds=1.0):  # a status probe holds it for an instant; a running job, for good
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def wait_unlocked(run_dir: Path, deadline: float, poll_s: float = 1.0) -> bool:
    """Wait until nobody holds the run's lock (its holder finished, failed or died); False if time.monotonic()
    passes `deadline` first."""
    while is_locked(run_dir):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True


def lock_holder(run_dir: Path) -> str:
    """'host pid' of the process that claimed the run last (what claim writes into the lock file)."""
    try:
        return RunDir(run_dir).lock.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _lock_within(fd: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def varying_axes(jobs: list[Job]) -> list[str]:
    """The override keys that take more than one value across the grid: the sweep's axes."""
    values: dict[str, set] = {}
    for job in jobs:
        for key, value in job.axes().items():
            values.setdefault(key, set()).add(value)
    return [key for key, seen in values.items() if len(seen) > 1]


# How a sweep counts its jobs; a stopped run's directory reads as pending, so `interrupted` is no job state.
JOB_STATES = (Status.completed, Status.failed, Status.running, Status.pending, Status.outdated, Status.invalid)


def count(jobs: list[Job]) -> dict[Status, int]:
    return {status: sum(job.status is status for job in jobs) for status in JOB_STATES}


def describe(counts: dict[Status, int]) -> str:
    rare = (Status.invalid, Status.outdated)  # named only when some job is in them
    return ", ".join(f"{n} {status.value}" for status, n in counts.items() if n or status not in rare)


def one_line(text: str | None, limit: int = 240) -> str:
    text = " ".join((text or "no error recorded").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
