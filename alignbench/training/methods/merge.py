"""A merge as a method: its "training" loads the inputs' adapters onto the base and merges them into one
(training.merging); the pipeline then saves and evaluates it like any trained adapter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from alignbench.config.rules import ConfigError
from alignbench.training.methods.common import TrainerInputs


@dataclass
class _State:
    log_history: list = field(default_factory=list)
    global_step: int = 0


class Merger:
    """What the pipeline asks of a trainer (model, train, save_model, state, cache_hits), for a merge."""

    def __init__(self, inputs: TrainerInputs):
        from peft import PeftModel

        from alignbench.runs.inputs import input_problems, merge_inputs

        found = merge_inputs(asdict(inputs.cfg))
        if problems := input_problems(found):  # checked before loading too; the runs may have changed since
            raise ConfigError("this merge cannot start:\n- " + "\n- ".join(problems))
        self.names = [f"input_{i}" for i in range(len(found))]
        self.model = PeftModel.from_pretrained(inputs.model, str(found[0].run_dir / "adapter"), self.names[0])
        for name, run in zip(self.names[1:], found[1:], strict=True):
            self.model.load_adapter(str(run.run_dir / "adapter"), adapter_name=name)
        self.cfg, self.tokenizer = inputs.cfg, inputs.tokenizer
        self.state, self.cache_hits = _State(), {}

    def add_callback(self, callback) -> None:
        from alignbench.training.train import SaveAdapterAt

        if isinstance(callback, SaveAdapterAt):
            raise ConfigError("eval.at_steps: a merge trains no steps; evaluate its inputs' steps instead")
        # nothing is trained, so a tracker's training callback has nothing to log

    def train(self):
        from transformers.trainer_utils import TrainOutput

        from alignbench.training.merging import merge_adapters

        merge = self.cfg.method.merge
        weights = merge.weights or [1 / len(self.names)] * len(self.names)
        if len(weights) != len(self.names):
            raise ConfigError(f"method.merge.weights has {len(weights)} values for {len(self.names)} inputs")
        merge_adapters(
            self.model, self.names, merge.combination, weights, merge.density, merge.t, merge.seed, merge.svd_rank
        )
        return TrainOutput(global_step=0, training_loss=None, metrics={})

    def save_model(self, path: str) -> None:
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)


def build_merger(inputs: TrainerInputs) -> Merger:
    return Merger(inputs)
