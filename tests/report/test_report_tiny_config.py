"""The tiny stand-ins of the four paper models and sweep=report_tiny, composed as a user runs them."""

from __future__ import annotations

import pytest
from helpers import alignbench

PAIRS = [
    ("tiny_llama", "llama"),
    ("tiny_vicuna", "vicuna"),
    ("tiny_mistral", "mistral"),
    ("tiny_mistral_instruct", "mistral_instruct"),
]


@pytest.mark.parametrize("tiny, paper", PAIRS)
def test_a_stand_in_keeps_its_models_kind_template_and_targets(compose, tiny, paper):
    small, real = compose([f"model={tiny}"]).model, compose([f"model={paper}"]).model
    assert (small.kind, small.chat_template, small.lora_targets) == (real.kind, real.chat_template, real.lora_targets)
    assert small.tiny is not None and small.hub_id is None and small.name == tiny
    assert compose([f"model={tiny}"]).method.max_steps == 150  # the CPU budget comes with every tiny model


def test_each_pair_is_two_different_networks(compose):
    seeds = {tiny: compose([f"model={tiny}"]).model.tiny.seed for tiny, _ in PAIRS}
    assert seeds["tiny_llama"] != seeds["tiny_vicuna"] and seeds["tiny_mistral"] != seeds["tiny_mistral_instruct"]


@pytest.mark.slow
def test_report_tiny_plans_lora_grid_and_a_qlora_slice(tmp_path):
    done = alignbench("-m", "sweep=report_tiny", "dry_run=true", f"hydra.sweep.dir={tmp_path}", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if " pending " in line and "dataset=" in line]
    assert "120 jobs" in done.stdout and len(lines) == 120
    qlora = [line for line in lines if "quant=nf4" in line]
    assert len(qlora) == 24 and all("dataset=beavertails" in q and "preference=harmless" in q for q in qlora)
    assert sum("seed=2" in line for line in lines) == 40  # 3 seeds: every cell gets a confidence interval
