"""The real command line in subprocesses: the default run, a tiny 4-job multirun, and hub models failing fast."""

from __future__ import annotations

import json
import re

import pytest
from helpers import alignbench

pytestmark = pytest.mark.slow


def test_default_command_trains_evaluates_and_records(tmp_path):
    run_dir = tmp_path / "run"
    done = alignbench(f"hydra.run.dir={run_dir}", env={"WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stderr[-3000:]

    record = json.loads((run_dir / "record.json").read_text())
    m = record["metrics"]
    assert record["status"] == "completed" and len(record["run_key"]) == 16
    assert record["choices"] == {
        "model": "tiny_llama",
        "dataset": "beavertails",
        "method": "dpo",
        "adapter": "lora",
        "quant": "none",
        "logger": "wandb",
        "eval": "sample",
        "judge": "offline",
    }
    assert m["eval/pref/accuracy"] >= m["baseline/pref/accuracy"] + 0.3  # a real, large effect
    assert m["eval/pref/margin"] > m["baseline/pref/margin"]
    assert m["train/loss_last"] < m["train/loss_first"]
    assert m["data/train_pairs"] > 0 and "data/train_bad_rows" in m
    assert record["versions"]["trl"] and record["config"]["method"]["beta"] == 0.1

    adapter = run_dir / "adapter"
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer_config.json"):
        assert (adapter / name).is_file(), name
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert len((run_dir / "generations.jsonl").read_text().splitlines()) == 4
    assert list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert "held-out preference accuracy" in done.stdout and "wandb sync" in done.stdout
    # A line per stage; one progress bar, training's, labelled (libraries' bars are off unless `-v`).
    assert "alignbench: train dpo 150 steps (lora r=16) on tiny_llama, 249 pairs" in done.stdout
    assert "alignbench: evaluate mmlu 1/5" in done.stdout and "alignbench: evaluate red_instruct 5/5" in done.stdout
    bars = [part for part in re.split(r"[\r\n]", done.stderr) if re.search(r"\|\s*\d+/\d+ \[", part)]
    assert bars and all(bar.startswith("train dpo: ") for bar in bars), {bar.split("%")[0] for bar in bars}

    # The five benchmark miniatures, for the trained model and its base, each in the end-of-run table.
    assert record["benchmarks"]["missing"] == [] and len(record["eval_key"]) == 16
    for name, metric in [
        ("mmlu", "acc"),
        ("bbh", "exact_match"),
        ("alpaca_eval", "win_rate"),
        ("real_toxicity", "score"),
        ("red_instruct", "score"),
    ]:
        assert f"eval/{name}/{metric}" in m and f"baseline/{name}/{metric}" in m, name
        assert (run_dir / "eval" / f"{name}.jsonl").is_file()
        assert any(line.split()[:2] == [name, metric] for line in done.stdout.splitlines()), name


def test_tiny_multirun_runs_all_four_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    done = alignbench(
        "-m",
        "model=tiny_llama,tiny_mistral",
        "method=sft,dpo",
        "method.max_steps=10",
        "logger=none",
        f"hydra.sweep.dir={sweep}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/record.json"))]
    assert [r["status"] for r in records] == ["completed"] * 4
    assert {(r["choices"]["model"], r["choices"]["method"]) for r in records} == {
        ("tiny_llama", "sft"),
        ("tiny_llama", "dpo"),
        ("tiny_mistral", "sft"),
        ("tiny_mistral", "dpo"),
    }
    assert len({r["run_key"] for r in records}) == 4
    assert "4 runs: 4 completed, 0 failed" in done.stdout
    # A line as each job ends; an ETA until the last.
    progress = [line for line in done.stdout.splitlines() if line.startswith("sweep adhoc: job ")]
    assert [line.split(" done")[0] for line in progress] == [f"sweep adhoc: job {i}/4" for i in range(1, 5)]
    assert all(", ETA ~" in line for line in progress[:3]) and progress[3] == "sweep adhoc: job 4/4 done"
    # Under the summary, the mean numbers per axis value, from the records just written.
    table = done.stdout[done.stdout.index("results: mean over completed runs") :].splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in table[2:] if "=" in line.split()[0]}
    assert set(rows) == {"model=tiny_llama", "model=tiny_mistral", "method=sft", "method=dpo"}
    sft = [r["metrics"]["eval/pref/accuracy"] for r in records if r["choices"]["method"] == "sft"]
    assert rows["method=sft"][:2] == ["2", f"{sum(sft) / 2:.3f}"]


def test_hub_models_without_a_hub_fail_fast_naming_the_model(tmp_path):
    sweep = tmp_path / "sweep"
    done = alignbench(
        "-m", "model=mistral,vicuna", "method=sft,dpo", "logger=none", f"hydra.sweep.dir={sweep}", timeout=300
    )
    assert done.returncode != 0
    # Validated before the run directory is claimed: nothing is written, no retry is spent, each says why.
    assert not list(sweep.glob("*/record.json"))
    assert "4 runs: 0 completed, 0 failed, 0 running, 4 pending" in done.stdout
    not_started = [line for line in done.stdout.splitlines() if line.strip().startswith("NOT STARTED")]
    assert len(not_started) == 4
    for model in ("mistral", "vicuna"):
        assert sum(f"model '{model}'" in line and "model.path=" in line for line in not_started) == 2


def test_a_typo_fails_before_anything_runs(tmp_path):
    done = alignbench("method.lerning_rate=0.1", f"hydra.run.dir={tmp_path}")
    assert done.returncode != 0 and "lerning_rate" in done.stderr
    assert not (tmp_path / "record.json").exists()
