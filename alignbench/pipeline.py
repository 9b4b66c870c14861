"""One job, top to bottom: validate -> data -> tokenizer and base model -> adapter -> method's trainer -> train
-> save adapter -> evaluate base and trained -> record.json (mirrored to the tracker)."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from alignbench.data import load_preference_data
from alignbench.grid import claim, read_record
from alignbench.methods import METHODS, TrainerInputs
from alignbench.models import load_base_model, load_tokenizer, model_location, release_base_model
from alignbench.preference import generate_replies, preference_metrics, score_replies
from alignbench.record import eval_key, library_versions, resolve, run_key, without_secrets, write_json_atomic
from alignbench.schema import Config, Stage
from alignbench.tracking import TrackedRun, start_tracker
from alignbench.validate import ConfigError, resolve_precision, validate

log = logging.getLogger(__name__)


@dataclass
class JobInfo:
    """What Hydra knows about the job beyond its config."""

    choices: dict[str, str]  # config group -> option, e.g. model -> mistral
    overrides: list[str] = field(default_factory=list)  # the job's own overrides, e.g. seed=3
    sweep: str | None = None  # the sweep's name when the run directory is keyed by run_key (a grid cell)


def run(config: DictConfig, run_dir: Path, job: JobInfo) -> dict[str, Any] | None:
    """Train and evaluate one configuration, unless its run directory is done or another process holds it.

    A run trained before (same run_key, adapter saved) whose evaluation is missing, failed or configured
    differently (another eval_key) is only re-evaluated: adding a benchmark never retrains.
    """
    resolved = resolve(config)
    keys = run_key(resolved), eval_key(resolved)
    with claim(run_dir) as claimed:
        if not claimed:
            print(f"alignbench: another process is running {run_dir}; skipped", flush=True)
            return None
        previous = read_record(run_dir) or {}
        trained = (previous.get("run_key") == keys[0] and previous.get("trained_at") is not None
                   and (run_dir / "adapter" / "adapter_config.json").is_file())
        # Evaluated alike and fully: a benchmark that could not run (no data, no key) is tried again.
        evaluated = (trained and previous.get("status") == "completed" and previous.get("eval_key") == keys[1]
                     and not (previous.get("benchmarks") or {}).get("errors"))
        stages = set(OmegaConf.to_object(config.stages))
        if Stage.train not in stages and not trained:
            raise ConfigError(f"stages=[{','.join(s.value for s in stages)}] needs a trained run in {run_dir}; "
                              f"it has no adapter for run_key {keys[0]} (run with stages=[train,evaluate] first)")
        train = Stage.train in stages and not trained
        evaluate = Stage.evaluate in stages and not evaluated
        if not (train or evaluate):
            print(f"alignbench: {run_dir} is already complete (run_key {keys[0]}); skipped", flush=True)
            return previous
        return _execute(config, resolved, keys, run_dir, job, previous, train, evaluate)


def _execute(
    config: DictConfig, resolved: dict, keys: tuple[str, str], run_dir: Path, job: JobInfo, previous: dict,
    train: bool, evaluate: bool,
) -> dict[str, Any]:
    """The record is written when the run starts (status running) and again however it ends."""
    cfg: Config = OmegaConf.to_object(config)
    record: dict[str, Any] = {
        "run_key": keys[0],
        "eval_key": keys[1] if evaluate else None,  # a run trained but not evaluated is evaluated on relaunch
        "status": "running",
        "attempt": previous.get("attempt", 0) + 1,  # every start counts, interrupted ones included
        "failures": previous.get("failures", 0),
        "choices": job.choices,
        "overrides": job.overrides,
        "sweep": job.sweep,
        "run_dir": str(run_dir),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "model_path": None,
        "adapter_path": None,
        "trained_at": None,
        "metrics": {},
        "timings": {},
        "started_at": _now(),
        "config": without_secrets(resolved),
        "versions": library_versions(),
    }
    if not train:  # keep what training produced; evaluation results are replaced
        kept = ("model_path", "adapter_path", "trained_at", "data_source", "precision")
        record.update({k: previous[k] for k in kept if k in previous})
        record["metrics"] = {k: v for k, v in previous["metrics"].items() if k.startswith(("train/", "data/"))}
        record["timings"] = {k: v for k, v in previous["timings"].items() if k in ("train_s", "load_model_s")}
    write_json_atomic(run_dir / "record.json", record)
    metrics, timings = record["metrics"], record["timings"]
    tracker = policy = None
    try:
        import torch

        if cfg.cpu_threads:
            torch.set_num_threads(cfg.cpu_threads)
        record["torch_threads"] = torch.get_num_threads()
        cuda = torch.cuda.is_available()
        bf16 = cuda and torch.cuda.is_bf16_supported()
        with _timed(timings, "validate_s"):
            validate(cfg, cuda, bf16)
        precision = resolve_precision(cfg.train.precision, cuda, bf16)
        record["precision"] = precision.value
        _quiet_libraries()
        tracker = start_tracker(
            cfg.logger,
            run_dir,
            TrackedRun(
                name=_run_name(job.choices, cfg.seed),
                config=record["config"],
                tags=_tags(job),
                group=job.sweep,
                job_type=cfg.method.name,
                run_id=f"{job.sweep}-{keys[0]}" if job.sweep else None,
            ),
        )

        with _timed(timings, "data_s"):
            data = load_preference_data(cfg.dataset, train_pairs_wanted(cfg), cfg.dataset.selection_seed)
        metrics.update({f"data/{k}": v for k, v in data.stats.items()})
        record["data_source"] = data.source

        with _timed(timings, "load_model_s"):
            record["model_path"] = location = model_location(cfg.model, cfg.paths.cache_dir)
            tokenizer = load_tokenizer(cfg.model, location)
            model, record["base_reused"] = load_base_model(cfg.model, cfg.quant, location)

        if train:
            trainer = METHODS[cfg.method.name](
                TrainerInputs(
                    cfg=cfg,
                    model=model,
                    tokenizer=tokenizer,
                    pairs=data.train,
                    peft_config=_lora_config(cfg),
                    output_dir=run_dir / "trainer",
                    precision=precision,
                    report_to=tracker.report_to,
                    pin_memory=cuda,
                    caches=_run_caches(cfg, resolved, tokenizer, data.train, precision),
                )
            )
            policy = trainer.model  # the base with the adapter in it, from here on
            with _timed(timings, "train_s"):
                result = trainer.train()
            metrics.update(_train_metrics(trainer.state.log_history, result))
            record["cache_hits"] = trainer.cache_hits
            record["adapter_path"] = str(run_dir / "adapter")
            trainer.save_model(record["adapter_path"])  # PEFT weights (safetensors) + tokenizer with its template
            record["trained_at"] = _now()
            write_json_atomic(run_dir / "record.json", record)  # a later evaluation failure keeps the training
            del trainer  # optimizer state, dataloaders: a grid's memory stays that of one run
        else:
            from peft import PeftModel

            # The run directory may have moved since training: the adapter is where the run directory is now.
            record["adapter_path"] = str(run_dir / "adapter")
            policy = PeftModel.from_pretrained(model, record["adapter_path"])

        if evaluate:
            policy.eval()
            with _timed(timings, "evaluate_s"):
                metrics.update(_evaluate(policy, tokenizer, data.test, cfg))
                _write_generations(policy, tokenizer, data.test[: cfg.eval.generations], cfg, run_dir)
            with _timed(timings, "benchmarks_s"):
                record["benchmarks"] = _benchmarks(policy, tokenizer, cfg, resolved, run_dir, metrics)
        record["status"] = "completed"
        return record
    except BaseException as err:
        # Ctrl-C or SIGTERM handled as KeyboardInterrupt: not the run's fault, so not counted against its retries.
        record["status"] = "failed" if isinstance(err, Exception) else "interrupted"
        record["failures"] += record["status"] == "failed"
        record["error"] = f"{type(err).__name__}: {err}"
        raise
    finally:
        release_base_model(policy)  # the next run in this process may reuse the base: no adapter left in it
        record["finished_at"] = _now()
        write_json_atomic(run_dir / "record.json", record)
        if tracker is not None:
            tracker.finish(metrics, failed=record["status"] != "completed")
        _print_summary(record, tracker.note if tracker else None)


def _benchmarks(policy, tokenizer, cfg: Config, resolved: dict, run_dir: Path, metrics: dict) -> dict[str, Any]:
    """The configured benchmarks with the adapter on (eval/...) and off (baseline/..., shared by every run on the
    same base); what each benchmark could not do is kept beside what the others did."""
    from alignbench.benchmarks import EvalContext, baseline_benchmarks, run_benchmarks

    context = EvalContext(cfg, run_dir / "eval")
    trained = run_benchmarks(policy, tokenizer, context, "eval")
    metrics.update(trained["metrics"])
    summary: dict[str, Any] = {"judges": trained["judges"], "sources": trained["sources"],
                               "errors": trained["errors"], "missing": sorted(trained["errors"])}
    if cfg.eval.baseline and cfg.eval.benchmarks:
        with policy.disable_adapter():
            base = baseline_benchmarks(policy, tokenizer, context, resolved)
        metrics.update(base["metrics"])
        summary["baseline"] = {"reused": base["reused"], "computed": base["computed"], "errors": base["errors"]}
    return summary


def train_pairs_wanted(cfg: Config) -> int:
    """dataset.train_samples, or exactly what training consumes (max_steps x batch size)."""
    return cfg.dataset.train_samples or cfg.method.max_steps * cfg.method.batch_size * cfg.method.grad_accum


def _run_caches(cfg: Config, resolved: dict, tokenizer, pairs, precision):
    """The keys under which this run's tokenization and reference log-probs are shared with other runs."""
    from alignbench.caches import RunCaches, examples_digest, tokenizer_digest

    weights = {k: v for k, v in resolved["model"].items() if k not in ("path", "lora_targets", "kind")}
    return RunCaches(
        folder=Path(cfg.paths.cache_dir).expanduser() if cfg.train.shared_caches else None,
        model={"model": weights, "quant": resolved["quant"]},
        precision=precision.value,
        tokenizer=tokenizer_digest(tokenizer),
        examples=examples_digest([[p.prompt, p.chosen, p.rejected] for p in pairs]),
        max_length=cfg.method.max_length,
    )


