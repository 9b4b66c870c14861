"""SFT, DPO (and its family of presets) and QLoRA train for real on a tiny model: loss falls, only the adapter moves,
the artifact reloads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from alignbench.config.schema import Precision
from alignbench.data.load import load_preference_data
from alignbench.evaluation.preference import score_replies
from alignbench.modeling.adapters import peft_config
from alignbench.modeling.models import load_base_model, load_tokenizer, model_location
from alignbench.training.methods import METHODS, TrainerInputs
from alignbench.training.train import run_caches

pytestmark = pytest.mark.slow

CASES = {
    "sft": ["method=sft"],
    "dpo": ["method=dpo"],
    "dpo_nf4": ["method=dpo", "quant=nf4"],
    "sft_mistral": ["method=sft", "model=tiny_mistral", "dataset=hh_rlhf"],
    "dora": ["adapter=dora"],  # an adapter variant: one YAML, PEFT's use_dora flag
    "rslora": ["adapter=rslora"],  # PEFT's use_rslora flag: the DPO preset's scale becomes 8 instead of 2
    "lora_gaussian_nf4": ["adapter=lora_gaussian", "quant=nf4"],  # its point: an init variant a 4-bit base allows
}

# The DPO family: one YAML each, DPO's trainer and reference. What each must reach TRL as (loss types, weights,
# label smoothing, typed from the papers, not read from conf/), and its loss before the first step, where the policy
# is the reference (LoRA's B = 0): log 2 for the sigmoid losses, 1 for hinge, (1 / (2 beta))^2 = 25 for IPO.
DPO_FAMILY = {
    "ipo": (["ipo"], [1.0], 0.0, 25.0),
    "hinge": (["hinge"], [1.0], 0.0, 1.0),
    "robust": (["robust"], [1.0], 0.1, math.log(2)),
    "ln_dpo": (["sigmoid_norm"], [1.0], 0.0, math.log(2)),
    "rpo": (["sigmoid", "sft"], [1.0, 1.0], 0.0, None),  # log 2 plus the chosen replies' NLL (below)
}


def train_tiny(compose, overrides: list[str], out: Path, steps: int = 30, cache: Path | None = None):
    """A trainer for `steps` steps on as many bundled pairs; with `cache`, alignbench's shared caches in that folder."""
    cfg = OmegaConf.to_object(compose(overrides + [f"method.max_steps={steps}", "train.logging_steps=5"]))
    location = model_location(cfg.model, cfg.paths.cache_dir)
    tokenizer = load_tokenizer(cfg.model, location)
    model, _ = load_base_model(cfg.model, cfg.quant, location)
    data = load_preference_data(cfg.dataset, steps * cfg.method.batch_size, cfg.seed)
    caches = None
    if cache is not None:
        caches = run_caches(cfg, tokenizer, data.train, Precision.fp32)
        caches.folder = cache
    inputs = TrainerInputs(
        cfg, model, tokenizer, data.train, peft_config(cfg.adapter), out, Precision.fp32, caches=caches
    )
    return cfg, METHODS.pick(cfg.method.trainer)(inputs), data, location


def snapshot(model, adapter: bool) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if ("lora_" in n) == adapter}


def train_and_check(trainer) -> None:
    """Train; the logged loss is finite and falls, every LoRA tensor moves and no base weight does."""
    base_before, adapter_before = snapshot(trainer.model, False), snapshot(trainer.model, True)
    assert adapter_before, "no LoRA parameters were created"

    trainer.train()

    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert len(losses) == trainer.args.max_steps // trainer.args.logging_steps
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0], losses
    base_after, adapter_after = snapshot(trainer.model, False), snapshot(trainer.model, True)
    assert base_before.keys() == base_after.keys()
    assert all(torch.equal(base_before[n], base_after[n]) for n in base_before), "base weights changed"
    changed = [n for n in adapter_before if not torch.equal(adapter_before[n], adapter_after[n])]
    assert len(changed) == len(adapter_before), f"untrained adapter tensors: {set(adapter_before) - set(changed)}"


@pytest.mark.parametrize("case", list(CASES))
def test_training_lowers_loss_and_moves_only_the_adapter(compose, tmp_path, case):
    _, trainer, _, _ = train_tiny(compose, CASES[case], tmp_path)
    train_and_check(trainer)


@pytest.fixture(scope="module")
def plain_dpo_cache(compose, tmp_path_factory) -> Path:
    """A cache folder holding what a plain DPO run stored: its tokenized pairs and reference log-probs."""
    folder = tmp_path_factory.mktemp("dpo")
    _, trainer, _, _ = train_tiny(compose, ["method=dpo"], folder / "run", steps=20, cache=folder / "cache")
    assert trainer.cache_hits == {"tokenized_train": False, "ref_logps_train": False}
    trainer.model.unload()  # never trained: give the shared base back
    return folder / "cache"


@pytest.mark.parametrize("preset", list(DPO_FAMILY))
def test_dpo_family_preset_reuses_plain_dpos_reference_and_trains(compose, tmp_path, plain_dpo_cache, preset):
    losses, weights, label_smoothing, start = DPO_FAMILY[preset]
    _, trainer, _, _ = train_tiny(compose, [f"method={preset}"], tmp_path, steps=20, cache=plain_dpo_cache)
    assert trainer.cache_hits == {"tokenized_train": True, "ref_logps_train": True}
    assert (trainer.loss_types, trainer.loss_weights, trainer.label_smoothing) == (losses, weights, label_smoothing)

    first = trainer.compute_loss(trainer.model, next(iter(trainer.get_train_dataloader()))).item()
    if start is None:  # RPO: DPO's log 2 plus the NLL of a random-init model, near log(vocabulary) per token
        assert first > math.log(2) + 1
    else:
        assert first == pytest.approx(start, abs=1e-3)
    train_and_check(trainer)


