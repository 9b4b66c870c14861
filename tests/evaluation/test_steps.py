"""Evaluation at intermediate steps (eval.at_steps): adapters saved whole while training, each evaluated by the
same suite, re-evaluated without retraining."""

from __future__ import annotations

import json

import pytest
from helpers import alignbench
from safetensors.torch import load_file

pytestmark = pytest.mark.slow
QUICK = [
    "model=tiny_llama",
    "method=sft",
    "method.max_steps=10",
    "dataset.eval_samples=8",
    "eval.generations=1",
    "logger=none",
]


def test_steps_are_saved_evaluated_and_re_evaluated_without_retraining(tmp_path):
    sweep = ["-m", *QUICK, "eval.at_steps=[5,10]", f"hydra.sweep.dir={tmp_path}"]
    done = alignbench(*sweep, "eval.benchmarks=[mmlu]")
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = [p.parent for p in tmp_path.glob("*/record.json")]
    before = json.loads((run_dir / "record.json").read_text())
    for step in (5, 10):
        folder = run_dir / "steps" / str(step)
        assert (folder / "adapter_config.json").is_file() and (folder / "adapter_model.safetensors").is_file()
        assert 0 <= before["metrics"][f"eval@{step}/pref/accuracy"] <= 1
        assert 0 <= before["metrics"][f"eval@{step}/mmlu/acc"] <= 1 and (folder / "eval" / "mmlu.jsonl").is_file()
    assert not list((run_dir / "steps").glob(".*"))  # no half-written step folder left behind
    final, at_10 = (load_file(p / "adapter_model.safetensors") for p in (run_dir / "adapter", run_dir / "steps/10"))
    assert final.keys() == at_10.keys() and all((final[k] == at_10[k]).all() for k in final)
    at_5 = load_file(run_dir / "steps/5/adapter_model.safetensors")
    assert any(not (at_5[k] == final[k]).all() for k in final)  # five more steps moved the adapter

    again = alignbench(*sweep, "eval.benchmarks=[mmlu,bbh]")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 outdated; launching 1" in again.stdout
    after = json.loads((run_dir / "record.json").read_text())
    assert after["trained_at"] == before["trained_at"] and after["timings"]["train_s"] == before["timings"]["train_s"]
    assert all(f"eval@{step}/bbh/exact_match" in after["metrics"] for step in (5, 10))
    assert after["metrics"]["eval@5/mmlu/acc"] == before["metrics"]["eval@5/mmlu/acc"]