def _lora_config(cfg: Config):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.adapter.r,
        lora_alpha=cfg.adapter.alpha,
        lora_dropout=cfg.adapter.dropout,
        target_modules=list(cfg.adapter.target_modules),
        bias=cfg.adapter.bias,
        task_type="CAUSAL_LM",
    )


def _evaluate(policy, tokenizer, pairs, cfg: Config) -> dict[str, float]:
    """Held-out preference metrics of the trained model and of its base (the same weights, adapter off)."""
    args = (tokenizer, pairs, cfg.method.max_length, cfg.eval.batch_size)
    trained = score_replies(policy, *args)
    with policy.disable_adapter():
        base = score_replies(policy, *args)
    metrics = {f"eval/pref/{k}": v for k, v in preference_metrics(trained, base).items()}
    metrics.update({f"baseline/pref/{k}": v for k, v in preference_metrics(base).items()})
    metrics["eval/pref/pairs"] = len(pairs)
    return metrics


def _write_generations(policy, tokenizer, pairs, cfg: Config, run_dir: Path) -> None:
    prompts = [pair.prompt for pair in pairs]
    trained = generate_replies(policy, tokenizer, prompts, cfg.eval.max_new_tokens)
    with policy.disable_adapter():
        base = generate_replies(policy, tokenizer, prompts, cfg.eval.max_new_tokens)
    with (run_dir / "generations.jsonl").open("w") as f:
        for pair, base_reply, trained_reply in zip(pairs, base, trained):
            row = {"prompt": pair.prompt, "chosen": pair.chosen, "base": base_reply, "trained": trained_reply}
            f.write(json.dumps(row) + "\n")


