"""method=sft_dpo on tiny models: DPO starts from the SFT model and scores against it (never the raw base), on LoRA
and QLoRA; the SFT stage is trained once and reused across runs and processes; its reference cache is its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import REPO, alignbench, launch
from omegaconf import OmegaConf

from alignbench.config.schema import Precision
from alignbench.data.load import load_preference_data
from alignbench.evaluation.preference import score_replies
from alignbench.modeling.adapters import peft_config
from alignbench.modeling.models import load_base_model, load_tokenizer, model_location, quantization_config
from alignbench.runs.chain import StageUnavailable, ensure_stage, stage_of
from alignbench.runs.state import claim, is_locked
from alignbench.training.methods import METHODS, TrainerInputs
from alignbench.training.train import run_caches

pytestmark = pytest.mark.slow
QUICK = [
    "model=tiny_llama",
    "dataset=beavertails",
    "dataset.eval_samples=8",
    "eval.generations=1",
    "eval.benchmarks=[]",
    "logger=none",
]


def fresh_model(cfg, location: str):
    """The base loaded on its own (not the process's shared one), for an independent computation."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        location, dtype=torch.float32, quantization_config=quantization_config(cfg.quant)
    ).eval()


@pytest.mark.parametrize("quant", ["none", "nf4"])
@pytest.mark.parametrize("method", ["sft_dpo", "sft_dpo_continued"])
def test_dpo_starts_from_the_sft_model_and_its_reference_is_the_sft_model(compose, tmp_path, quant, method):
    from peft import PeftModel

    steps = 6
    common = [f"quant={quant}", "train.logging_steps=2", f"method.max_steps={steps}"]
    # Stage 1, as the pipeline trains it: a plain SFT run.
    sft_cfg = OmegaConf.to_object(compose(["method=sft", *common, "method.learning_rate=0.01"]))
    location = model_location(sft_cfg.model, sft_cfg.paths.cache_dir)
    tokenizer = load_tokenizer(sft_cfg.model, location)
    model, _ = load_base_model(sft_cfg.model, sft_cfg.quant, location)
    data = load_preference_data(sft_cfg.dataset, steps * sft_cfg.method.batch_size, 0)
    sft = METHODS.pick("sft")(
        TrainerInputs(sft_cfg, model, tokenizer, data.train, peft_config(sft_cfg.adapter), tmp_path, Precision.fp32)
    )
    sft.train()
    sft.save_model(str(tmp_path / "sft"))
    sft.model.unload()

    # Stage 2: DPO from it.
    cfg = OmegaConf.to_object(compose([f"method={method}", *common, "method.sft.learning_rate=0.01"]))
    caches = run_caches(cfg, tokenizer, data.train, Precision.fp32, parent="sft-stage-key")
    caches.folder = tmp_path / "cache"
    fresh = peft_config(cfg.adapter)  # the DPO preset's adapter (method=sft_dpo); unused when DPO continues SFT's
    inputs = TrainerInputs(cfg, model, tokenizer, data.train, fresh, tmp_path, Precision.fp32, caches=caches)
    trainer = METHODS.pick("sft_dpo")(TrainerInputs(**{**vars(inputs), "start_adapter": tmp_path / "sft"}))
    assert trainer.cache_hits == {"tokenized_train": False, "ref_logps_train": False}
    pairs = data.train[: len(trainer.train_dataset)]
    assert len(trainer.train_dataset) == len(data.train)  # TRL dropped no pair, so rows and pairs line up

    # Independently: the SFT model (a fresh base + the saved SFT adapter) and the raw base, scored the same way.
    sft_model = PeftModel.from_pretrained(fresh_model(cfg, location), str(tmp_path / "sft")).eval()
    args = (tokenizer, pairs, cfg.method.max_length, 8)
    with_sft = score_replies(sft_model, *args)
    with sft_model.disable_adapter():
        raw = score_replies(sft_model, *args)
    reference = trainer.train_dataset["ref_chosen_logps"], trainer.train_dataset["ref_rejected_logps"]
    # 4-bit matmuls round differently in another batch layout: ~1e-5 of a summed log-prob of ~200 nats.
    tolerance = 2e-3 if quant == "none" else 2e-2
    assert reference[0] == pytest.approx(with_sft.chosen_logp, abs=tolerance)
    assert reference[1] == pytest.approx(with_sft.rejected_logp, abs=tolerance)
    gap = max(abs(a - b) for a, b in zip(reference[0], raw.chosen_logp, strict=True))
    print(f"largest reference - raw base gap: {gap:.3f}")
    assert gap > 20 * tolerance, "the reference is the raw base"  # SFT moved it far beyond the tolerance

    if method == "sft_dpo":
        merged_start(trainer, cfg, sft_cfg, tmp_path, args, raw, with_sft, location)
    else:
        continued_start(trainer, tmp_path)


