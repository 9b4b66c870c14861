"""What a sweep costs on the paper's hardware: GPU-minutes per run from the paper's own timings (one A100 40GB,
700 steps): SFT ~15 min on BeaverTails / ~20 min on HH-RLHF, DPO ~60 / ~90 min. Training only; the benchmarks'
evaluation time is not reported there."""

from __future__ import annotations

from typing import Any

PAPER_STEPS = 700
PAPER_MINUTES = {
    ("sft", "beavertails"): 15,
    ("sft", "hh_rlhf"): 20,
    ("dpo", "beavertails"): 60,
    ("dpo", "hh_rlhf"): 90,
}
HARDWARE = "one A100 40GB"


def gpu_minutes(config: dict[str, Any]) -> float | None:
    """A run's training time on the paper's hardware, scaled by its steps; None for tiny CPU stand-ins and for
    trainers or datasets the paper did not time."""
    if config["model"].get("tiny") is not None:
        return None
    minutes = PAPER_MINUTES.get((config["method"]["trainer"], config["dataset"]["name"]))
    return None if minutes is None else minutes * config["method"]["max_steps"] / PAPER_STEPS


def describe_gpu_hours(minutes: list[float | None]) -> str | None:
    """One line for a plan: the GPU-hours of the runs the paper timed, and how many it could not estimate."""
    timed = [m for m in minutes if m is not None]
    if not timed:
        return None
    untimed = len(minutes) - len(timed)
    rest = f" ({untimed} runs not estimated: tiny stand-ins or untimed methods)" if untimed else ""
    return (
        f"estimated training time of the {len(timed)} runs to do: {sum(timed) / 60:.1f} GPU-hours on {HARDWARE} "
        f"(the paper's per-run timings: SFT 15/20 min, DPO 60/90 min per 700 steps on BeaverTails/HH-RLHF){rest}"
    )
