"""AlpacaEval: replies to the 805 instructions, judged pairwise against the reference outputs; win rate in %.

Version 2 (the default) compares against GPT-4 Turbo's outputs, the scale of the paper's "win rate against GPT-4"
(0.25-20%); version 1 against text-davinci-003's. The version picks the hub file, the references and the annotator.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alignbench.config.schema import AlpacaEvalBenchmark
from alignbench.evaluation.benchmarks.common import BenchmarkResult, load_items
from alignbench.evaluation.generation import generate, render


@dataclass(frozen=True)
class AlpacaVersion:
    hub_file: str  # in tatsu-lab/alpaca_eval (a loading-script dataset: its JSON files are read directly)
    references: str  # the generator of the reference outputs
    annotator: str  # the alpaca_eval package's annotator for this version


VERSIONS = {
    1: AlpacaVersion("alpaca_eval.json", "text_davinci_003", "alpaca_eval_gpt4"),
    2: AlpacaVersion("alpaca_eval_gpt4_baseline.json", "gpt4_1106_preview", "weighted_alpaca_eval_gpt4_turbo"),
}


def run_alpaca_eval(model, tokenizer, cfg: AlpacaEvalBenchmark, context) -> BenchmarkResult:
    version = VERSIONS[cfg.version]
    source = replace(cfg, hub_file=cfg.hub_file or version.hub_file)
    rows, where = load_items(source, "eval.alpaca_eval", "alpaca_eval/alpaca_eval_gpt4_baseline.json")
    rows = rows[: cfg.limit] if cfg.limit else rows
    instructions = [row["instruction"] for row in rows]
    references = [row["output"] for row in rows]
    judge = context.pairwise_judge()  # before generating: a judge that cannot run must not cost the generations
    texts = [render(tokenizer, instruction, cfg.apply_chat_template) for instruction in instructions]
    outputs = generate(model, tokenizer, texts, cfg.max_new_tokens, cfg.batch_size)
    wins = judge.judge(instructions, outputs, references)
    items = [
        {"instruction": i, "output": o, "reference": r, "win": w}
        for i, o, r, w in zip(instructions, outputs, references, wins, strict=True)
    ]
    metrics = {"win_rate": 100 * sum(wins) / len(wins), "items": len(items)} | judge.extras
    generator = rows[0].get("generator", version.references) if rows else version.references
    return BenchmarkResult(
        metrics, items, judge=f"{judge.name} vs {generator} (AlpacaEval {cfg.version})", source=where
    )
