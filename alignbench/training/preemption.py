"""SIGTERM and SIGUSR2 (what SLURM sends before a preemption or the time limit) while training: a flag, then a
checkpoint at the next step boundary, then the signal's previous handler.

Outside training the previous handlers act at once: alignbench's own SIGTERM -> KeyboardInterrupt (record
`interrupted`), submitit's SIGUSR2 -> requeue the job and exit. While training, they would lose every step since the
last checkpoint, so StopSignals holds the signal until the trainer has saved one; the pipeline writes the record and
then hands the signal on (Preempted.forward): submitit requeues the job, which resumes in the same run directory.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGUSR2)


class Preempted(KeyboardInterrupt):
    """Training stopped on a signal after saving a checkpoint: not the run's fault (record `interrupted`)."""

    def __init__(self, signum: int, previous: Any, step: int):
        super().__init__(f"{signal.Signals(signum).name} at step {step}; checkpoint saved, the next launch resumes")
        self.signum, self.previous = signum, previous

    def forward(self) -> None:
        """Run the handler the signal had before training (submitit's requeue exits here; alignbench's raises
        KeyboardInterrupt); the default action or none: nothing, the caller re-raises this."""
        if not callable(self.previous):
            return
        try:
            self.previous(self.signum, None)
        except subprocess.CalledProcessError as err:
            # submitit runs `scontrol requeue <job>` from inside the job; without cgroups SLURM's requeue SIGTERMs
            # every process of the job, that command too, sometimes before it exits. The job is requeued all the
            # same: exit as submitit does then, so no result file tells the launcher that the job is over.
            if err.returncode == -signal.SIGTERM and list(err.cmd)[:2] == ["scontrol", "requeue"]:
                raise SystemExit(-1) from None
            raise


class StopSignals:
    """While entered (main thread only; signal handlers cannot be set elsewhere): SIGTERM/SIGUSR2 set a flag."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                handler = signal.getsignal(signum)
                if handler is not signal.SIG_IGN:  # an ignored signal stays ignored
                    self.previous[signum] = handler
                    signal.signal(signum, self._flag)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _flag(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            name = signal.Signals(signum).name
            print(f"\nalignbench: {name}: checkpointing at the next step, then stopping", flush=True)

    def raise_if_stopped(self, step: int) -> None:
        if self.signum is not None:
            raise Preempted(self.signum, self.previous.get(self.signum), step)
