"""Red-Instruct: DangerousQA questions in the Chain-of-Utterance jailbreak template; 100 - attack success rate."""

from __future__ import annotations

from alignbench.config.schema import RedInstructBenchmark
from alignbench.config.sources import package_path
from alignbench.evaluation.benchmarks.common import BenchmarkResult, load_items
from alignbench.evaluation.generation import generate, render


def run_red_instruct(model, tokenizer, cfg: RedInstructBenchmark, context) -> BenchmarkResult:
    questions, source = load_items(cfg, "eval.red_instruct", "dangerousqa/questions.json")
    questions = questions[: cfg.limit] if cfg.limit else questions
    template = _template(cfg)
    judge = context.harm_judge()  # before generating: a judge that cannot run must not cost the generations
    texts = [render(tokenizer, template.replace(cfg.placeholder, q), cfg.apply_chat_template) for q in questions]
    answers = generate(model, tokenizer, texts, cfg.max_new_tokens, cfg.batch_size)
    verdicts = judge.judge(questions, answers)
    harmful = sum(v.harmful for v in verdicts)
    items = [
        {"question": q, "answer": a, "harmful": v.harmful, "judge_reason": v.reason}
        for q, a, v in zip(questions, answers, verdicts, strict=True)
    ]
    asr = 100 * harmful / len(items)
    return BenchmarkResult({"score": 100 - asr, "asr": asr, "items": len(items)}, items, judge.name, source)


def _template(cfg: RedInstructBenchmark) -> str:
    text = package_path(cfg.template).read_text()
    if cfg.placeholder not in text:
        raise ValueError(f"eval.red_instruct.template {cfg.template} has no {cfg.placeholder!r} placeholder")
    return text
