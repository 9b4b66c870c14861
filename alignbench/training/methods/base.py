"""The unaligned base as a method: nothing is trained; the run's adapter is a fresh LoRA (B = 0, PEFT's init), the
identity, so the pipeline's evaluation of the run is the base's, by the code that evaluates every run."""

from __future__ import annotations

from dataclasses import dataclass, field

from alignbench.config.rules import ConfigError
from alignbench.training.methods.common import TrainerInputs


@dataclass
class _State:
    log_history: list = field(default_factory=list)
    global_step: int = 0


class IdentityAdapter:
    """What the pipeline asks of a trainer (model, train, save_model, state, cache_hits), for the base itself."""

    def __init__(self, inputs: TrainerInputs):
        from peft import get_peft_model

        # Every adapter alignbench builds starts at zero (rules.py refuses the inits that do not), so the fresh
        # adapter adds nothing to any layer: evaluated adapter on, the model is its base.
        self.model = get_peft_model(inputs.model, inputs.peft_config)
        self.tokenizer = inputs.tokenizer
        self.state, self.cache_hits = _State(), {}

    def add_callback(self, callback) -> None:
        from alignbench.training.train import SaveAdapterAt

        if isinstance(callback, SaveAdapterAt):
            raise ConfigError("eval.at_steps: method=base trains no steps; its evaluation is the base's")
        # nothing is trained, so a tracker's training callback has nothing to log

    def train(self):
        from transformers.trainer_utils import TrainOutput

        return TrainOutput(global_step=0, training_loss=None, metrics={})

    def save_model(self, path: str) -> None:
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)


def build_identity_adapter(inputs: TrainerInputs) -> IdentityAdapter:
    return IdentityAdapter(inputs)
