"""The whole evaluation of a trained adapter: held-out preference pairs and sample generations, then the
configured benchmarks with the adapter on (eval/...) and off (baseline/..., cached per base)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from alignbench.config.schema import Config
from alignbench.data.parsers import Pair
from alignbench.evaluation.generation import generate, render
from alignbench.evaluation.preference import preference_metrics, score_replies
from alignbench.runs import adapter
from alignbench.runs.console import stage_line
from alignbench.runs.dirs import RunDir

log = logging.getLogger(__name__)


def evaluate_preferences(policy, tokenizer, pairs: list[Pair], cfg: Config, out_dir: Path) -> dict[str, float]:
    """Held-out preference metrics of the trained model and of its base (the same weights, adapter off), and a few
    greedy replies of both in generations.jsonl."""
    if not pairs:  # eval_samples=0: nothing held out, nothing scored
        return {"eval/pref/pairs": 0}
    args = (tokenizer, pairs, cfg.method.max_length, cfg.eval.batch_size)
    trained = score_replies(policy, *args)
    with policy.disable_adapter():
        base = score_replies(policy, *args)
    metrics = {f"eval/pref/{k}": v for k, v in preference_metrics(trained, base).items()}
    metrics.update({f"baseline/pref/{k}": v for k, v in preference_metrics(base).items()})
    metrics["eval/pref/pairs"] = len(pairs)
    _write_generations(policy, tokenizer, pairs[: cfg.eval.generations], cfg, RunDir(out_dir).generations)
    return metrics


def evaluate_benchmarks(
    policy, tokenizer, cfg: Config, out_dir: Path, baseline: bool = True, label: str = ""
) -> tuple[dict[str, float], dict[str, Any]]:
    """(metrics, summary): every configured benchmark on the trained model and (unless `baseline` is false) on its
    base; what a benchmark could not do is kept in the summary beside what the others did. `label` names the model
    in the console lines beyond trained/base (e.g. "step 50")."""
    from alignbench.evaluation.baseline import baseline_benchmarks
    from alignbench.evaluation.benchmarks import EvalContext, run_benchmarks

    context = EvalContext(cfg, RunDir(out_dir).eval, label=label)
    trained = run_benchmarks(policy, tokenizer, context, "eval")
    metrics = dict(trained["metrics"])
    summary: dict[str, Any] = {
        "judges": trained["judges"],
        "sources": trained["sources"],
        "errors": trained["errors"],
        "missing": sorted(trained["errors"]),
        "judge_models": trained["judge_models"],  # an API judge's configured model and the ones that answered
        "warnings": trained["warnings"],  # e.g. a judge answered by another model than configured
    }
    if baseline and cfg.eval.baseline and cfg.eval.benchmarks:
        with policy.disable_adapter():
            base = baseline_benchmarks(policy, tokenizer, context)
        metrics.update(base["metrics"])
        if base["reused"]:
            log.info(stage_line(f"base model scores reused from the cache: {', '.join(base['reused'])}"))
        summary["baseline"] = {"reused": base["reused"], "computed": base["computed"], "errors": base["errors"]}
    return metrics, summary


def evaluate_steps(policy, tokenizer, pairs: list[Pair], cfg: Config, run_dir: Path):
    """(metrics, errors): the same suite on each adapter saved while training (eval.at_steps), swapped onto the
    same base; metrics named eval@<step>/..., the base not evaluated again, errors named <benchmark>@<step>. Each
    step's folder (run_dir/steps/<step>) also takes its outputs. Each adapter is verified against its manifest first:
    a damaged one fails the run naming the file, never evaluated."""
    metrics: dict[str, float] = {}
    errors: dict[str, str] = {}
    for i, step in enumerate(cfg.eval.at_steps, 1):
        folder, name = RunDir(run_dir).step(step), f"step_{step}"
        if problem := adapter.step_problem(run_dir, step):
            raise DamagedStepAdapter(
                f"the adapter saved at step {step} cannot be evaluated: {problem} "
                f"(delete {RunDir(run_dir).adapter} to train the run again)"
            )
        log.info(stage_line(f"evaluate the adapter saved at step {step} ({i}/{len(cfg.eval.at_steps)})"))
        policy.load_adapter(str(folder), adapter_name=name)
        policy.set_adapter(name)
        try:
            found = evaluate_preferences(policy, tokenizer, pairs, cfg, folder)
            benchmarks, summary = evaluate_benchmarks(
                policy, tokenizer, cfg, folder, baseline=False, label=f"step {step}"
            )
        finally:
            policy.set_adapter("default")
            policy.delete_adapter(name)
        trained = {k.removeprefix("eval/"): v for k, v in (found | benchmarks).items() if k.startswith("eval/")}
        metrics |= {f"eval@{step}/{k}": v for k, v in trained.items()}
        errors |= {f"{benchmark}@{step}": error for benchmark, error in summary["errors"].items()}
    return metrics, errors


class DamagedStepAdapter(RuntimeError):
    """An adapter saved while training (eval.at_steps) is missing or does not match its manifest."""


def _write_generations(policy, tokenizer, pairs: list[Pair], cfg: Config, path: Path) -> None:
    texts = [render(tokenizer, pair.prompt) for pair in pairs]
    trained = generate(policy, tokenizer, texts, cfg.eval.max_new_tokens, cfg.eval.batch_size)
    with policy.disable_adapter():
        base = generate(policy, tokenizer, texts, cfg.eval.max_new_tokens, cfg.eval.batch_size)
    with path.open("w") as f:
        for pair, base_reply, trained_reply in zip(pairs, base, trained, strict=True):
            row = {"prompt": pair.prompt, "chosen": pair.chosen, "base": base_reply, "trained": trained_reply}
            f.write(json.dumps(row) + "\n")
