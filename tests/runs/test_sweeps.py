"""Real multiruns of tiny jobs in subprocesses: resume, kill -9, a failing job, concurrent launches, joblib."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from helpers import alignbench, launch, records

pytestmark = pytest.mark.slow

# Tiny jobs of a few seconds each: the machinery is under test here, not the learning.
FAST = [
    "method.max_steps=3",
    "dataset.eval_samples=8",
    "eval.generations=1",
    "eval.max_new_tokens=4",
    "logger=none",
    "eval.benchmarks=[]",
]
FOUR = ["model=tiny_llama,tiny_mistral", "method=sft,dpo"]


def sweep(sweep_dir, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return alignbench("-m", *args, *FAST, "sweep.name=test", f"hydra.sweep.dir={sweep_dir}", **kwargs)


def test_relaunch_retrains_nothing(tmp_path):
    first = sweep(tmp_path, *FOUR)
    assert first.returncode == 0, first.stderr[-3000:]
    before = records(tmp_path)
    assert len(before) == 4 and all(r["status"] == "completed" and r["attempt"] == 1 for r in before.values())
    assert all(name == r["run_key"] for name, r in before.items())  # run directories are keyed by run_key
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/record.json")}

    again = sweep(tmp_path, *FOUR)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "4 completed, 0 failed, 0 running, 0 pending; launching 0" in again.stdout
    assert records(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/record.json")} == mtimes


def test_killed_sweep_completes_on_relaunch_without_redoing_finished_runs(tmp_path):
    with launch("-m", *FOUR, *FAST, f"hydra.sweep.dir={tmp_path}", session=True) as process:
        deadline = time.monotonic() + 300
        while not any(r["status"] == "completed" for r in records(tmp_path).values()):
            assert time.monotonic() < deadline and process.poll() is None, "no run completed"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)  # no handler, no finally: the harshest way to stop
        process.wait()
    survivors = {k: r for k, r in records(tmp_path).items() if r["status"] == "completed"}
    first_key, first = next(iter(survivors.items()))

    again = sweep(tmp_path, *FOUR)
    assert again.returncode == 0, again.stderr[-3000:]
    after = records(tmp_path)
    assert len(after) == 4 and all(r["status"] == "completed" for r in after.values())
    assert after[first_key] == first  # untouched: same record, same finish time, one attempt
    assert all(after[k]["attempt"] == 1 for k in survivors)


def test_one_failing_job_loses_nothing_else_and_fails_the_sweep(tmp_path):
    # A huge learning rate diverges at the first step (a run failure); no_such_model does not compose.
    done = sweep(tmp_path, "method.learning_rate=1e-3,1e30", "model=tiny_llama,no_such_model", "method=dpo")
    assert done.returncode != 0
    by_lr = {r["config"]["method"]["learning_rate"]: r for r in records(tmp_path).values()}
    assert by_lr[1e-3]["status"] == "completed"
    failed = by_lr[1e30]
    assert failed["status"] == "failed" and failed["reason"] == "nonfinite" and failed["failures"] == 1
    assert "1 completed, 1 failed, 0 running, 0 pending, 2 invalid" in done.stdout
    assert f"FAILED {failed['run_key']}" in done.stdout and "INVALID" in done.stdout and "no_such_model" in done.stdout

    # A relaunch retries the failed run (not the done one) until sweep.max_failures, then reports it only.
    again = sweep(tmp_path, "method.learning_rate=1e-3,1e30", "model=tiny_llama", "method=dpo", "sweep.max_failures=2")
    assert again.returncode != 0 and "launching 1" in again.stdout
    assert records(tmp_path)[failed["run_key"]]["failures"] == 2
    capped = sweep(tmp_path, "method.learning_rate=1e-3,1e30", "model=tiny_llama", "method=dpo", "sweep.max_failures=2")
    assert capped.returncode != 0 and "launching 0" in capped.stdout
    assert records(tmp_path)[failed["run_key"]]["attempt"] == 2


def test_two_concurrent_launches_never_train_a_run_twice(tmp_path):
    command = ["-m", *FOUR, *FAST, f"hydra.sweep.dir={tmp_path}"]
    with launch(*command) as first, launch(*command) as second:
        codes = [first.wait(600), second.wait(600)]
        outputs = ["".join(first.output()), "".join(second.output())]
    assert codes == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    after = records(tmp_path)
    assert len(after) == 4 and all(r["status"] == "completed" and r["attempt"] == 1 for r in after.values())
    trained = sum(out.count("alignbench completed") for out in outputs)
    assert trained == 4, "each run trained exactly once across both launches"


def test_joblib_launcher_runs_jobs_in_parallel_with_capped_threads(tmp_path):
    done = sweep(tmp_path, "method=sft,dpo", "hydra/launcher=parallel")
    assert done.returncode == 0, done.stderr[-3000:]
    after = records(tmp_path)
    assert len(after) == 2 and all(r["status"] == "completed" for r in after.values())
    cores = len(os.sched_getaffinity(0))
    assert {r["torch_threads"] for r in after.values()} == {max(cores // 2, 1)}  # loky's cap: cores // n_jobs
    assert len({r["pid"] for r in after.values()}) == 2  # two worker processes


def test_wandb_run_per_job_grouped_by_sweep_with_a_stable_id(tmp_path):
    logged = [arg for arg in FAST if arg != "logger=none"]
    done = alignbench(
        "-m",
        "method=sft,dpo",
        *logged,
        "sweep.name=wbtest",
        f"hydra.sweep.dir={tmp_path}",
        env={"WANDB_MODE": "offline"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for key in records(tmp_path):
        runs = list((tmp_path / key / "wandb").glob("offline-run-*"))
        assert len(runs) == 1 and runs[0].name.endswith(f"-wbtest-{key}")  # the id is sweep name + run_key


def test_sigterm_marks_the_run_interrupted_and_a_relaunch_finishes_it(tmp_path):
    one_long_job = ["-m", *FAST, "method=dpo", "method.max_steps=200", f"hydra.sweep.dir={tmp_path}"]
    with launch(*one_long_job) as process:
        deadline = time.monotonic() + 120
        while not any("train_s" not in r["timings"] for r in records(tmp_path).values() if "timings" in r):
            assert time.monotonic() < deadline and process.poll() is None, "the run never started"
            time.sleep(0.2)
        time.sleep(3)  # into model loading or training
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        output = "".join(process.output())
    # 130 from our handler; rarely Python itself ends the process by SIGINT after a KeyboardInterrupt (-2).
    assert process.returncode in (130, -signal.SIGINT), output[-2000:]
    assert "interrupted; relaunching the same multirun continues it" in output
    (stopped,) = records(tmp_path).values()
    assert stopped["status"] == "interrupted" and stopped["failures"] == 0 and "SIGTERM" in stopped["error"]

    relaunch = alignbench(*one_long_job)
    assert relaunch.returncode == 0, relaunch.stderr[-3000:]
    assert "0 completed, 0 failed, 0 running, 1 pending; launching 1" in relaunch.stdout
    (finished,) = records(tmp_path).values()
    assert finished["status"] == "completed" and finished["attempt"] == 2 and finished["failures"] == 0
