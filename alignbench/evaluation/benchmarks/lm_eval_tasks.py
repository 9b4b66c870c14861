"""MMLU and BBH through lm-eval's Python API, on the in-memory model (adapter on or off) and its tokenizer."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from alignbench.config.schema import LmEvalBenchmark
from alignbench.config.sources import package_path
from alignbench.evaluation.benchmarks.common import BenchmarkResult, BenchmarkUnavailable


def run_lm_eval(model, tokenizer, cfg: LmEvalBenchmark, context) -> BenchmarkResult:
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    key = f"eval.{context.benchmark}"
    if cfg.include_path is None and cfg.hub_id:
        _require_hub_dataset(cfg, key)
    cache = context.out_dir / "lm_eval_cache" / context.benchmark  # lm-eval's cache key ignores the model
    cache.parent.mkdir(parents=True, exist_ok=True)
    with _no_git_probe(), _quiet_bars():
        output = simple_evaluate(
            model=HFLM(pretrained=model, tokenizer=tokenizer, batch_size=cfg.batch_size),
            tasks=list(cfg.tasks),
            num_fewshot=cfg.num_fewshot,
            limit=cfg.limit,
            apply_chat_template=cfg.apply_chat_template,
            task_manager=_task_manager(cfg),
            use_cache=str(cache),
            log_samples=True,
            bootstrap_iters=0,  # the stderr bootstrap costs minutes on 14k items and is not reported
        )
    results = output["results"]
    if cfg.result not in results or cfg.metric not in results[cfg.result]:
        found = {task: sorted(k for k in values if "," in k) for task, values in results.items()}
        raise KeyError(f"{key}: lm-eval reported no {cfg.metric!r} for {cfg.result!r}; it reported {found}")
    items = _items(output.get("samples", {}))
    n = sum(output.get("n-samples", {}).get(task, {}).get("effective", 0) for task in output.get("n-samples", {}))
    metrics = {cfg.metric.split(",")[0]: float(results[cfg.result][cfg.metric]), "items": n or len(items)}
    source = str(package_path(cfg.include_path)) if cfg.include_path else cfg.hub_id
    return BenchmarkResult(metrics, items, judge=f"lm-eval {', '.join(cfg.tasks)}", source=source)


_METRICS = ("acc", "acc_norm", "exact_match")


def _items(samples: dict[str, list[dict]]) -> list[dict]:
    """One row per question: lm-eval logs a sample per (question, filter); their answers and scores are merged."""
    rows: dict[tuple[str, int], dict] = {}
    for task, logged in samples.items():
        for sample in logged:
            row = rows.setdefault(
                (task, sample["doc_id"]),
                {"task": task, "doc_id": sample["doc_id"], "doc": sample.get("doc"), "target": sample.get("target")},
            )
            where = sample.get("filter", "none")
            row[f"response,{where}"] = sample.get("filtered_resps")
            row.update({f"{m},{where}": sample[m] for m in _METRICS if m in sample})
    return list(rows.values())


@contextmanager
def _no_git_probe():
    """lm-eval records the git commit of the working directory by running `git describe` with the terminal as its
    stderr: outside a checkout every evaluation prints "fatal: not a git repository". Its results' git_hash is not
    read here (record.json has alignbench's own versions), so the probe is skipped while lm-eval runs."""
    import lm_eval.evaluator

    probe = lm_eval.evaluator.get_git_commit_hash
    lm_eval.evaluator.get_git_commit_hash = lambda: None
    try:
        yield
    finally:
        lm_eval.evaluator.get_git_commit_hash = probe


# lm-eval's modules that draw bars while a task is evaluated (contexts built per subtask, cached requests, tokenizing,
# the requests run), each with `from tqdm import tqdm`, and no switch for them in simple_evaluate.
_BAR_MODULES = ("lm_eval.api.task", "lm_eval.api.model", "lm_eval.models.huggingface")


@contextmanager
def _quiet_bars():
    """lm-eval's bars off while it runs (alignbench's line "evaluate mmlu 1/5" says what runs), unless the user asked
    for library bars (runs.console.VERBOSE)."""
    import importlib
    from functools import partial

    from alignbench.runs.console import library_bars_wanted

    if library_bars_wanted():
        yield
        return
    modules = [importlib.import_module(name) for name in _BAR_MODULES]
    kept = [module.tqdm for module in modules]
    for module, bar in zip(modules, kept, strict=True):
        module.tqdm = partial(_disabled, bar)
    try:
        yield
    finally:
        for module, bar in zip(modules, kept, strict=True):
            module.tqdm = bar


def _disabled(bar, *args, **kwargs):
    return bar(*args, **{**kwargs, "disable": True})


def _task_manager(cfg: LmEvalBenchmark):
    from lm_eval.tasks import TaskManager

    if cfg.include_path is None:
        return TaskManager()  # lm-eval's ~14,700 built-in tasks (10-14 s to index)
    folder = package_path(cfg.include_path)
    if not Path(folder).is_dir():
        raise BenchmarkUnavailable(f"include_path {cfg.include_path} is not a folder of lm-eval task YAMLs")
    return TaskManager(include_path=str(folder), include_defaults=False)  # instant: only the local tasks


def _require_hub_dataset(cfg: LmEvalBenchmark, key: str) -> None:
    from alignbench.config.hub import hub_missing, not_available

    missing = hub_missing(cfg.hub_id, cfg.revision, "dataset")
    if missing:
        instead = f"{key}: lm-eval's {list(cfg.tasks)} read it; choose the bundled miniature with eval=sample"
        raise BenchmarkUnavailable(not_available("dataset", cfg.hub_id, cfg.revision, missing, instead, "dataset"))
