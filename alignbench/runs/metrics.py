"""How a record names its numbers: `eval/<benchmark>/<metric>` for the trained model, `baseline/...` for its base
(adapter off), `eval/pref/...` for held-out preference pairs; and a record's headline numbers (config.benchmarks)."""

from __future__ import annotations

from typing import Any

from alignbench.config.benchmarks import PREFERENCE as HELD_OUT
from alignbench.config.benchmarks import SPECS

# held-out pairs where the chosen reply is more likely than the rejected one
PREFERENCE = f"eval/{HELD_OUT.name}/{HELD_OUT.metric}"


def headline(benchmark: str, stage: str = "eval") -> str:
    return f"{stage}/{benchmark}/{SPECS[benchmark].metric}"


def headline_values(metrics: dict[str, Any]) -> dict[str, float]:
    """{column: value} of a record's headline numbers: `pref` and each benchmark that ran."""
    found = {HELD_OUT.name: metrics.get(PREFERENCE)}
    found |= {name: metrics.get(headline(name)) for name in SPECS}
    return {k: v for k, v in found.items() if isinstance(v, int | float)}
