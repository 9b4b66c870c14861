"""The unaligned base as a method: nothing is trained; the run's adapter is a fresh LoRA (B = 0, PEFT's init), the
identity, so the pipeline's evaluation of the run is the base's, by the code that evaluates every run."""

from __future__ import annotations

from alignbench.training.methods.common import TrainerInputs, Untrained


class IdentityAdapter(Untrained):
    refusal = "method=base trains no steps; its evaluation is the base's"

    def __init__(self, inputs: TrainerInputs):
        from peft import get_peft_model

        super().__init__(inputs)
        # Every adapter alignbench builds starts at zero (rules.py refuses the inits that do not), so the fresh
        # adapter adds nothing to any layer: evaluated adapter on, the model is its base.
        self.model = get_peft_model(inputs.model, inputs.peft_config)


def build_identity_adapter(inputs: TrainerInputs) -> IdentityAdapter:
    return IdentityAdapter(inputs)
