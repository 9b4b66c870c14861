"""What every method's trainer is built from, what training.train asks of it, and the TrainingArguments all of them
share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from alignbench.config.rules import ConfigError
from alignbench.config.schema import Config, MethodConfig, Precision
from alignbench.data.parsers import Pair


@dataclass
class TrainerInputs:
    cfg: Config
    model: Any  # a transformers PreTrainedModel, not yet wrapped by PEFT
    tokenizer: Any
    pairs: list[Pair]
    peft_config: Any
    output_dir: Path
    precision: Precision
    pin_memory: bool = False  # only helps when batches are copied to a GPU
    caches: Any = (
        None  # alignbench.training.caches.RunCaches: tokenized datasets and reference log-probs shared by runs
    )
    start_adapter: Path | None = None  # an adapter the method starts from (sft_dpo: its SFT stage's); None: a new one


class TrainingState(Protocol):
    """The part of transformers' TrainerState that training.train reads."""

    @property
    def global_step(self) -> int: ...

    @property
    def log_history(self) -> list[dict[str, float]]: ...


class TrainResult(Protocol):
    """What train() returns: transformers' TrainOutput, or Untrained's."""

    @property
    def global_step(self) -> int: ...

    @property
    def training_loss(self) -> float | None: ...  # None: no step was trained

    @property
    def metrics(self) -> dict[str, float]: ...


class Trainer(Protocol):
    """What training.train asks of a method's trainer (training.methods.METHODS builds one): a transformers Trainer
    with training.resumable.Resumable has all of it; Untrained stands in for a method that trains no steps."""

    # (run key, keyed config) written into each checkpoint's manifest, set before training
    checkpoint_identity: tuple[str, dict[str, Any]]

    @property
    def model(self) -> Any: ...  # the policy: the base with the adapter in it

    @property
    def state(self) -> TrainingState: ...

    @property
    def cache_hits(self) -> dict[str, bool]: ...  # which shared caches (training.caches) it was served from

    def add_callback(self, callback: Any) -> None: ...

    def train(self, resume_from_checkpoint: str | None = None) -> TrainResult: ...

    def save_model(self, output_dir: str) -> None: ...


M = TypeVar("M", bound=MethodConfig)


def method_settings(inputs: TrainerInputs, schema: type[M]) -> M:
    """The method section as the trainer's own schema reads it (DPO's beta, a merge's inputs): a method option that
    names the trainer must take its schema too."""
    method = inputs.cfg.method
    if not isinstance(method, schema):
        raise ConfigError(
            f"method.trainer={method.trainer} reads the settings of {schema.__name__}, but the method option has "
            f"{type(method).__name__}: give it the trainer's schema in its defaults, as conf/method/{method.trainer}"
            ".yaml does"
        )
    return method


def shared_training_args(inputs: TrainerInputs) -> dict[str, Any]:
    """Keyword arguments of transformers.TrainingArguments taken from the method preset and the train section."""
    method, train = inputs.cfg.method, inputs.cfg.train
    return dict(
        output_dir=str(inputs.output_dir),
        learning_rate=method.learning_rate,
        per_device_train_batch_size=method.batch_size,
        gradient_accumulation_steps=method.grad_accum,
        max_grad_norm=method.max_grad_norm,
        weight_decay=method.weight_decay,
        optim=method.optimizer,
        lr_scheduler_type=method.scheduler,
        adam_beta1=method.adam_beta1,
        adam_beta2=method.adam_beta2,
        warmup_steps=method.warmup_steps,
        max_steps=method.max_steps,
        max_length=method.max_length,
        # alignbench.data.fit cut every prompt so that a reply survives this cut: TRL then drops nothing.
        truncation_mode="keep_start",
        seed=inputs.cfg.seed,
        # TRL defaults to bf16=True, which raises on a CPU: precision is always explicit here.
        bf16=inputs.precision is Precision.bf16,
        fp16=inputs.precision is Precision.fp16,
        activation_checkpointing=train.gradient_checkpointing,
        dataloader_pin_memory=inputs.pin_memory,
        logging_steps=train.logging_steps,
        # transformers' own W&B integration would spread TrainingArguments and the model's config over the run's
        # top-level config; alignbench's tracker takes the trainer's logs instead (training.callbacks.tracker_callback).
        report_to="none",
        # Checkpoints are asked for by training.resumable.Checkpointing (train.save_steps, a stop signal) and
        # written staged and manifested; the adapter itself is saved once, after training.
        save_strategy="no",
        dataloader_num_workers=0,
    )


@dataclass
class _NoSteps:
    log_history: list[dict[str, float]] = field(default_factory=list)
    global_step: int = 0


@dataclass(frozen=True)
class NotTrained:
    """What an Untrained method's train() returns: no step, no loss; `metrics` what it made instead (a merge's)."""

    global_step: int = 0
    training_loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)


class Untrained:
    """A Trainer for a method whose adapter is made without training steps (a merge, the base itself): `model` is
    set by the subclass, which may override `train` to build the adapter."""

    refusal = "trains no steps"  # why eval.at_steps cannot apply, in the subclass's words
    model: Any
    # No steps, so no checkpoint to write it into.
    checkpoint_identity: tuple[str, dict[str, Any]] = ("", {})

    def __init__(self, inputs: TrainerInputs):
        self.tokenizer = inputs.tokenizer
        self.state = _NoSteps()
        self.cache_hits: dict[str, bool] = {}

    def add_callback(self, callback) -> None:
        from alignbench.training.callbacks import SaveAdapterAt

        if isinstance(callback, SaveAdapterAt):
            raise ConfigError(f"eval.at_steps: {self.refusal}")
        # nothing is trained, so a tracker's training callback has nothing to log

    def train(self, resume_from_checkpoint: str | None = None) -> TrainResult:
        """No steps to take; `resume_from_checkpoint` is never given (no checkpoint is ever written)."""
        return NotTrained()

    def save_model(self, path: str) -> None:
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