def _train_metrics(log_history: list[dict], result) -> dict[str, float]:
    losses = [entry for entry in log_history if "loss" in entry]
    metrics = {"train/loss": result.training_loss, "train/steps": result.global_step}
    if losses:
        metrics["train/loss_first"] = losses[0]["loss"]
        # The last logged window, with everything the method logs (e.g. DPO's rewards/accuracies).
        metrics.update({f"train/{k}": v for k, v in losses[-1].items() if k not in ("step", "epoch", "loss")})
        metrics["train/loss_last"] = losses[-1]["loss"]
    metrics.update({f"train/{k}": v for k, v in result.metrics.items() if k.startswith("train_")})
    return metrics


def _quiet_libraries() -> None:
    """Keep the console for the training progress bar and the summary."""
    import datasets

    datasets.disable_progress_bars()
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # 8-bit logs a cast message on every matmul
    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # a dozen lines per task; our summary has the numbers


def _run_name(choices: dict[str, str], seed: int) -> str:
    return "-".join(choices[g] for g in ("model", "dataset", "method", "quant") if g in choices) + f"-s{seed}"


def _tags(job: JobInfo) -> list[str]:
    """One tag per axis value, e.g. model:mistral, seed:3 (W&B allows 64 characters per tag)."""
    axes = dict(job.choices) | dict(o.lstrip("+").split("=", 1) for o in job.overrides)
    return [f"{name}:{value}"[:64] for name, value in axes.items()]


@contextmanager
def _timed(timings: dict[str, float], key: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = round(time.perf_counter() - start, 3)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _print_summary(record: dict[str, Any], tracker_note: str | None) -> None:
    m, c = record["metrics"], record["config"]
    lines = [f"alignbench {record['status']}: {_run_name(record['choices'], c['seed'])}  (run_key {record['run_key']})"]
    lines.append(f"  run dir      {record['run_dir']}")
    if "train/loss_first" in m:
        lines.append(
            f"  train        {m['train/steps']} steps in {record['timings']['train_s']:.0f} s, "
            f"loss {m['train/loss_first']:.3f} -> {m['train/loss_last']:.3f}"
        )
    if "eval/pref/accuracy" in m:
        lines.append(
            f"  held-out preference accuracy ({m['eval/pref/pairs']} pairs): "
            f"base {m['baseline/pref/accuracy']:.3f} -> trained {m['eval/pref/accuracy']:.3f}"
        )
        lines.append(
            f"  length-normalised log-prob margin: base {m['baseline/pref/margin']:+.3f} -> "
            f"trained {m['eval/pref/margin']:+.3f}; implicit-reward accuracy {m['eval/pref/reward_accuracy']:.3f}"
        )
    if record.get("benchmarks"):
        from alignbench.benchmarks import benchmark_table

        lines += benchmark_table(record)
    if record.get("error"):
        lines.append(f"  error        {record['error']}")
    if tracker_note:
        lines.append(f"  {tracker_note}")
    print("\n".join(lines), flush=True)
