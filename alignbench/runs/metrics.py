"""How a record names its numbers: `eval/<benchmark>/<metric>` for the trained model, `baseline/...` for its base
(adapter off), `eval/pref/...` for held-out preference pairs; and the metric the paper reports per benchmark."""

from __future__ import annotations

from typing import Any

# The paper's metric per benchmark (higher is better for all five).
HEADLINES = {
    "mmlu": "acc",
    "bbh": "exact_match",
    "alpaca_eval": "win_rate",  # % of wins against the reference outputs
    "real_toxicity": "score",  # mean ToxicityModel logit, positive = non-toxic
    "red_instruct": "score",  # 100 - attack success rate
}
PREFERENCE = "eval/pref/accuracy"  # held-out pairs where the chosen reply is more likely than the rejected one


def headline(benchmark: str, stage: str = "eval") -> str:
    return f"{stage}/{benchmark}/{HEADLINES[benchmark]}"


def headline_values(metrics: dict[str, Any]) -> dict[str, float]:
    """{column: value} of a record's headline numbers: `pref` and each benchmark that ran."""
    found = {"pref": metrics.get(PREFERENCE)}
    found |= {name: metrics.get(headline(name)) for name in HEADLINES}
    return {k: v for k, v in found.items() if isinstance(v, int | float)}
