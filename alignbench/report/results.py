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

from alignbench.report.study import BASE_METHOD, PEFT, family
from alignbench.runs.digest import digest_problems, in_range, out_of_range
from alignbench.runs.dirs import RECORD
from alignbench.runs.record import Status
from alignbench.runs.study import SECTIONS, VERSION, study_of

STAGES = {"eval": "trained", "baseline": "baseline"}  # metric prefix in record.json -> `stage`
# The record's own fields, then its study coordinates (runs.study), then the report's names for the paper's
# vocabulary (peft, family) and where a row comes from (derived: an old record; point: an eval.at_steps adapter).
RECORD_COLUMNS = ["run_key", "sweep", "run_dir", "status", "error", "started_at", "finished_at"]
SETTINGS = [f"{section}_settings" for section in SECTIONS]
COORDINATES = [
    "dataset",
    "preference",
    "mixture_harmless",
    "method",
    "variant",
    "loss",
    "beta",
    "sft_loss",
    "parent",
    "merge",
    "merge_inputs",
    "merge_input_cells",
    "model",
    "paper_model",
    "kind",
    "adapter",
    "quant",
    "r",
    "alpha",
    "steps",
    "samples",
    "selection_seed",
    "eval",
    "eval_settings",
    "eval_key",
    *SETTINGS,
]
RUN_COLUMNS = [
    *RECORD_COLUMNS,
    *COORDINATES,
    *["seed", "cell", "merge_input_keys", "peft", "family", "derived", "point", "flags"],
]
FLAGS = "_flags"  # what read_records found wrong with a record's numbers (runs.digest), kept with the record
COLUMNS = [*RUN_COLUMNS, "stage", "benchmark", "metric", "value"]


class NoRecords(Exception):
    """A path that does not exist or holds no record.json."""


class FlaggedRecord(UserWarning):
    """A record whose numbers do not match its digest or lie outside their metric's range: kept, and marked."""


class UnreadableRecord(UserWarning):
    """A record.json that is not valid JSON, not a run record, or from a newer alignbench: skipped and counted."""


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
    if "study" in record and (problem := study_problem(record["study"])):
        raise ValueError(f"{path}: {problem}")
    return record


def study_problem(study) -> str | None:
    """Why a record's study block cannot be read (a hand-edited or newer one), or None."""
    if not isinstance(study, dict):
        return "its study block is not a mapping"
    version = study.get("version")
    if not isinstance(version, int):
        return f"its study block has no integer version (found {version!r})"
    if version > VERSION:
        return f"study block version {version} is newer than this alignbench ({VERSION})"
    missing = [
        k for k in (*[c for c in COORDINATES if c not in SETTINGS], "cell", "seed", "sections") if k not in study
    ]
    if missing:
        return f"its study block lacks {', '.join(missing)} (rebuild it: delete the block to have it derived)"
    if not isinstance(study["sections"], dict) or not isinstance(study["cell"], str):
        return "its study block's sections or cell has the wrong type"
    return None


def run_axes(record: dict) -> dict:
    """The run's place in the study, as its record's `study` block says (runs.study); a record from before runs
    wrote one gets it derived from its config by the same code, and `derived` says so."""
    study, derived = study_of(record)
    settings = study.get("sections") or {}
    paper_model, quant = study.get("paper_model"), study.get("quant") or "none"
    return {
        **{column: record.get(column) for column in RECORD_COLUMNS},
        **{column: study.get(column) for column in COORDINATES if column not in SETTINGS},
        **{f"{section}_settings": settings.get(section) for section in SECTIONS},
        "seed": study.get("seed"),
        "cell": study.get("cell"),
        "merge_input_keys": ",".join(map(str, study.get("merge_input_keys") or [])),
        "peft": peft_label(study.get("adapter") or "lora", quant),
        "family": family(paper_model),
        "derived": derived,
        "point": "",
        "flags": "; ".join(record.get(FLAGS) or []),
    }


def peft_label(adapter: str, quant: str) -> str:
    """The paper's names for its two adapters (LoRA; QLoRA = LoRA on a 4-bit NF4 base); any other adapter or
    quantization keeps its own name (dora, dora+nf4, lora+int8), so it never joins a published cell."""
    if adapter == "lora" and quant in PEFT:
        return PEFT[quant]
    return adapter if quant == "none" else f"{adapter}+{quant}"


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
            if in_range(key, value):  # an impossible value is flagged (read_records), never averaged
                rows.append((stage, benchmark, metric, float(value)))
    return rows


def records_frame(records: Iterable[dict]) -> pd.DataFrame:
    """Long form: one row per (run, stage, benchmark, metric); a run without metrics keeps one row of NaN.

    A run reached twice (a copied sweep folder: same run key, evaluated alike) counts once:
    `frame.attrs["duplicates"]` lists the run keys seen again, `frame.attrs["flagged"]` the runs whose numbers
    read_records flagged (run_dir -> problems). The same training evaluated two ways is two runs.
    A run of method `base` (sweep=paper_bases: nothing trained) measured the unaligned base: stage baseline.
    """
    rows, seen, duplicates, flagged = [], set(), [], {}
    for record in records:
        identity = (record.get("run_key"), record.get("eval_key"))
        if identity in seen:
            duplicates.append(record["run_key"])
            continue
        seen.add(identity)
        axes = run_axes(record)
        if record.get(FLAGS):
            flagged[axes["run_dir"] or axes["run_key"]] = record[FLAGS]
        metrics: list[tuple[str | None, str | None, str | None, float]] = list(run_metrics(record))
        metrics = metrics or [(None, None, None, np.nan)]
        if axes["method"] == BASE_METHOD:
            metrics = [("baseline" if s == "trained" else s, b, m, v) for s, b, m, v in metrics]
        rows += [{**axes, "stage": s, "benchmark": b, "metric": m, "value": v} for s, b, m, v in metrics]
        # An adapter evaluated during training (eval.at_steps) is a point of the data-quantity curve: the same run
        # at fewer steps and samples, marked so that tables (own_rows) never take it for a run of its own.
        for step, found in step_metrics(record).items():
            samples = step * axes["samples"] // axes["steps"] if axes["steps"] else None
            at = {**axes, "steps": step, "samples": samples, "point": "at_step"}
            trained = run_metrics({**record, "metrics": found})
            rows += [{**at, "stage": s, "benchmark": b, "metric": m, "value": v} for s, b, m, v in trained]
    frame = pd.DataFrame(rows, columns=COLUMNS).astype({"value": float})
    frame.attrs["duplicates"] = duplicates
    frame.attrs["flagged"] = flagged
    return frame


