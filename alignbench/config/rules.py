"""Rules that span config groups, and a fast check that the hub models and datasets a run needs can be had.

Pure functions of the typed config (the hub check aside): the planner and the pipeline apply the same rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alignbench.config.hub import UNAVAILABLE, hub_missing, not_available
from alignbench.config.schema import NATURAL, Config, DPOMethodConfig, MethodConfig, Precision, Preference

# The LoRA inits alignbench takes: both start the adapter at zero and leave the base untouched. The DPO reference is
# the base with the adapter off, its log-probs are cached per base, a saved adapter is evaluated on the base as loaded,
# and a process hands the same base to its next run.
_LORA_INITS = ("kaiming", "gaussian")
# PEFT 0.21 inits that fold the adapter's starting point into the base weights (W - BA), i.e. change the base.
_BASE_REWRITING_INITS = ("pissa", "olora", "corda", "loftq", "lora_ga")
# The TRL 1.16 losses that read label_smoothing; every other one, sigmoid included, ignores it without a word.
_SMOOTHED_LOSSES = ("robust", "exo_pair", "aot", "aot_unpaired")


class ConfigError(ValueError):
    """The composed config cannot run here; the message lists every problem and how to fix it."""

    reason = "config"  # runs.failures: how a record and the sweep summary file it

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        if reason:
            self.reason = reason  # e.g. unavailable: every problem is a model or dataset that cannot be had here


def validate(cfg: Config, cuda: bool, bf16: bool, more: list[str] | None = None) -> None:
    """Raise ConfigError listing every problem at once, before anything heavy is loaded."""
    problems = problems_here(cfg, cuda, bf16) + (more or [])
    if problems:
        unavailable = all(UNAVAILABLE in problem for problem in problems)  # the environment's fault, not the config's
        raise ConfigError("this run cannot start:\n- " + "\n- ".join(problems), "unavailable" if unavailable else None)


def check_device(cfg: Config, more: list[str] | None = None) -> Precision:
    """Apply the rules on this machine (torch says what the device can do), with `more` problems found elsewhere
    (e.g. a merge's inputs); the precision the run will use."""
    import torch

    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    validate(cfg, cuda, bf16, more)
    return resolve_precision(cfg.train.precision, cuda, bf16)


def problems_here(cfg: Config, cuda: bool, bf16: bool, probe: Callable = hub_missing) -> list[str]:
    """Why this run cannot start on this machine (its model or data cannot be had, it needs CUDA, ...), or [].
    `probe` looks a hub repo up; a planner passes a memoised one, so 320 jobs ask about each repo once."""
    return _model_problems(cfg, probe) + _dataset_problems(cfg, probe) + _rule_problems(cfg, cuda, bf16)


def cuda_present() -> bool:
    """Whether an NVIDIA driver is loaded, without importing torch (planning must stay fast)."""
    return Path("/proc/driver/nvidia/version").exists()


def resolve_precision(requested: Precision, cuda: bool, bf16: bool) -> Precision:
    if requested is not Precision.auto:
        return requested
    if cuda:
        return Precision.bf16 if bf16 else Precision.fp16
    return Precision.fp32


def _rule_problems(cfg: Config, cuda: bool, bf16: bool) -> list[str]:
    problems = []
    precision = resolve_precision(cfg.train.precision, cuda, bf16)
    if precision is Precision.bf16 and not bf16:
        problems.append("train.precision=bf16 needs a GPU with bf16 support; use train.precision=auto or fp32")
    if precision is Precision.fp16 and not cuda:
        problems.append("train.precision=fp16 needs a GPU; use train.precision=auto or fp32")
    # A chained method's earlier stage (method.sft of sft_dpo) is trained with its own settings: the same checks.
    stages = [("method", cfg.method)] + [(f"method.{k}", v) for k, v in vars(cfg.method).items() if _is_method(v)]
    for where, method in stages:
        if method.optimizer.startswith("paged_") and not cuda:
            problems.append(
                f"{where}.optimizer={method.optimizer} pages optimizer state to GPU memory and needs CUDA; "
                f"on CPU use {where}.optimizer=adamw_torch"
            )
    if cfg.quant.bits not in (None, 4, 8):
        problems.append(f"quant.bits={cfg.quant.bits}: bitsandbytes supports 4 or 8")
    if not cfg.adapter.target_modules:
        problems.append("adapter.target_modules is empty: LoRA would train nothing")
    if cfg.dataset.preference is Preference.mixed and not cfg.dataset.labels_both_preferences:
        problems.append(
            f"dataset.preference=mixed needs rows labelled for both preferences; {cfg.dataset.name} keeps them in "
            "separate subsets (data_dir)"
        )
    mixture = cfg.dataset.mixture_harmless
    is_share = isinstance(mixture, int | float) and not isinstance(mixture, bool) and 0 <= mixture <= 1
    if mixture != NATURAL and not is_share:
        problems.append(f"dataset.mixture_harmless={mixture} is a share between 0 and 1, or {NATURAL}")
    problems += _init_problems(cfg.adapter.init)
    if cfg.adapter.use_dora and cfg.quant.bits == 8 and not cuda:
        # PEFT 0.21 re-wraps an int8 weight on CPU at every DoRA forward; the copy lacks the scales bitsandbytes 0.50
        # moved into the layer's state at the first forward, so the second step fails inside bitsandbytes.
        problems.append("adapter.use_dora=true on quant=int8 fails at the second step on CPU; use quant=nf4 or a GPU")
    if isinstance(cfg.method, DPOMethodConfig):
        problems += _loss_problems(cfg.method)
    return problems


def _is_method(value) -> bool:
    return isinstance(value, MethodConfig)


def _init_problems(init: str) -> list[str]:
    takes = " or ".join(_LORA_INITS)
    if init.startswith(_BASE_REWRITING_INITS):
        return [
            f"adapter.init={init} rewrites the base weights, but the DPO reference (adapter off), its cache and "
            f"evaluation on the loaded base assume them unchanged; use adapter.init={takes}"
        ]
    if init not in _LORA_INITS:
        return [
            f"adapter.init={init}: alignbench takes {takes} (PEFT's other inits need a data pass, unquantized base "
            "weights or a non-zero start)"
        ]
    return []


def _loss_problems(method: DPOMethodConfig) -> list[str]:
    problems = []
    losses = set(method.loss_type)
    if method.label_smoothing and not losses & set(_SMOOTHED_LOSSES):
        problems.append(
            f"method.label_smoothing={method.label_smoothing} would be ignored by loss_type {method.loss_type}: TRL "
            f"reads it only in {', '.join(_SMOOTHED_LOSSES)} (its sigmoid loss no longer smooths labels, so no cDPO)"
        )
    if "robust" in losses and not 0 <= method.label_smoothing < 0.5:
        problems.append(
            f"method.label_smoothing={method.label_smoothing} is robust DPO's label-flip rate: it must be in [0, 0.5)"
        )
    if method.loss_weights is not None and len(method.loss_weights) != len(method.loss_type):
        problems.append(
            f"method.loss_weights has {len(method.loss_weights)} weights for loss_type {method.loss_type}: one per loss"
        )
    return problems


def _model_problems(cfg: Config, probe: Callable) -> list[str]:
    model = cfg.model
    if model.path:
        if not (Path(model.path).expanduser() / "config.json").is_file():
            return [f"model {model.name!r}: model.path={model.path} has no config.json (a save_pretrained folder)"]
        return []
    if model.tiny is not None:
        return []
    if not model.hub_id:
        return [f"model {model.name!r}: set model.hub_id, model.path or model.tiny"]
    missing = probe(model.hub_id, model.revision, "model")
    if missing:
        local = f"Point model.path=/models/{model.hub_id.split('/')[-1]} at a local copy"
        return [not_available(f"model {model.name!r}", model.hub_id, model.revision, missing, local, "model")]
    return []


def _dataset_problems(cfg: Config, probe: Callable) -> list[str]:
    data = cfg.dataset
    if data.path:
        return [] if Path(data.path).expanduser().exists() else [f"dataset.path={data.path} does not exist"]
    if data.sample:
        return []
    missing = probe(data.hub_id, data.revision, "dataset")
    if missing:
        local = (
            "Point dataset.path= at local raw files in the hub schema, use dataset.sample=true for the bundled "
            "miniature"
        )
        return [not_available(f"dataset {data.name!r}", data.hub_id, data.revision, missing, local, "dataset")]
    return []
