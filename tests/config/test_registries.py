"""Every axis has a registry, and each registry matches its config folder: a YAML without code, or code without a
YAML, fails here; an unknown name fails with the list of valid ones."""

from __future__ import annotations

import pytest
from helpers import CONF
from omegaconf import OmegaConf

from alignbench.config.benchmarks import SPECS
from alignbench.config.rules import ConfigError
from alignbench.data.parsers import PARSERS
from alignbench.evaluation.judges import HARM_JUDGES, PAIRWISE_JUDGES
from alignbench.modeling.adapters import ADAPTERS
from alignbench.runs.tracking import TRACKERS
from alignbench.training.methods import METHODS


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def values(compose, group: str, key: str) -> set[str]:
    """The value of `key` in every option of `group`, as composed."""
    found = set()
    for option in options(group):
        cfg = compose([f"{group}={option}"])
        found.add(OmegaConf.select(cfg, key))
    return found


@pytest.mark.parametrize(
    ("registry", "group", "key"),
    [
        (METHODS, "method", "method.trainer"),
        (ADAPTERS, "adapter", "adapter.kind"),
        (TRACKERS, "logger", "logger.name"),
        (PARSERS, "dataset", "dataset.name"),
        (HARM_JUDGES, "judge", "judge.harm.kind"),
        (PAIRWISE_JUDGES, "judge", "judge.pairwise.kind"),
    ],
)
def test_each_registry_matches_its_config_folder(compose, registry, group, key):
    assert values(compose, group, key) == set(registry), f"{group}/*.yaml {key} vs {registry.key}"
    assert registry.key == key


def test_benchmarks_registry_matches_the_eval_sections_and_the_paper_suite(compose):
    cfg = compose(["eval=paper"])
    sections = {name for name, value in cfg.eval.items() if OmegaConf.is_dict(value)}
    assert sections == set(SPECS) == set(cfg.eval.benchmarks)


def test_an_unknown_name_fails_with_the_valid_ones():
    with pytest.raises(ConfigError, match=r"method.trainer='ppo' has no implementation; valid: base, dpo, merge, sft"):
        METHODS.pick("ppo")
    with pytest.raises(ConfigError, match=r"eval.benchmarks='mmlu_pro'.*valid: alpaca_eval, bbh, mmlu"):
        SPECS.pick("mmlu_pro")


@pytest.mark.parametrize("preset", ["ipo", "hinge", "robust", "ln_dpo", "rpo"])
def test_a_method_preset_is_one_yaml_that_names_its_trainer(compose, preset):
    family = compose([f"method={preset}"])
    assert family.method.name == preset and family.method.trainer == "dpo"
    dpo = compose(["method=dpo"])
    same = {k for k in dpo.method if k not in ("name", "loss_type", "label_smoothing", "loss_weights")}
    assert all(family.method[k] == dpo.method[k] for k in same), f"{preset} inherits DPO's Table 6 column"
    assert family.method.loss_type != dpo.method.loss_type, f"{preset} changes DPO's loss"


@pytest.mark.parametrize(
    ("preset", "flag", "value"),
    [("dora", "use_dora", True), ("rslora", "use_rslora", True), ("lora_gaussian", "init", "gaussian")],
)
def test_an_adapter_preset_is_lora_with_one_flag_changed(compose, preset, flag, value):
    variant, lora = compose([f"adapter={preset}"]).adapter, compose(["adapter=lora"]).adapter
    assert variant.kind == "lora" and variant[flag] == value != lora[flag]
    assert all(variant[k] == lora[k] for k in lora if k not in ("name", flag)), f"{preset} keeps LoRA's preset"
