"""The study's tables (main results per adapter, mixture, merging as the paper prints it, each published table beside
ours, the unaligned bases against the paper) from a runs frame.

A table cell is one configuration except the seed (the records' `cell`). Where the runs at one place of a table are
more than one configuration (two eval settings, LoRA and DoRA, two mixture shares), the table is split into one
table per value of the coordinates that tell them apart, each labelled, and the report says so at the top (`splits`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alignbench.config.benchmarks import PREFERENCE as HELD_OUT
from alignbench.config.benchmarks import BenchmarkSpec
from alignbench.report.paper import TABLES, compare, paper_results
from alignbench.report.results import (
    COORDINATES,
    SETTINGS,
    aggregate,
    baselines,
    headline,
    own_rows,
    peft_label,
    runs_of,
)
from alignbench.report.study import BASE_METHOD, BENCHMARKS, SWEEPS
from alignbench.runs.record import Status

MISSING = "—"  # a cell without a completed run: never 0
STAND_IN = "tiny stand-in, no Δ"  # a joined row whose ours is a tiny random-init model in the place of a 7B one
STAND_IN_NOTE = (
    "⚠ Rows marked 'tiny stand-in' are a tiny random-init model of ours in the place of the paper's 7B model: "
    "shown beside the published value, never compared with it (no Δ)."
)
METHOD_ORDER = ["sft", "dpo", "sft+dpo", "sft_dpo"]
PEFT_TABLES = {"qlora": 4, "lora": 5}  # the paper's main table of each of its adapters
# Coordinates a table may split on, in the order a label names them; the digests of settings and the eval key last,
# as they only tell configurations apart when no readable coordinate does.
DIGESTS = ["merge_input_cells", "eval_key", *SETTINGS]
SPLITTABLE = [c for c in COORDINATES if c not in (*DIGESTS, "paper_model", "kind")] + DIGESTS
# Table 3's rows: the four inputs, then the merges (variant, method), as the paper prints them.
MERGE_ROWS = {
    "SFT harmless": ("", "sft", "harmless"),
    "SFT helpful": ("", "sft", "helpful"),
    "DPO harmless": ("", "dpo", "harmless"),
    "DPO helpful": ("", "dpo", "helpful"),
    "SLERP SFT": ("merge_slerp", "sft", "harmless+helpful"),
    "SLERP DPO": ("merge_slerp", "dpo", "harmless+helpful"),
    "DARE SFT": ("merge_dare_ties", "sft", "harmless+helpful"),
    "DARE DPO": ("merge_dare_ties", "dpo", "harmless+helpful"),
    "DARE SFT+DPO": ("merge_dare_ties", "sft+dpo", "harmless+helpful"),
}


@dataclass
class Table:
    """One table in two forms: `display` (mean ± std (n) text, for Markdown/LaTeX/HTML) and `cells` (numbers)."""

    name: str
    title: str
    display: pd.DataFrame
    cells: pd.DataFrame
    counts: dict = field(default_factory=dict)  # expected / completed / failed / missing runs
    note: str = ""
    split: dict = field(default_factory=dict)  # the coordinates this part of a split table holds fixed
    # What the pages show first when not the whole display (the paper's tables: the rows that have runs of ours);
    # the whole table stays in the files and behind a "show all".
    brief: pd.DataFrame | None = None


@dataclass
class Absent:
    """A table whose runs do not exist, and the sweep that produces them."""

    name: str
    title: str
    sweep: str


@dataclass
class Part:
    """Runs whose places in a table each hold one configuration; `split` names what sets them apart from the other
    parts (empty when nothing had to be split)."""

    split: dict
    runs: pd.DataFrame
    left_out: int = 0  # runs that did not complete, of a setting no completed run at their place has


def cell_text(mean: float, std: float, n: int, digits: int, pm: str = "±") -> str:
    """'0.251 ± 0.012 (3)'; one run has no spread; no run is MISSING."""
    if not n or np.isnan(mean):
        return MISSING
    spread = "" if np.isnan(std) else f" {pm} {std:.{digits}f}"
    return f"{mean:.{digits}f}{spread} ({int(n)})"


def split_label(split: dict) -> str:
    return ", ".join(f"{k}={'—' if v is None or v == '' else v}" for k, v in split.items())


def parts(runs: pd.DataFrame, shown: list[str], split: dict | None = None) -> list[Part]:
    """`runs` cut so that each combination of the `shown` coordinates holds one configuration (cell).

    The settings are chosen among completed runs only (split_parts): a failed setting, however many runs it has,
    never cuts the completed runs apart. A run that did not complete then joins each part in which it is a seed of a
    configuration shown there, or stands where no completed run does (so it is counted as failed where it belongs);
    one of another setting than the completed runs at its place is left out of the tables (runs.csv lists it).
    Where nothing completed, the runs are cut as they are, so their counts still show.
    """
    done = runs["status"] == Status.completed
    if not done.any():
        return split_parts(runs, shown, split)
    found = split_parts(runs[done], shown, split)
    rest = runs[~done]
    placed = pd.Series(False, index=rest.index)
    for part in found:
        joins = pd.Series([_joins(part, run, shown) for _, run in rest.iterrows()], index=rest.index, dtype=bool)
        part.runs = pd.concat([part.runs, rest[joins]]) if joins.any() else part.runs
        placed |= joins
    for part in found:
        part.left_out = int((~placed).sum())
    return found


def _joins(part: Part, run: pd.Series, shown: list[str]) -> bool:
    """Whether a run that did not complete belongs to `part`: it has the part's split values (or none there) and,
    at its place, the part shows its configuration or none."""
    for coordinate, label in part.split.items():
        value = "" if pd.isna(run[coordinate]) else str(run[coordinate])
        if value not in ("", str(label)):
            return False
    here = part.runs
    for coordinate in shown:
        here = here[_values(here[coordinate]) == ("" if pd.isna(run[coordinate]) else str(run[coordinate]))]
    return bool(here.empty or (here["cell"] == run["cell"]).all())


def split_parts(runs: pd.DataFrame, shown: list[str], split: dict | None = None) -> list[Part]:
    """`runs` cut so that each combination of the `shown` coordinates holds one configuration (cell).

    At the first place holding several configurations, the first coordinate (readable ones before digests) that
    tells them apart cuts the runs: one part per value. A run that has no value there (a plain run has no mixture
    share) belongs to every part, so the rows a table compares stay together; each part is cut again until no
    place holds two configurations.
    """
    split = split or {}
    conflict = next((g for _, g in runs.groupby(shown, dropna=False) if g["cell"].nunique() > 1), None)
    if conflict is None:
        return [Part(split, runs)]
    differs = (c for c in SPLITTABLE if c not in shown and c not in split and _values(conflict[c]).nunique() > 1)
    coordinate = next(differs, "cell")  # nothing named tells them apart: the configuration itself
    values = _values(runs[coordinate])
    blank = values.isin(BLANK)
    # A blank beside a value at the same place is itself what differs there: then it is a value like the others.
    if _values(conflict[coordinate]).isin(BLANK).any():
        blank = pd.Series(False, index=runs.index)
    found = []
    for value in sorted(values[~blank].unique()):
        label = runs.loc[values == value, coordinate].iloc[0]
        found += split_parts(runs[(values == value) | blank], shown, {**split, coordinate: label})
    return found


BLANK = [""]  # a coordinate a run does not have, as text


def _values(column: pd.Series) -> pd.Series:
    """A coordinate as text, missing values as "" (pandas' astype(str) may keep them as NaN)."""
    return column.map(lambda value: "" if pd.isna(value) else str(value)).astype(object)


def splits_found(tables: list) -> list[str]:
    """One line per coordinate a table had to be split on: 'eval_settings: 2 values (mmlu 0-shot; mmlu 5-shot)'."""
    values: dict[str, set] = {}
    for table in tables:
        for key, value in getattr(table, "split", {}).items():
            values.setdefault(key, set()).add(str(value))
    return [f"{k}: {len(v)} values ({'; '.join(sorted(v))})" for k, v in values.items()]


def study_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, n and CI over seeds of every headline metric, per cell, trained and baseline alike."""
    scores = headline(own_rows(frame), BENCHMARKS)
    trained = aggregate(scores[scores["stage"] == "trained"], ["cell"])
    base = aggregate(baselines(scores), ["cell"])
    return pd.concat([trained, base], ignore_index=True)


def _ordered(values) -> list:
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    return sorted(set(values), key=lambda v: (order.get(v, len(order)), str(v)))


def _counts(runs: pd.DataFrame, expected: int) -> dict:
    done = int((runs["status"] == Status.completed).sum())
    failed = int((runs["status"] == Status.failed).sum())
    return {"expected": expected, "completed": done, "failed": failed, "missing": max(expected - done - failed, 0)}


def columns() -> dict[str, BenchmarkSpec]:
    """The study tables' columns: held-out preference accuracy (the metric that moves on tiny runs: what was aligned,
    measured directly), then the benchmarks (read when a table is built, so a benchmark registered later is one)."""
    return {HELD_OUT.name: HELD_OUT, **BENCHMARKS}


def _base_rows(base: pd.DataFrame, runs: pd.DataFrame, models: list[str], benchmarks: list[str]) -> pd.DataFrame:
    """The unaligned base of each model, as measured with this part's evaluation and quantization."""
    rows, specs = {}, columns()
    for model in models:
        mine = base[
            (base["model"] == model)
            & base["quant"].isin(runs["quant"].unique())
            & base["eval_key"].isin(runs["eval_key"].unique())
        ].drop_duplicates("benchmark")
        found = mine.set_index("benchmark")
        rows[("base", model, "unaligned")] = {
            specs[b].label: cell_text(found.loc[b, "value"], np.nan, 1, specs[b].digits)
            if b in found.index
            else MISSING
            for b in benchmarks
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def grid_table(
    name: str,
    title: str,
    frame: pd.DataFrame,
    part: Part,
    rows: list[str],
    full_factorial: bool,
    with_base: bool,
) -> Table:
    """Rows = `rows` levels, columns = benchmarks, each cell 'SFT / DPO' (the methods present).

    With `full_factorial`, the rows are every combination of the row values seen in the part, so a combination
    without runs shows as missing; otherwise the rows are the combinations that ran.
    """
    runs, specs = part.runs, columns()
    methods = _ordered(runs["method"].dropna())
    benchmarks = [b for b in specs if b in set(headline(frame, specs)["benchmark"])]
    if full_factorial:
        keys = list(itertools.product(*[sorted(runs[k].dropna().unique()) for k in rows]))
    else:
        keys = sorted(set(runs[rows].itertuples(index=False, name=None)))
    seeds = max(runs["seed"].nunique(), 1)
    counts = _counts(runs, len(keys) * len(methods) * seeds)
    scores = headline(own_rows(frame[frame["run_dir"].isin(runs["run_dir"])]), specs)
    cells = aggregate(scores[scores["stage"] == "trained"], [*rows, "method"])
    indexed = cells.set_index([*rows, "method", "benchmark"])[["mean", "std", "n"]]
    if not indexed.index.is_unique:  # parts() guarantees one configuration per place: a bug if not
        raise AssertionError(f"{name}: a place of the table holds more than one configuration")
    failed = runs[runs["status"] == Status.failed].groupby([*rows, "method"]).size()
    tidy, display = [], {}
    for key in keys:
        line = {}
        for b in benchmarks:
            texts = []
            for method in methods:
                found = (*key, method, b) in indexed.index
                mean, std, n = indexed.loc[(*key, method, b)] if found else (np.nan, np.nan, 0)
                tidy.append(
                    {
                        **dict(zip(rows, key, strict=True)),
                        "method": method,
                        "benchmark": b,
                        "mean": mean,
                        "std": std,
                        "n": int(n),
                        "failed": int(failed.get((*key, method), 0)),
                    }
                )
                texts.append(cell_text(mean, std, n, specs[b].digits))
            line[specs[b].label] = " / ".join(texts)
        display[key] = line
    shown = pd.DataFrame.from_dict(display, orient="index", columns=[specs[b].label for b in benchmarks])
    if with_base and "model" in rows and len(rows) == 3:
        models = sorted({key[rows.index("model")] for key in keys})
        base = headline(baselines(frame), specs)
        shown = pd.concat([_base_rows(base, runs, models, benchmarks), shown])
    shown.index = pd.MultiIndex.from_tuples(shown.index, names=rows) if len(shown) else shown.index
    heading = " / ".join(m.upper() for m in methods)
    note = (
        f"cells: {heading} as mean ± std over seeds (n seeds, one configuration each); {MISSING} = no completed run. "
        f"Runs: {counts['expected']} expected ({len(keys)} rows x {len(methods)} methods x {seeds} seeds), "
        f"{counts['completed']} completed, {counts['failed']} failed, {counts['missing']} missing."
    )
    if part.left_out:
        note += (
            f" Left out: {part.left_out} runs that did not complete, of settings no completed run here has "
            "(runs.csv lists them)."
        )
    if part.split:
        note = f"Only runs with {split_label(part.split)}. " + note
    return Table(name, title, shown, pd.DataFrame(tidy), counts, note, part.split)


def _named(name: str, title: str, found: list[Part], i: int) -> tuple[str, str]:
    if len(found) == 1:
        return name, title
    return f"{name}_{i + 1}", f"{title} [{split_label(found[i].split)}]"


def study_tables(frame: pd.DataFrame) -> list[Table | Absent]:
    """The paper's Tables 4/5 (one per adapter present: LoRA, QLoRA, then any other), 2 (mixture) and 3 (merging)."""
    runs = runs_of(own_rows(frame))
    runs = runs[runs["method"] != BASE_METHOD]
    plain = runs[runs["variant"] == ""]
    out: list[Table | Absent] = []
    rows = ["dataset", "model", "preference"]
    for peft in [*PEFT_TABLES, *sorted(set(plain["peft"]) - set(PEFT_TABLES))]:
        label = peft.upper().replace("LORA", "LoRA").replace("DORA", "DoRA")
        paper = f" (paper Table {PEFT_TABLES[peft]})" if peft in PEFT_TABLES else ""
        name, title = f"main_{peft.replace('+', '_')}", f"Main results, {label}{paper}"
        mine = plain[plain["peft"] == peft]
        if mine.empty:
            out.append(Absent(name, title, f"{SWEEPS['main']} (quant={'nf4' if peft == 'qlora' else 'none'})"))
            continue
        found = parts(mine, [*rows, "method"])
        out += [grid_table(*_named(name, title, found, i), frame, p, rows, True, True) for i, p in enumerate(found)]
    mixed = runs[runs["variant"] == "mixture"]
    title = "Preference mixture (paper Table 2)"
    if len(mixed):
        # Table 2: the mixture beside the single-preference runs of the same models, data and adapter.
        near = plain[
            plain["dataset"].isin(mixed["dataset"])
            & plain["model"].isin(mixed["model"])
            & plain["peft"].isin(mixed["peft"])
        ]
        found = parts(pd.concat([mixed, near]), [*rows, "method"])
        out += [
            grid_table(*_named("mixture", title, found, i), frame, p, rows, False, True) for i, p in enumerate(found)
        ]
    else:
        out.append(Absent("mixture", title, SWEEPS["mixture"]))
    out += merge_tables(frame, runs)
    return out


def merge_tables(frame: pd.DataFrame, runs: pd.DataFrame) -> list[Table | Absent]:
    """Table 3 as the paper prints it: per model, the four input rows then SLERP/DARE of SFT and of DPO and DARE of
    all four, each cell (mean ± std (n)) beside the published value and ours - paper. Rows the paper never ran
    (SLERP of all four) are not expected, so never missing."""
    title = "Merging (paper Table 3)"
    merged = runs[runs["variant"].str.startswith("merge")]
    if merged.empty:
        return [Absent("merging", title, SWEEPS["merge"])]
    wanted = {(v, m, p) for v, m, p in MERGE_ROWS.values()}
    places = ["dataset", "model", "peft", "variant", "method", "preference"]
    inputs = runs[
        runs["variant"].eq("")
        & runs[["dataset", "model", "peft"]]
        .apply(tuple, axis=1)
        .isin(set(merged[["dataset", "model", "peft"]].apply(tuple, axis=1)))
        & runs[["variant", "method", "preference"]].apply(tuple, axis=1).isin(wanted)
    ]
    chosen = pd.concat([merged, inputs])
    paper = paper_results()
    paper = paper[paper["table"] == 3]
    tables: list[Table | Absent] = []
    found = parts(chosen, places)
    for i, part in enumerate(found):
        scores = headline(own_rows(frame[frame["run_dir"].isin(part.runs["run_dir"])]), BENCHMARKS)
        cells = aggregate(scores[scores["stage"] == "trained"], places).set_index([*places, "benchmark"])
        benchmarks = [b for b in BENCHMARKS if b in set(scores["benchmark"]) | set(paper["benchmark"])]
        display, tidy = {}, []
        groups = part.runs.drop_duplicates(["dataset", "model", "peft", "paper_model"])
        for model_row in groups.sort_values(["dataset", "model", "peft"]).itertuples():
            stand_in = model_row.model != model_row.paper_model
            for label, (variant, method, preference) in MERGE_ROWS.items():
                line = {"caveat": STAND_IN if stand_in else ""}
                for b in benchmarks:
                    spec = BENCHMARKS[b]
                    key = (model_row.dataset, model_row.model, model_row.peft, variant, method, preference, b)
                    mean, std, n = cells.loc[key, ["mean", "std", "n"]] if key in cells.index else (np.nan, np.nan, 0)
                    published = paper[
                        (paper["dataset"] == model_row.dataset)
                        & (paper["model"] == model_row.paper_model)
                        & (paper["adapter"] == model_row.peft)
                        & (paper["variant"] == variant)
                        & (paper["method"] == method)
                        & (paper["preference"] == preference)
                        & (paper["benchmark"] == b)
                    ]["value"]
                    value = published.iloc[0] if len(published) else np.nan
                    line[f"{spec.label} ours"] = cell_text(mean, std, n, spec.digits)
                    line[f"{spec.label} paper"] = MISSING if np.isnan(value) else f"{value:.{spec.digits}f}"
                    both = n and not np.isnan(value) and not stand_in
                    line[f"{spec.label} Δ"] = f"{mean - value:+.{spec.digits}f}" if both else MISSING
                    tidy.append(
                        {
                            "dataset": model_row.dataset,
                            "model": model_row.model,
                            "peft": model_row.peft,
                            "row": label,
                            "benchmark": b,
                            "mean": mean,
                            "std": std,
                            "n": int(n),
                            "paper": value,
                            "stand_in": stand_in,
                            "diff": np.nan if stand_in else mean - value,
                        }
                    )
                display[(model_row.dataset, model_row.model, model_row.peft, label)] = line
        shown = pd.DataFrame.from_dict(display, orient="index")
        if not shown["caveat"].any():
            shown = shown.drop(columns="caveat")
        shown.index = pd.MultiIndex.from_tuples(shown.index, names=["dataset", "model", "adapter", "row"])
        cells_frame = pd.DataFrame(tidy)
        seeds = max(part.runs["seed"].nunique(), 1)
        counts = _counts(part.runs, len(groups) * len(MERGE_ROWS) * seeds)
        counts["published"] = int(cells_frame["paper"].notna().sum())
        counts["joined"] = int((cells_frame["paper"].notna() & (cells_frame["n"] > 0)).sum())
        note = (
            f"rows: the four inputs, then the merges of the harmless and the helpful adapter (SLERP, DARE-TIES) and "
            f"DARE of all four; ours as mean ± std (n seeds) beside the paper's value and Δ = ours - paper. "
            f"{counts['joined']} of {counts['published']} published values joined (tiny stand-ins join the paper model "
            f"they stand for; the paper's Table 3 is QLoRA, so quant=nf4). Runs: {counts['expected']} expected, "
            f"{counts['completed']} completed, {counts['failed']} failed, {counts['missing']} missing."
        )
        if cells_frame["stand_in"].any():
            note += " " + STAND_IN_NOTE
        if part.split:
            note = f"Only runs with {split_label(part.split)}. " + note
        name, shown_title = _named("merging", title, found, i)
        tables.append(Table(name, shown_title, shown, cells_frame, counts, note, part.split))
    return tables


def paper_tables(frame: pd.DataFrame) -> list[Table]:
    """Each published table (2-5) cell by cell: our mean over seeds, the paper's value, and ours - paper."""
    runs = runs_of(own_rows(frame))
    key = ["dataset", "paper_model", "preference", "peft", "method", "variant"]
    tables = []
    found = parts(runs, key)
    for i, part in enumerate(found):
        mine = frame[frame["run_dir"].isin(part.runs["run_dir"])]
        scores = headline(own_rows(mine), BENCHMARKS)
        scores = scores.assign(stand_in=scores["model"] != scores["paper_model"])  # tiny_llama in llama's place
        trained = aggregate(scores[scores["stage"] == "trained"], [*key, "stand_in"])
        base = baselines(scores)
        base = base.assign(peft=[peft_label("lora", q) for q in base["quant"]])
        joined = compare(trained, aggregate(base, ["paper_model", "peft", "stand_in"]))
        suffix = f" [{split_label(part.split)}]" if part.split else ""
        for number, about in TABLES.items():
            table = _paper_table(joined[joined["table"] == number], number, about)
            table.split = part.split
            if len(found) > 1:
                table.name, table.title = f"{table.name}_{i + 1}", table.title + suffix
            tables.append(table)
    return tables


def _paper_table(part: pd.DataFrame, number: int, about: str) -> Table:
    """The published table beside ours. `brief`: the rows that have runs of ours and the benchmarks they have,
    what the pages show first (the full table stays in the files and behind the pages' "show all")."""
    part = part.sort_values("benchmark", key=lambda b: b.map(list(BENCHMARKS).index), kind="stable")
    rows = ["dataset", "model", "preference", "variant", "method"]
    display, ran = {}, {}
    for key, group in part.groupby(rows, sort=True):
        stand_in = bool(group["stand_in"].any())
        line = {"caveat": STAND_IN if stand_in else ""}
        for row in group.itertuples():
            spec = BENCHMARKS[row.benchmark]
            line[f"{spec.label} ours"] = cell_text(row.ours, row.ours_std, row.ours_n or 0, spec.digits)
            line[f"{spec.label} paper"] = f"{row.paper:.{spec.digits}f}"
            line[f"{spec.label} Δ"] = MISSING if np.isnan(row.diff) else f"{row.diff:+.{spec.digits}f}"
        display[key] = line
        ran[key] = [BENCHMARKS[b].label for b in group.loc[group["ours"].notna(), "benchmark"]]
    shown = pd.DataFrame.from_dict(display, orient="index")
    stand_ins = bool(shown["caveat"].any()) if len(shown) else False
    if len(shown) and not stand_ins:
        shown = shown.drop(columns="caveat")
    shown.index = pd.MultiIndex.from_tuples(shown.index, names=rows) if len(shown) else shown.index
    with_runs = [key for key, labels in ran.items() if labels]
    labels = {label for key in with_runs for label in ran[key]}
    kept = [c for c in shown.columns if c != "caveat" and c.rsplit(" ", 1)[0] in labels]
    brief = shown.loc[with_runs, kept] if with_runs else shown.iloc[:0]
    brief = brief.loc[:, ~brief.eq(MISSING).all()]  # a Δ column of stand-ins only: nothing to read there
    if with_runs and stand_ins and shown.loc[with_runs, "caveat"].any():
        brief.insert(0, "caveat", shown.loc[with_runs, "caveat"])
    matched = int(part["ours"].notna().sum())
    note = (
        f"{len(part)} published values, {matched} with runs of ours (tiny stand-ins join on the paper "
        f"model they stand for); Δ = ours - paper."
    )
    if stand_ins:
        note += " " + STAND_IN_NOTE
    return Table(
        f"paper_table{number}",
        f"Paper Table {number} ({about}) beside ours",
        shown,
        part.reset_index(drop=True),
        {"published": len(part), "matched": matched},
        note,
        brief=brief,
    )


def base_calibration(frame: pd.DataFrame) -> Table | Absent:
    """The unaligned bases against the paper's Table 2 "Original" rows (and every other base measured, without a
    published value): ours, paper, Δ, and the protocol setting to look at where |Δ| exceeds the tolerance."""
    title = "Unaligned bases vs the paper (Table 2 Original rows)"
    base = headline(baselines(frame), BENCHMARKS)
    if base.empty:
        return Absent("bases", title, "paper_bases")
    paper = paper_results()
    paper = paper[paper["stage"] == "baseline"]
    tidy, display = [], {}
    keys = ["model", "model_settings", "quant", "eval_settings"]
    for (model, _, quant, settings), group in base.groupby(keys, dropna=False, sort=True):
        peft = "qlora" if quant == "nf4" else "lora"
        flags, line = [], {}
        for benchmark, measured in group.groupby("benchmark", sort=False):
            spec = BENCHMARKS[benchmark]
            # A tiny stand-in is random-init: beside the paper's base it would only say the two differ.
            published = paper[
                (paper["model"] == model) & (paper["adapter"] == peft) & (paper["benchmark"] == benchmark)
            ]
            value = published["value"].iloc[0] if len(published) else np.nan
            # Every measurement of this base (one per evaluation config): disagreeing ones are all shown.
            ours = sorted(measured["value"].unique())
            diffs = [v - value for v in ours]
            bound = np.nan if spec.tolerance is None else spec.tolerance  # none: never outside (nan compares false)
            off = any(abs(d) > bound for d in diffs if not np.isnan(d))
            line[f"{spec.label} ours"] = " / ".join(f"{v:.{spec.digits}f}" for v in ours)
            line[f"{spec.label} paper"] = MISSING if np.isnan(value) else f"{value:.{spec.digits}f}"
            line[f"{spec.label} Δ"] = (
                MISSING
                if np.isnan(value)
                else " / ".join(f"{d:+.{spec.digits}f}" for d in diffs) + (" ⚠" if off else "")
            )
            flags += [f"{spec.label}: {spec.protocol}"] if off else []
            flags += [f"{spec.label}: {len(ours)} measurements disagree"] if len(ours) > 1 else []
            tidy += [
                {
                    "model": model,
                    "quant": quant,
                    "eval_settings": settings,
                    "benchmark": benchmark,
                    "ours": v,
                    "paper": value,
                    "diff": d,
                    "tolerance": bound,
                    "outside": bool(not np.isnan(d) and abs(d) > bound),
                }
                for v, d in zip(ours, diffs, strict=True)
            ]
        line["look at"] = "; ".join(flags)
        display[(model, quant, settings)] = line
    shown = pd.DataFrame.from_dict(display, orient="index")
    shown.index = pd.MultiIndex.from_tuples(shown.index, names=["model", "quant", "eval settings"])
    cells = pd.DataFrame(tidy)
    published = int(cells["paper"].notna().sum())
    outside = int(cells["outside"].sum())
    bounded = [s for s in BENCHMARKS.values() if s.tolerance is not None]
    # Three-place metrics (fractions, logits) first, then the percentages.
    tolerance = ", ".join(f"{s.label} {s.tolerance:g}" for s in sorted(bounded, key=lambda s: -s.digits))
    note = (
        "Each base (weights and quantization) per evaluation; disagreeing measurements are all shown. "
        f"{published} values have a published counterpart, "
        f"{outside} outside the tolerance ({tolerance}; ⚠). Run this before a grid: "
        f"`python -m alignbench -m sweep=paper_bases` (tiny stand-ins: no published values)."
    )
    return Table("bases", title, shown, cells, {"published": published, "outside": outside}, note)