def merged_start(trainer, cfg, sft_cfg, tmp_path, args, raw, with_sft, location):
    """A fresh adapter of the DPO preset trains on the SFT model (SFT folded into the base in memory); afterwards the
    run's one adapter holds SFT's delta plus DPO's, and the shared base is the raw base again."""
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    from alignbench.modeling.adapters import FoldedAdapter

    assert "ref" not in trainer.model.peft_config  # the reference is the folded SFT model, adapter off
    layers = {k: m for k, m in trainer.model.named_modules() if isinstance(m, LoraLayer)}
    assert {k.rsplit(".", 1)[-1] for k in layers} == set(cfg.adapter.target_modules)  # all seven projections
    assert len(cfg.adapter.target_modules) == 7 and len(sft_cfg.adapter.target_modules) == 2
    assert all(
        m.r["default"] == cfg.adapter.r and m.lora_alpha["default"] == cfg.adapter.alpha for m in layers.values()
    )
    assert (cfg.adapter.r, cfg.adapter.alpha) == (16, 32) and (sft_cfg.adapter.r, sft_cfg.adapter.alpha) == (64, 16)
    assert all(not m.lora_B["default"].weight.any() for m in layers.values())  # fresh: B = 0, policy = SFT model
    base_before = {k: m.get_base_layer().weight.detach().clone() for k, m in layers.items()}
    first = trainer.compute_loss(trainer.model, next(iter(trainer.get_train_dataloader()))).item()
    assert first == pytest.approx(torch.log(torch.tensor(2.0)).item(), abs=0.02)  # policy == reference at step 0

    trainer.train()
    assert FoldedAdapter._folded == []  # the SFT hooks are gone
    assert set(trainer.model.peft_config) == {"default"}
    assert all(torch.equal(base_before[k], m.get_base_layer().weight) for k, m in layers.items())  # base untouched
    tolerance = 2e-3 if cfg.quant.bits is None else 2e-2  # as for the reference above
    with trainer.model.disable_adapter():  # adapter off is the raw base again (the baseline benchmarks' model)
        assert score_replies(trainer.model, *args).chosen_logp == pytest.approx(raw.chosen_logp, abs=tolerance)
    sft = PeftModel.from_pretrained(fresh_model(cfg, location), str(tmp_path / "sft"))
    for key, module in trainer.model.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        combined = module.get_delta_weight("default")
        short = key.removeprefix("base_model.model.")
        sft_layer = sft.base_model.model.get_submodule(short)
        dpo = combined - (sft_layer.get_delta_weight("default") if isinstance(sft_layer, LoraLayer) else 0)
        # what is left beside SFT's delta is DPO's: trained, and of the DPO preset's rank
        assert dpo.abs().max() > 0 and torch.linalg.matrix_rank(dpo.float()) <= cfg.adapter.r, key
    trainer.save_model(str(tmp_path / "chained"))
    saved = json.loads((tmp_path / "chained" / "adapter_config.json").read_text())
    assert sorted(set(saved["rank_pattern"].values())) == [16, 64 + 16]  # DPO alone, or SFT and DPO side by side
    # the saved adapter on a fresh base is the trained policy
    reloaded = PeftModel.from_pretrained(fresh_model(cfg, location), str(tmp_path / "chained")).eval()
    trainer.model.eval()
    assert score_replies(reloaded, *args).chosen_logp == pytest.approx(
        score_replies(trainer.model, *args).chosen_logp, abs=tolerance
    )
    assert score_replies(reloaded, *args).chosen_logp != pytest.approx(with_sft.chosen_logp, abs=tolerance)
    trainer.model.unload()


