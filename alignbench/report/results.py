"""Records on disk -> one long pandas DataFrame (a row per run and metric), and seed statistics over it.

>>> from alignbench.report import load_runs, aggregate
>>> runs = load_runs(["multirun/report_tiny"])
>>> aggregate(runs[runs.benchmark == "mmlu"], ["model", "method"])   # mean, std, n, 95% CI over seeds
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from alignbench.report.study import ADAPTERS, FAMILIES, TINY_PREFIX
from alignbench.runs.record import Status

RECORD = "record.json"
STAGES = {"eval": "trained", "baseline": "baseline"}  # metric prefix in record.json -> `stage`
RUN_COLUMNS = [
    "run_key",
    "sweep",
    "run_dir",
    "status",
    "error",
    "started_at",
    "finished_at",
    "dataset",
    "preference",
    "mixture_harmless",
    "method",
    "variant",
    "model",
    "paper_model",
    "kind",
    "family",
    "adapter",
    "quant",
    "r",
    "alpha",
    "steps",
    "batch_size",
    "samples",
    "seed",
    "eval_key",
]
COLUMNS = [*RUN_COLUMNS, "stage", "benchmark", "metric", "value"]


class NoRecords(Exception):
    """A path that does not exist or holds no record.json."""


class UnreadableRecord(UserWarning):
    """A record.json that is not valid JSON or not a run record: skipped and counted."""


def find_records(paths: Iterable[str | Path]) -> list[Path]:
    """Every record.json under the given sweep folders, run folders or record files, each once."""
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise NoRecords(f"{path}: no such file or directory")
        hits = [path] if path.is_file() else sorted(path.rglob(RECORD))
        if not hits:
            raise NoRecords(f"{path}: no {RECORD} in it or below it")
        found.update(dict.fromkeys(hit.resolve() for hit in hits))
    return list(found)


def read_record(path: Path) -> dict:
    """One record as plain JSON; raises ValueError naming what is wrong with it."""
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(record, dict) or not {"run_key", "status", "choices"} <= record.keys():
        raise ValueError(f"{path}: not a run record (needs run_key, status and choices)")
    return record


def run_axes(record: dict) -> dict:
    """The run's place in the study: every axis it could differ on, from its choices and resolved config."""
    choices, config = record.get("choices") or {}, record.get("config") or {}
    dataset, method = config.get("dataset") or {}, config.get("method") or {}
    model, adapter = config.get("model") or {}, config.get("adapter") or {}
    name = choices.get("model") or model.get("name")
    paper_model = name.removeprefix(TINY_PREFIX) if name else None
    quant = choices.get("quant") or (config.get("quant") or {}).get("name") or "none"
    method_name = choices.get("method") or method.get("name")
    # A merge (method=merge_*) is the paper's variant merge_<combination> of the methods and preferences of its
    # inputs (Table 3: "sft+dpo", "harmless+helpful"). A mixture is the preference `mixed`.
    variant, preference = "", dataset.get("preference")
    if merge := method.get("merge"):
        inputs = [selector.get("choices") or {} for selector in merge.get("inputs") or []]
        variant = f"merge_{merge.get('combination')}"
        method_name = _joined(c.get("method") for c in inputs) or method_name
        preference = _joined(c.get("dataset.preference") for c in inputs) or preference
    steps, batch = method.get("max_steps"), method.get("batch_size")
    return {
        "run_key": record.get("run_key"),
        "sweep": record.get("sweep"),
        "run_dir": record.get("run_dir"),
        "status": record.get("status"),
        "error": record.get("error"),
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "eval_key": record.get("eval_key"),
        "dataset": choices.get("dataset") or dataset.get("name"),
        "preference": preference,
        "mixture_harmless": dataset.get("mixture_harmless") if preference == "mixed" else None,
        "method": method_name,
        "variant": variant or ("mixture" if preference == "mixed" else ""),
        "model": name,
        "paper_model": paper_model,
        "kind": model.get("kind"),
        "family": FAMILIES.get(paper_model, paper_model),
        "adapter": ADAPTERS.get(quant, "qlora"),
        "quant": quant,
        "r": adapter.get("r"),
        "alpha": adapter.get("alpha"),
        "steps": steps,
        "batch_size": batch,
        "samples": steps * batch * method.get("grad_accum", 1) if steps and batch else None,
        "seed": config.get("seed"),
    }


def _joined(values: Iterable) -> str:
    """sft, dpo -> "sft+dpo"; harmless, helpful -> "harmless+helpful" (the paper's names), in a fixed order."""
    order = ["sft", "dpo", "harmless", "helpful"]
    found = {str(v) for v in values if v}
    return "+".join(sorted(found, key=lambda v: (order.index(v) if v in order else len(order), v)))


def step_metrics(record: dict) -> dict[int, dict[str, float]]:
    """{step: {"eval/...": value}} of the adapters evaluated during training (eval.at_steps: `eval@<step>/...`),
    without the last step, which is the run's own evaluation."""
    found: dict[int, dict[str, float]] = {}
    for key, value in (record.get("metrics") or {}).items():
        head, _, rest = key.partition("/")
        if head.startswith("eval@") and head[5:].isdigit():
            found.setdefault(int(head[5:]), {})[f"eval/{rest}"] = value
    final = ((record.get("config") or {}).get("method") or {}).get("max_steps")
    return {step: metrics for step, metrics in sorted(found.items()) if step != final}


