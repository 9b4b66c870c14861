"""Alignment methods by trainer: each builds a TRL trainer from the same inputs; nothing else branches on the method.
A method option (conf/method/*.yaml) names its trainer, so a DPO-family preset (IPO, ...) is one YAML file."""

from __future__ import annotations

from collections.abc import Callable

from alignbench.config.registry import Registry
from alignbench.training.methods.base import build_identity_adapter
from alignbench.training.methods.common import Trainer, TrainerInputs
from alignbench.training.methods.dpo import build_dpo_trainer
from alignbench.training.methods.merge import build_merger
from alignbench.training.methods.sft import build_sft_trainer
from alignbench.training.methods.sft_dpo import build_sft_dpo_trainer

METHODS: Registry[Callable[[TrainerInputs], Trainer]] = Registry(
    "method.trainer",
    {
        "sft": build_sft_trainer,
        "dpo": build_dpo_trainer,
        "merge": build_merger,
        "base": build_identity_adapter,  # nothing trained: the base itself, through the same evaluation
        "sft_dpo": build_sft_dpo_trainer,  # DPO from its SFT stage's model (runs.chain trains or finds the stage)
    },
)

__all__ = ["METHODS", "Trainer", "TrainerInputs"]