def continued_start(trainer, tmp_path):
    """DPO goes on training the SFT adapter, with a frozen copy of it as TRL's reference."""
    # The policy starts as the SFT model: the trainable adapter holds the SFT weights, the reference a frozen copy.
    named = dict(trainer.model.named_parameters())
    policy = {n: p for n, p in named.items() if ".default." in n}
    ref = {n.replace(".default.", ".ref."): named[n.replace(".default.", ".ref.")] for n in policy}
    assert policy and all(p.requires_grad for p in policy.values())
    assert not any(p.requires_grad for p in ref.values())
    for name, weight in policy.items():
        torch.testing.assert_close(weight.float(), ref[name.replace(".default.", ".ref.")].float(), atol=1e-2, rtol=0)
    ref_before = {n: p.detach().clone() for n, p in ref.items()}
    policy_before = {n: p.detach().clone() for n, p in policy.items()}

    first = trainer.compute_loss(trainer.model, next(iter(trainer.get_train_dataloader()))).item()
    assert first == pytest.approx(torch.log(torch.tensor(2.0)).item(), abs=0.02)  # policy == reference at step 0
    trainer.train()
    assert all(torch.equal(ref_before[n], named[n]) for n in ref_before)  # the reference never moved
    moved = [n for n, p in policy_before.items() if not torch.equal(p, named[n])]
    assert "ref" not in trainer.model.peft_config  # dropped after training: the result is one adapter
    trainer.save_model(str(tmp_path / "chained"))
    assert not (tmp_path / "chained" / "ref").exists()
    assert moved == list(policy)  # every policy tensor trained
    trainer.model.unload()


def ensure(stage, run_dir: Path, sweep=None):
    from alignbench.pipeline import _run_stage

    return ensure_stage(stage, run_dir, sweep, _run_stage)


def test_a_stage_held_by_another_process_is_waited_for_then_the_wait_gives_up(compose, tmp_path):
    stage = stage_of(compose(["method=sft_dpo", *QUICK, f"paths.cache_dir={tmp_path}", "sweep.stage_wait_s=1"]))
    shared = tmp_path / "stages" / stage.key
    with claim(shared) as claimed:  # another holder (a plain fd lock: pipeline's claim cannot take it either)
        assert claimed
        with pytest.raises(
            StageUnavailable, match=rf"sft stage {stage.key} .* is still held by .* after sweep\.stage_wait_s=1 s"
        ):
            ensure(stage, tmp_path / "run")
    assert not (shared / "record.json").exists()  # nothing was trained meanwhile


def chain(tmp_path: Path, name: str, *args: str) -> list[str]:
    return [
        "method=sft_dpo",
        *QUICK,
        "method.max_steps=4",
        "method.sft.max_steps=4",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / name}",
        *args,
    ]


def record(folder: Path) -> dict:
    return json.loads((folder / "record.json").read_text())


