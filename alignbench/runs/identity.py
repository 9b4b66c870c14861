"""A run's identity, computed once from its composed config: the typed config, the resolved form that the keys hash
and record.json keeps, the run key and eval key, the runs it is made of (a merge's inputs, a chained run's earlier
stage) and its study coordinates. Pure Python over the config and the records it names: the pipeline and the
sweep's plan call the same function, so a plan's keys are the launch's."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from alignbench.config.schema import Config
from alignbench.runs.chain import ChainStage, stage_of
from alignbench.runs.inputs import Input, merge_inputs
from alignbench.runs.keys import eval_key, resolve, run_key
from alignbench.runs.study import input_studies, study_coordinates


@dataclass(frozen=True)
class Identity:
    composed: DictConfig  # as Hydra composed it
    resolved: dict[str, Any]  # plain and resolved: what the keys hash and the record keeps; never written into
    run_key: str  # what is trained
    eval_key: str  # how it is evaluated
    inputs: list[Input]  # the runs a merge is made of ([] for any other run)
    stage: ChainStage | None  # the earlier stage a chained run starts from (sft_dpo: its SFT run)
    study: dict[str, Any]  # the run's coordinates in a study (runs.study), kept in its record for the report

    @property
    def keys(self) -> tuple[str, str]:
        return self.run_key, self.eval_key

    @cached_property
    def config(self) -> Config:
        """Typed (the schemas' dataclasses): what the stages read. Built on first use: a plan of 320 jobs needs only
        the keys."""
        return cast(Config, OmegaConf.to_object(self.composed))  # a structured config's object is its schema class


def identify(config: DictConfig) -> Identity:
    """The identity of the run `config` composes. A merge's inputs and a chained run's earlier stage are part of what
    is trained, so their run keys are in the resolved config (method.merge.input_keys, method.parent_key) before it is
    hashed: the run key covers them and the record names them."""
    resolved = resolve(config)
    inputs = merge_inputs(resolved)
    stage = stage_of(config)
    resolved = _linked(resolved, inputs, stage)
    studies = input_studies(found.record.to_json() for found in inputs if found.record)
    return Identity(
        composed=config,
        resolved=resolved,
        run_key=run_key(resolved),
        eval_key=eval_key(resolved),
        inputs=inputs,
        stage=stage,
        study=study_coordinates(resolved, studies),
    )


def _linked(resolved: dict[str, Any], inputs: list[Input], stage: ChainStage | None) -> dict[str, Any]:
    """The resolved config naming, by run key, the runs this one is made of (a new dict; `resolved` is unchanged)."""
    method = dict(resolved["method"])
    if inputs:
        method["merge"] = {**method["merge"], "input_keys": [found.key for found in inputs]}
    if stage is not None:
        method["parent_key"] = stage.key
    return {**resolved, "method": method}
