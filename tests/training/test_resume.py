"""A real training process killed (kill -9 mid-step, mid-checkpoint-save) or signalled (SIGTERM, SIGUSR2), then
relaunched in the same run directory, ends with the uninterrupted run's adapter, bit for bit, and its training
metrics; a damaged checkpoint is set aside, another configuration's is refused."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from helpers import Launched, alignbench, start
from safetensors.torch import load_file

from alignbench.runs.keys import keyed_config, resolve, run_key
from alignbench.training.checkpoints import CHECKPOINTS, SET_ASIDE, complete_names, publish, write_manifest

pytestmark = pytest.mark.slow

# 24 steps of 4 pairs, train only: a few seconds of training, long enough to be interrupted in the middle.
ARGS = ["method.max_steps=24", "method.batch_size=4", "train.logging_steps=5", "logger=none", "stages=[train]"]
SAVE = "train.save_steps=4"
# Differ between attempts by nature: wall time and what it gives per second.
TIMING = ("train/train_runtime", "train/train_samples_per_second", "train/train_steps_per_second")


def launch(run_dir: Path, *extra: str, code: str = "") -> Launched:
    """The CLI in a child process (its own session, so a signal reaches it alone); `code` runs before main()."""
    return start(
        *ARGS, *extra, f"hydra.run.dir={run_dir}", code=code, session=True, log=run_dir.parent / f"{run_dir.name}.log"
    )


def wait_for(condition, child: Launched, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, "the run ended before the moment the test waits for"
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def checkpoints(run_dir: Path) -> list[str]:
    return complete_names(run_dir / CHECKPOINTS)


def record(run_dir: Path) -> dict:
    return json.loads((run_dir / "record.json").read_text())


def adapter(run_dir: Path) -> dict:
    return load_file(run_dir / "adapter" / "adapter_model.safetensors")


def assert_same_training(run_dir: Path, reference: Path) -> None:
    """Bitwise the same adapter and the same training metrics (all but wall-time rates) as the reference run."""
    got, want = adapter(run_dir), adapter(reference)
    assert got.keys() == want.keys()
    assert all(got[k].dtype == want[k].dtype and got[k].equal(want[k]) for k in want)
    metrics = {k: v for k, v in record(run_dir)["metrics"].items() if k not in TIMING}
    assert metrics == {k: v for k, v in record(reference)["metrics"].items() if k not in TIMING}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run, checkpointing off: checkpoints must not change the result either."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    done = alignbench(*ARGS, "train.save_steps=0", f"hydra.run.dir={run_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def resume(run_dir: Path) -> dict:
    done = alignbench(*ARGS, SAVE, f"hydra.run.dir={run_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    rec = record(run_dir)
    assert rec["status"] == "completed" and rec["attempt"] == 2
    assert f"resuming {run_dir} from {rec['resumed_from']}" in done.stdout
    # DPO's reference: the shared cache's log-probs of the base (adapter off), the same as the first attempt's.
    assert rec["cache_hits"]["ref_logps_train"] is True
    assert not checkpoints(run_dir) and not (run_dir / CHECKPOINTS / ".staging").exists()  # the adapter is kept
    return rec


def test_killed_mid_training_resumes_to_the_uninterrupted_result(tmp_path, reference):
    run_dir = tmp_path / "run"
    child = launch(run_dir, SAVE)
    wait_for(lambda: "checkpoint-8" in checkpoints(run_dir), child)
    child.send_signal(signal.SIGKILL)  # mid-step: training goes on between checkpoints
    child.wait()
    newest = checkpoints(run_dir)[0]
    assert record(run_dir)["status"] == "running"  # nothing could be written by a killed process
    rec = resume(run_dir)
    assert rec["resumed_from"] == f"{CHECKPOINTS}/{newest}"
    assert rec["resumes"] == [{"attempt": 2, "checkpoint": rec["resumed_from"], "step": int(newest.split("-")[1])}]
    assert_same_training(run_dir, reference)


# Runs in the child: the save of checkpoint-8 stops between the trainer's files and the manifest, and says so.
PAUSE_IN_SAVE = """
import time
from pathlib import Path
import alignbench.training.resumable as resumable
write_manifest = resumable.write_manifest
def paused(folder, step, *args):
    if step == 8:
        (folder / "PAUSED").touch()
        time.sleep(600)
    write_manifest(folder, step, *args)
