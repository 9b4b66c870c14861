"""The study's vocabulary the report relies on: axes and model stand-ins (the benchmarks are config.benchmarks';
statuses and metric names are the records' own: runs.record, runs.metrics)."""

from __future__ import annotations

from alignbench.config.benchmarks import PREFERENCE, SPECS

BENCHMARKS = SPECS  # the report API's name for them (alignbench.report.BENCHMARKS: notebooks, docs/report.md)
PREFERENCE_ACCURACY = f"{PREFERENCE.name}/{PREFERENCE.metric}"  # held-out pairs: what was aligned, measured directly

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


def family(paper_model: str | None) -> str | None:
    """The family a paper model is compared within (vicuna: llama); a model FAMILIES does not know is its own."""
    return None if paper_model is None else FAMILIES.get(paper_model, paper_model)
