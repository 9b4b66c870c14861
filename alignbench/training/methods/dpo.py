"""DPO (TRL DPOTrainer). With a peft_config and no ref_model, the reference is the base with the adapter disabled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alignbench.config.schema import DPOMethodConfig
from alignbench.data.parsers import assistant
from alignbench.training.methods.common import Trainer, TrainerInputs, method_settings, shared_training_args

if TYPE_CHECKING:
    from alignbench.training.methods.cached import CachedDPOTrainer


def build_dpo_trainer(inputs: TrainerInputs, trainer_class: type[CachedDPOTrainer] | None = None) -> Trainer:
    from datasets import Dataset
    from trl import DPOConfig

    from alignbench.training.methods.cached import CachedDPOTrainer

    trainer_class = trainer_class or CachedDPOTrainer
    method = method_settings(inputs, DPOMethodConfig)
    rows = [
        {"prompt": pair.prompt, "chosen": assistant(pair.chosen), "rejected": assistant(pair.rejected)}
        for pair in inputs.pairs
    ]
    args = DPOConfig(
        **shared_training_args(inputs),
        beta=method.beta,
        loss_type=list(method.loss_type),
        loss_weights=None if method.loss_weights is None else list(method.loss_weights),
        label_smoothing=method.label_smoothing,
        precompute_ref_log_probs=method.precompute_ref_log_probs,
        precompute_ref_batch_size=method.precompute_ref_batch_size,
        disable_dropout=method.disable_dropout,
    )
    return trainer_class(
        caches=inputs.caches,
        model=inputs.model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=inputs.tokenizer,
        peft_config=inputs.peft_config,
    )
