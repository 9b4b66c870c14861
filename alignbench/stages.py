"""The stages of one run, in the order pipeline._execute calls them, each a function of the RunContext: the earlier
stage a chained run starts from, tracking, data, the base model, training (or the saved adapter), evaluation."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from alignbench.config.schema import Config, MergeMethodConfig, MethodConfig, UntrainedMethodConfig
from alignbench.data.fit import fit_data
from alignbench.data.load import load_preference_data, selection_seed
from alignbench.lifecycle import RunContext
from alignbench.modeling.models import load_base_model, load_tokenizer, model_location, release_base_model
from alignbench.runs import adapter
from alignbench.runs.chain import ChainStage, ensure_stage
from alignbench.runs.console import quiet_libraries, run_name, stage_line
from alignbench.runs.record import now, timed
from alignbench.runs.tracking import TrackedRun, axis_tags, start_tracker, sweep_axes, wandb_run_id
from alignbench.training.checkpoints import discard
from alignbench.training.train import train_adapter, train_pairs_wanted

log = logging.getLogger(__name__)


def earlier_stage(ctx: RunContext, stage: ChainStage, run_stage: Callable) -> None:
    """A chained run's earlier stage (sft_dpo: its SFT run), found trained or trained now as a run of its own, before
    this run's tracker and base model."""
    with timed(ctx.record.timings, "parent_s"):
        ctx.record.parent = ensure_stage(stage, ctx.run_dir, ctx.job.sweep, run_stage)
    ctx.record.write(ctx.run_dir)


def start_tracking(ctx: RunContext) -> None:
    """The run's W&B run (or none), named and tagged by its choices and sweep axes."""
    cfg, record, job = ctx.cfg, ctx.record, ctx.job
    record.torch_threads = torch.get_num_threads()
    quiet_libraries()
    ctx.tracker = start_tracker(
        cfg.logger,
        ctx.run_dir,
        TrackedRun(
            name=run_name(job.choices, cfg.seed),
            config={"run_key": record.run_key, "eval_key": record.eval_key, **record.config},
            tags=axis_tags(job.overrides, sweep_axes(ctx.run_dir) if job.sweep else None),
            group=cfg.sweep.name,  # a single run's too (`adhoc` unless named), so every run filters by group
            job_type=cfg.method.name,
            run_id=wandb_run_id(job.sweep, record.run_key, ctx.run_dir),
        ),
    )


def load_data(ctx: RunContext) -> None:
    """The preference pairs, parsed and checked, and the tokenizer they are fitted to (method.max_length)."""
    cfg, record = ctx.cfg, ctx.record
    say(f"load data {cfg.dataset.name} ({cfg.dataset.preference.value})")
    with timed(record.timings, "data_s"):
        data = load_preference_data(cfg.dataset, train_pairs_wanted(cfg), selection_seed(cfg.dataset, cfg.seed))
        record.data_source, record.data_issues = data.source, data.issues
        record.model_path = model_location(cfg.model, cfg.paths.cache_dir)
        ctx.tokenizer = load_tokenizer(cfg.model, record.model_path)
        try:  # the truncation policy, before the model loads: too many drops fail here, before training
            fit_data(data, ctx.tokenizer, cfg.method.max_length, cfg.dataset.max_bad_fraction)
        finally:
            record.metrics.update({f"data/{k}": v for k, v in data.stats.items()})
    ctx.data = data


def load_model(ctx: RunContext) -> None:
    """The base model (quantized if asked), reused from an earlier run of this process when it is the same base."""
    cfg = ctx.cfg
    say(f"load model {cfg.model.name}" + (f" ({cfg.quant.name})" if cfg.quant.bits else ""))
    location = ctx.record.model_path
    assert location is not None, "load_data finds the model before load_model loads it"
    with timed(ctx.record.timings, "load_model_s"):
        ctx.model, ctx.record.base_reused = load_base_model(cfg.model, cfg.quant, location)


def train(ctx: RunContext) -> None:
    """Train the adapter, then publish it whole with its manifest and record it: a later evaluation failure keeps
    the training."""
    cfg, record, run_dir = ctx.cfg, ctx.record, ctx.run_dir
    say(training_line(cfg, len(ctx.data.train)))
    with timed(record.timings, "train_s"):
        trained = _train(ctx)
    ctx.policy = trained.policy  # the base with the adapter in it, from here on
    record.metrics.update(trained.metrics)
    record.cache_hits, record.trained_at = trained.cache_hits, now()
    # The adapter was saved under a staging name; published whole with its manifest, then recorded.
    record.adapter_path = str(adapter.commit(run_dir, record.run_key, record.kept_by_evaluation()))
    record.adapter_files = adapter.listed(run_dir)  # verifies the adapter even if its manifest is lost
    discard(run_dir)  # the published adapter is what the run keeps; its checkpoints go only now
    record.write(run_dir)


