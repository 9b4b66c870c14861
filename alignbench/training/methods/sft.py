"""SFT: prompt -> chosen reply (TRL SFTTrainer, prompt-completion format); the loss on the reply or on the whole
sequence, packed or not, the eos trained or masked (method.sft_loss, packing, train_eos)."""

from __future__ import annotations

from alignbench.config.schema import SftLoss, SFTMethodConfig
from alignbench.data.parsers import assistant
from alignbench.training.methods.common import Trainer, TrainerInputs, method_settings, shared_training_args


def build_sft_trainer(inputs: TrainerInputs) -> Trainer:
    from datasets import Dataset
    from trl import SFTConfig

    from alignbench.training.methods.cached import CachedSFTTrainer

    rows = [{"prompt": pair.prompt, "completion": assistant(pair.chosen)} for pair in inputs.pairs]
    method = method_settings(inputs, SFTMethodConfig)
    args = SFTConfig(
        **shared_training_args(inputs),
        completion_only_loss=method.sft_loss is SftLoss.completion,
        packing=method.packing,
    )
    return CachedSFTTrainer(
        caches=inputs.caches,
        train_eos=method.train_eos,
        model=inputs.model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=inputs.tokenizer,
        peft_config=inputs.peft_config,
    )
