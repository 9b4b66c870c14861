"""Preemption on a real SLURM (the session's local cluster, tests/slurm/conftest.py): a small sweep through
`hydra/launcher=slurm`, requeued mid-training by `scontrol requeue` and by the time limit's warning signal
(`--signal=USR2@N` from the launcher's signal_delay_s). Each run must end completed, trained once: resumed from its
own checkpoint in the same run directory, never restarted from step 0. (SLURM delays a requeued job's start by
AuthInfo's cred_expire: 10 s here, 120 s by default.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO

from alignbench.training.checkpoints import CHECKPOINTS

pytestmark = pytest.mark.slow

# No GPU and a small share of this machine per job; the rest as a user types it.
LAUNCHER = [
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=2",
    "cpu_threads=1",
]
RUN = ["method.batch_size=4", "train.logging_steps=5", "logger=none", "stages=[train]"]


def sweep(cluster, folder: Path, *overrides: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "alignbench", "-m", *LAUNCHER, *RUN, *overrides, f"hydra.sweep.dir={folder}"]
    log = open(folder.parent / "sweep.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(argv, cwd=REPO, env=cluster.env, stdout=log, stderr=subprocess.STDOUT)


def run_dirs(folder: Path) -> list[Path]:
    return sorted(p.parent for p in folder.glob("*/record.json"))


def records(folder: Path) -> list[dict]:
    return [json.loads((d / "record.json").read_text()) for d in run_dirs(folder)]


def wait(condition, launcher: subprocess.Popen, cluster, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if launcher.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the sweep ended or timed out first\n{launcher_log(launcher)}\n{cluster.logs()}")
        time.sleep(0.2)


def launcher_log(launcher: subprocess.Popen) -> str:
    return Path(launcher.args[-1].split("=", 1)[1]).parent.joinpath("sweep.log").read_text()[-4000:]


def finish(launcher: subprocess.Popen, cluster, timeout: float) -> None:
    try:
        code = launcher.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        launcher.kill()
        pytest.fail(f"the sweep did not finish\n{launcher_log(launcher)}\n{cluster.logs()}")
    assert code == 0, launcher_log(launcher)


def assert_trained_once_with_resume(folder: Path, runs: int) -> list[dict]:
    recs = records(folder)
    assert len(recs) == runs
    for rec in recs:
        assert rec["status"] == "completed" and rec["failures"] == 0, rec.get("error")
        assert rec["attempt"] >= 2 and rec["resumed_from"].startswith(f"{CHECKPOINTS}/checkpoint-")
        # Every resume from a checkpoint of this run, never backwards, none set aside. (A signal that comes before
        # training starts requeues an attempt that had nothing to checkpoint: an attempt without a resume.)
        steps = [entry["step"] for entry in rec["resumes"]]
        assert steps and steps == sorted(steps) and steps[0] > 0
        assert not any("set_aside" in entry for entry in rec["resumes"])
        assert rec["metrics"]["train/steps"] == rec["config"]["method"]["max_steps"]
    return recs


def test_scontrol_requeue_mid_training_resumes_each_run_in_its_directory(slurm, tmp_path):
    folder = tmp_path / "sweep"
    launcher = sweep(slurm, folder, "seed=0,1", "method.max_steps=60", "train.save_steps=10")
    with_checkpoint = lambda: len(list(folder.glob(f"*/{CHECKPOINTS}/checkpoint-*"))) >= 2  # noqa: E731
    wait(lambda: with_checkpoint() and len(slurm.running_jobs()) == 2, launcher, slurm, timeout=300)
    for job in slurm.running_jobs():
        slurm.scontrol("requeue", job)  # SIGTERM now, SIGKILL after KillWait: SLURM's preemption
    finish(launcher, slurm, timeout=420)
    recs = assert_trained_once_with_resume(folder, runs=2)
    assert all(rec["attempt"] == 2 and len(rec["resumes"]) == 1 for rec in recs)


def test_the_time_limit_signal_checkpoints_and_requeues_then_the_run_completes(slurm, tmp_path):
    """timeout_min=2 with signal_delay_s=60: SLURM sends USR2 30-60 s into the job (it checks every 30 s, so up to
    30 s early), in the middle of 1000 steps; alignbench checkpoints, submitit's handler requeues the job. The test
    then lifts the requeued job's time limit, so the second attempt finishes the run however fast this machine is."""
    folder = tmp_path / "sweep"
    launcher = sweep(
        slurm,
        folder,
        "seed=0",
        "method.max_steps=1000",
        "train.save_steps=0",  # only the signal checkpoints: the resume can only come from it
        "hydra.launcher.timeout_min=2",
        "hydra.launcher.signal_delay_s=60",
    )
    wait(lambda: [rec["status"] for rec in records(folder)] == ["interrupted"], launcher, slurm, timeout=300)
    (job,) = subprocess.run(["squeue", "-h", "-o", "%i"], env=slurm.env, capture_output=True, text=True).stdout.split()
    slurm.scontrol("update", f"JobId={job}", "TimeLimit=30")
    finish(launcher, slurm, timeout=600)
    (rec,) = assert_trained_once_with_resume(folder, runs=1)
    assert rec["attempt"] == 2 and len(rec["resumes"]) == 1
    log = "\n".join(p.read_text() for p in folder.glob(".submitit/*/*_log.*"))  # stdout and stderr
    assert "Caught signal SIGUSR2" in log and "this job is timed-out" in log
    assert "alignbench: SIGUSR2: checkpointing at the next step, then stopping" in log
    assert "Exiting gracefully after preemption/timeout" in log  # submitit requeued it, after the checkpoint
