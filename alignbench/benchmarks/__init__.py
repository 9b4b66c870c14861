"""The study's benchmarks by name, run on a model with its adapter on (eval/...) and off (baseline/..., cached).

    BENCHMARKS[name](model, tokenizer, cfg.eval.<name>, context) -> BenchmarkResult

One benchmark failing (missing data, no judge credentials) records its error and leaves the others' numbers.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from alignbench.benchmarks.alpaca import run_alpaca_eval
from alignbench.benchmarks.common import BenchmarkResult, write_items
from alignbench.benchmarks.judges import HARM_JUDGES, PAIRWISE_JUDGES, Judge
from alignbench.benchmarks.lm_eval_tasks import run_lm_eval
from alignbench.benchmarks.red_instruct import run_red_instruct
from alignbench.benchmarks.scorer import Scorer, load_scorer
from alignbench.benchmarks.toxicity import run_real_toxicity
from alignbench.record import digest, write_json_atomic
from alignbench.schema import Config, ScorerConfig

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Benchmark:
    run: Callable[..., BenchmarkResult]
    headline: str  # the metric the paper reports (higher is better for all five)


BENCHMARKS: dict[str, Benchmark] = {
    "mmlu": Benchmark(run_lm_eval, "acc"),
    "bbh": Benchmark(run_lm_eval, "exact_match"),
    "alpaca_eval": Benchmark(run_alpaca_eval, "win_rate"),  # % of wins against the reference outputs
    "real_toxicity": Benchmark(run_real_toxicity, "score"),  # mean ToxicityModel logit, positive = non-toxic
    "red_instruct": Benchmark(run_red_instruct, "score"),  # 100 - attack success rate
}


@dataclass
class EvalContext:
    """What benchmarks share within a process: the config, a place for their files, loaded scorers and judges."""

    cfg: Config
    out_dir: Path  # per-item outputs and lm-eval's request cache for THIS model (lm-eval's key ignores the model)
    benchmark: str = ""  # the benchmark being run
    _loaded: dict[str, Any] = field(default_factory=dict)  # shared by copies, so each model loads once

    def scorer(self, cfg: ScorerConfig) -> Scorer:
        return self._once(f"scorer:{cfg.name}", lambda: load_scorer(cfg, self.cfg.paths.cache_dir))

    def harm_judge(self) -> Judge:
        spec = self.cfg.judge.harm
        return self._once("harm", lambda: _pick(HARM_JUDGES, spec.kind, "judge.harm")(spec, self.cfg.paths.cache_dir))

    def pairwise_judge(self) -> Judge:
        spec = self.cfg.judge.pairwise
        return self._once(
            "pairwise", lambda: _pick(PAIRWISE_JUDGES, spec.kind, "judge.pairwise")(spec, self.cfg.paths.cache_dir)
        )

    def _once(self, key: str, load: Callable[[], Any]) -> Any:
        if key not in self._loaded:
            self._loaded[key] = load()
        return self._loaded[key]


def run_benchmarks(model, tokenizer, context: EvalContext, prefix: str, names: list[str] | None = None) -> dict:
    """The configured benchmarks (or `names`) on `model` as it is now: flat metrics, errors, judges and sources."""
    metrics: dict[str, float] = {}
    errors: dict[str, str] = {}
    judges: dict[str, str] = {}
    sources: dict[str, str] = {}
    names = list(context.cfg.eval.benchmarks) if names is None else names
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise ValueError(f"eval.benchmarks: unknown {unknown}; known: {sorted(BENCHMARKS)}")
    for name in names:
        settings = getattr(context.cfg.eval, name)
        start = time.perf_counter()
        try:
            result = BENCHMARKS[name].run(model, tokenizer, settings, replace(context, benchmark=name))
        except Exception as err:  # one benchmark's missing data or judge must not cost the others
            errors[name] = f"{type(err).__name__}: {err}"
            log.warning("%s %s failed: %s", prefix, name, errors[name])
            continue
        metrics.update({f"{prefix}/{name}/{key}": value for key, value in result.metrics.items()})
        metrics[f"{prefix}/{name}/seconds"] = round(time.perf_counter() - start, 2)
        judges[name], sources[name] = result.judge, result.source
        write_items(context.out_dir / f"{name}.jsonl", result.items)
    return {"metrics": metrics, "errors": errors, "judges": judges, "sources": sources}


def benchmark_table(record: dict[str, Any]) -> list[str]:
    """The end-of-run table: each benchmark's headline metric for the base and the trained model."""
    metrics, outcome = record["metrics"], record.get("benchmarks") or {}
    names = record["config"]["eval"]["benchmarks"]
    if not names or not outcome:
        return []
    lines = [f"  {'benchmark':<14}{'metric':<13}{'base':>9}{'trained':>9}{'items':>7}  judged by"]
    for name in names:
        metric = BENCHMARKS[name].headline
        if name in outcome["errors"]:
            lines.append(f"  {name:<14}not run (below)")
            continue
        base, trained = metrics.get(f"baseline/{name}/{metric}"), metrics.get(f"eval/{name}/{metric}")
        base_text, trained_text = (f"{v:>9.3f}" if v is not None else f"{'-':>9}" for v in (base, trained))
        lines.append(f"  {name:<14}{metric:<13}{base_text}{trained_text}"
                     f"{int(metrics.get(f'eval/{name}/items', 0)):>7}  {outcome['judges'].get(name) or ''}")
    lines += [f"  not run: {name}: {' '.join(error.split())}" for name, error in outcome["errors"].items()]
    return lines


def baseline_benchmarks(model, tokenizer, context: EvalContext, resolved: dict[str, Any]) -> dict[str, Any]:
    """The un-adapted base's benchmark results, each computed once per (model, quant, judges, that benchmark's
    settings) and reused by every run that shares them. `model` must already have its adapter disabled.
    A benchmark that failed is not stored, so it is tried again by the next run."""
    folder = Path(context.cfg.paths.cache_dir).expanduser() / "baselines"
    result: dict[str, Any] = {"metrics": {}, "errors": {}, "judges": {}, "sources": {}, "reused": [], "computed": []}
    missing = []
    for name in context.cfg.eval.benchmarks:
        cached = folder / baseline_key(resolved, name) / "baseline.json"
        if cached.is_file():
            _merge(result, json.loads(cached.read_text()))
            result["reused"].append(name)
        else:
            missing.append(name)
    for name in missing:
        entry_dir = folder / baseline_key(resolved, name)
        computed = run_benchmarks(model, tokenizer, replace(context, out_dir=entry_dir), "baseline", [name])
        _merge(result, computed)
        if not computed["errors"]:
            write_json_atomic(entry_dir / "baseline.json", computed)
            result["computed"].append(name)
    return result


def baseline_key(resolved: dict[str, Any], benchmark: str) -> str:
    """What the base's score on one benchmark depends on: its weights (model minus where they are), quantization,
    the judges and that benchmark's settings."""
    model = {k: v for k, v in resolved["model"].items() if k != "path"}
    return digest({"model": model, "quant": resolved["quant"], "judge": resolved["judge"], "benchmark": benchmark,
                   "settings": resolved["eval"][benchmark]})


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for section in ("metrics", "errors", "judges", "sources"):
        into[section].update(part[section])


def _pick(registry: dict[str, Callable], kind: str, key: str) -> Callable:
    if kind not in registry:
        raise ValueError(f"{key}.kind={kind!r} is not a judge of this kind; known: {sorted(registry)}")
    return registry[kind]
