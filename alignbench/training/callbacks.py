"""What alignbench adds to a transformers Trainer while it trains: the non-finite check, the adapters saved at chosen
steps (eval.at_steps), the tracker's feed and a quiet console. Methods and the trainer mixins import them from here,
never from training.train (which imports the methods)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from transformers import TrainerCallback

from alignbench.runs import files
from alignbench.runs.dirs import RunDir
from alignbench.runs.tracking import Tracker


class NonFiniteTraining(RuntimeError):
    """Training diverged: a loss, gradient norm or adapter weight stopped being a finite number."""

    reason = "nonfinite"  # runs.failures: how a record and the sweep summary file it


class StopOnNonFinite(TrainerCallback):
    """Fails the run at the first step whose trainable weights or logged loss/grad norm are not finite, before
    anything is saved after it: a diverged run is recorded as failed (and retried), never as completed."""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        check_finite_weights(model, state.global_step)
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, int | float) and not math.isfinite(value):
                raise NonFiniteTraining(f"step {state.global_step}: {key} is {value}")
        return control


def check_finite_weights(model, step: int) -> None:
    import torch

    for name, weight in model.named_parameters():
        if weight.requires_grad and not torch.isfinite(weight).all():
            raise NonFiniteTraining(f"step {step}: adapter weight {name} is not finite")


class SaveAdapterAt(TrainerCallback):
    """Saves the adapter at chosen training steps into run_dir/steps/<step>, each published whole with its manifest
    (runs.files), so a step's folder is complete or absent and is verified before it is evaluated."""

    def __init__(self, steps: list[int], run_dir: Path, tokenizer, save=None):
        self.steps, self.run, self.tokenizer = set(steps), RunDir(run_dir), tokenizer
        # (model, folder) -> None: how the method writes its adapter (sft_dpo: SFT's and DPO's together); PEFT's own
        self.save = save or (lambda model, folder: model.save_pretrained(folder))

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if step in self.steps:
            with files.staged(self.run.staging_step(step)) as staging:
                self.save(model, str(staging))
                self.tokenizer.save_pretrained(str(staging))
                files.write_manifest(staging, {"step": step})
            files.publish(staging, self.run.step(step))
        return control


class StopAfter(TrainerCallback):
    """Ends training after `step` (the schedule stays that of the whole run): a run trained again only to save the
    step adapters it lacks (training.train, `fill`)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True
        return control


def quiet_console(trainer, label: str) -> None:
    """Keep transformers' progress bar, labelled (e.g. "train dpo"), but not the raw log dict it prints under the bar
    at every logging step ({'loss': ..., 'grad_norm': ...}): the summary, the tracker and record.json carry those
    numbers, and each line goes to the run's alignbench.log (tracker_callback)."""
    from tqdm.auto import tqdm
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class LabelledBar(ProgressCallback):
        def on_train_begin(self, args, state, control, **kwargs):  # transformers' own, with the label
            if state.is_world_process_zero:
                self.training_bar = tqdm(total=state.max_steps, dynamic_ncols=True, desc=label)
            self.current_step = 0
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            return control

    pop = getattr(trainer, "pop_callback", None)
    if pop is None:  # not a transformers Trainer (a merge trains nothing and prints nothing)
        return
    if pop(ProgressCallback) is not None:
        trainer.add_callback(LabelledBar())
    pop(PrinterCallback)  # what transformers prints instead when the bar is off (disable_tqdm)


def tracker_callback(tracker: Tracker) -> TrainerCallback:
    """A transformers TrainerCallback that hands the trainer's arguments and log lines to alignbench's tracker."""

    class TrackerCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            tracker.log_trainer_settings(args.to_sanitized_dict())

        def on_log(self, args, state, control, logs=None, **kwargs):
            # A logger outside `alignbench`: Hydra's job logging writes it to alignbench.log, not the console.
            logging.getLogger("trainer").info("step %d: %s", state.global_step, logs)
            tracker.log_training(state.global_step, logs or {})

    return TrackerCallback()