def test_two_processes_needing_one_sft_stage_train_it_once_and_a_plain_dpo_run_keeps_its_own_reference(tmp_path):
    with (
        launch(*chain(tmp_path, "beta_0.1", "method.beta=0.1")) as one,
        launch(*chain(tmp_path, "beta_0.3", "method.beta=0.3")) as two,
    ):
        for process in (one, two):
            assert process.wait(900) == 0, process.output()[1][-3000:]
    runs = [record(tmp_path / f"beta_{beta}") for beta in (0.1, 0.3)]
    assert all(r["status"] == "completed" for r in runs)
    assert runs[0]["parent"]["run_key"] == runs[1]["parent"]["run_key"] == runs[0]["config"]["method"]["parent_key"]
    assert runs[0]["run_key"] != runs[1]["run_key"]  # the beta is the chain's, not the stage's
    assert sorted(r["parent"]["reused"] for r in runs) == [False, True]  # one trained it, the other reused it
    stage_dir = Path(runs[0]["parent"]["run_dir"])
    assert stage_dir == tmp_path / "cache" / "stages" / runs[0]["parent"]["run_key"]
    stage = record(stage_dir)
    assert stage["attempt"] == 1 and stage["status"] == "completed" and stage["choices"]["method"] == "sft"
    assert stage["metrics"]["train/steps"] == 4 and "eval_key" not in stage or stage["eval_key"] is None
    assert all(r["parent"]["trained_at"] == stage["trained_at"] for r in runs)
    assert all(r["metrics"]["train/steps"] == 4 for r in runs)  # each trained its own DPO stage

    plain = alignbench(
        *QUICK,
        "method=dpo",
        "method.max_steps=4",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'dpo'}",
    )
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert record(tmp_path / "dpo")["cache_hits"] == {"tokenized_train": True, "ref_logps_train": False}
    assert len(list((tmp_path / "cache" / "ref_logps").glob("*.json"))) == 2  # the base's and the SFT model's


def test_a_chained_run_waits_for_the_process_holding_its_sft_stage(tmp_path, compose):
    stage = stage_of(
        compose(["method=sft_dpo", *QUICK, "method.sft.max_steps=4", f"paths.cache_dir={tmp_path / 'cache'}"])
    )
    shared = tmp_path / "cache" / "stages" / stage.key
    release = tmp_path / "release"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time, pathlib\n"
                "from alignbench.runs.state import claim\n"
                f"with claim(pathlib.Path({str(shared)!r})):\n"
                f"    while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.1)\n"
            ),
        ],
        cwd=REPO,
    )
    while not is_locked(shared):
        assert holder.poll() is None
        time.sleep(0.1)
    log = tmp_path / "chain.log"
    with launch(*chain(tmp_path, "run"), log=log) as chained:
        while "waiting for" not in (log.read_text() if log.exists() else ""):
            assert chained.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        assert not (shared / "record.json").exists()  # it waits rather than training the stage beside the holder
        release.touch()  # the holder leaves without training it: the waiting run trains it itself
        assert chained.wait(timeout=900) == 0, log.read_text()[-3000:]
    holder.wait(timeout=60)
    assert f"waiting for {shared.joinpath('.lock').read_text().split()[0]}" in log.read_text()
    run = record(tmp_path / "run")
    assert run["status"] == "completed" and run["parent"]["reused"] is False and run["parent"]["where"] == "shared"
    assert record(shared)["attempt"] == 1


def test_a_failed_sft_stage_fails_the_chain_with_a_message_naming_it(tmp_path):
    diverging = chain(tmp_path, "run", "method.sft.learning_rate=1e30")
    done = alignbench(*diverging, timeout=900)
    assert done.returncode != 0
    run = record(tmp_path / "run")
    stage_dir = next((tmp_path / "cache" / "stages").iterdir())
    assert run["status"] == "failed" and "parent" not in run and not (tmp_path / "run" / "adapter").exists()
    assert run["error"].startswith(f"StageUnavailable: its sft stage {stage_dir.name} ({stage_dir}) failed: ")
    assert "NonFiniteTraining" in run["error"]
    stage = record(stage_dir)
    assert stage["status"] == "failed" and stage["failures"] == 1 and not (stage_dir / "adapter").exists()
