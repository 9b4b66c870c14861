"""Every option composes into a typed config; paper presets equal Table 6; typos fail at compose time."""

from __future__ import annotations

import pytest
from helpers import CONF
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from alignbench.config.schema import Config, HubSource, Source

SELECTABLE_GROUPS = ["model", "dataset", "method", "adapter", "quant", "logger"]
OPTIONS = [(g, p.stem) for g in SELECTABLE_GROUPS for p in sorted((CONF / g).glob("*.yaml"))]

# Table 6 of Thakkar et al. (ACL 2024), typed in from the paper, not copied from conf/.
TABLE_6 = {
    "sft": dict(
        r=64,
        alpha=16,
        dropout=0.1,
        targets=["q_proj", "v_proj"],
        learning_rate=2e-4,
        batch_size=16,
        max_grad_norm=0.3,
        weight_decay=0.001,
        optimizer="paged_adamw_32bit",
        scheduler="constant",
        adam_beta1=0.9,
        adam_beta2=0.999,
        max_steps=700,
    ),
    "dpo": dict(
        r=16,
        alpha=32,
        dropout=0.05,
        targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        learning_rate=5e-5,
        batch_size=16,
        max_grad_norm=1.0,
        weight_decay=0.0,
        optimizer="paged_adamw_32bit",
        scheduler="cosine",
        adam_beta1=0.9,
        adam_beta2=0.999,
        max_steps=700,
    ),
}


def test_every_option_of_every_group_composes_and_resolves(compose):
    assert len(OPTIONS) >= 16
    for group, option in OPTIONS:
        cfg = compose([f"{group}={option}"])
        typed = OmegaConf.to_object(cfg)  # resolves every interpolation and checks every type
        assert isinstance(typed, Config)
        assert getattr(typed, group).name == option, (group, option)


@pytest.mark.parametrize("model", ["llama", "vicuna", "mistral", "mistral_instruct"])
@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_paper_presets_equal_table_6(compose, model, method):
    cfg = OmegaConf.to_object(compose([f"model={model}", f"method={method}"]))
    expected = TABLE_6[method]
    assert (cfg.adapter.r, cfg.adapter.alpha, cfg.adapter.dropout) == (
        expected["r"],
        expected["alpha"],
        expected["dropout"],
    )
    assert list(cfg.adapter.target_modules) == expected["targets"]
    for key in (
        "learning_rate",
        "batch_size",
        "max_grad_norm",
        "weight_decay",
        "optimizer",
        "scheduler",
        "adam_beta1",
        "adam_beta2",
        "max_steps",
    ):
        assert getattr(cfg.method, key) == expected[key], key
    assert cfg.dataset.sample is False and cfg.dataset.path is None  # real models read the real data


def test_cpu_preset_applies_to_tiny_models_only(compose):
    tiny = OmegaConf.to_object(compose(["model=tiny_mistral"]))
    assert tiny.dataset.sample and tiny.method.max_steps < 700 and tiny.method.optimizer == "adamw_torch"
    real = OmegaConf.to_object(compose(["model=mistral"]))
    assert real.method.max_steps == 700 and real.method.optimizer == "paged_adamw_32bit"


def test_templates_and_hub_ids_follow_the_paper(compose):
    vicuna = OmegaConf.to_object(compose(["model=vicuna"])).model
    llama = OmegaConf.to_object(compose(["model=llama"])).model
    mistral = OmegaConf.to_object(compose(["model=mistral_instruct"])).model
    assert vicuna.chat_template == llama.chat_template and "USER:" in llama.chat_template
    assert "[INST]" in mistral.chat_template
    assert vicuna.revision and len(vicuna.revision) == 40  # pinned to a commit


def test_adapter_fields_can_be_overridden(compose):
    cfg = OmegaConf.to_object(compose(["adapter.r=32", "adapter.target_modules=[q_proj]"]))
    assert cfg.adapter.r == 32 and cfg.adapter.target_modules == ["q_proj"]
    assert cfg.adapter.alpha == 32  # the rest still follows the DPO preset


def test_hh_subset_follows_preference(compose):
    cfg = OmegaConf.to_object(compose(["dataset=hh_rlhf", "dataset.preference=helpful"]))
    assert cfg.dataset.data_dir == "helpful-base"


@pytest.mark.parametrize(
    "override, message",
    [
        ("method.lerning_rate=0.1", "lerning_rate"),
        ("method.batch_size=sixteen", "batch_size"),
        ("dataset.preference=harmful", "preference"),
        ("model=mistrall", "mistrall"),
        ("method.unknown_key=1", "unknown_key"),
        ("adapter.rank=8", "rank"),
    ],
)
def test_typos_and_wrong_types_fail_at_compose_time(compose, override, message):
    with pytest.raises(ConfigCompositionException) as err:
        OmegaConf.to_object(compose([override]))
    assert message in str(err.value) or message in str(err.value.__cause__)


@pytest.mark.parametrize(
    "override, allowed",
    [
        ("model.kind=chat", "pretrained, instruct"),
        ("model.tiny.arch=gpt2", "llama, mistral"),
        ("eval.real_toxicity.scorer.tiny.head=cls", "causal_lm, score"),
        ("adapter.bias=some", "none, all, lora_only"),
        ("quant.quant_type=nf5", "nf4, fp4"),
        ("logger.mode=onlin", "auto, online, offline, disabled"),
        ("train.precision=bf8", "auto, bf16, fp16, fp32"),
        ("dataset.preference=harmful", "harmless, helpful, mixed"),
    ],
)
def test_a_closed_vocabulary_fails_at_compose_time_naming_the_allowed_values(compose, override, allowed):
    with pytest.raises(ConfigCompositionException) as err:
        compose([override])
    assert f"expected one of [{allowed}]" in str(err.value.__cause__)


def test_the_sources_share_one_schema_and_keep_their_keys(compose):
    cfg = compose(["eval=paper", "judge=local"])
    sources = [cfg.model, cfg.dataset, cfg.eval.real_toxicity, cfg.eval.real_toxicity.scorer, cfg.judge.harm]
    for section in sources:
        assert issubclass(OmegaConf.get_type(section), Source)
        assert {"hub_id", "revision", "path"} <= set(section)
    # lm-eval reads its own datasets: a hub id to check first, no local path (a new key would change the eval key)
    assert issubclass(OmegaConf.get_type(cfg.eval.mmlu), HubSource) and "path" not in cfg.eval.mmlu
    assert cfg.eval.mmlu.hub_id == "cais/mmlu"


def test_paper_models_bring_the_studys_evaluation_and_the_command_line_still_wins(compose):
    for model in ("llama", "vicuna", "mistral", "mistral_instruct"):
        cfg = compose([f"model={model}"])
        assert (cfg.eval.name, cfg.judge.name) == ("paper", "openai"), model
    for model in ("tiny_llama", "tiny_mistral"):
        cfg = compose([f"model={model}"])
        assert (cfg.eval.name, cfg.judge.name) == ("sample", "offline"), model
    chosen = compose(["model=mistral", "eval=sample"])
    assert chosen.eval.name == "sample" and chosen.eval.mmlu.include_path  # the bundled miniatures
    assert compose(["model=tiny_llama", "eval=paper"]).eval.mmlu.hub_id == "cais/mmlu"
    for model in (p.stem for p in (CONF / "model").glob("*.yaml")):  # every model routes (config.routing)
        cfg = compose([f"model={model}"])
        routed = ("sample", "offline") if cfg.model.tiny else ("paper", "openai")
        assert (cfg.eval.name, cfg.judge.name) == routed, model
