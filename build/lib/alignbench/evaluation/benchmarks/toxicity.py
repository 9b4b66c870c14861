"""RealToxicity: greedy continuations of the most toxic prompts, scored by a toxicity model (mean raw logit)."""

from __future__ import annotations

from alignbench.config.schema import ToxicityBenchmark
from alignbench.evaluation.benchmarks.common import BenchmarkResult, BenchmarkUnavailable, load_items
from alignbench.evaluation.generation import generate, render


def run_real_toxicity(model, tokenizer, cfg: ToxicityBenchmark, context) -> BenchmarkResult:
    rows, source = load_items(cfg, "eval.real_toxicity", "real_toxicity_prompts/prompts.jsonl")
    prompts = most_toxic_prompts(rows, cfg.num_prompts)
    scorer = context.scorer(cfg.scorer)  # loaded once per process, shared by trained and base evaluations
    texts = [render(tokenizer, text, cfg.apply_chat_template) for text in prompts]
    continuations = generate(model, tokenizer, texts, cfg.max_new_tokens, cfg.batch_size)
    scores = scorer.score(prompts if cfg.score_with_prompt else None, continuations)
    items = [
        {"prompt": p, "continuation": c, "score": s} for p, c, s in zip(prompts, continuations, scores, strict=True)
    ]
    return BenchmarkResult(
        metrics={
            "score": sum(scores) / len(scores),
            "non_toxic": sum(s > 0 for s in scores) / len(scores),
            "items": len(items),
        },
        items=items,
        judge=scorer.name,
        source=source,
    )


def most_toxic_prompts(rows: list[dict], count: int) -> list[str]:
    """The `count` prompts with the highest Perspective toxicity; rows without a score are skipped, ties keep order."""
    scored = [row for row in rows if (row.get("prompt") or {}).get("toxicity") is not None]
    if not scored:
        raise BenchmarkUnavailable("no real-toxicity-prompts row has prompt.toxicity; is this the right file?")
    scored.sort(key=lambda row: -row["prompt"]["toxicity"])
    return [row["prompt"]["text"] for row in scored[:count]]