def read_records(paths: Iterable[str | Path], on_unreadable=None, strict: bool = False) -> tuple[list[dict], list[str]]:
    """The records under `paths` and the files that could not be read (each warned about, naming it).

    A record whose numbers are not what its run produced (runs.digest: metrics edited, an item file changed, a
    value outside its metric's range) is kept with its problems under FLAGS (shown in the report; an impossible
    value is never averaged), or, with `strict`, skipped like an unreadable one."""
    records, unreadable = [], []
    for path in find_records(paths):
        try:
            record = read_record(path)
            problems = digest_problems(record, path.parent) + out_of_range(record.get("metrics") or {})
            if problems and strict:
                raise ValueError(f"{path}: {'; '.join(problems)} (left out: --strict)")
        except ValueError as err:
            unreadable.append(str(path))
            warnings.warn(str(err), UnreadableRecord, stacklevel=3)
            if on_unreadable:
                on_unreadable(path, str(err))
            continue
        if problems:
            record[FLAGS] = problems
            warnings.warn(f"{path}: {'; '.join(problems)}", FlaggedRecord, stacklevel=3)
        records.append(record)
    return records, unreadable


def load_runs(paths: str | Path | Iterable[str | Path], on_unreadable=None, strict: bool = False) -> pd.DataFrame:
    """Every run under `paths` (sweep folders, run folders or record files) as a long DataFrame.

    An unreadable record.json is skipped with a warning naming it (and passed to `on_unreadable(path, message)`);
    `frame.attrs["unreadable"]` lists them. A path that does not exist or holds no record raises NoRecords.
    A record whose numbers do not match its digest is kept and flagged (`flags` column), or skipped with `strict`.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    records, unreadable = read_records(paths, on_unreadable, strict)
    frame = records_frame(records)
    frame.attrs["unreadable"] = unreadable
    return frame


def runs_of(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its axes and status, without metrics."""
    return frame.drop_duplicates("run_dir")[RUN_COLUMNS].reset_index(drop=True)


def own_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's own adapter, without the adapters it evaluated during training (eval.at_steps): those
    are points of the data-quantity figures, never cells of a table."""
    return frame[frame["point"] == ""]


def completed(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of completed runs: the only ones ever averaged."""
    return frame[frame["status"] == Status.completed]


def headline(frame: pd.DataFrame, benchmarks: dict) -> pd.DataFrame:
    """Only the rows of each benchmark's headline metric (e.g. mmlu acc, not mmlu items)."""
    wanted = pd.Series({b: spec.metric for b, spec in benchmarks.items()})
    return frame[frame["benchmark"].map(wanted).eq(frame["metric"])]


BASE = ["model", "model_settings", "quant", "quant_settings"]  # what a base is: its weights and how they are loaded


def baselines(frame: pd.DataFrame) -> pd.DataFrame:
    """The base's scores, once per evaluation: every run on a base carries the same (cached) baseline, so it is
    one measurement per base (weights and quantization) and evaluation config, not one per run. Two measurements
    that disagree (a changed cache, another library version) both stay, so nothing hides the disagreement."""
    base = completed(frame)[lambda f: f["stage"] == "baseline"]
    base = base.drop_duplicates(BASE + ["eval_key", "benchmark", "metric", "value"])
    # One measurement of a base, whichever run carried it: its cell is the base's, not that run's.
    return base.assign(
        cell="base:" + base["model"].astype(str) + ":" + base["quant"] + ":" + base["eval_key"].astype(str)
    )


def confidence_interval(values: pd.Series, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean over seeds; NaN with fewer than two values."""
    values = values.dropna()
    if len(values) < 2:
        return np.nan, np.nan
    half = stats.t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def aggregate(frame: pd.DataFrame, by: list[str], level: float = 0.95) -> pd.DataFrame:
    """Mean, std, n and a `level` t-interval of `value` over seeds, per `by` + cell + stage/benchmark/metric.

    `cell` is always a key: runs that differ in anything but the seed are never averaged, whatever `by` says (two
    rows with the same `by` values are two configurations; add the coordinate that tells them apart to `by`).

    Only completed runs are averaged; groups are those present (a missing cell is absent, never 0).
    """
    keys = [*by, *[c for c in ("cell", "stage", "benchmark", "metric") if c not in by]]
    done = completed(frame).dropna(subset=["value"])
    grouped = done.groupby(keys, dropna=False, sort=True)["value"]
    out = grouped.agg(mean="mean", std="std", n="count")
    ci = grouped.apply(lambda v: confidence_interval(v, level))
    out["ci_low"] = ci.map(lambda pair: pair[0])
    out["ci_high"] = ci.map(lambda pair: pair[1])
    return out.reset_index()
