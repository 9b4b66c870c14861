"""Shared caches of a grid: what their keys depend on (and not), equality with TRL's own computation, damaged
entries, and run isolation when one process reuses a base model for several runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import alignbench, records
from omegaconf import OmegaConf

from alignbench.config.schema import Precision
from alignbench.data.load import load_preference_data
from alignbench.modeling.adapters import peft_config
from alignbench.modeling.models import load_base_model, load_tokenizer, model_location
from alignbench.training.caches import RunCaches
from alignbench.training.methods import METHODS, TrainerInputs
from alignbench.training.train import run_caches as caches_of_run
from alignbench.training.train import train_pairs_wanted


def run_caches(compose, overrides: list[str], folder: Path | None = None) -> tuple:
    config = compose(overrides)
    cfg = OmegaConf.to_object(config)
    location = model_location(cfg.model, cfg.paths.cache_dir)
    tokenizer = load_tokenizer(cfg.model, location)
    data = load_preference_data(cfg.dataset, train_pairs_wanted(cfg), cfg.dataset.selection_seed)
    caches = caches_of_run(cfg, tokenizer, data.train, Precision.fp32)
    if folder is not None:
        caches.folder = folder
    return cfg, caches, tokenizer, data, location


@pytest.mark.parametrize(
    "change",
    [
        ["method.max_length=128"],  # sequence length / truncation
        ["model.chat_template='{% for m in messages %}{{ m.content }}{% endfor %}'"],  # template
        ["dataset.selection_seed=1"],  # which pairs
        ["dataset.preference=helpful"],  # dataset selection
        ["dataset.train_samples=64"],  # how many pairs
        ["quant=nf4"],  # quantization of the base
        ["model=tiny_mistral"],  # the base itself
    ],
)
def test_reference_key_changes_with_what_the_reference_depends_on(compose, change):
    _, base, *_ = run_caches(compose, [])
    _, changed, *_ = run_caches(compose, change)
    assert changed.ref_key() != base.ref_key(), change


@pytest.mark.parametrize(
    "same",
    [
        ["seed=3"],
        ["adapter.r=4"],
        ["adapter.alpha=8"],
        ["method.beta=0.5"],
        ["method.learning_rate=1e-4"],
        ["method.loss_type=[ipo]"],
        *[[f"method={preset}"] for preset in ("ipo", "hinge", "robust", "ln_dpo", "rpo")],  # the DPO family
        ["logger=none"],
        ["eval.benchmarks=[]"],
    ],
)
def test_reference_key_ignores_what_the_reference_does_not_depend_on(compose, same):
    _, base, *_ = run_caches(compose, [])
    _, other, *_ = run_caches(compose, same)
    assert other.ref_key() == base.ref_key() and other.tokenized_key("dpo", "train") == base.tokenized_key(
        "dpo", "train"
    ), same


def dpo_trainer(compose, overrides: list[str], folder: Path | None, out: Path):
    cfg, caches, tokenizer, data, location = run_caches(compose, ["method.max_steps=4", *overrides], folder)
    model, _ = load_base_model(cfg.model, cfg.quant, location)
    inputs = TrainerInputs(
        cfg,
        model,
        tokenizer,
        data.train,
        peft_config(cfg.adapter),
        out,
        Precision.fp32,
        caches=caches if folder is not None else None,
    )
    trainer = METHODS["dpo"](inputs)
    trainer.model.unload()  # these trainers are never trained; give the shared base back
    return trainer


@pytest.mark.slow
def test_cached_reference_log_probs_equal_trl_computing_them_and_hit_across_rank_and_seed(compose, tmp_path):
    fresh = dpo_trainer(compose, [], None, tmp_path / "a")  # TRL's own precompute, no alignbench cache
    first = dpo_trainer(compose, [], tmp_path / "cache", tmp_path / "b")
    again = dpo_trainer(compose, ["adapter.r=4", "seed=1"], tmp_path / "cache", tmp_path / "c")
    assert first.cache_hits == {"tokenized_train": False, "ref_logps_train": False}
    assert again.cache_hits == {"tokenized_train": True, "ref_logps_train": True}
    for column in ("ref_chosen_logps", "ref_rejected_logps"):
        expected = list(fresh.train_dataset[column])
        assert list(first.train_dataset[column]) == pytest.approx(expected, rel=1e-6, abs=1e-5)
        assert list(again.train_dataset[column]) == list(first.train_dataset[column])
    (entry,) = (tmp_path / "cache" / "ref_logps").glob("*.json")
    columns = json.loads(entry.read_text())["columns"]
    assert all(0 < n <= 160 for n in columns["chosen_tokens"] + columns["rejected_tokens"])  # reply tokens kept


def test_a_damaged_reference_entry_is_recomputed_never_used(tmp_path):
    caches = RunCaches(tmp_path, {"m": 1}, "fp32", "tok", "ex", 64)
    good = {
        "ref_chosen_logps": [-1.5, -2.0],
        "ref_rejected_logps": [-3.0, -4.0],
        "chosen_tokens": [3, 4],
        "rejected_tokens": [5, 6],
    }
    assert caches.ref_logps(2, lambda: good) == (good, False)
    assert caches.ref_logps(2, lambda: pytest.fail("a valid entry must be read")) == (good, True)
    path = tmp_path / "ref_logps" / f"{caches.ref_key()}.json"

    entry = json.loads(path.read_text())
    entry["columns"]["ref_chosen_logps"][0] = -1.25  # a changed value, checksum left as it was
    path.write_text(json.dumps(entry))
    assert caches.ref_logps(2, lambda: good) == (good, False)

    path.write_text(path.read_text()[:40])  # cut short, as by a full disk
    assert caches.ref_logps(2, lambda: good) == (good, False)
    assert caches.ref_logps(3, lambda: {k: v + v[:1] for k, v in good.items()})[1] is False  # wrong size
    assert json.loads(path.read_text())["columns"]["chosen_tokens"] == [3, 4, 3]  # repaired by the recompute


def test_a_damaged_tokenized_entry_is_recomputed(tmp_path):
    from datasets import Dataset

    caches = RunCaches(tmp_path, {"m": 1}, "fp32", "tok", "ex", 64)
    rows = Dataset.from_list([{"input_ids": [1, 2, 3]}, {"input_ids": [4, 5]}])
    assert caches.tokenized("dpo", "train", lambda: rows)[1] is False
    cached, hit = caches.tokenized("dpo", "train", lambda: pytest.fail("a valid entry must be read"))
    assert hit and cached.to_list() == rows.to_list()
    (arrow,) = (tmp_path / "tokenized").glob("*/data-*.arrow")
    arrow.write_bytes(arrow.read_bytes()[:-16])
    again, hit = caches.tokenized("dpo", "train", lambda: rows)
    assert not hit and again.to_list() == rows.to_list()


@pytest.mark.slow
def test_runs_sharing_a_process_and_a_base_match_the_same_run_alone(tmp_path):
    quick = ["method.max_steps=20", "eval.benchmarks=[]", "eval.generations=1", "logger=none"]
    grid = alignbench(
        "-m",
        "adapter.r=8,16",
        *quick,
        f"paths.cache_dir={tmp_path / 'cache_grid'}",
        f"hydra.sweep.dir={tmp_path / 'grid'}",
    )
    alone = alignbench(
        "-m",
        "adapter.r=16",
        *quick,
        f"paths.cache_dir={tmp_path / 'cache_alone'}",
        f"hydra.sweep.dir={tmp_path / 'alone'}",
    )
    assert grid.returncode == 0 and alone.returncode == 0, grid.stderr[-2000:] + alone.stderr[-2000:]
    by_rank = {r["config"]["adapter"]["r"]: r for r in records(tmp_path / "grid").values()}
    (single,) = records(tmp_path / "alone").values()
    second = by_rank[16]
    assert second["base_reused"] and second["cache_hits"] == {"tokenized_train": True, "ref_logps_train": True}
    assert not single["base_reused"] and not any(single["cache_hits"].values())
    timing = ("runtime", "per_second")
    metrics = {k: v for k, v in second["metrics"].items() if not k.endswith(timing)}
    assert metrics == {k: v for k, v in single["metrics"].items() if not k.endswith(timing)}
    assert len(metrics) > 10


def test_a_chains_reference_key_is_its_sft_stages_never_the_bases(compose):
    """sft_dpo scores against its SFT model: its reference entries are keyed by the SFT stage's run key, apart from a
    plain DPO run's (the base's) and from another stage's; tokenization is the same work and stays shared."""
    from alignbench.runs.chain import stage_of

    _, plain, tokenizer, data, _ = run_caches(compose, [])
    cfg, _, _, _, _ = run_caches(compose, ["method=sft_dpo"])
    keys = [stage_of(compose(["method=sft_dpo", *more])).key for more in ([], ["method.sft.learning_rate=0.01"])]
    chained = [caches_of_run(cfg, tokenizer, data.train, Precision.fp32, parent=key) for key in keys]
    assert len({plain.ref_key(), *(c.ref_key() for c in chained)}) == 3
    assert {c.tokenized_key("dpo", "train") for c in chained} == {plain.tokenized_key("dpo", "train")}
