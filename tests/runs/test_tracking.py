"""The W&B run as a dashboard sees it, read back from real offline run files: config, group, tags, summary with
deltas, tables, the adapter artifact; and a W&B server that cannot be reached costs the run nothing."""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path

import pytest
from helpers import alignbench
from wandb_files import read_run

from alignbench.config.schema import LoggerConfig
from alignbench.runs.record import RunRecord, Status
from alignbench.runs.tracking import (
    TrackedRun,
    Tracker,
    axis_tags,
    start_tracker,
    sweep_axes,
    table,
    wandb_run_id,
    with_deltas,
)

TINY = ["method.max_steps=4", "dataset.eval_samples=8", "eval.generations=2", "eval.max_new_tokens=4"]
WANDB_INTERNALS = {"_runtime", "_step", "_timestamp", "_wandb"}


def offline(tmp_path: Path) -> dict[str, str]:
    """W&B offline, with what it stages until `wandb sync` (tables, artifacts) kept out of the user's home."""
    return {"WANDB_MODE": "offline", "WANDB_DATA_DIR": str(tmp_path / "wandb_data")}


def record(run_dir: Path) -> dict:
    return json.loads((run_dir / "record.json").read_text())


def test_deltas_are_trained_minus_base_for_every_score_measured_on_both():
    metrics = {
        "eval/pref/accuracy": 0.9,
        "baseline/pref/accuracy": 0.4,
        "eval/pref/pairs": 71,  # no baseline: no delta
        "eval/mmlu/acc": 0.30,
        "baseline/mmlu/acc": 0.25,
        "eval/mmlu/items": 40,  # a count and a timing, not scores
        "baseline/mmlu/items": 40,
        "eval/mmlu/seconds": 4.1,
        "baseline/mmlu/seconds": 1.3,
        "eval/bbh/exact_match": 0.1,  # the base's run of bbh failed: no delta
        "train/loss": 0.5,
    }
    summary = with_deltas(metrics)
    assert {k: round(v, 6) for k, v in summary.items() if k.startswith("delta/")} == {
        "delta/pref/accuracy": 0.5,
        "delta/mmlu/acc": 0.05,
    }
    assert summary.items() >= metrics.items()  # the record's metrics, unchanged


def test_tags_are_the_sweeps_varying_axes_or_a_single_runs_overrides(tmp_path):
    overrides = ["model=tiny_mistral", "seed=3", "method.max_steps=4", "+adapter.extra=1", "logger=wandb"]
    assert axis_tags(overrides, None) == [
        "model:tiny_mistral",
        "seed:3",
        "method.max_steps:4",
        "adapter.extra:1",
        "logger:wandb",
    ]
    (tmp_path / "plan.json").write_text(json.dumps({"sweep": "s", "axes": ["model", "seed"], "jobs": []}))
    axes = sweep_axes(tmp_path / "0123456789abcdef")
    assert axes == ["model", "seed"]
    assert axis_tags(overrides, axes) == ["model:tiny_mistral", "seed:3"]  # constants tag every run alike
    assert sweep_axes(tmp_path / "no_plan" / "run") is None


def test_table_flattens_nested_values_and_caps_rows(tmp_path):
    rows = [{"prompt": [{"role": "user", "content": f"q{i}"}], "score": i / 10, "judge": None} for i in range(5)]
    rows[2]["extra"] = {"reason": "late column"}
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))

    logged = table(path, limit=3)
    assert logged.columns == ["prompt", "score", "judge", "extra"]
    assert len(logged.data) == 3
    assert logged.data[0] == ['[{"role": "user", "content": "q0"}]', 0.0, None, None]
    assert logged.data[2][3] == '{"reason": "late column"}'


def test_an_unreachable_wandb_server_costs_one_line_and_the_run_goes_on(tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # the discard port: nothing listens there
    cfg = LoggerConfig(name="wandb", mode="online", init_timeout=1)

    tracker = start_tracker(cfg, tmp_path, TrackedRun(name="r", config={}, tags=[], group="adhoc"))

    assert type(tracker) is Tracker and tracker.note is None  # no tracker: every hook is a no-op
    tracker.log_training(1, {"loss": 1.0})
    tracker.finish(RunRecord(run_key="k", status=Status.completed, run_dir=str(tmp_path)))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("alignbench")]
    assert len(lines) == 1 and lines[0].startswith("alignbench: W&B did not start (CommError: "), lines
    assert capsys.readouterr().err == ""  # nothing from W&B itself (credentials found, retries, where its logs are)

    # The next job of the same process (a sweep) does not wait for that server again.
    again = start_tracker(cfg, tmp_path / "next", TrackedRun(name="r2", config={}, tags=[], group="adhoc"))
    assert type(again) is Tracker
    assert caplog.records[-1].getMessage().startswith("alignbench: W&B did not start (still unreachable: CommError")


def test_every_attempt_in_a_run_directory_continues_one_w_and_b_run(tmp_path):
    assert wandb_run_id("paper", "k1", tmp_path / "a") == "paper-k1"  # a grid cell: its sweep and run key
    single = wandb_run_id(None, "k1", tmp_path / "a")
    assert single == wandb_run_id(None, "k1", tmp_path / "x" / ".." / "a")  # resumed through hydra.run.dir
    assert single != wandb_run_id(None, "k1", tmp_path / "b")  # another launch of the same config: its own run
    assert single != wandb_run_id(None, "k2", tmp_path / "a")


