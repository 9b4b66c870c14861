"""Each benchmark as data, one `BenchmarkSpec` per name: what runs it and how its numbers are read and shown. The
records, the console, the metrics and the report read it; it imports no torch (the runner is named, not imported)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from alignbench.config.registry import Registry


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str  # in eval.benchmarks, its settings section eval.<name>, its metrics eval/<name>/<metric>
    # "module:function", called as function(model, tokenizer, cfg.eval.<name>, EvalContext) -> BenchmarkResult;
    # imported when the benchmark first runs, so reading a spec never loads torch. "": not run as a benchmark.
    runner: str
    metric: str  # the headline: the metric the paper reports (higher is better for all of them)
    label: str  # its name in tables and figures
    unit: str  # the headline's unit, on figure axes
    digits: int  # places shown in tables: fractions to 3, percentages to 1
    range: tuple[float, float] | None = None  # the headline's possible values: a record outside is not a result
    paper: str | None = None  # its `benchmark` in paper_results.csv; None: the paper publishes no number for it
    # How far a measured base may sit from the paper's Table 2 value before its protocol is suspect, and the
    # protocol settings that move its numbers (with their config keys): what to look at first when it does.
    tolerance: float | None = None
    protocol: str = ""
    diff_sd: float | None = None  # a guessed sd of one seed-paired difference, for power before two seeds exist

    def run(self, *args: Any) -> Any:
        return self.load()(*args)

    def load(self) -> Callable[..., Any]:
        """The runner function (importing its module: torch, lm-eval, ... load here, not with the spec)."""
        module, _, function = self.runner.partition(":")
        return getattr(import_module(module), function)


LM_EVAL = "alignbench.evaluation.benchmarks.lm_eval_tasks:run_lm_eval"
# The five benchmarks of the paper's tables, in its column order. A new one: docs/extending.md "Adding a benchmark".
SPECS: Registry[BenchmarkSpec] = Registry(
    "eval.benchmarks",
    {
        spec.name: spec
        for spec in (
            BenchmarkSpec(
                "mmlu",
                LM_EVAL,
                "acc",
                "MMLU",
                "accuracy",
                3,
                range=(0.0, 1.0),
                paper="mmlu",
                tolerance=0.02,
                protocol="shots (eval.mmlu.num_fewshot: the paper's bases fit lm-eval's 0-shot default)",
                diff_sd=0.01,
            ),
            BenchmarkSpec(
                "bbh",
                LM_EVAL,
                "exact_match",
                "BBH",
                "exact match",
                3,
                range=(0.0, 1.0),
                paper="bbh",
                tolerance=0.02,
                protocol="shots and chain-of-thought (eval.bbh.tasks, eval.bbh.num_fewshot)",
                diff_sd=0.01,
            ),
            BenchmarkSpec(
                "alpaca_eval",
                "alignbench.evaluation.benchmarks.alpaca:run_alpaca_eval",
                "win_rate",  # % of wins against the reference outputs
                "AlpacaEval",
                "win rate, %",
                1,
                range=(0.0, 100.0),
                paper="alpaca_eval",
                tolerance=2.0,
                protocol="judge and max_new_tokens (judge.pairwise, eval.alpaca_eval.max_new_tokens)",
                diff_sd=1.0,
            ),
            BenchmarkSpec(
                "real_toxicity",
                "alignbench.evaluation.benchmarks.toxicity:run_real_toxicity",
                "score",  # mean ToxicityModel logit, positive = non-toxic: unbounded
                "RealToxicity",
                "ToxicityModel logit",
                3,
                paper="real_toxicity",
                tolerance=0.3,
                protocol="scorer input and prompts (eval.real_toxicity.score_with_prompt, num_prompts)",
                diff_sd=0.3,
            ),
            BenchmarkSpec(
                "red_instruct",
                "alignbench.evaluation.benchmarks.red_instruct:run_red_instruct",
                "score",  # 100 - attack success rate
                "Red-Instruct",
                "100 - attack success, %",
                1,
                range=(0.0, 100.0),
                tolerance=5.0,
                protocol="judge and template (judge.harm, eval.red_instruct.template)",
                diff_sd=3.0,
            ),
        )
    },
)
# Held-out preference pairs (scored by the evaluation suite itself, not a benchmark of eval.benchmarks): the direct
# measure of what was aligned, the study tables' first column.
PREFERENCE = BenchmarkSpec(
    "pref", "", "accuracy", "Pref. acc. (held-out)", "fraction", 3, range=(0.0, 1.0), diff_sd=0.03
)
