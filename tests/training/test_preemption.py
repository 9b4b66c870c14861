"""Handing a stop signal on to the handler it had before training (training.preemption.Preempted.forward)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from alignbench.training.preemption import Preempted


def requeue_command_failing(returncode: int):
    """A handler like submitit's SIGUSR2 one, whose `scontrol requeue` ended with `returncode`."""

    def handler(signum, frame):
        raise subprocess.CalledProcessError(returncode, ["scontrol", "requeue", "3"])

    return handler


def test_a_requeue_killed_by_the_sigterm_of_its_own_requeue_exits_as_submitit_does():
    # SLURM's requeue SIGTERMs every process of the job, the scontrol that asked for it too: the job is requeued, so
    # the process must exit without a result (a result file would tell the launcher the job is over).
    with pytest.raises(SystemExit) as exited:
        Preempted(signal.SIGUSR2, requeue_command_failing(-signal.SIGTERM), step=304).forward()
    assert exited.value.code == -1


def test_a_requeue_that_fails_otherwise_is_an_error():
    with pytest.raises(subprocess.CalledProcessError):
        Preempted(signal.SIGUSR2, requeue_command_failing(1), step=304).forward()
