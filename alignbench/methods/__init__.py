"""Alignment methods by name: each builds a TRL trainer from the same inputs; nothing else branches on the method."""

from __future__ import annotations

from typing import Callable

from alignbench.methods.common import TrainerInputs
from alignbench.methods.dpo import build_dpo_trainer
from alignbench.methods.sft import build_sft_trainer

METHODS: dict[str, Callable[[TrainerInputs], object]] = {
    "sft": build_sft_trainer,
    "dpo": build_dpo_trainer,
}

__all__ = ["METHODS", "TrainerInputs"]
