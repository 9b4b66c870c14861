"""The study's tables (main results per adapter, mixture, merging, and each beside the paper) from a runs frame."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alignbench.report.paper import TABLES, compare
from alignbench.report.results import aggregate, baselines, headline, runs_of, usual_setting
from alignbench.report.study import BENCHMARKS, SWEEPS
from alignbench.runs.record import Status

MISSING = "—"  # a cell without a completed run: never 0
CELL = ["dataset", "model", "paper_model", "preference", "adapter", "method", "variant"]
METHOD_ORDER = ["sft", "dpo", "sft+dpo", "sft_dpo"]
ADAPTER_LABELS = {"lora": "LoRA", "qlora": "QLoRA"}


@dataclass
class Table:
    """One table in two forms: `display` (mean ± std (n) text, for Markdown/LaTeX/HTML) and `cells` (numbers)."""

    name: str
    title: str
    display: pd.DataFrame
    cells: pd.DataFrame
    counts: dict = field(default_factory=dict)  # expected / completed / failed / missing runs
    note: str = ""


@dataclass
class Absent:
    """A table whose runs do not exist, and the sweep that produces them."""

    name: str
    title: str
    sweep: str


def cell_text(mean: float, std: float, n: int, digits: int, pm: str = "±") -> str:
    """'0.251 ± 0.012 (3)'; one run has no spread; no run is MISSING."""
    if not n or np.isnan(mean):
        return MISSING
    spread = "" if np.isnan(std) else f" {pm} {std:.{digits}f}"
    return f"{mean:.{digits}f}{spread} ({int(n)})"


def study_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, n and CI over seeds of every headline metric, per study cell, trained and baseline alike."""
    scores = headline(frame, BENCHMARKS)
    trained = aggregate(scores[scores["stage"] == "trained"], CELL)
    base = aggregate(baselines(scores), ["model", "paper_model", "adapter"])
    return pd.concat([trained, base], ignore_index=True)


def _ordered(values) -> list:
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    return sorted(set(values), key=lambda v: (order.get(v, len(order)), str(v)))


def _counts(runs: pd.DataFrame, expected: int) -> dict:
    done = int((runs["status"] == Status.completed).sum())
    failed = int((runs["status"] == Status.failed).sum())
    return {"expected": expected, "completed": done, "failed": failed, "missing": max(expected - done - failed, 0)}