def run_metrics(record: dict) -> list[tuple[str, str, str, float]]:
    """(stage, benchmark, metric, value) of every evaluation metric; a benchmark that could not run is absent."""
    benchmarks = record.get("benchmarks") or {}
    errors = {
        "trained": set(benchmarks.get("errors") or {}),
        "baseline": set((benchmarks.get("baseline") or {}).get("errors") or {}),
    }
    rows = []
    for key, value in (record.get("metrics") or {}).items():
        prefix, _, rest = key.partition("/")
        benchmark, _, metric = rest.partition("/")
        stage = STAGES.get(prefix)
        if stage and metric and benchmark not in errors[stage] and isinstance(value, int | float):
            rows.append((stage, benchmark, metric, float(value)))
    return rows


def records_frame(records: Iterable[dict]) -> pd.DataFrame:
    """Long form: one row per (run, stage, benchmark, metric); a run without metrics keeps one row of NaN."""
    rows = []
    for record in records:
        axes = run_axes(record)
        metrics = run_metrics(record) or [(None, None, None, np.nan)]
        rows += [{**axes, "stage": s, "benchmark": b, "metric": m, "value": v} for s, b, m, v in metrics]
        # An adapter evaluated during training (eval.at_steps) is a point of the data-quantity curve: the same run
        # at fewer steps and samples, after the run's own rows (runs_of keeps a run's first row).
        for step, found in step_metrics(record).items():
            at = {**axes, "steps": step, "samples": step * axes["samples"] // axes["steps"] if axes["steps"] else None}
            trained = run_metrics({**record, "metrics": found})
            rows += [{**at, "stage": s, "benchmark": b, "metric": m, "value": v} for s, b, m, v in trained]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"value": float})


def read_records(paths: Iterable[str | Path], on_unreadable=None) -> tuple[list[dict], list[str]]:
    """The records under `paths` and the files that could not be read (each warned about, naming it)."""
    records, unreadable = [], []
    for path in find_records(paths):
        try:
            records.append(read_record(path))
        except ValueError as err:
            unreadable.append(str(path))
            warnings.warn(str(err), UnreadableRecord, stacklevel=3)
            if on_unreadable:
                on_unreadable(path, str(err))
    return records, unreadable


def load_runs(paths: str | Path | Iterable[str | Path], on_unreadable=None) -> pd.DataFrame:
    """Every run under `paths` (sweep folders, run folders or record files) as a long DataFrame.

    An unreadable record.json is skipped with a warning naming it (and passed to `on_unreadable(path, message)`);
    `frame.attrs["unreadable"]` lists them. A path that does not exist or holds no record raises NoRecords.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    records, unreadable = read_records(paths, on_unreadable)
    frame = records_frame(records)
    frame.attrs["unreadable"] = unreadable
    return frame


def runs_of(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its axes and status, without metrics."""
    return frame.drop_duplicates("run_dir")[RUN_COLUMNS].reset_index(drop=True)


def usual_setting(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs at their method's most common (steps, r, alpha): a table cell never averages different
    training budgets or ranks together (paper_quantity and paper_rank runs have their own figures). A merge trains
    nothing, so its own settings do not count: every merge is kept."""
    runs = runs_of(frame)
    merged = runs["variant"].str.startswith("merge")
    setting = ["method", "steps", "r", "alpha"]
    sizes = runs[~merged].groupby(setting, dropna=False).size().rename("runs").reset_index()
    usual = sizes.sort_values("runs", ascending=False, kind="stable").drop_duplicates("method")
    kept = pd.concat([runs[~merged].merge(usual[setting], on=setting), runs[merged]])[["run_dir", "steps"]]
    # a run's own rows only: its adapters evaluated during training (eval.at_steps) are the quantity curve's points
    return frame.merge(kept, on=["run_dir", "steps"])[frame.columns]


def completed(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of completed runs: the only ones ever averaged."""
    return frame[frame["status"] == Status.completed]


def headline(frame: pd.DataFrame, benchmarks: dict) -> pd.DataFrame:
    """Only the rows of each benchmark's headline metric (e.g. mmlu acc, not mmlu items)."""
    wanted = pd.Series({b: spec.metric for b, spec in benchmarks.items()})
    return frame[frame["benchmark"].map(wanted).eq(frame["metric"])]


def baselines(frame: pd.DataFrame) -> pd.DataFrame:
    """The base's scores, once per evaluation: every run on a base carries the same (cached) baseline, so it is
    one measurement per model, quantization and evaluation config, not one per run."""
    base = completed(frame)[lambda f: f["stage"] == "baseline"]
    return base.drop_duplicates(["model", "quant", "eval_key", "benchmark", "metric"])


def confidence_interval(values: pd.Series, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean over seeds; NaN with fewer than two values."""
    values = values.dropna()
    if len(values) < 2:
        return np.nan, np.nan
    half = stats.t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def aggregate(frame: pd.DataFrame, by: list[str], level: float = 0.95) -> pd.DataFrame:
    """Mean, std, n and a `level` t-interval of `value` over seeds, per `by` + stage/benchmark/metric.

    Only completed runs are averaged; groups are those present (a missing cell is absent, never 0).
    """
    keys = [*by, *[c for c in ("stage", "benchmark", "metric") if c not in by]]
    done = completed(frame).dropna(subset=["value"])
    grouped = done.groupby(keys, dropna=False, sort=True)["value"]
    out = grouped.agg(mean="mean", std="std", n="count")
    ci = grouped.apply(lambda v: confidence_interval(v, level))
    out["ci_low"] = ci.map(lambda pair: pair[0])
    out["ci_high"] = ci.map(lambda pair: pair[1])
    return out.reset_index()
