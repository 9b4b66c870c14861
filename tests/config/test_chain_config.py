"""method=sft_dpo composes as two stages: its SFT stage is exactly the run a plain method=sft would be (same run key),
typos in either stage fail at compose time, and the chain's run key covers its stage's."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from alignbench.config.rules import problems_here
from alignbench.runs.keys import resolve, run_key
from alignbench.runs.stages import stage_of, with_stage


@pytest.mark.parametrize(
    "axes",
    [
        ["model=tiny_llama"],  # the CPU budget reaches both stages
        ["model=tiny_mistral", "dataset=hh_rlhf", "dataset.preference=helpful", "quant=nf4", "seed=3"],
        ["model=mistral", "quant=nf4", "dataset=beavertails"],  # the paper's settings, QLoRA
        ["model=tiny_llama", "adapter=rslora"],
    ],
)
def test_the_sft_stage_is_the_plain_sft_run(compose, axes):
    chain = compose(["method=sft_dpo", *axes])
    stage = stage_of(chain)
    assert stage.key == run_key(resolve(compose(["method=sft", *axes])))
    assert stage_of(compose(["method=dpo", *axes])) is None  # a plain run starts from the base
    # the DPO stage has the dpo preset's settings, the SFT preset's LoRA (it goes on training the SFT adapter)
    dpo, sft = OmegaConf.to_object(compose(["method=dpo", *axes])), OmegaConf.to_object(compose(["method=sft", *axes]))
    typed = OmegaConf.to_object(chain)
    assert (typed.method.beta, typed.method.learning_rate, typed.method.max_steps) == (
        dpo.method.beta,
        dpo.method.learning_rate,
        dpo.method.max_steps,
    )
    assert typed.method.lora == sft.method.lora and typed.adapter == sft.adapter


def test_stage_settings_are_overridable_and_keyed(compose):
    base = ["method=sft_dpo", "model=tiny_llama"]
    resolved = resolve(compose(base))
    stage = with_stage(compose(base), resolved)
    assert resolved["method"]["parent_key"] == stage.key
    beta = resolve(compose([*base, "method.beta=0.3"]))
    assert with_stage(compose([*base, "method.beta=0.3"]), beta).key == stage.key  # same SFT parent ...
    assert run_key(beta) != run_key(resolved)  # ... another chained run
    lr = compose([*base, "method.sft.learning_rate=0.01"])
    assert stage_of(lr).key != stage.key and stage_of(lr).config.method.learning_rate == 0.01
    assert compose([*base, "method.sft.learning_rate=0.01"]).method.learning_rate != 0.01  # the DPO stage's own


@pytest.mark.parametrize("override", ["method.sft.max_stepz=3", "method.sft.batch_size=many"])
def test_typos_in_the_sft_stage_fail_at_compose_time(compose, override):
    with pytest.raises(ConfigCompositionException):
        OmegaConf.to_object(compose(["method=sft_dpo", override]))


def test_rules_check_the_sft_stage_too(compose):
    cfg = OmegaConf.to_object(compose(["method=sft_dpo", "method.sft.optimizer=paged_adamw_8bit"]))
    problems = problems_here(cfg, cuda=False, bf16=False)
    assert any(p.startswith("method.sft.optimizer=paged_adamw_8bit") for p in problems), problems
    assert not any(p.startswith("method.optimizer=") for p in problems)  # the DPO stage is fine