def test_saved_adapter_reloads_and_evaluates_with_lm_eval(compose, tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg, trainer, data, location = train_tiny(compose, ["method=dpo"], tmp_path / "run")
    trainer.train()
    adapter = tmp_path / "adapter"
    trainer.save_model(str(adapter))
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()

    tokenizer = AutoTokenizer.from_pretrained(adapter)  # the chat template travels with the adapter
    assert tokenizer.chat_template == cfg.model.chat_template
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(location), adapter).eval()
    pairs = data.test[:24]
    in_memory = score_replies(trainer.model.eval(), tokenizer, pairs, cfg.method.max_length, 8)
    from_disk = score_replies(reloaded, tokenizer, pairs, cfg.method.max_length, 8)
    assert from_disk.chosen_logp == pytest.approx(in_memory.chosen_logp, abs=1e-4)

    # The same pairs as an lm-eval multiple-choice task: choice 0 (chosen) should win by summed log-prob.
    import json

    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    docs = [
        {
            "context": tokenizer.apply_chat_template(p.prompt, add_generation_prompt=True, tokenize=False),
            "choices": [f" {p.chosen}{tokenizer.eos_token}", f" {p.rejected}{tokenizer.eos_token}"],
        }
        for p in pairs
    ]
    (task_dir / "pairs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (task_dir / "pref_pairs.yaml").write_text(
        "task: pref_pairs\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {task_dir / 'pairs.jsonl'}\n"
        "test_split: test\noutput_type: multiple_choice\ndoc_to_text: '{{context}}'\n"
        "doc_to_choice: '{{choices}}'\ndoc_to_target: 0\ntarget_delimiter: ''\n"
        "metric_list:\n  - metric: acc\n"
    )
    results = simple_evaluate(
        model=HFLM(pretrained=reloaded, tokenizer=tokenizer, batch_size=8),
        tasks=["pref_pairs"],
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
    )
    lm_eval_acc = results["results"]["pref_pairs"]["acc,none"]
    ours = sum(c > r for c, r in zip(from_disk.chosen_logp, from_disk.rejected_logp, strict=True)) / len(pairs)
    assert lm_eval_acc == pytest.approx(ours)
    assert lm_eval_acc > 0.6


@pytest.mark.parametrize(("overrides", "expected"), [([], 0.05), (["method.disable_dropout=true"], 0.0)])
def test_dpo_keeps_table_6s_lora_dropout_unless_told_otherwise(compose, tmp_path, overrides, expected):
    from alignbench.training.train import lora_dropout_in_force

    cfg, trainer, _, _ = train_tiny(compose, ["method=dpo", *overrides], tmp_path, steps=2)
    modules = [m for n, m in trainer.model.named_modules() if "lora_dropout" in n and isinstance(m, torch.nn.Dropout)]
    assert cfg.adapter.dropout == 0.05  # what Table 6 asks for, in the config either way
    assert {m.p for m in modules} == ({expected} if expected else {0.0} if modules else set())
    assert lora_dropout_in_force(trainer.model) == expected
    trainer.model.unload()


def test_a_diverging_run_fails_within_a_step_and_is_never_recorded_as_completed(tmp_path):
    from helpers import alignbench

    done = alignbench(
        "method.learning_rate=1e30",
        "method.max_steps=20",
        "logger=none",
        "eval.benchmarks=[]",
        f"hydra.run.dir={tmp_path}",
    )
    assert done.returncode != 0

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    record = json.loads((tmp_path / "record.json").read_text(), parse_constant=refuse)
    assert record["status"] == "failed" and record["failures"] == 1
    assert record["error"].startswith("NonFiniteTraining: step ") and "is not finite" in record["error"]
    step = int(record["error"].split("step ")[1].split(":")[0])
    assert step < 20 and record["adapter_path"] is None  # stopped at once; nothing saved after it
    assert not (tmp_path / "adapter").exists()


@pytest.mark.parametrize(
    "overrides, prompt_trained, eos_trained",
    [
        ([], True, False),  # conf/method/sft.yaml: the paper's recipe, the whole sequence with every eos masked
        (["method.sft_loss=completion", "method.train_eos=true"], False, True),  # the reply, taught to stop
        (["method.sft_loss=sequence", "method.train_eos=true"], True, True),
    ],
)
def test_sft_loss_and_eos_decide_which_tokens_are_trained(compose, tmp_path, overrides, prompt_trained, eos_trained):
    _, trainer, _, _ = train_tiny(compose, ["method=sft", *overrides], tmp_path, steps=2, cache=tmp_path / "cache")
    eos = trainer.processing_class.eos_token_id
    rows = list(trainer.train_dataset)
    assert rows and all(eos in row["input_ids"] for row in rows)  # every reply ends with one
    for row in rows:
        trained = [token for token, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100]
        assert (row["labels"][0] != -100) == prompt_trained  # the first prompt token
        assert (eos in trained) == eos_trained
        assert len(trained) > 0
