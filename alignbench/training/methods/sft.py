"""SFT: prompt -> chosen reply, with the loss on the reply tokens only (TRL SFTTrainer, prompt-completion format)."""

from __future__ import annotations

from alignbench.data.parsers import assistant
from alignbench.training.methods.common import Trainer, TrainerInputs, shared_training_args


def build_sft_trainer(inputs: TrainerInputs) -> Trainer:
    from datasets import Dataset
    from trl import SFTConfig

    from alignbench.training.methods.cached import CachedSFTTrainer

    rows = [{"prompt": pair.prompt, "completion": assistant(pair.chosen)} for pair in inputs.pairs]
    args = SFTConfig(**shared_training_args(inputs), completion_only_loss=True, packing=False)
    return CachedSFTTrainer(
        caches=inputs.caches,
        model=inputs.model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=inputs.tokenizer,
        peft_config=inputs.peft_config,
    )
