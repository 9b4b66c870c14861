"""Evaluating a trained run at more steps trains nothing new: eval.at_steps and train.keep_steps stay out of the run
key; a run trained in sweep.inputs_dir is reused (its adapters linked, its training's numbers kept); a step adapter
it lacks is trained again only up to that step, and equals the one an uninterrupted run saved."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch
from helpers import alignbench, records
from safetensors.torch import load_file

from alignbench.runs.keys import resolve, run_key

pytestmark = pytest.mark.slow
QUICK = [
    "model=tiny_llama",
    "dataset=beavertails",
    "method=dpo",
    "method.max_steps=6",
    "dataset.eval_samples=8",
    "eval.generations=1",
    "eval.benchmarks=[]",
    "logger=none",
]


def test_steps_to_evaluate_or_keep_are_not_part_of_what_is_trained(compose):
    key = run_key(resolve(compose(QUICK)))
    assert run_key(resolve(compose([*QUICK, "eval.at_steps=[2,4]"]))) == key
    assert run_key(resolve(compose([*QUICK, "train.keep_steps=[2,4]"]))) == key


def test_a_run_trained_elsewhere_is_reused_and_only_a_missing_step_adapter_is_trained_again(tmp_path):
    cache = f"paths.cache_dir={tmp_path / 'cache'}"
    first = alignbench(*QUICK, cache, "train.keep_steps=[2,3,4]", f"hydra.run.dir={tmp_path / 'first'}")
    assert first.returncode == 0, first.stderr[-3000:]
    trained = json.loads((tmp_path / "first" / "record.json").read_text())
    source = tmp_path / "inputs" / trained["run_key"]  # where a grid sweep keeps it
    source.parent.mkdir()
    (tmp_path / "first").rename(source)
    uninterrupted = load_file(source / "steps" / "3" / "adapter_model.safetensors")
    shutil.rmtree(source / "steps" / "3")  # as if sweep=paper had not kept step 3

    again = alignbench(
        *QUICK,
        cache,
        "eval.at_steps=[2,3]",
        f"sweep.inputs_dir={tmp_path / 'inputs'}",
        f"hydra.run.dir={tmp_path / 'y'}",
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "train dpo again to step 3 for the adapters it lacks at steps [3]" in again.stderr + again.stdout
    record = json.loads((tmp_path / "y" / "record.json").read_text())
    assert record["run_key"] == trained["run_key"] and record["trained_in"] == str(source)
    assert record["filled_steps"] == [3] and record["trained_at"] == trained["trained_at"]
    # its training's numbers are the source's; its evaluation is its own, at both steps and at the end
    assert {k: v for k, v in record["metrics"].items() if k.startswith("train/")} == {
        k: v for k, v in trained["metrics"].items() if k.startswith("train/")
    }
    assert {"eval@2/pref/accuracy", "eval@3/pref/accuracy", "eval/pref/accuracy"} <= set(record["metrics"])
    # step 2 and the final adapter are the source's files; step 3 was trained again, equal to the uninterrupted one
    assert os.path.samefile(
        tmp_path / "y" / "adapter" / "adapter_model.safetensors", source / "adapter" / "adapter_model.safetensors"
    )
    assert os.path.samefile(
        tmp_path / "y" / "steps" / "2" / "adapter_model.safetensors",
        source / "steps" / "2" / "adapter_model.safetensors",
    )
    refilled = load_file(tmp_path / "y" / "steps" / "3" / "adapter_model.safetensors")
    assert refilled.keys() == uninterrupted.keys()
    assert all(torch.equal(refilled[name], uninterrupted[name]) for name in refilled)
    assert not (tmp_path / "y" / "checkpoints").exists()

    # evaluating it at stage evaluate only, at a step it lacks, is refused naming what to do
    refused = alignbench(*QUICK, cache, "eval.at_steps=[5]", "stages=[evaluate]", f"hydra.run.dir={tmp_path / 'y'}")
    assert refused.returncode != 0
    assert "has no adapter saved at step 5" in refused.stderr and "stages=[train,evaluate]" in refused.stderr


def test_a_tiny_quantity_sweep_after_a_tiny_paper_sweep_trains_nothing_new(tmp_path):
    axes = [
        f"paths.cache_dir={tmp_path / 'cache'}",
        "dataset=beavertails",
        "dataset.preference=harmless",
        "method=sft,dpo",
        "method.max_steps=6",
        "train.keep_steps=[2,4]",
        "eval.benchmarks=[]",
        "logger=none",
    ]
    paper = alignbench(
        "-m", "sweep=paper_tiny", *axes, "model=tiny_mistral", "quant=nf4", f"hydra.sweep.dir={tmp_path / 'paper'}"
    )
    assert paper.returncode == 0, paper.stderr[-3000:]
    plan = alignbench(
        "-m",
        "sweep=quantity_tiny",
        *axes,
        "eval.at_steps=[2,4]",
        f"sweep.inputs_dir={tmp_path / 'paper'}",
        f"hydra.sweep.dir={tmp_path / 'quantity'}",
        "dry_run=true",
    )
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "2 outdated" in plan.stdout + plan.stderr  # trained there: to evaluate only
    quantity = alignbench(
        "-m",
        "sweep=quantity_tiny",
        *axes,
        "eval.at_steps=[2,4]",
        f"sweep.inputs_dir={tmp_path / 'paper'}",
        f"hydra.sweep.dir={tmp_path / 'quantity'}",
    )
    assert quantity.returncode == 0, quantity.stderr[-3000:]
    trained, evaluated = records(tmp_path / "paper"), records(tmp_path / "quantity")
    assert set(evaluated) == set(trained) and len(evaluated) == 2  # the same runs: the same run keys
    for key, record in evaluated.items():
        assert record["trained_in"] == str(tmp_path / "paper" / key) and not record.get("filled_steps")
        assert record["trained_at"] == trained[key]["trained_at"]  # trained once, in the paper sweep
        assert {"eval@2/pref/accuracy", "eval@4/pref/accuracy"} <= set(record["metrics"])
    assert "train sft" not in quantity.stderr + quantity.stdout and "train dpo" not in quantity.stderr + quantity.stdout
