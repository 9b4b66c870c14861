"""method=merge end to end on tiny models: inputs found by their axis values, the merged adapter evaluated and
recorded like any run, and a merge with an input that is missing or failed refused before anything loads."""

from __future__ import annotations

import json

import pytest
from helpers import alignbench, records

pytestmark = pytest.mark.slow
QUICK = [
    "model=tiny_llama",
    "dataset=beavertails",
    "method.max_steps=5",
    "dataset.eval_samples=8",
    "eval.generations=1",
    "eval.benchmarks=[]",
    "logger=none",
]


@pytest.mark.parametrize("quant", ["none", "nf4"])
def test_merges_of_a_tiny_sweep_evaluate_and_name_their_inputs(tmp_path, quant):
    source = tmp_path / "source"
    done = alignbench(
        "-m",
        *QUICK,
        f"quant={quant}",
        "method=sft,dpo",
        "dataset.preference=harmless,helpful",
        f"hydra.sweep.dir={source}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    by_cell = {
        (r["choices"]["method"], r["config"]["dataset"]["preference"]): r["run_key"] for r in records(source).values()
    }

    for recipe, cells in [
        ("merge_dare_all", [("sft", "harmless"), ("sft", "helpful"), ("dpo", "harmless"), ("dpo", "helpful")]),
        ("merge_slerp_dpo", [("dpo", "harmless"), ("dpo", "helpful")]),
    ]:
        out = tmp_path / recipe
        merged = alignbench(
            *QUICK, f"quant={quant}", f"method={recipe}", f"sweep.inputs_dir={source}", f"hydra.run.dir={out}"
        )
        assert merged.returncode == 0, merged.stderr[-3000:]
        record = json.loads((out / "record.json").read_text())
        assert record["status"] == "completed" and (out / "adapter" / "adapter_config.json").is_file()
        assert record["config"]["method"]["merge"]["input_keys"] == [by_cell[c] for c in cells]
        assert 0 <= record["metrics"]["eval/pref/accuracy"] <= 1
        assert record["metrics"]["train/steps"] == 0  # nothing was trained
        # mergekit's operator on the full weights, written exactly (all of the delta's energy kept), and named
        assert record["metrics"]["merge/kept_energy"] == pytest.approx(1.0, abs=1e-6)
        assert record["config"]["method"]["merge"]["space"] == "weights"
        assert record["versions"]["mergekit"] == "0.1.5"
        # evaluated again from the saved adapter (another eval key): the same merged model, the same scores
        again = alignbench(
            *QUICK,
            f"quant={quant}",
            f"method={recipe}",
            f"sweep.inputs_dir={source}",
            f"hydra.run.dir={out}",
            "eval.generations=2",
        )
        assert again.returncode == 0, again.stderr[-3000:]
        reloaded = json.loads((out / "record.json").read_text())
        assert reloaded["eval_key"] != record["eval_key"] and reloaded["trained_at"] == record["trained_at"]
        for name in ("eval/pref/accuracy", "eval/pref/reward_margin"):
            assert reloaded["metrics"][name] == pytest.approx(record["metrics"][name], abs=1e-5), name


def test_a_merge_with_a_failed_or_missing_input_is_refused_before_anything_loads(tmp_path):
    source = tmp_path / "source"
    done = alignbench("-m", *QUICK, "method=sft", "dataset.preference=harmless,helpful", f"hydra.sweep.dir={source}")
    assert done.returncode == 0, done.stderr[-3000:]
    helpful = next(p for p in source.glob("*/record.json") if '"preference": "helpful"' in p.read_text())
    helpful.write_text(helpful.read_text().replace('"status": "completed"', '"status": "failed"'))

    out = tmp_path / "merge"
    refused = alignbench(*QUICK, "method=merge_dare_ties_sft", f"sweep.inputs_dir={source}", f"hydra.run.dir={out}")
    assert refused.returncode != 0
    assert "merge input 2 (method=sft dataset=beavertails dataset.preference=helpful seed=0)" in refused.stderr
    assert "is failed" in refused.stderr
    assert "merge input 1" not in refused.stderr  # the completed one is fine
    assert not (out / "record.json").exists()  # refused before the run directory was claimed

    missing = alignbench(*QUICK, "method=merge_dare_ties_dpo", f"sweep.inputs_dir={source}", f"hydra.run.dir={out}")
    assert missing.returncode != 0 and "no run in" in missing.stderr and "merge input 2" in missing.stderr