def _base_rows(cells: pd.DataFrame, models: list[str], adapter: str, benchmarks: list[str]) -> pd.DataFrame:
    base = cells[(cells["stage"] == "baseline") & (cells["adapter"] == adapter)].set_index(["model", "benchmark"])
    rows = {}
    for model in models:
        rows[("base", model, "unaligned")] = {
            BENCHMARKS[b].label: cell_text(*base.loc[(model, b), ["mean", "std", "n"]], BENCHMARKS[b].digits)
            if (model, b) in base.index
            else MISSING
            for b in benchmarks
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def grid_table(
    name: str,
    title: str,
    frame: pd.DataFrame,
    cells: pd.DataFrame,
    select: dict,
    rows: list[str],
    universe: pd.DataFrame,
    full_factorial: bool,
    with_base: bool,
) -> Table:
    """Rows = `rows` levels, columns = benchmarks, each cell 'SFT / DPO' (the methods present).

    With `full_factorial`, the rows are every combination of the row values seen in `universe` (the study's
    grid), so a combination without runs shows as missing; otherwise the rows are the combinations that ran.
    """
    runs = runs_of(frame)
    mask = np.logical_and.reduce([runs[k].isin(v) for k, v in select.items()])
    mine = runs[mask]
    methods = _ordered((universe if full_factorial else mine)["method"].dropna())
    benchmarks = [b for b in BENCHMARKS if b in set(frame["benchmark"])]
    if full_factorial:
        levels = [sorted(universe[k].dropna().unique()) for k in rows]
        keys = list(itertools.product(*levels))
    else:
        keys = sorted(set(mine[rows].itertuples(index=False, name=None)))
    seeds = max(universe["seed"].nunique(), 1)
    counts = _counts(mine, len(keys) * len(methods) * seeds)

    chosen = cells[(cells["stage"] == "trained")]
    chosen = chosen[np.logical_and.reduce([chosen[k].isin(v) for k, v in select.items()])]
    indexed = chosen.groupby([*rows, "method", "benchmark"])[["mean", "std", "n"]].first()
    failed = mine[mine["status"] == Status.failed].groupby([*rows, "method"]).size()
    tidy, display = [], {}
    for key in keys:
        line = {}
        for b in benchmarks:
            texts = []
            for method in methods:
                mean, std, n = (
                    indexed.loc[(*key, method, b)] if (*key, method, b) in indexed.index else (np.nan, np.nan, 0)
                )
                tidy.append(
                    {
                        **dict(zip(rows, key, strict=False)),
                        "method": method,
                        "benchmark": b,
                        "mean": mean,
                        "std": std,
                        "n": int(n),
                        "failed": int(failed.get((*key, method), 0)),
                    }
                )
                texts.append(cell_text(mean, std, n, BENCHMARKS[b].digits))
            line[BENCHMARKS[b].label] = " / ".join(texts)
        display[key] = line
    shown = pd.DataFrame.from_dict(display, orient="index", columns=[BENCHMARKS[b].label for b in benchmarks])
    if with_base and "model" in rows and len(rows) == 3:
        models = sorted({key[rows.index("model")] for key in keys})
        adapter = next(iter(select.get("adapter", ["lora"])))
        shown = pd.concat([_base_rows(cells, models, adapter, benchmarks), shown])
    shown.index = pd.MultiIndex.from_tuples(shown.index, names=rows) if len(shown) else shown.index
    heading = " / ".join(m.upper() for m in methods)
    note = (
        f"cells: {heading} as mean ± std over seeds (n completed runs); {MISSING} = no completed run. "
        f"Runs: {counts['expected']} expected ({len(keys)} rows x {len(methods)} methods x {seeds} seeds), "
        f"{counts['completed']} completed, {counts['failed']} failed, {counts['missing']} missing."
    )
    return Table(name, title, shown, pd.DataFrame(tidy), counts, note)


def study_tables(frame: pd.DataFrame) -> list[Table | Absent]:
    """The paper's Tables 4/5 (one per adapter present), 2 (mixture) and 3 (merging) from whatever ran."""
    frame = usual_setting(frame)
    cells = study_cells(frame)
    runs = runs_of(frame)
    plain = runs[runs["variant"] == ""]
    out: list[Table | Absent] = []
    for adapter, paper_table in (("qlora", 4), ("lora", 5)):
        label = ADAPTER_LABELS[adapter]
        name, title = f"main_{adapter}", f"Main results, {label} (paper Table {paper_table})"
        if (plain["adapter"] == adapter).any():
            out.append(
                grid_table(
                    name,
                    title,
                    frame,
                    cells,
                    {"adapter": [adapter], "variant": [""]},
                    ["dataset", "model", "preference"],
                    plain,
                    True,
                    True,
                )
            )
        else:
            out.append(Absent(name, title, f"{SWEEPS['main']} (quant={'nf4' if adapter == 'qlora' else 'none'})"))
    mixed = runs[runs["variant"] == "mixture"]
    if len(mixed):
        # Table 2: the mixture beside the single-preference runs of the same models, data and adapter.
        select = {
            "dataset": mixed["dataset"].unique(),
            "model": mixed["model"].unique(),
            "adapter": mixed["adapter"].unique(),
            "variant": ["", "mixture"],
        }
        out.append(
            grid_table(
                "mixture",
                "Preference mixture (paper Table 2)",
                frame,
                cells,
                select,
                ["dataset", "model", "preference"],
                runs[runs["model"].isin(select["model"])],
                False,
                True,
            )
        )
    else:
        out.append(Absent("mixture", "Preference mixture (paper Table 2)", SWEEPS["mixture"]))
    merged = runs[runs["variant"].str.startswith("merge")]
    if len(merged):
        out.append(
            grid_table(
                "merging",
                "Merging (paper Table 3)",
                frame,
                cells,
                {"variant": merged["variant"].unique(), "model": merged["model"].unique()},
                ["dataset", "model", "variant"],
                merged,
                False,
                False,
            )
        )
    else:
        out.append(Absent("merging", "Merging (paper Table 3)", SWEEPS["merge"]))
    return out


def paper_tables(frame: pd.DataFrame) -> list[Table]:
    """Each published table (2-5) cell by cell: our mean over seeds, the paper's value, and ours - paper."""
    joined = compare(study_cells(usual_setting(frame)))
    tables = []
    for number, about in TABLES.items():
        part = joined[joined["table"] == number]
        part = part.sort_values("benchmark", key=lambda b: b.map(list(BENCHMARKS).index), kind="stable")
        rows = ["dataset", "model", "preference", "variant", "method"]
        display = {}
        for key, group in part.groupby(rows, sort=True):
            line = {}
            for row in group.itertuples():
                spec = BENCHMARKS[row.benchmark]
                line[f"{spec.label} ours"] = cell_text(row.ours, row.ours_std, row.ours_n or 0, spec.digits)
                line[f"{spec.label} paper"] = f"{row.paper:.{spec.digits}f}"
                line[f"{spec.label} Δ"] = MISSING if np.isnan(row.diff) else f"{row.diff:+.{spec.digits}f}"
            display[key] = line
        shown = pd.DataFrame.from_dict(display, orient="index")
        shown.index = pd.MultiIndex.from_tuples(shown.index, names=rows)
        matched = int(part["ours"].notna().sum())
        note = (
            f"{len(part)} published values, {matched} with runs of ours (tiny stand-ins join on the paper "
            f"model they stand for); Δ = ours - paper."
        )
        tables.append(
            Table(
                f"paper_table{number}",
                f"Paper Table {number} ({about}) beside ours",
                shown,
                part.reset_index(drop=True),
                {"published": len(part), "matched": matched},
                note,
            )
        )
    return tables
