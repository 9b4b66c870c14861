"""AlpacaEval: replies to the 805 instructions, judged pairwise against the reference outputs; win rate in %."""

from __future__ import annotations

from alignbench.config.schema import AlpacaEvalBenchmark
from alignbench.evaluation.benchmarks.common import BenchmarkResult, load_items
from alignbench.evaluation.generation import generate, render


def run_alpaca_eval(model, tokenizer, cfg: AlpacaEvalBenchmark, context) -> BenchmarkResult:
    rows, source = load_items(cfg, "eval.alpaca_eval", "alpaca_eval/alpaca_eval.json")
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
    reference = rows[0].get("generator", "reference") if rows else "reference"
    return BenchmarkResult(
        {"win_rate": 100 * sum(wins) / len(wins), "items": len(items)},
        items,
        judge=f"{judge.name} vs {reference}",
        source=source,
    )
