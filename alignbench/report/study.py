"""The study's vocabulary the report relies on: headline benchmarks, axes and model stand-ins (statuses and
metric names are the records' own: runs.record, runs.metrics)."""

from __future__ import annotations

from typing import NamedTuple

from alignbench.runs.metrics import HEADLINES


class Benchmark(NamedTuple):
    metric: str
    label: str
    unit: str
    digits: int  # shown in tables: fractions to 3 places, percentages to 1


# The five benchmarks of the paper's tables, in its column order; higher is better for all of them.
BENCHMARKS: dict[str, Benchmark] = {
    "mmlu": Benchmark(HEADLINES["mmlu"], "MMLU", "accuracy", 3),
    "bbh": Benchmark(HEADLINES["bbh"], "BBH", "exact match", 3),
    "alpaca_eval": Benchmark(HEADLINES["alpaca_eval"], "AlpacaEval", "win rate, %", 1),
    "real_toxicity": Benchmark(HEADLINES["real_toxicity"], "RealToxicity", "ToxicityModel logit", 3),
    "red_instruct": Benchmark(HEADLINES["red_instruct"], "Red-Instruct", "100 - attack success, %", 1),
}
PREFERENCE_ACCURACY = "pref/accuracy"  # held-out preference pairs: the direct measure of what was aligned

# Every axis a run can differ on; a cell of a table or a pair of a comparison is identical on all the others.
AXES = [
    "dataset",
    "preference",
    "mixture_harmless",
    "method",
    "variant",
    "model",
    "kind",
    "family",
    "adapter",
    "quant",
    "r",
    "alpha",
    "steps",
    "batch_size",
    "seed",
]
# Axes that change together with another one, so a comparison along the first must not pair on them:
# each method brings its own LoRA preset, QLoRA is LoRA plus a quantization, a kind is a different model.
COUPLED = {
    "method": ["r", "alpha"],
    "adapter": ["quant"],
    "kind": ["model"],
    "preference": ["mixture_harmless", "variant"],  # a mixture is its own variant
}

BASE_METHOD = "base"  # method=base (sweep=paper_bases): nothing trained, the run's scores are its base's
PEFT = {"none": "lora", "nf4": "qlora"}  # quant of a plain LoRA run -> the paper's adapter name (Tables 4, 5)
# The pre-trained / instruction-tuned pairs the paper compares (Fig. 5, finding 6), by paper model name.
FAMILIES = {"llama": "llama", "vicuna": "llama", "mistral": "mistral", "mistral_instruct": "mistral"}
SAMPLES_PER_UNIT = 1600  # the paper's data-quantity axis: training samples relative to 1,600 (100 steps x 16)

# Where the runs of each part of the report come from, for a part whose runs are absent.
SWEEPS = {
    "main": "paper",
    "mixture": "paper_mixture",
    "merge": "paper_merge",
    "chain": "paper_chain",
    "quantity": "paper_quantity",
    "rank": "paper_rank",
}
