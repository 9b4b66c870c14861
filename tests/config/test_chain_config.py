"""method=sft_dpo composes as two stages: its SFT stage is exactly the run a plain method=sft would be (same run key),
typos in either stage fail at compose time, and the chain's run key covers its stage's."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from alignbench.config.rules import problems_here
from alignbench.pipeline import _run_stage
from alignbench.runs.chain import StageUnavailable, ensure_stage, stage_of
from alignbench.runs.dirs import CacheDir
from alignbench.runs.failures import Reason, reason_of
from alignbench.runs.identity import identify
from alignbench.runs.keys import resolve, run_key
from alignbench.runs.record import RunRecord, Status
from alignbench.runs.state import claim


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
    assert stage_of(compose(["method=sft_dpo_continued", *axes])).key == stage.key  # the same SFT run either way
    assert stage_of(compose(["method=dpo", *axes])) is None  # a plain run starts from the base
    # the DPO stage has the dpo preset's settings and LoRA (a fresh adapter on the SFT model); continuing the SFT
    # adapter instead, the SFT preset's LoRA
    dpo, sft = OmegaConf.to_object(compose(["method=dpo", *axes])), OmegaConf.to_object(compose(["method=sft", *axes]))
    typed = OmegaConf.to_object(chain)
    assert (typed.method.beta, typed.method.learning_rate, typed.method.max_steps) == (
        dpo.method.beta,
        dpo.method.learning_rate,
        dpo.method.max_steps,
    )
    assert typed.method.lora == dpo.method.lora and typed.adapter == dpo.adapter and typed.method.start == "merged"
    continued = OmegaConf.to_object(compose(["method=sft_dpo_continued", *axes]))
    assert continued.method.lora == sft.method.lora and continued.adapter == sft.adapter
    assert continued.method.max_steps == dpo.method.max_steps and continued.method.start == "continued"


def test_stage_settings_are_overridable_and_keyed(compose):
    base = ["method=sft_dpo", "model=tiny_llama"]
    chained = identify(compose(base))
    stage, resolved = chained.stage, chained.resolved
    assert stage is not None and resolved["method"]["parent_key"] == stage.key
    assert chained.run_key == run_key(resolved) != run_key(resolve(compose(base)))  # the stage's key is in the key
    beta = identify(compose([*base, "method.beta=0.3"]))
    assert beta.stage.key == stage.key  # same SFT parent ...
    assert beta.run_key != chained.run_key  # ... another chained run
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


def chain_stage(compose, tmp_path, *overrides):
    config = compose(["method=sft_dpo", "model=tiny_llama", f"paths.cache_dir={tmp_path}", *overrides])
    stage = stage_of(config)
    shared = CacheDir(tmp_path).stages / stage.key
    return stage, shared


def test_a_stage_that_failed_max_failures_times_is_not_trained_again(compose, tmp_path):
    stage, shared = chain_stage(compose, tmp_path)
    failed = RunRecord(stage.key, status=Status.failed, failures=3, reason="nonfinite", error="NonFiniteTraining: x")
    failed.write(shared)

    def train_again(*args):
        raise AssertionError("trained again")

    with pytest.raises(StageUnavailable, match=r"failed 3 times \(sweep.max_failures=3\), last with NonFini") as err:
        ensure_stage(stage, tmp_path / "chain", None, train_again)
    assert reason_of(err.value) is Reason.nonfinite  # filed as its stage failed: a retry spent
    # Failures that were not the stage's fault (a full disk) do not give up on it.
    RunRecord(stage.key, status=Status.failed, failures=3, reason="disk_full").write(shared)
    with pytest.raises(StageUnavailable, match="did not save an adapter"):
        ensure_stage(stage, tmp_path / "chain", None, lambda stage, folder: RunRecord.read(folder))


def test_a_stage_held_past_stage_wait_s_spends_no_retry(compose, tmp_path):
    stage, shared = chain_stage(compose, tmp_path, "sweep.stage_wait_s=0")
    with claim(shared) as claimed:  # another holder: the pipeline's own claim then finds it taken
        assert claimed
        with pytest.raises(StageUnavailable, match="is still held by") as err:
            ensure_stage(stage, tmp_path / "chain", None, _run_stage)
    assert reason_of(err.value) is Reason.unavailable
