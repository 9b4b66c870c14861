"""method=base: nothing is trained, the run's adapter is the identity (every B matrix zero), and its own evaluation
(eval/...) is exactly the base's scores that a trained run records as baseline/...; sweep=paper_bases plans the
paper's four bases on LoRA and QLoRA without a GPU or a hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import CONF, alignbench
from omegaconf import OmegaConf

from alignbench.config.rules import problems_here

# The tiny stand-in of step one: one model and quantization of sweep=bases_tiny, every sample benchmark.
BASE = ["-m", "sweep=bases_tiny", "model=tiny_llama", "quant=none", "logger=none", "eval.generations=1"]
# A normal DPO run on the same model, quantization and evaluation, a few steps: it scores its base as baseline/...
DPO = [*BASE, "method=dpo", "method.max_steps=2", "eval.baseline=true"]
TIMING = ("seconds",)  # wall time of a benchmark, not a score


def only_record(sweep_dir: Path) -> dict:
    found = sorted(sweep_dir.glob("*/record.json"))
    assert len(found) == 1, found
    return json.loads(found[0].read_text())


@pytest.fixture(scope="module")
def base_and_dpo(tmp_path_factory, tiny_cache) -> tuple[dict, dict]:
    records = []
    for name, args in (("bases", BASE), ("dpo", DPO)):
        folder = tmp_path_factory.mktemp(name)
        done = alignbench(*args, f"hydra.sweep.dir={folder}")
        assert done.returncode == 0, done.stderr[-3000:]
        records.append(only_record(folder))
    return records[0], records[1]


@pytest.mark.slow
def test_a_base_run_trains_nothing_and_its_adapter_is_the_identity(base_and_dpo):
    from safetensors.torch import load_file

    record, _ = base_and_dpo
    assert record["status"] == "completed" and record["choices"]["method"] == "base"
    assert record["config"]["method"]["trainer"] == "base" and record["config"]["method"]["max_steps"] == 0
    metrics = record["metrics"]
    assert metrics["train/steps"] == 0 and metrics.get("train/loss") is None and "train/loss_first" not in metrics
    assert metrics["data/train_selected_pairs"] == 0  # no training pair drawn, only the held-out ones scored
    assert metrics["eval/pref/pairs"] > 0
    assert "baseline/mmlu/acc" not in metrics  # eval.baseline false: the run's own evaluation is the base's

    weights = load_file(str(Path(record["adapter_path"]) / "adapter_model.safetensors"))
    b = {k: w for k, w in weights.items() if "lora_B" in k}
    a = {k: w for k, w in weights.items() if "lora_A" in k}
    assert b and len(b) == len(a), sorted(weights)
    assert all(not w.any() for w in b.values()), "every LoRA B matrix is zero"
    assert all(w.any() for w in a.values()), "a real LoRA (A initialised): only B makes it the identity"


@pytest.mark.slow
def test_a_base_runs_evaluation_equals_the_baseline_a_trained_run_records(base_and_dpo):
    base, dpo = base_and_dpo
    assert dpo["status"] == "completed" and dpo["metrics"]["train/steps"] == 2
    baseline = {
        key.removeprefix("baseline/"): value
        for key, value in dpo["metrics"].items()
        if key.startswith("baseline/") and not key.endswith(TIMING)
    }
    benchmarks = set(base["config"]["eval"]["benchmarks"])
    assert benchmarks == {"mmlu", "bbh", "alpaca_eval", "real_toxicity", "red_instruct"}
    assert {key.split("/")[0] for key in baseline} == benchmarks | {"pref"}
    for key, value in baseline.items():
        # the held-out pairs: the base run's scores of its model (eval/pref) are the base's (baseline/pref) too
        assert base["metrics"][f"eval/{key}"] == pytest.approx(value, abs=1e-6), key
        if key.startswith("pref/"):
            assert base["metrics"][f"baseline/{key}"] == pytest.approx(value, abs=1e-6), key


def test_the_base_method_composes_untrained_on_tiny_and_paper_models(compose):
    tiny = OmegaConf.to_object(compose(["method=base", "model=tiny_mistral"]))
    paper = OmegaConf.to_object(compose(["method=base", "model=mistral", "quant=nf4"]))
    for cfg in (tiny, paper):
        assert (cfg.method.name, cfg.method.trainer, cfg.method.max_steps) == ("base", "base", 0)
        assert cfg.adapter.init in ("kaiming", "gaussian")  # inits that start at zero
        # nothing pages optimizer state: a base run needs no CUDA for training
        assert not problems_here(cfg, cuda=False, bf16=False, probe=lambda *args: None)
    assert tiny.method.max_length == 160 and paper.method.max_length == 1536  # as the methods' runs score pairs


def test_the_bases_sweeps_hold_the_four_models_on_lora_and_qlora(compose):
    for sweep, models, evaluation in (
        ("paper_bases", "llama,vicuna,mistral,mistral_instruct", "paper"),
        ("bases_tiny", "tiny_llama,tiny_vicuna,tiny_mistral,tiny_mistral_instruct", "sample"),
    ):
        params = OmegaConf.load(CONF / "sweep" / f"{sweep}.yaml").hydra.sweeper.params
        assert (params.method, params.model, params.quant, params.dataset) == (
            "base",
            models,
            "none,nf4",
            "beavertails",
        )
        cfg = compose([f"sweep={sweep}", f"model={models.split(',')[0]}", "method=base"])
        assert cfg.eval.name == evaluation and cfg.eval.baseline is False and cfg.sweep.name == sweep


@pytest.mark.slow
def test_paper_bases_plans_eight_runs_without_a_gpu_or_hub():
    done = alignbench("-m", "sweep=paper_bases", "dry_run=true", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    jobs = [line.split("  (")[0].split() for line in lines if not line.startswith((" ", "dry run:"))]
    axes = {tuple(sorted(a for a in job[2:] if "=" in a)) for job in jobs}
    assert len(jobs) == 8 == len({job[0] for job in jobs}) == len(axes)
    assert axes == {
        (f"model={m}", f"quant={q}")
        for m in ("llama", "vicuna", "mistral", "mistral_instruct")
        for q in ("none", "nf4")
    }
    assert "dry run: 8 jobs in multirun/paper_bases" in done.stdout and "a launch would run 8" in done.stdout
    # the hub is offline in tests, so the models cannot start here; nothing asks for CUDA or a GPU-hour estimate
    assert "paged_adamw" not in done.stdout and "GPU-hours" not in done.stdout


@pytest.mark.slow
def test_a_base_run_refuses_eval_at_steps(tmp_path):
    run = ["method=base", "eval.at_steps=[1]", "logger=none", "eval.benchmarks=[]", f"hydra.run.dir={tmp_path}"]
    done = alignbench(*run)
    assert done.returncode != 0
    assert "eval.at_steps: method=base trains no steps" in done.stderr + done.stdout
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["status"] == "failed" and not (tmp_path / "adapter").exists()
