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
# SFT then DPO: its DPO stage, plus its SFT stage (method.sft)
TIMED_AS = {"sft_dpo": "dpo", "sft_dpo_continued": "dpo"}


def gpu_minutes(config: dict[str, Any]) -> float | None:
    """A run's training time on the paper's hardware, scaled by its steps; None for tiny CPU stand-ins and for
    trainers or datasets the paper did not time."""
    if config["model"].get("tiny") is not None:
        return None
    method, dataset = config["method"], config["dataset"]["name"]
    minutes = PAPER_MINUTES.get((TIMED_AS.get(method["trainer"], method["trainer"]), dataset))
    if minutes is None:
        return None
    minutes *= method["max_steps"] / PAPER_STEPS
    if stage := method.get("sft"):  # a chain's SFT stage, counted as if trained here (it may be reused instead)
        minutes += PAPER_MINUTES[("sft", dataset)] * stage["max_steps"] / PAPER_STEPS
    return minutes


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
