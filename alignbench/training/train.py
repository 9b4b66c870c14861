"""Train an adapter on a base: the method's trainer from the registry, the shared caches, then save the adapter."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignbench.config.schema import Config, Precision, UntrainedMethodConfig
from alignbench.config.sources import base_identity
from alignbench.data.parsers import Pair
from alignbench.runs.adapter import staged
from alignbench.runs.dirs import CacheDir, RunDir
from alignbench.runs.tracking import Tracker
from alignbench.training.callbacks import SaveAdapterAt, StopAfter, StopOnNonFinite, quiet_console, tracker_callback

if TYPE_CHECKING:
    from alignbench.training.methods.common import Trainer, TrainResult


@dataclass
class Trained:
    policy: Any  # the base with the trained adapter in it
    metrics: dict[str, float | None]  # train/loss is None for a method that trains no steps
    cache_hits: dict[str, bool]


def train_adapter(
    cfg: Config,
    model,
    tokenizer,
    pairs: list[Pair],
    run_dir: Path,
    precision: Precision,
    tracker: Tracker,
    pin_memory: bool,
    parent: dict | None = None,
    resume: Resume | None = None,
    fill: list[int] | None = None,
) -> Trained:
    """Build the method's trainer, train (its settings and log lines go to the tracker, not the console), and save
    the adapter (PEFT safetensors + tokenizer with its template) under run_dir's staging name (runs.adapter). A
    chained run's `parent` (its record's parent: the earlier stage's run) gives the adapter it starts from and the
    reference it is keyed by.

    Checkpoints go to run_dir/checkpoints (training.checkpoints); `resume.checkpoint` continues from one. A SIGTERM or
    SIGUSR2 while training checkpoints at the next step and raises Preempted (training.preemption).

    `fill`: the run was trained before and lacks the adapters of these steps; training runs again, the same as the
    first time (same seed, data order and schedule), only up to the last of them and saves those, nothing else."""
    from alignbench.modeling.adapters import peft_config
    from alignbench.training.methods import METHODS, TrainerInputs
    from alignbench.training.preemption import StopSignals
    from alignbench.training.resumable import Checkpointing, Resumable

    build = METHODS.pick(cfg.method.trainer)
    with _trl_bars():
        trainer = build(
            TrainerInputs(
                cfg=cfg,
                model=model,
                tokenizer=tokenizer,
                pairs=pairs,
                peft_config=peft_config(cfg.adapter),
                output_dir=RunDir(run_dir).checkpoints,
                precision=precision,
                pin_memory=pin_memory,
                caches=run_caches(cfg, tokenizer, pairs, precision, parent["run_key"] if parent else None),
                start_adapter=RunDir(parent["run_dir"]).adapter if parent else None,
            )
        )
    trained_pairs = checked_dataset_size(trainer, len(pairs))
    trainer.checkpoint_identity = (resume.run_key, resume.keyed) if resume else ("", {})
    trainer.add_callback(tracker_callback(tracker))
    quiet_console(trainer, f"train {cfg.method.name}")
    trainer.add_callback(StopOnNonFinite())
    if steps := fill or adapter_steps(cfg):
        save = getattr(trainer, "save_adapter_at_step", None)  # a method that writes its adapter its own way
        trainer.add_callback(SaveAdapterAt(steps, run_dir, tokenizer, save))
    if fill:
        trainer.add_callback(StopAfter(max(fill)))
    dropout = lora_dropout_in_force(trainer.model)
    with StopSignals() as stop:
        # Last: the non-finite check of a step runs before its checkpoint is asked for.
        trainer.add_callback(Checkpointing(save_steps(cfg), stop))
        checkpoint = resume.checkpoint if resume else None
        with _trl_bars():  # TRL's reference pass runs when training starts
            result = trainer.train(resume_from_checkpoint=str(checkpoint)) if checkpoint else trainer.train()
        stop.raise_if_stopped(trainer.state.global_step)
    if fill:  # the run's own adapter is the one trained before
        return Trained(trainer.model, {}, trainer.cache_hits)
    with staged(run_dir) as staging:  # published whole, with its manifest, by runs.adapter.commit
        trainer.save_model(str(staging))
    metrics = train_metrics(trainer.state.log_history, result) | {"train/lora_dropout": dropout}
    if trained_pairs is not None:
        metrics["data/train_pairs"] = trained_pairs
    if isinstance(trainer, Resumable):
        metrics["train/loss"] = trainer.run_training_loss()  # every step's, across resumes
    # The trainer (optimizer state, dataloaders) goes with this frame: a grid's memory stays that of one run.
    return Trained(trainer.model, metrics, trainer.cache_hits)


def adapter_steps(cfg: Config) -> list[int]:
    """The steps whose adapter training saves: eval.at_steps' and train.keep_steps' (a method that trains no steps
    keeps none; it refuses eval.at_steps itself)."""
    kept = [] if isinstance(cfg.method, UntrainedMethodConfig) else cfg.train.keep_steps
    return sorted(set(cfg.eval.at_steps) | set(kept))


def checked_dataset_size(trainer: Trainer, fitted: int) -> int | None:
    """The number of pairs in the trainer's prepared dataset (None for a merge, which trains on none). The pairs were
    fitted to max_length before (data.fit), so TRL must keep every one; a difference is a bug, never a silent loss."""
    dataset = getattr(trainer, "train_dataset", None)
    if dataset is None:
        return None
    if len(dataset) != fitted:
        raise RuntimeError(
            f"the trainer's dataset holds {len(dataset)} pairs, but {fitted} were fitted to method.max_length: TRL "
            "dropped pairs the truncation policy (alignbench.data.fit) kept"
        )
    return len(dataset)


@dataclass
class Resume:
    """What checkpoints carry (run key, keyed config) and the checkpoint this attempt continues from, if any."""

    run_key: str
    keyed: dict[str, Any]
    checkpoint: Path | None = None
    picked: Any = None  # training.checkpoints.Picked: what was found, set aside included


def save_steps(cfg: Config) -> int:
    """train.save_steps; null: four checkpoints per run; 0: none."""
    if cfg.train.save_steps is None:
        return max(1, cfg.method.max_steps // 4)
    return cfg.train.save_steps


def lora_dropout_in_force(model) -> float:
    """The LoRA dropout probability actually in force once the trainer is built (TRL may have zeroed it)."""
    import torch

    found = [m.p for name, m in model.named_modules() if "lora_dropout" in name and isinstance(m, torch.nn.Dropout)]
    return max(found, default=0.0)  # PEFT uses Identity for p=0


def train_pairs_wanted(cfg: Config) -> int:
    """dataset.train_samples, or exactly what training consumes (max_steps x batch size)."""
    return cfg.dataset.train_samples or cfg.method.max_steps * cfg.method.batch_size * cfg.method.grad_accum


def run_caches(cfg: Config, tokenizer, pairs: list[Pair], precision: Precision, parent: str | None = None):
    """The keys under which this run's tokenization and reference log-probs are shared with other runs (`parent`:
    the run key of the stage whose model is the reference, for a chained run)."""
    from alignbench.data.fit import TRUNCATION_POLICY
    from alignbench.training.caches import RunCaches, examples_digest, tokenizer_digest

    return RunCaches(
        folder=CacheDir(cfg.paths.cache_dir) if cfg.train.shared_caches else None,
        model=base_identity(cfg.model, cfg.quant),
        precision=precision.value,
        tokenizer=tokenizer_digest(tokenizer),
        examples=examples_digest(pairs),
        max_length=cfg.method.max_length,
        truncation=TRUNCATION_POLICY,
        parent=parent,
    )


def train_metrics(log_history: list[dict[str, float]], result: TrainResult) -> dict[str, float | None]:
    losses = [entry for entry in log_history if "loss" in entry]
    metrics = {"train/loss": result.training_loss, "train/steps": result.global_step}
    if losses:
        metrics["train/loss_first"] = losses[0]["loss"]
        # The last logged window, with everything the method logs (e.g. DPO's rewards/accuracies).
        metrics.update({f"train/{k}": v for k, v in losses[-1].items() if k not in ("step", "epoch", "loss")})
        metrics["train/loss_last"] = losses[-1]["loss"]
    # train_loss is train/loss already: one number, one key (W&B's summary shows both otherwise).
    metrics.update({f"train/{k}": v for k, v in result.metrics.items() if k.startswith("train_") and k != "train_loss"})
    # What made a merge's adapter: its largest rank, the delta energy it kept (training.merging).
    metrics.update({k: v for k, v in result.metrics.items() if k.startswith("merge/")})
    return metrics


@contextmanager
def _trl_bars():
    """TRL's own bars ("Computing reference log probs ...") follow TQDM_DISABLE, read when the bar starts: off while
    inside, unless the user asked for library bars (runs.console.VERBOSE)."""
    from alignbench.runs.console import library_bars_wanted

    if library_bars_wanted() or "TQDM_DISABLE" in os.environ:
        yield
        return
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        os.environ.pop("TQDM_DISABLE", None)