def fill_steps(ctx: RunContext) -> None:
    """A run trained before that lacks adapters of eval.at_steps (trained with fewer, or in another sweep's folder):
    train again, exactly as the first time, only up to the last one missing, saving those; the run's own adapter and
    its training's numbers stay the ones it has."""
    cfg, record, fill = ctx.cfg, ctx.record, ctx.attempt.fill
    say(f"train {cfg.method.name} again to step {max(fill)} for the adapters it lacks at steps {fill}")
    with timed(record.timings, "fill_s"):
        trained = _train(ctx, fill)
    release_base_model(trained.policy)  # the partly trained adapter off the base: the run's own goes on next
    discard(ctx.run_dir)
    record.filled_steps = sorted(set(record.filled_steps or []) | set(fill))
    record.write(ctx.run_dir)


def _train(ctx: RunContext, fill: list[int] | None = None):
    """training.train.train_adapter on what the run holds (its checkpoints continue an interrupted attempt)."""
    assert ctx.tracker is not None, "start_tracking runs before training"
    return train_adapter(
        ctx.cfg,
        ctx.model,
        ctx.tokenizer,
        ctx.data.train,
        ctx.run_dir,
        ctx.precision,
        ctx.tracker,
        pin_memory=torch.cuda.is_available(),
        parent=ctx.record.parent,
        resume=ctx.attempt.resume,
        fill=fill,
    )


def load_adapter(ctx: RunContext) -> None:
    """The adapter an earlier attempt trained, for a run that is only evaluated."""
    from peft import PeftModel

    # The run directory may have moved since training: the adapter is where the run directory is now.
    ctx.record.adapter_path = str(ctx.run_dir / adapter.ADAPTER)
    ctx.policy = PeftModel.from_pretrained(ctx.model, ctx.record.adapter_path)


def evaluate(ctx: RunContext) -> None:
    """Held-out preference pairs, the benchmarks (the base's from the baseline cache), and the adapters saved while
    training (eval.at_steps)."""
    from alignbench.evaluation.suite import evaluate_benchmarks, evaluate_preferences, evaluate_steps

    cfg, record, metrics, policy = ctx.cfg, ctx.record, ctx.record.metrics, ctx.policy
    policy.eval()
    say(f"evaluate preference pairs ({len(ctx.data.test)} held out)")
    with timed(record.timings, "evaluate_s"):
        metrics.update(evaluate_preferences(policy, ctx.tokenizer, ctx.data.test, cfg, ctx.run_dir))
    with timed(record.timings, "benchmarks_s"):
        benchmark_metrics, record.benchmarks = evaluate_benchmarks(policy, ctx.tokenizer, cfg, ctx.run_dir)
    metrics.update(benchmark_metrics)
    with timed(record.timings, "steps_s"):
        step_metrics, errors = evaluate_steps(policy, ctx.tokenizer, ctx.data.test, cfg, ctx.run_dir)
    metrics.update(step_metrics)
    record.benchmarks["errors"].update(errors)


def say(what: str) -> None:
    """A stage's line on the console (and in the run's alignbench.log): what the run does now."""
    log.info(stage_line(what))


def training_line(cfg: Config, pairs: int) -> str:
    """What training does, e.g. "train dpo 150 steps (lora r=8) on tiny_llama, 249 pairs"."""
    method = cfg.method
    if isinstance(method, UntrainedMethodConfig):
        if isinstance(method, MergeMethodConfig):
            what = f"merge {len(method.merge.inputs)} adapters ({method.merge.combination})"
        else:
            what = "a fresh adapter (the unaligned base: nothing trained)"
        return f"{method.name}: {what} on {cfg.model.name}"
    stage = next((v for v in vars(method).values() if isinstance(v, MethodConfig)), None)
    after = f", after its {stage.name} stage" if stage is not None else ""
    return (
        f"train {method.name} {method.max_steps} steps ({cfg.adapter.name} r={cfg.adapter.r}) on {cfg.model.name}, "
        f"{pairs} pairs{after}"
    )
