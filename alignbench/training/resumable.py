"""Trainer side of checkpoints: when to save (train.save_steps, a stop signal), how (staged, manifested, renamed
complete: alignbench.training.checkpoints), and resuming so that the run ends exactly as an uninterrupted one.

The HF Trainer writes checkpoint-N in place (a kill mid-save leaves a torn folder that crashes resume), and on resume
restarts its loss accumulators: the loss of the logging window in progress and TRL's window metrics are lost and
`training_loss` averages only the steps after the resume. The mixin stages the save and keeps those accumulators in
the checkpoint, so a resumed run logs the same numbers at the same steps.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import TrainOutput

from alignbench.training.callbacks import check_finite_weights
from alignbench.training.checkpoints import STAGING, publish, write_manifest

ACCUMULATORS = "alignbench_accumulators.json"


class Resumable(Trainer):
    """Staged, manifested checkpoints and exact resume of the loss accumulators, for a TRL trainer's subclass that
    takes it first among its bases (its overrides come before TRL's)."""

    checkpoint_identity: tuple[str, dict[str, Any]] = ("", {})  # (run_key, keyed config) written to each manifest

    def train(
        self,
        resume_from_checkpoint: str | bool | None = None,
        trial: Any = None,
        ignore_keys_for_eval: list[str] | None = None,
    ) -> TrainOutput:
        # True (the Trainer's "newest in output_dir") is never passed: training.train names the checkpoint it picked.
        if isinstance(resume_from_checkpoint, str):
            self.add_callback(_RestoreAccumulators(self, Path(resume_from_checkpoint)))
        return super().train(
            resume_from_checkpoint=resume_from_checkpoint, trial=trial, ignore_keys_for_eval=ignore_keys_for_eval
        )

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        step = self.state.global_step
        check_finite_weights(model, step)  # a diverged model is never checkpointed
        assert self.args.output_dir is not None  # typed optional, but TrainingArguments fills in a default
        final_root = Path(self.args.output_dir)
        staged = final_root / STAGING / f"checkpoint-{step}"
        shutil.rmtree(staged, ignore_errors=True)
        # The Trainer (and TRL's model card) write under args.output_dir: pointed at the staging area meanwhile.
        self.args.output_dir = str(staged.parent)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.output_dir = str(final_root)
        (staged / ACCUMULATORS).write_text(json.dumps(self._accumulators()))
        write_manifest(staged, step, *self.checkpoint_identity)
        publish(staged, step)

    def _accumulators(self) -> dict[str, Any]:
        return {
            "tr_loss": self._tr_loss.item(),  # float32 -> float: exact both ways
            "total_loss_scalar": self._total_loss_scalar,
            "globalstep_last_logged": self._globalstep_last_logged,
            "metrics": {k: list(v) for k, v in getattr(self, "_metrics", {}).get("train", {}).items()},
            "total_train_tokens": getattr(self, "_total_train_tokens", 0),
        }

    def run_training_loss(self) -> float:
        """The mean loss over every step of the run, the resumed attempts' included (HF's training_loss averages
        only the steps of the last train() call)."""
        return self._total_loss_scalar / max(self.state.global_step, 0.001)


class _RestoreAccumulators(TrainerCallback):
    """Puts the checkpoint's loss accumulators back once train() has reset them (on_train_begin runs right after)."""

    def __init__(self, trainer: Resumable, checkpoint: Path):
        self.trainer, self.checkpoint = trainer, checkpoint

    def on_train_begin(self, args, state, control, **kwargs):
        import torch

        saved = json.loads((self.checkpoint / ACCUMULATORS).read_text())
        t = self.trainer
        t._tr_loss = torch.tensor(saved["tr_loss"], dtype=t._tr_loss.dtype, device=t._tr_loss.device)
        t._total_loss_scalar = saved["total_loss_scalar"]
        t._globalstep_last_logged = saved["globalstep_last_logged"]
        if hasattr(t, "_metrics"):
            t._metrics["train"].clear()
            t._metrics["train"].update({k: list(v) for k, v in saved["metrics"].items()})
        if hasattr(t, "_total_train_tokens"):
            t._total_train_tokens = saved["total_train_tokens"]
        return control


class Checkpointing(TrainerCallback):
    """Asks the Trainer for a checkpoint every `save_steps` steps (0: never) and, after a stop signal, at the next
    step boundary followed by the end of training. The final step saves none: the adapter is saved right after."""

    def __init__(self, save_steps: int, stop):
        self.save_steps, self.stop = save_steps, stop

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if self.stop.signum is not None:
            control.should_save = control.should_training_stop = True
        elif self.save_steps and step % self.save_steps == 0 and step < state.max_steps:
            control.should_save = True
        return control