@pytest.mark.parametrize(
    ("env", "mode", "why"),
    [
        ({"WANDB_MODE": "offline", "WANDB_API_KEY": "a" * 40}, "auto", "WANDB_MODE=offline"),
        ({"WANDB_API_KEY": "a" * 40}, "offline", "logger.mode=offline"),
        ({}, "auto", "no credentials"),
    ],
)
def test_the_offline_note_says_why_w_and_b_ran_offline(tmp_path, monkeypatch, env, mode, why):
    for name in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no `wandb login` (~/.netrc) of the machine's user either
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))
    cfg = LoggerConfig(name="wandb", mode=mode)

    tracker = start_tracker(cfg, tmp_path, TrackedRun(name="r", config={}, tags=[], group="adhoc"))
    tracker.finish(RunRecord(run_key="k", status=Status.completed, run_dir=str(tmp_path)))

    assert tracker.note.startswith(f"W&B ran offline ({why}); upload it with: wandb sync "), tracker.note


@pytest.mark.slow
def test_single_run_dashboard_config_tags_summary_tables_and_adapter(tmp_path):
    run_dir = tmp_path / "run"
    overrides = [*TINY, "eval.benchmarks=[real_toxicity]", "train.logging_steps=1", "logger.log_adapter=true"]
    done = alignbench(*overrides, f"hydra.run.dir={run_dir}", env=offline(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    rec, run = record(run_dir), read_run(run_dir)

    # Config: alignbench's resolved config and its keys at the top, the trainer's own arguments under one key.
    assert run.config["run_key"] == rec["run_key"] and run.config["eval_key"] == rec["eval_key"]
    assert {k: v for k, v in run.config.items() if k not in {"run_key", "eval_key", "trainer", "_wandb"}} == rec[
        "config"
    ]
    trainer = run.config["trainer"]
    assert trainer["max_steps"] == 4 and trainer["learning_rate"] == rec["config"]["method"]["learning_rate"]
    assert trainer["report_to"] == "[]"  # transformers' own W&B integration stayed off

    # A single run is grouped too, and tagged with what its command line chose.
    assert run.group == "adhoc" and run.job_type == "dpo"
    assert sorted(run.tags) == sorted(o.replace("=", ":", 1) for o in overrides)

    # Summary: the record's metrics, each once, plus trained - baseline deltas.
    summary = run.summary
    assert all(summary[k] == v for k, v in rec["metrics"].items())
    m = rec["metrics"]
    assert summary["delta/pref/accuracy"] == pytest.approx(m["eval/pref/accuracy"] - m["baseline/pref/accuracy"])
    assert summary["delta/real_toxicity/score"] == pytest.approx(
        m["eval/real_toxicity/score"] - m["baseline/real_toxicity/score"]
    )
    assert "delta/real_toxicity/items" not in summary
    ours = set(summary) - WANDB_INTERNALS
    assert all("/" in key for key in ours), ours  # nothing from transformers' flat `train_loss`, `total_flos`
    assert "train/train_loss" not in ours  # it is train/loss
    assert run.exit_code == 0

    # Training curves against the optimizer step, one point per logged step.
    curve = [(row["train/steps"], row["train/loss"]) for row in run.history if "train/loss" in row]
    assert [step for step, _ in curve] == [1, 2, 3, 4]
    assert curve[-1][1] == m["train/loss_last"]

    # Generations and per-item benchmark outputs as tables.
    generations = run.table("tables/generations")
    lines = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    assert generations["columns"] == list(lines[0]) and len(generations["data"]) == len(lines) == 2
    assert json.loads(generations["data"][0][0]) == lines[0]["prompt"]  # chat messages, as JSON text
    items = run.table("tables/real_toxicity")
    assert len(items["data"]) == m["eval/real_toxicity/items"]

    # The adapter, as a model artifact named by the run key.
    (adapter,) = [a for a in run.artifacts if a.type == "model"]
    assert adapter.name == f"adapter-{rec['run_key']}"
    assert {c.path for c in adapter.manifest.contents} >= {"adapter_model.safetensors", "adapter_config.json"}
    staged = {sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "wandb_data").rglob("*") if p.is_file()}
    assert staged  # the tables wait there for `wandb sync`; the adapter is referenced where it is
    assert sha256((run_dir / "adapter" / "adapter_model.safetensors").read_bytes()).hexdigest() not in staged


@pytest.mark.slow
def test_sweep_runs_are_grouped_by_sweep_and_tagged_with_the_varying_axes_only(tmp_path):
    sweep = ["-m", "seed=0,1", "sweep.name=wbtags", f"hydra.sweep.dir={tmp_path}"]
    done = alignbench(*sweep, *TINY, "eval.benchmarks=[]", "logger=wandb", env=offline(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {p.parent.name: read_run(p.parent) for p in tmp_path.glob("*/record.json")}
    assert len(runs) == 2
    for key, run in runs.items():
        rec = record(tmp_path / key)
        assert run.group == "wbtags" and run.id == f"wbtags-{key}"
        assert run.tags == [f"seed:{rec['config']['seed']}"]  # not logger:wandb, method.max_steps:4, ...
        assert run.config["run_key"] == key and "learning_rate" not in run.config
        assert "tables/generations" in run.summary
        assert not [a for a in run.artifacts if a.type == "model"]  # logger.log_adapter is false by default
