"""The study's benchmarks by name, run on a model with its adapter on (eval/...) and off (baseline/..., cached).

    SPECS[name].run(model, tokenizer, cfg.eval.<name>, context) -> BenchmarkResult   (config.benchmarks)

One benchmark failing (missing data, no judge credentials) records its error and leaves the others' numbers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from alignbench.config.benchmarks import SPECS
from alignbench.config.schema import Config, ScorerConfig
from alignbench.evaluation.benchmarks.common import BenchmarkResult, write_items
from alignbench.evaluation.judges import HARM_JUDGES, PAIRWISE_JUDGES, Judge
from alignbench.evaluation.scorer import Scorer, load_scorer
from alignbench.runs.console import stage_line
from alignbench.runs.dirs import CacheDir

log = logging.getLogger(__name__)


@dataclass
class EvalContext:
    """What benchmarks share within a process: the config, a place for their files, loaded scorers and judges."""

    cfg: Config
    out_dir: Path  # per-item outputs and lm-eval's request cache for THIS model (lm-eval's key ignores the model)
    benchmark: str = ""  # the benchmark being run
    label: str = ""  # which model its console line names beyond trained/base, e.g. "step 50" (an adapter saved then)
    _loaded: dict[str, Any] = field(default_factory=dict)  # shared by copies, so each model loads once

    @property
    def cache(self) -> CacheDir:
        return CacheDir(self.cfg.paths.cache_dir)

    def scorer(self, cfg: ScorerConfig) -> Scorer:
        return self._once(f"scorer:{cfg.name}", lambda: load_scorer(cfg, self.cache))

    def harm_judge(self) -> Judge:
        spec = self.cfg.judge.harm
        return self._once("harm", lambda: HARM_JUDGES.pick(spec.kind)(spec, self.cache))

    def pairwise_judge(self) -> Judge:
        from alignbench.evaluation.benchmarks.alpaca import VERSIONS

        spec = self.cfg.judge.pairwise
        if not spec.annotators_config:  # the alpaca_eval annotator of the AlpacaEval version being run
            spec = replace(spec, annotators_config=VERSIONS[self.cfg.eval.alpaca_eval.version].annotator)
        return self._once("pairwise", lambda: PAIRWISE_JUDGES.pick(spec.kind)(spec, self.cache))

    def _once(self, key: str, load: Callable[[], Any]) -> Any:
        if key not in self._loaded:
            self._loaded[key] = load()
        return self._loaded[key]


def run_benchmarks(model, tokenizer, context: EvalContext, prefix: str, names: list[str] | None = None) -> dict:
    """The configured benchmarks (or `names`) on `model` as it is now: flat metrics, errors, judges and sources."""
    metrics: dict[str, float] = {}
    errors: dict[str, str] = {}
    judges: dict[str, str | None] = {}
    sources: dict[str, str | None] = {}
    judge_models: dict[str, dict] = {}
    warnings: list[str] = []
    names = list(context.cfg.eval.benchmarks) if names is None else names
    runners = {name: SPECS.pick(name).load() for name in names}  # a runner that cannot import fails the run here
    for name, run in runners.items():
        log.info(_stage(name, prefix, context, names))
        settings = getattr(context.cfg.eval, name)
        start = time.perf_counter()
        try:
            result: BenchmarkResult = run(model, tokenizer, settings, replace(context, benchmark=name))
        except Exception as err:  # one benchmark's missing data or judge must not cost the others
            errors[name] = f"{type(err).__name__}: {err}"
            log.warning("%s %s failed: %s", prefix, name, errors[name])
            continue
        metrics.update({f"{prefix}/{name}/{key}": value for key, value in result.metrics.items()})
        metrics[f"{prefix}/{name}/seconds"] = round(time.perf_counter() - start, 2)
        judges[name], sources[name] = result.judge, result.source
        if result.judge_models is not None:
            judge_models[name] = result.judge_models
        if result.judge_warning:
            warnings.append(f"{name}: {result.judge_warning}")
            log.warning("alignbench: warning: %s: %s", name, result.judge_warning)
        write_items(context.out_dir / f"{name}.jsonl", result.items)
    return {
        "metrics": metrics,
        "errors": errors,
        "judges": judges,
        "sources": sources,
        "judge_models": judge_models,
        "warnings": warnings,
    }


def _stage(name: str, prefix: str, context: EvalContext, names: list[str]) -> str:
    """The benchmark's console line, e.g. "evaluate mmlu 2/5 (the base model)": its place among the configured
    benchmarks (the base's are run one at a time, as the cache misses them) and the model it scores."""
    among = list(context.cfg.eval.benchmarks) if name in context.cfg.eval.benchmarks else names
    model = ", ".join(filter(None, ["the base model" if prefix == "baseline" else "", context.label]))
    return stage_line(f"evaluate {name} {among.index(name) + 1}/{len(among)}" + (f" ({model})" if model else ""))
