"""A merge as a method: its "training" loads the inputs' adapters onto the base and merges them into one
(training.merging); the pipeline then saves and evaluates it like any trained adapter."""

from __future__ import annotations

from dataclasses import asdict

from alignbench.config.rules import ConfigError
from alignbench.config.schema import MergeMethodConfig
from alignbench.training.methods.common import NotTrained, TrainerInputs, TrainResult, Untrained, method_settings


class Merger(Untrained):
    """A trainer for a merge: its `train` merges the inputs' adapters, loaded side by side onto the base."""

    refusal = "a merge trains no steps; evaluate its inputs' steps instead"

    def __init__(self, inputs: TrainerInputs):
        from peft import PeftModel

        from alignbench.runs.inputs import input_problems, merge_inputs

        super().__init__(inputs)
        self.merge = method_settings(inputs, MergeMethodConfig).merge
        found = merge_inputs(asdict(inputs.cfg))
        if problems := input_problems(found):  # checked before loading too; the runs may have changed since
            raise ConfigError("this merge cannot start:\n- " + "\n- ".join(problems))
        self.names = [f"input_{i}" for i in range(len(found))]
        self.model = PeftModel.from_pretrained(inputs.model, str(found[0].adapter), self.names[0])
        for name, run in zip(self.names[1:], found[1:], strict=True):
            self.model.load_adapter(str(run.adapter), adapter_name=name)

    def train(self, resume_from_checkpoint: str | None = None) -> TrainResult:
        from alignbench.training.merging import MergeSpec, merge_adapters

        merge = self.merge
        spec = MergeSpec(
            combination=merge.combination,
            weights=list(merge.weights or default_weights(merge.space, merge.combination, len(self.names))),
            density=merge.density,
            t=merge.t,
            normalize=merge.normalize,
            seed=merge.seed,
            svd_rank=merge.svd_rank,
        )
        return NotTrained(metrics=merge_adapters(self.model, self.names, merge.space, spec))


def default_weights(space: str, combination: str, inputs: int) -> list[float]:
    """method.merge.weights when null: each task vector whole for mergekit's task-vector methods (its `weight` has no
    default there; 1.0 adds each input's delta in full), else equal shares."""
    whole = space == "weights" and combination not in ("linear", "slerp")
    return [1.0 if whole else 1 / inputs] * inputs


def build_merger(inputs: TrainerInputs) -> Merger:
    return Merger(inputs)
