"""What a user sees on the console: one line per user-input error and no traceback (unless HYDRA_FULL_ERROR=1), a
run's failure said once, no library chatter (TRL's raw log dicts, git's "not a git repository"), the run's log in
alignbench.log, W&B that cannot be reached costing one line, a full disk and a truncated record handled."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from hashlib import sha256
from pathlib import Path

import pytest
from helpers import alignbench, tmpfs

# A few steps, a few held-out pairs, nothing else evaluated: seconds per run.
FAST = [
    "method.max_steps=2",
    "dataset.eval_samples=8",
    "eval.generations=1",
    "eval.max_new_tokens=4",
    "eval.benchmarks=[]",
    "eval.baseline=false",
    "logger=none",
]


PROGRESS_BAR = re.compile(r"\|\s*\d+/\d+ \[")  # tqdm's "|  1/2 [00:02<00:02,  2.34s/it]"


def lines(text: str) -> list[str]:
    """Console lines, progress bars (tqdm's redraws on stderr) left out."""
    return [line for line in text.splitlines() if line.strip() and not PROGRESS_BAR.search(line)]


def assert_one_line(done, *expected: str) -> str:
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert lines(done.stdout) == [], done.stdout
    (line,) = lines(done.stderr)
    assert line.startswith("alignbench: ") and all(text in line for text in expected), line
    return line


@pytest.mark.parametrize(
    "override, expected",
    [
        ("model=nosuch", ["model=nosuch", "choose one of:", "tiny_llama"]),
        ("method.lerning_rate=0.1", ["method.lerning_rate", "check its spelling"]),
        ("method.learning_rate=fast", ["method.learning_rate=fast", "could not be converted to Float"]),
        ("hydra.run.dir=/tmp/a=b", ["cannot parse the override 'hydra.run.dir=/tmp/a=b'"]),
    ],
)
def test_a_config_that_does_not_compose_is_one_line(override, expected):
    assert_one_line(alignbench(override), *expected)


@pytest.mark.slow
def test_a_config_that_cannot_run_is_one_line_before_anything_runs(tmp_path):
    for i, (overrides, expected) in enumerate(
        [
            (["dataset.path=/nonexistent.jsonl", "dataset.sample=false"], "/nonexistent.jsonl does not exist"),
        ]
    ):
        run_dir = tmp_path / str(i)
        assert_one_line(alignbench(*FAST, *overrides, f"hydra.run.dir={run_dir}"), expected)
        assert not (run_dir / "record.json").exists()
        assert expected in (run_dir / "alignbench.log").read_text()  # the run's log says it too


@pytest.mark.slow
def test_a_number_out_of_its_bounds_is_one_line_and_nothing_is_written(tmp_path):
    for i, (override, expected) in enumerate(
        [
            ("eval.generations=-1", "eval.generations=-1: must be at least 0"),
            ("eval.batch_size=0", "eval.batch_size=0: must be at least 1"),
            ("train.save_steps=-1", "train.save_steps=-1: must be at least 0"),
        ]
    ):
        run_dir = tmp_path / str(i)
        assert_one_line(alignbench(*FAST, override, f"hydra.run.dir={run_dir}"), expected)
        assert not run_dir.exists()  # refused when composed: not even .hydra/ or the log


def test_hydra_full_error_brings_the_traceback_back():
    done = alignbench("model=nosuch", env={"HYDRA_FULL_ERROR": "1"})
    assert done.returncode == 1 and "Traceback" in done.stderr and "MissingConfigException" in done.stderr


@pytest.mark.slow
def test_a_diverged_run_says_so_once_in_its_summary(tmp_path):
    done = alignbench("method.learning_rate=1e30", *FAST, f"hydra.run.dir={tmp_path}")
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    out = lines(done.stdout)
    at = next(i for i, line in enumerate(out) if not line.startswith("alignbench: "))  # the stages' lines first
    assert out[at - 1] == "alignbench: train dpo 2 steps (lora r=16) on tiny_llama, 16 pairs"
    out = out[at:]
    assert out[0].startswith("alignbench failed: ") and out[1].split() == ["run", "dir", str(tmp_path)]
    assert out[-1].startswith("  error        NonFiniteTraining: step ")  # after the data lines of the summary
    assert sum("NonFiniteTraining" in line for line in out) == 1
    assert lines(done.stderr) == []  # the summary said it: not again, no traceback
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["status"] == "failed" and record["reason"] == "nonfinite" and record["failures"] == 1


@pytest.mark.slow
def test_the_console_has_the_bar_and_the_summary_and_alignbench_log_has_the_rest(tmp_path):
    """Run from a folder that is not a git checkout, with lm-eval (which asks git for a commit) and a log line per
    step (which TRL would print as a dict)."""
    run_dir = tmp_path / "run"
    overrides = [*FAST, "method.max_steps=3", "train.logging_steps=1", "eval.benchmarks=[mmlu]", "eval.mmlu.limit=2"]
    done = subprocess.run(
        [sys.executable, "-m", "alignbench", *overrides, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    console = done.stdout + done.stderr
    assert "not a git repository" not in console and "{'loss'" not in console and "'grad_norm'" not in console
    assert "Warning" not in console and "WARNING" not in console  # libraries' notices are in the log
    assert "3/3" in done.stderr  # the training progress bar stays, labelled; libraries' bars are off
    bars = [part for part in re.split(r"[\r\n]", done.stderr) if PROGRESS_BAR.search(part)]
    assert bars and all(bar.startswith("train dpo: ") for bar in bars), bars
    out = lines(done.stdout)
    assert out[:6] == [  # a line per stage, then the summary
        "alignbench: load data beavertails (harmless)",
        "alignbench: load model tiny_llama",
        "alignbench: train dpo 3 steps (lora r=16) on tiny_llama, 24 pairs",
        "alignbench: evaluate preference pairs (8 held out)",
        "alignbench: evaluate mmlu 1/1",
        out[5],
    ]
    assert out[5].startswith("alignbench completed: ")
    log = (run_dir / "alignbench.log").read_text()
    assert "alignbench completed: " in log and "held-out preference accuracy" in log
    assert sum(f"[trainer][INFO] - step {step}: {{'loss'" in log for step in (1, 2, 3)) == 3


@pytest.mark.slow
def test_an_unreachable_wandb_costs_one_line_and_the_run_completes(tmp_path):
    with __import__("socket").socket() as probe:  # a loopback port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "WANDB_MODE": "online",
        "WANDB_API_KEY": "f" * 40,  # fake: the server is never reached
        "WANDB_BASE_URL": f"http://127.0.0.1:{port}",
        "WANDB_DATA_DIR": str(tmp_path / "wandb_data"),
    }
    overrides = [o for o in FAST if o != "logger=none"]
    done = alignbench(
        *overrides, "logger=wandb", "logger.mode=online", "logger.init_timeout=3", f"hydra.run.dir={tmp_path}", env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    console = lines(done.stdout) + lines(done.stderr)
    about_wandb = [line for line in console if line.lower().startswith("wandb") or "W&B" in line]
    assert len(about_wandb) == 1 and about_wandb[0].startswith("alignbench: W&B did not start ("), console
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["status"] == "completed" and record["failures"] == 0 and "eval/pref/accuracy" in record["metrics"]


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path, "160k") as mount:
        yield mount


@pytest.mark.slow
def test_a_disk_full_at_the_adapter_save_fails_the_run_clearly_and_spends_no_retry(small_disk):
    """The run directory on a 160 KiB tmpfs: its config, log and record fit, the adapter (~250 KiB) does not."""
    done = alignbench(*FAST, f"hydra.run.dir={small_disk}")
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    record = json.loads((small_disk / "record.json").read_text())
    assert record["status"] == "failed" and record["reason"] == "disk_full" and record["failures"] == 0
    assert record["error"].startswith("OSError ENOSPC: No space left on device")
    assert record.get("adapter_path") is None
    assert not (small_disk / "adapter").exists() and not (small_disk / ".adapter.partial").exists()
    assert not list(small_disk.glob(".record.json*"))  # no temporary record left behind
    out = [line for line in lines(done.stdout) if not line.startswith("alignbench: ")]  # the stages' lines
    assert sum("ENOSPC" in line for line in out + lines(done.stderr)) == 1  # said once, in the summary
    assert out[0].startswith("alignbench failed: ")


@pytest.mark.slow
def test_a_truncated_record_is_set_aside_and_the_adapter_is_evaluated_not_retrained(tmp_path):
    first = alignbench(*FAST, f"hydra.run.dir={tmp_path}")
    assert first.returncode == 0, first.stderr[-3000:]
    weights = tmp_path / "adapter" / "adapter_model.safetensors"
    trained = sha256(weights.read_bytes()).hexdigest(), weights.stat().st_mtime_ns
    record = json.loads((tmp_path / "record.json").read_text())
    text = (tmp_path / "record.json").read_text()
    (tmp_path / "record.json").write_text(text[: len(text) // 3])

    again = alignbench(*FAST, f"hydra.run.dir={tmp_path}")
    assert again.returncode == 0, again.stderr[-3000:]
    (aside,) = tmp_path.glob("record.json.unreadable-*")
    warning = [line for line in lines(again.stdout) if "unreadable" in line]
    assert len(warning) == 1 and str(tmp_path / "record.json") in warning[0] and aside.name in warning[0]
    assert (sha256(weights.read_bytes()).hexdigest(), weights.stat().st_mtime_ns) == trained  # not retrained
    recovered = json.loads((tmp_path / "record.json").read_text())
    assert recovered["status"] == "completed" and recovered["attempt"] == 2
    assert recovered["trained_at"] == record["trained_at"]
    assert {k: v for k, v in recovered["metrics"].items() if k.startswith("train/")} == {
        k: v for k, v in record["metrics"].items() if k.startswith("train/")
    }
    assert "train s" not in again.stdout and "Computing reference log probs" not in again.stderr
    assert Path(recovered["adapter_path"]) == tmp_path / "adapter"

    # The record keeps the adapter's checksums (read back from the manifest here): with the manifest gone and one
    # byte of the weights changed, an evaluation-only launch refuses in one line naming the file and both hashes.
    listed = json.loads((tmp_path / "adapter" / "manifest.json").read_text())["files"]
    assert record["adapter_files"] == recovered["adapter_files"] == listed
    assert list(record["digest"]["items"]) == ["generations.jsonl"]  # eval.benchmarks=[]: no benchmark items
    (tmp_path / "adapter" / "manifest.json").unlink()
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    refused = alignbench(*FAST, f"hydra.run.dir={tmp_path}", "stages=[evaluate]")
    expected = listed["adapter_model.safetensors"]["sha256"][:16]
    assert refused.returncode == 1 and len(lines(refused.stderr)) == 1, refused.stderr[-3000:]
    assert f"{weights} has sha256 {sha256(bytes(data)).hexdigest()[:16]}… where record.json says {expected}…" in (
        refused.stderr
    )
