"""The truncation policy on real-format multi-turn HH-RLHF rows whose prompts exceed the CPU budget's max_length:
exact counts by reason, TRL keeps every fitted pair (and drops unfitted ones, which is why the policy exists), the
held-out scorer sees reply tokens in every pair, and a max_length nothing fits fails with one clear line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from alignbench.config.schema import Precision
from alignbench.data.fit import TRUNCATION_POLICY, chat_ids, fit_data, fit_pairs, reply_span
from alignbench.data.load import DataError, load_preference_data
from alignbench.modeling.adapters import peft_config
from alignbench.modeling.models import load_base_model, load_tokenizer, model_location

MULTITURN = Path(__file__).parent / "files" / "hh_multiturn"
CPU_MAX_LENGTH = 160  # conf/preset/cpu.yaml


@pytest.fixture(scope="module")
def tiny(compose):
    cfg = OmegaConf.to_object(compose(["dataset=hh_rlhf", f"dataset.path={MULTITURN}"]))
    assert cfg.method.max_length == CPU_MAX_LENGTH
    location = model_location(cfg.model, cfg.paths.cache_dir)
    return cfg, load_tokenizer(cfg.model, location), location


def load(cfg):
    return load_preference_data(cfg.dataset, 1000, cfg.dataset.selection_seed)


def test_multiturn_hh_counts_every_pair_by_what_happened_to_it(tiny):
    cfg, tokenizer, _ = tiny
    data = load(cfg)
    long_prompts = sum(len(chat_ids(tokenizer, p.prompt, True)) >= CPU_MAX_LENGTH for p in data.train)
    fit_data(data, tokenizer, CPU_MAX_LENGTH, cfg.dataset.max_bad_fraction)
    assert data.stats == {
        "train_rows": 60,
        "train_bad_rows": 2,
        "train_bad/empty_text": 1,
        "train_bad/wrong_type": 1,
        "train_filtered_rows": 0,
        "train_parsed_pairs": 58,
        "train_selected_pairs": 58,
        "train_prompt_truncated": 42,
        "train_reply_truncated": 0,
        "train_dropped_no_reply": 0,
        "train_pairs": 58,
        "test_rows": 24,
        "test_bad_rows": 1,
        "test_bad/identical_replies": 1,
        "test_filtered_rows": 0,
        "test_parsed_pairs": 23,
        "test_selected_pairs": 23,
        "test_prompt_truncated": 16,
        "test_reply_truncated": 0,
        "test_dropped_no_reply": 0,
        "test_pairs": 23,
    }
    assert long_prompts == 42  # every one of them would fill max_length: TRL would drop it (next test)
    assert data.issues == {
        "train_bad": {
            "empty_text": {"count": 1, "rows": ["train.jsonl.gz:11"], "detail": "empty final Assistant reply"},
            "wrong_type": {
                "count": 1,
                "rows": ["train.jsonl.gz:31"],
                "detail": "field 'rejected' should be str, got int 7",
            },
        },
        "test_bad": {
            "identical_replies": {
                "count": 1,
                "rows": ["test.jsonl.gz:6"],
                "detail": "chosen and rejected replies are identical",
            }
        },
    }
    for pair in data.train + data.test:
        # the prompt still ends on the user's request, and the reply gets up to half of max_length
        assert pair.prompt[-1]["role"] == "user" and pair.prompt[-1]["content"].endswith("without anyone noticing?")
        for reply in (pair.chosen, pair.rejected):
            ids, start = reply_span(tokenizer, pair.prompt, reply)
            assert start < CPU_MAX_LENGTH and min(len(ids), CPU_MAX_LENGTH) - start >= min(
                len(ids) - start, CPU_MAX_LENGTH // 2
            )


def test_multiturn_prompts_lose_earlier_turns_before_any_text_of_the_last_one(tiny):
    _, tokenizer, _ = tiny
    cfg = tiny[0]
    data = load(cfg)
    fitted = fit_pairs(data.train, tokenizer, CPU_MAX_LENGTH)
    by_origin = {p.origin: p for p in data.train}
    for pair in fitted.pairs:
        original = by_origin[pair.origin].prompt
        if pair.prompt != original:
            last = original[-1]["content"]
            # whole earlier turns go first; the last Human turn is cut (from the left) only when it alone is too long
            assert pair.prompt == original[-len(pair.prompt) :] or (
                len(pair.prompt) == 1
                and last.endswith(pair.prompt[0]["content"])
                and len(chat_ids(tokenizer, original[-1:], True)) > CPU_MAX_LENGTH // 2
            )


@pytest.mark.parametrize(
    ("method", "sft_loss", "unfitted_kept"), [("dpo", None, 16), ("sft", "completion", 16), ("sft", "sequence", 58)]
)
def test_trl_drops_unfitted_long_prompts_uncounted_and_keeps_every_fitted_pair(
    compose, tiny, tmp_path, method, sft_loss, unfitted_kept
):
    """What TRL 1.16 does on its own (DPO: filters len(prompt_ids) < max_length; SFT on the reply: drops rows whose
    labels are all masked after keep_start truncation; SFT on the whole sequence keeps them, cut to the prompt) and
    that it keeps every fitted pair: the trainer trains on data/train_pairs."""
    from alignbench.training.methods import METHODS, TrainerInputs
    from alignbench.training.train import checked_dataset_size

    cfg, tokenizer, location = tiny
    if sft_loss:
        overrides = ["dataset=hh_rlhf", f"dataset.path={MULTITURN}", "method=sft", f"method.sft_loss={sft_loss}"]
        cfg = OmegaConf.to_object(compose(overrides))
    cfg = replace(cfg, method=replace(cfg.method, max_steps=1))
    assert cfg.method.trainer == method and cfg.method.max_length == CPU_MAX_LENGTH
    data = load(cfg)
    unfitted = list(data.train)
    fit_data(data, tokenizer, CPU_MAX_LENGTH, cfg.dataset.max_bad_fraction)
    sizes = {}
    for name, pairs in (("unfitted", unfitted), ("fitted", data.train)):
        model, _ = load_base_model(cfg.model, cfg.quant, location)
        inputs = TrainerInputs(cfg, model, tokenizer, pairs, peft_config(cfg.adapter), tmp_path / name, Precision.fp32)
        trainer = METHODS.pick(method)(inputs)
        sizes[name] = len(trainer.train_dataset)
        if name == "unfitted" and unfitted_kept < len(pairs):
            with pytest.raises(RuntimeError, match="TRL dropped pairs"):
                checked_dataset_size(trainer, len(pairs))
        elif name == "fitted":
            assert checked_dataset_size(trainer, len(pairs)) == data.stats["train_pairs"]
        trainer.model.unload()
    assert sizes == {"unfitted": unfitted_kept, "fitted": 58}


def test_held_out_pairs_are_scored_on_reply_tokens_only_once_fitted(tiny):
    from alignbench.evaluation.preference import score_replies

    cfg, tokenizer, location = tiny
    data = load(cfg)
    unfitted = list(data.test)
    fit_data(data, tokenizer, CPU_MAX_LENGTH, cfg.dataset.max_bad_fraction)
    model, _ = load_base_model(cfg.model, cfg.quant, location)
    scores = score_replies(model, tokenizer, data.test, CPU_MAX_LENGTH, 32)
    assert len(scores.chosen_tokens) == 23 and min(scores.chosen_tokens + scores.rejected_tokens) > 0
    with pytest.raises(ValueError, match="no reply token"):  # unfitted long prompts would be scored on nothing
        score_replies(model, tokenizer, unfitted, CPU_MAX_LENGTH, 32)


def test_a_max_length_the_chat_template_fills_drops_every_pair_with_one_clear_line(tiny):
    cfg, tokenizer, _ = tiny
    data = load(cfg)
    first = ", ".join(p.origin for p in data.train[:3])  # the selection's order
    with pytest.raises(DataError) as err:
        fit_data(data, tokenizer, 32, 1.0)  # the template with its system prompt alone takes 35 tokens
    assert str(err.value) == (
        f"{MULTITURN} [train]: none of the 58 training pairs keeps a reply token within method.max_length=32: "
        f"no_reply_tokens 58 ({first}, ...: the chat template leaves no reply token within 32 tokens); "
        "raise method.max_length"
    )


def test_cache_keys_follow_the_truncation_policy(compose, tiny):
    from alignbench.training.train import run_caches

    cfg, tokenizer, _ = tiny
    caches = run_caches(cfg, tokenizer, load(cfg).train, Precision.fp32)
    assert caches.truncation == TRUNCATION_POLICY
    other = replace(caches, truncation="another policy")
    assert other.ref_key() != caches.ref_key()
    assert other.tokenized_key("dpo", "train") != caches.tokenized_key("dpo", "train")