resumable.write_manifest = paused
"""


def test_killed_mid_checkpoint_save_sets_the_torn_one_aside_and_resumes_the_older(tmp_path, reference):
    run_dir = tmp_path / "run"
    child = launch(run_dir, SAVE, code=PAUSE_IN_SAVE)
    torn = run_dir / CHECKPOINTS / ".staging" / "checkpoint-8"
    wait_for(lambda: (torn / "PAUSED").exists(), child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert checkpoints(run_dir) == ["checkpoint-4"] and (torn / "optimizer.pt").is_file()  # all but the manifest
    rec = resume(run_dir)
    assert rec["resumed_from"] == f"{CHECKPOINTS}/checkpoint-4"
    (entry,) = rec["resumes"]
    assert entry["step"] == 4 and entry["set_aside"][0].startswith("checkpoint-8: torn (never completed)")
    assert_same_training(run_dir, reference)
    (kept,) = (run_dir / CHECKPOINTS / SET_ASIDE).iterdir()  # kept for inspection after the run completed
    assert kept.name.startswith("checkpoint-8.torn.") and (kept / "optimizer.pt").is_file()


def test_a_corrupt_newest_checkpoint_is_set_aside_and_the_older_one_resumed(tmp_path, reference):
    run_dir = tmp_path / "run"
    child = launch(run_dir, SAVE)
    wait_for(lambda: "checkpoint-8" in checkpoints(run_dir), child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    newest, older = checkpoints(run_dir)[:2]
    weights = run_dir / CHECKPOINTS / newest / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit pattern in the last weight: loadable, and wrong
    weights.write_bytes(bytes(data))
    done = alignbench(*ARGS, SAVE, f"hydra.run.dir={run_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"checkpoint {run_dir / CHECKPOINTS / newest} is corrupt ({weights} has sha256 " in done.stdout
    rec = record(run_dir)
    assert rec["resumed_from"] == f"{CHECKPOINTS}/{older}"
    assert rec["resumes"][0]["set_aside"][0].startswith(f"{newest}: corrupt")
    assert_same_training(run_dir, reference)


def test_resume_is_refused_when_the_config_changed(tmp_path, compose):
    """A checkpoint of the config as first launched (written as the trainer writes one), relaunched with another
    learning rate in the same run directory."""
    run_dir = tmp_path / "run"
    first = resolve(compose([*ARGS, SAVE]))
    staged = run_dir / CHECKPOINTS / ".staging" / "checkpoint-4"
    staged.mkdir(parents=True)
    (staged / "adapter_model.safetensors").write_bytes(b"weights")
    write_manifest(staged, 4, run_key(first), keyed_config(first))
    publish(staged, 4)
    done = alignbench(*ARGS, SAVE, "method.learning_rate=0.002", f"hydra.run.dir={run_dir}")
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if "run_key" in line]
    assert len(lines) == 1 and "changed: method.learning_rate: 0.001 -> 0.002" in lines[0], done.stderr[-2000:]
    assert checkpoints(run_dir) == ["checkpoint-4"] and not (run_dir / CHECKPOINTS / SET_ASIDE).exists()
    assert not (run_dir / "record.json").exists()  # refused before the run was claimed as an attempt


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR2], ids=["SIGTERM", "SIGUSR2"])
def test_a_stop_signal_checkpoints_at_the_next_step_then_the_relaunch_resumes(tmp_path, reference, signum):
    run_dir = tmp_path / "run"
    child = launch(run_dir, SAVE)
    wait_for(lambda: "checkpoint-4" in checkpoints(run_dir), child)
    child.send_signal(signum)
    assert child.wait(timeout=120) == 130
    rec = record(run_dir)
    name = signal.Signals(signum).name
    step = int(checkpoints(run_dir)[0].split("-")[1])
    assert 4 < step < 24, "the checkpoint of the step in progress when the signal came"
    assert rec["status"] == "interrupted" and rec["failures"] == 0
    assert rec["error"] == f"Preempted: {name} at step {step}; checkpoint saved, the next launch resumes"
    assert not (run_dir / "adapter").exists()  # an unfinished adapter is never saved as the result
    log = (run_dir.parent / "run.log").read_text()
    assert f"alignbench: {name}: checkpointing at the next step, then stopping" in log
    if signum == signal.SIGUSR2:
        return  # resuming is the same from here on: proved once, for SIGTERM
    rec = resume(run_dir)
    assert rec["resumed_from"] == f"{CHECKPOINTS}/checkpoint-{step}"
    assert_same_training(run_dir, reference)


def test_no_checkpoint_is_written_at_or_after_a_non_finite_step(tmp_path):
    run_dir = tmp_path / "run"
    done = alignbench(*ARGS, "train.save_steps=1", "method.learning_rate=1e30", f"hydra.run.dir={run_dir}")
    assert done.returncode != 0
    rec = record(run_dir)
    assert rec["status"] == "failed" and rec["error"].startswith("NonFiniteTraining: step ")
    failed_at = int(rec["error"].split("step ")[1].split(":")[0])
    saved = [int(name.split("-")[1]) for name in checkpoints(run_dir)]
    assert all(step < failed_at for step in saved)
    assert not list((run_dir / CHECKPOINTS / ".staging").glob("checkpoint-*"))
