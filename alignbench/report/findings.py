"""The paper's eight takeaways (P1-P8) as checks on the paper's own evidence, run on our runs and on the published
numbers, with the statistic of report.statistics.

A check compares one metric between two sides of one coordinate (DPO vs SFT, BeaverTails vs HH-RLHF, trained vs
its base, a merge vs its inputs) on runs equal in every other coordinate. Runs equal in everything but the seed
form a *cell*; a cell's effect is the mean of its seed-paired differences, and the verdict comes from a t interval
over cells with Holm's adjustment across every check of the report (report.statistics). A finding's verdict is
its first (primary) check's; the others are shown beside it.

Write a claim of your own study in a few lines and get the same statistics:

>>> from alignbench.report import load_runs
>>> from alignbench.report.findings import Check, Finding, check_findings
>>> mine = Finding("D1", "DoRA beats LoRA on MMLU", "my sweep", "adhoc",
...                (Check("DoRA - LoRA, MMLU", "mmlu/acc", "adapter", "dora", "lora"),))
>>> check_findings(load_runs("multirun/adhoc"), findings=(mine,))   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alignbench.config.benchmarks import PREFERENCE
from alignbench.report.paper import KINDS, paper_results
from alignbench.report.results import COORDINATES, completed, load_runs, own_rows, peft_label
from alignbench.report.statistics import ALPHA, Estimate, decide, estimate, holm, minimum_detectable_effect
from alignbench.report.study import BENCHMARKS, FAMILIES, SWEEPS, family
from alignbench.runs.dirs import RECORD

TEST = (
    "cell = one configuration's seeds; cell effect = mean seed-paired difference; Student-t interval over cell "
    "effects (over the seeds of a single cell); Holm-adjusted p across all checks, alpha 0.05"
)
MMLU, BBH, ALPACA, TOXICITY, RED = (
    f"{b}/{BENCHMARKS[b].metric}" for b in ("mmlu", "bbh", "alpaca_eval", "real_toxicity", "red_instruct")
)
EXPECTS = ("greater", "less", "at_most")
RELATIONS = ("stage", "inputs")  # not coordinates: trained vs its base, a merge vs the mean of its inputs
# Coordinates that change together with the compared one, so a pair never matches on them: each method brings its
# own LoRA preset and settings, a kind is another model, QLoRA is LoRA plus a quantization, a mixture its variant.
COUPLED = {
    "method": ["r", "alpha", "loss", "beta", "sft_loss", "parent", "method_settings", "adapter_settings"],
    "dataset": ["dataset_settings"],
    "preference": ["mixture_harmless", "variant", "dataset_settings"],
    "kind": ["model", "paper_model", "model_settings", "adapter_settings"],
    "model": ["kind", "paper_model", "family", "model_settings", "adapter_settings"],
    "peft": ["adapter", "quant", "adapter_settings", "quant_settings"],
    "adapter": ["peft", "adapter_settings"],
    "quant": ["peft", "quant_settings"],
}
# What a pair must agree on: every coordinate (the seed included: pairs are seed-matched) but the readable labels
# that follow from others (eval_settings from eval_key).
MATCH = [c for c in COORDINATES if c not in ("eval", "eval_settings")] + ["family", "peft", "seed"]
# What a cell is called in "not in: ..." (the readable coordinates that differ between the check's cells).
NAMED = ["dataset", "preference", "method", "model", "peft", "variant", "merge", "eval_settings", "steps", "samples"]
# The sd of one seed-paired difference (a - b of one seed) assumed for a power estimate before any cell has two
# seeds: a documented guess in the metric's unit, about sqrt(2) x the seed-to-seed sd of one configuration.
DEFAULT_DIFF_SD = {
    f"{spec.name}/{spec.metric}": spec.diff_sd
    for spec in (*BENCHMARKS.values(), PREFERENCE)
    if spec.diff_sd is not None
}


class FindingError(ValueError):
    """A finding that names an unknown metric, coordinate or expectation."""


@dataclass(frozen=True)
class Check:
    """effect = metric(axis=a) - metric(axis=b) on runs equal in every other coordinate and matching `where`.

    b may be several values: their mean (a mixture against the mean of its two preferences). axis "stage" compares
    the trained model with its base (a="trained", b="baseline"); axis "inputs" a merge with the mean of the runs it
    was merged from. expect: "greater" (effect > 0), "less" (< 0) or "at_most" (< margin). With `by`, the effect is
    an interaction: effect(by=by_values[0]) - effect(by=by_values[1]), cells matched on the rest.
    """

    label: str
    metric: str  # "<benchmark>/<metric>" as records name it, e.g. "mmlu/acc"
    axis: str
    a: str = ""
    b: str | tuple[str, ...] = ""
    expect: str = "greater"
    where: dict = field(default_factory=dict)  # coordinate -> value or tuple of values
    margin: float = 0.0
    by: str | None = None
    by_values: tuple = ()


@dataclass(frozen=True)
class Finding:
    key: str  # P1 ... P8, or your own
    claim: str
    evidence: str  # where the paper shows it
    sweep: str  # the sweep whose runs it needs
    checks: tuple[Check, ...]  # the first is the primary check: the finding's verdict is its verdict


def _plain(**where) -> dict:
    return {"variant": "", **where}


FINDINGS = (
    Finding(
        "P1",
        "Higher-quality, more informative data (BeaverTails) aligns better with SFT and DPO; the gain is larger "
        "with SFT.",
        "Sec. 4.1, Fig. 1, Table 4: bigger with SFT on MMLU and AlpacaEval, helpful subsets",
        SWEEPS["main"],
        (
            Check("BeaverTails - HH-RLHF, MMLU, helpful", MMLU, "dataset", "beavertails", "hh_rlhf",
                  where=_plain(preference="helpful")),
            Check("BeaverTails - HH-RLHF, AlpacaEval, helpful", ALPACA, "dataset", "beavertails", "hh_rlhf",
                  where=_plain(preference="helpful")),
            Check("gain with SFT - gain with DPO, MMLU, helpful", MMLU, "dataset", "beavertails", "hh_rlhf",
                  where=_plain(preference="helpful"), by="method", by_values=("sft", "dpo")),
            Check("gain with SFT - gain with DPO, AlpacaEval, helpful", ALPACA, "dataset", "beavertails", "hh_rlhf",
                  where=_plain(preference="helpful"), by="method", by_values=("sft", "dpo")),
        ),
    ),
    Finding(
        "P2",
        "SFT on strong instruction-tuned models may not help (saturation) and can degrade them.",
        "Sec. 4.2, Fig. 3, Table 2: Mistral-7B-Instruct SFT MMLU 0.518-0.519 vs base 0.535",
        SWEEPS["main"],
        (
            Check("SFT - base, MMLU, instruct models (no gain beyond 0.005)", MMLU, "stage", "trained", "baseline",
                  "at_most", _plain(kind="instruct", method="sft"), margin=0.005),
            Check("SFT - base, BBH, instruct models (no gain beyond 0.005)", BBH, "stage", "trained", "baseline",
                  "at_most", _plain(kind="instruct", method="sft"), margin=0.005),
        ),
    ),
    Finding(
        "P3",
        "A mixture of diverse preferences causes trade-offs and degradation, worse with DPO.",
        "Sec. 4.3, Table 2 (mixed rows; DPO RealToxicity -9.419 and -0.025)",
        SWEEPS["mixture"],
        (
            Check("mixture - mean(harmless, helpful), RealToxicity", TOXICITY, "preference", "mixed",
                  ("harmless", "helpful"), "less"),
            Check("mixture - mean(harmless, helpful), MMLU", MMLU, "preference", "mixed", ("harmless", "helpful"),
                  "less"),
            Check("mixture - mean(harmless, helpful), BBH", BBH, "preference", "mixed", ("harmless", "helpful"),
                  "less"),
            Check("drop with DPO - drop with SFT, RealToxicity", TOXICITY, "preference", "mixed",
                  ("harmless", "helpful"), "less", by="method", by_values=("dpo", "sft")),
        ),
    ),
    Finding(
        "P4",
        "DPO beats SFT and is more faithful to explicit preferences (harmlessness) than to broad ones "
        "(helpfulness).",
        "Sec. 5, Fig. 4, Table 4 (BeaverTails, all four models; not for pre-trained Mistral-7B). That the gain on "
        "harmlessness exceeds the one on helpfulness is shown side by side, not tested: the metrics' units differ",
        SWEEPS["main"],
        (
            Check("DPO - SFT, RealToxicity, harmless, BeaverTails", TOXICITY, "method", "dpo", "sft",
                  where=_plain(preference="harmless", dataset="beavertails")),
            Check("DPO - SFT, Red-Instruct, harmless, BeaverTails", RED, "method", "dpo", "sft",
                  where=_plain(preference="harmless", dataset="beavertails")),
            Check("DPO - SFT, AlpacaEval, helpful, BeaverTails", ALPACA, "method", "dpo", "sft",
                  where=_plain(preference="helpful", dataset="beavertails")),
            Check("DPO - SFT, MMLU, helpful, BeaverTails", MMLU, "method", "dpo", "sft",
                  where=_plain(preference="helpful", dataset="beavertails")),
        ),
    ),
    Finding(
        "P5",
        "Instruction-tune with SFT first, then apply DPO (the paper's advice; not run in the paper).",
        "Sec. 5.1, Sec. 8: DPO fails or overfits over pre-trained models",
        SWEEPS["chain"],
        (
            Check("SFT->DPO - DPO, RealToxicity, pre-trained bases", TOXICITY, "method", "sft_dpo", "dpo",
                  where=_plain(kind="pretrained")),
            Check("SFT->DPO - DPO, AlpacaEval, pre-trained bases", ALPACA, "method", "sft_dpo", "dpo",
                  where=_plain(kind="pretrained")),
            Check("SFT->DPO - SFT, RealToxicity, pre-trained bases", TOXICITY, "method", "sft_dpo", "sft",
                  where=_plain(kind="pretrained")),
        ),
    ),
    Finding(
        "P6",
        "Pre-trained models align better with SFT, instruction-tuned models with DPO; DPO collapses pre-trained "
        "Mistral-7B on BeaverTails.",
        "Sec. 6.1, Fig. 5, Table 4; Table 2 (Mistral-7B DPO RealToxicity -3.701 / -9.375 vs base 1.255)",
        SWEEPS["main"],
        (
            Check("(DPO - SFT) on instruct - on pre-trained, AlpacaEval", ALPACA, "method", "dpo", "sft",
                  where=_plain(), by="kind", by_values=("instruct", "pretrained")),
            Check("(DPO - SFT) on instruct - on pre-trained, RealToxicity", TOXICITY, "method", "dpo", "sft",
                  where=_plain(), by="kind", by_values=("instruct", "pretrained")),
            Check("collapse: DPO - base, RealToxicity, pre-trained Mistral, BeaverTails", TOXICITY, "stage",
                  "trained", "baseline", "less", _plain(paper_model="mistral", method="dpo", dataset="beavertails")),
        ),
    ),
    Finding(
        "P7",
        "Instruction-tuned models lose performance when the SFT data is unlike the evaluation task.",
        "Sec. 6.1-6.3, Fig. 5, Table 2: Mistral-Instruct MMLU/BBH below base after SFT (that AlpacaEval drops less "
        "is not tested: the paper prints no base AlpacaEval, and drops in two units do not compare)",
        SWEEPS["main"],
        (
            Check("SFT - base, BBH, instruct models", BBH, "stage", "trained", "baseline", "less",
                  _plain(kind="instruct", method="sft")),
            Check("SFT - base, MMLU, instruct models", MMLU, "stage", "trained", "baseline", "less",
                  _plain(kind="instruct", method="sft")),
        ),
    ),
    Finding(
        "P8",
        "Merged models mitigate the trade-offs between diverging preferences (DARE-TIES; DARE of all four best; "
        "SLERP degrades).",
        "Sec. 6.2, Table 3",
        SWEEPS["merge"],
        (
            Check("DARE - mean of its inputs, MMLU", MMLU, "inputs", where={"variant": "merge_dare_ties"}),
            Check("DARE - mean of its inputs, BBH", BBH, "inputs", where={"variant": "merge_dare_ties"}),
            Check("DARE - mean of its inputs, RealToxicity", TOXICITY, "inputs", where={"variant": "merge_dare_ties"}),
            Check("DARE - mean of its inputs, AlpacaEval", ALPACA, "inputs", where={"variant": "merge_dare_ties"}),
            Check("SLERP - mean of its inputs, RealToxicity", TOXICITY, "inputs", where={"variant": "merge_slerp"}),
        ),
    ),
)  # fmt: skip


def validate(findings) -> None:
    """One clear FindingError for a finding that names an unknown metric, coordinate or expectation."""
    keys = [finding.key for finding in findings]
    if len(set(keys)) != len(keys):
        raise FindingError(f"findings share a key: {', '.join(sorted({k for k in keys if keys.count(k) > 1}))}")
    known = set(MATCH) | {"stage"}
    metrics = {f"{b}/{spec.metric}" for b, spec in BENCHMARKS.items()} | {"pref/accuracy"}
    for finding in findings:
        for check in finding.checks:
            where = f"finding {finding.key}, check {check.label!r}"
            if check.metric not in metrics:
                raise FindingError(f"{where}: unknown metric {check.metric!r} (known: {', '.join(sorted(metrics))})")
            for axis in [check.axis, *check.where, *([check.by] if check.by else [])]:
                if axis not in known | set(RELATIONS):
                    raise FindingError(f"{where}: unknown coordinate {axis!r} (known: {', '.join(sorted(known))})")
            if check.expect not in EXPECTS:
                raise FindingError(f"{where}: expect must be one of {', '.join(EXPECTS)}, not {check.expect!r}")
            if check.by and len(check.by_values) != 2:
                raise FindingError(
                    f"{where}: an interaction (by={check.by}) needs two by_values, not {check.by_values}"
                )


def per_run(frame: pd.DataFrame) -> pd.DataFrame:
    """Completed runs as one row per (run, stage), the metrics as columns named benchmark/metric."""
    done = completed(own_rows(frame)).dropna(subset=["value"])
    index = ["run_dir", "run_key", "merge_input_keys", "stage", "cell", *MATCH]
    # A coordinate a run does not have (the mixture share of a single-preference run) must still match in a pair.
    done = done.assign(
        key=done["benchmark"] + "/" + done["metric"],
        **{c: done[c].astype(object).where(done[c].notna(), "") for c in index},
    )
    return done.groupby([*index, "key"])["value"].first().unstack("key").reset_index()


def _selected(rows: pd.DataFrame, where: dict) -> pd.DataFrame:
    for key, value in where.items():
        rows = rows[rows[key].isin(value if isinstance(value, tuple) else (value,))]
    return rows


def _side(rows: pd.DataFrame, key: list[str], metric: str) -> tuple[pd.Series, set]:
    """One value per matching key, and the keys where one side holds several configurations (never averaged)."""
    rows = rows.dropna(subset=[metric])
    configurations = rows.groupby(key)["cell"].nunique()
    mixed = set(configurations[configurations > 1].index)
    values = rows.groupby(key)[metric].first()
    return values[~values.index.isin(mixed)], mixed


def paired(wide: pd.DataFrame, check: Check, where: dict) -> tuple[pd.DataFrame, int]:
    """Seed-matched differences (column `diff`) with the cell key of each, and how many places were left out
    because a side held several configurations."""
    if check.metric not in wide.columns:
        return pd.DataFrame(columns=["diff"]), 0
    if check.axis == "inputs":  # `where` picks the merges; their inputs are found among all runs
        return _merge_inputs(_selected(wide, where), wide, check.metric)
    rows = _selected(wide, where)
    if check.axis == "stage":  # the base is a stage of the same run: pairs are (trained, baseline) of one run
        key = ["run_dir", *MATCH]
        a, mixed_a = _side(rows[rows["stage"] == check.a], key, check.metric)
        b, mixed_b = _side(rows[rows["stage"] == check.b], key, check.metric)
    else:
        rows = rows[rows["stage"] == "trained"]
        free = {check.axis, *COUPLED.get(check.axis, [])}
        key = [c for c in MATCH if c not in free]
        a, mixed_a = _side(rows[rows[check.axis] == check.a], key, check.metric)
        bs = check.b if isinstance(check.b, tuple) else (check.b,)
        sides = [_side(rows[rows[check.axis] == value], key, check.metric) for value in bs]
        mixed_b = set().union(*(m for _, m in sides))
        b = pd.concat([s for s, _ in sides], axis=1, join="inner").mean(axis=1)  # every b value present
    both = pd.concat([a, b], axis=1, keys=["a", "b"], join="inner")
    both["diff"] = both["a"] - both["b"]
    return both.reset_index(), len(mixed_a | mixed_b)


def _merge_inputs(merges: pd.DataFrame, rows: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, int]:
    """Each merge run against the mean of its inputs, and how many merges could not be compared. A merge's record
    names its input runs (study.merge_input_keys): exactly those. Without them (the published numbers, records
    from before study blocks) its inputs are the plain runs of its base, data, adapter, evaluation and seed whose
    method and preference are among the merge's (sft+dpo x harmless+helpful: all four), one configuration each."""
    rows = rows[rows["stage"] == "trained"].dropna(subset=[metric])
    merges = merges[(merges["stage"] == "trained") & merges["variant"].str.startswith("merge")]
    merges = merges.dropna(subset=[metric])
    plain = rows[rows["variant"] == ""]
    same = ["dataset", "model", "peft", "eval_key", "seed"]
    out, skipped = [], 0
    for merge in merges.itertuples():
        if merge.merge_input_keys:
            keys = merge.merge_input_keys.split(",")
            mine = rows[rows["run_key"].isin(keys)]
            complete = mine["run_key"].nunique() == len(set(keys))
        else:
            methods, preferences = merge.method.split("+"), merge.preference.split("+")
            mine = plain[(plain[same] == pd.Series({c: getattr(merge, c) for c in same})).all(axis=1)]
            mine = mine[mine["method"].isin(methods) & mine["preference"].isin(preferences)]
            one_each = not mine.groupby(["method", "preference"])["cell"].nunique().gt(1).any()
            complete = one_each and len(mine.drop_duplicates(["method", "preference"])) == len(methods) * len(
                preferences
            )
        if not complete:  # an input missing from the report, or a place with two configurations: never guessed
            skipped += 1
            continue
        out.append(
            {
                **{c: getattr(merge, c) for c in [*same, "method", "variant", "merge", "merge_input_cells"]},
                "a": merges.loc[merge.Index, metric],
                "b": mine[metric].mean(),
            }
        )
    found = pd.DataFrame(out, columns=[*same, "method", "variant", "merge", "merge_input_cells", "a", "b"])
    return found.assign(diff=found["a"] - found["b"]), skipped


def cells_of(wide: pd.DataFrame, check: Check) -> tuple[list[np.ndarray], list[str], int]:
    """The seed differences of each cell of a check, the cells' names, and the places left out (mixed sides)."""
    if not check.by:
        diffs, mixed = paired(wide, check, check.where)
        return _by_cell(diffs, ["seed", "run_dir", "run_key", "merge_input_keys"]) + (mixed,)
    slices = []
    mixed = 0
    for value in check.by_values:
        diffs, left = paired(wide, check, {**check.where, check.by: value})
        slices.append(diffs)
        mixed += left
    free = {check.by, *COUPLED.get(check.by, []), "a", "b", "diff", "run_dir", "run_key", "merge_input_keys"}
    key = [c for c in slices[0].columns if c not in free and c in slices[1].columns]
    if slices[0].empty or slices[1].empty:
        return [], [], mixed
    x, y = (s.groupby(key)["diff"].mean() for s in slices)
    both = pd.concat([x, y], axis=1, keys=["x", "y"], join="inner")
    both["diff"] = both["x"] - both["y"]
    return _by_cell(both.reset_index(), ["seed", "x", "y"]) + (mixed,)


def _by_cell(diffs: pd.DataFrame, not_cell: list[str]) -> tuple[list[np.ndarray], list[str]]:
    if diffs.empty:
        return [], []
    cell = [c for c in diffs.columns if c not in {*not_cell, "a", "b", "diff"}]
    varying = [c for c in cell if c in NAMED and diffs[c].astype(str).nunique() > 1]
    groups = diffs.groupby(cell, dropna=False)["diff"] if cell else [((), diffs["diff"])]
    arrays, names = [], []
    for values, group in groups:
        values = values if isinstance(values, tuple) else (values,)
        named = dict(zip(cell, values, strict=True))
        names.append("/".join(str(named[c]) for c in varying) or "all")
        arrays.append(group.to_numpy(dtype=float))
    return arrays, names


def published_frame() -> pd.DataFrame:
    """The paper's numbers in per_run's shape: one pseudo-run per published cell (seed 0), its base as stage
    baseline of the same pseudo-run, so every check runs on them unchanged."""
    paper = paper_results()
    trained = paper[paper["stage"] == "trained"].drop_duplicates(
        ["dataset", "model", "preference", "adapter", "method", "variant", "benchmark"]
    )
    key = ["dataset", "model", "preference", "adapter", "method", "variant"]
    wide = trained.pivot_table(index=key, columns="benchmark", values="value").reset_index()
    base = paper[paper["stage"] == "baseline"].pivot_table(
        index=["model", "adapter"], columns="benchmark", values="value"
    )
    rows = []
    for i, cell in enumerate(wide.to_dict("records")):
        coordinates = {c: "" for c in MATCH} | {
            "dataset": cell["dataset"],
            "preference": cell["preference"],
            "method": cell["method"],
            "variant": cell["variant"],
            "model": cell["model"],
            "paper_model": cell["model"],
            "kind": KINDS[cell["model"]],
            "family": FAMILIES[cell["model"]],
            "peft": cell["adapter"],
            "adapter": "lora",
            "quant": "nf4" if cell["adapter"] == "qlora" else "none",
            "seed": 0,
        }
        metrics = {f"{b}/{BENCHMARKS[b].metric}": cell.get(b, np.nan) for b in BENCHMARKS}
        run = {"run_dir": f"paper/{i}", "run_key": f"paper/{i}", "merge_input_keys": "", "cell": f"paper/{i}"}
        run |= coordinates
        rows.append({**run, "stage": "trained", **metrics})
        if (cell["model"], cell["adapter"]) in base.index:
            found = base.loc[(cell["model"], cell["adapter"])]
            rows.append(
                {**run, "stage": "baseline", **{f"{b}/{BENCHMARKS[b].metric}": found.get(b) for b in BENCHMARKS}}
            )
    return pd.DataFrame(rows)


_PUBLISHED: dict[str, dict] = {}  # a check on the published numbers, by repr: they never change within a process


def _on_paper(paper: pd.DataFrame, check: Check) -> dict:
    """The check on the published numbers: descriptive, one value per cell ('holds in k of K cells')."""
    if repr(check) not in _PUBLISHED:
        _PUBLISHED[repr(check)] = _published_check(paper, check)
    return _PUBLISHED[repr(check)]


def _published_check(paper: pd.DataFrame, check: Check) -> dict:
    arrays, names, _ = cells_of(paper, check)
    if not arrays:
        return {"paper_cells": 0, "paper_holds": 0, "paper_effect": np.nan, "paper_text": "no published numbers"}
    effects = np.array([a.mean() for a in arrays])
    good = effects < check.margin if check.expect == "at_most" else np.sign(effects) == _sign(check.expect)
    misses = [n for n, ok in zip(names, good, strict=True) if not ok]
    text = f"holds in {int(good.sum())} of {len(effects)} cells, mean effect {effects.mean():+.3g}"
    text += f" (not in: {', '.join(misses)})" if misses else ""
    return {
        "paper_cells": len(effects),
        "paper_holds": int(good.sum()),
        "paper_effect": float(effects.mean()),
        "paper_text": text,
    }


def _sign(expect: str) -> int:
    return -1 if expect == "less" else 1


def _seed_sd(arrays: list[np.ndarray]) -> float:
    """Pooled within-cell sd of the seed differences; NaN without a cell of two seeds."""
    spread = [(len(a) - 1, a.var(ddof=1)) for a in arrays if len(a) > 1]
    if not spread:
        return np.nan
    dof = sum(d for d, _ in spread)
    return float(np.sqrt(sum(d * v for d, v in spread) / dof))


def power_row(
    check: Check,
    arrays: list[np.ndarray],
    paper: dict,
    seeds: int,
    checks: int,
    cells: int | None = None,
    est: Estimate | None = None,
) -> dict:
    """The minimum detectable effect of a check for `cells` x `seeds` (ours when there are runs, else the paper's
    cell count) at Holm's worst case over `checks` checks (alpha / checks), from our seed spread and between-cell
    spread (else DEFAULT_DIFF_SD and none), and whether the paper's effect is within reach."""
    cells = cells or len(arrays) or paper.get("paper_cells") or 0
    measured = _seed_sd(arrays)
    sd = measured if not np.isnan(measured) else DEFAULT_DIFF_SD.get(check.metric, np.nan)
    between = 0.0
    if est is not None and est.cells >= 2 and not np.isnan(est.sd_cells) and not np.isnan(measured):
        between = float(np.sqrt(max(est.sd_cells**2 - measured**2 / seeds, 0.0)))
    alpha = ALPHA / max(checks, 1)
    mde = minimum_detectable_effect(cells, seeds, sd, between, alpha) if cells else np.nan
    # What the paper found, as a distance from what the check tests against (0, or the margin of an at_most check).
    paper_effect = abs(paper.get("paper_effect", np.nan) - check.margin)
    spread = f", between-cell sd {between:.3g}" if between else ""
    return {
        "mde": mde,
        "mde_basis": (
            f"{cells} cells x {seeds} seed{'s' * (seeds != 1)}, seed-difference sd {sd:.3g} ({_source(measured)})"
            f"{spread}, alpha {alpha:.2g} (Holm, {checks} checks)"
        ),
        "underpowered": bool(not np.isnan(paper_effect) and not np.isnan(mde) and mde > paper_effect),
    }


def _source(measured: float) -> str:
    return "default" if np.isnan(measured) else "measured"


def check_findings(frame: pd.DataFrame, findings=FINDINGS, seeds: int | None = None) -> pd.DataFrame:
    """One row per check: our estimate (cells, mean, IQM, 95% CI, P(improvement), Holm p), its verdict, the same
    check on the published numbers, and the minimum detectable effect; the finding's verdict is its primary's."""
    validate(findings)
    wide, paper = per_run(frame), published_frame()
    planned = seeds or max(int(completed(frame)["seed"].nunique()), 1)
    rows, estimates = [], []
    for finding in findings:
        for number, check in enumerate(finding.checks):
            arrays, _names, mixed = cells_of(wide, check) if check.metric in wide.columns else ([], [], 0)
            est = estimate(arrays, check.expect, check.margin)
            on_paper = _on_paper(paper, check) if check.metric in paper.columns else {"paper_text": "not in the paper"}
            estimates.append(est)
            rows.append(
                {
                    "finding": finding.key,
                    "claim": finding.claim,
                    "evidence": finding.evidence,
                    "sweep": finding.sweep,
                    "role": "primary" if number == 0 else "secondary",
                    "check": check.label,
                    "metric": BENCHMARKS[check.metric.split("/")[0]].label
                    if check.metric.split("/")[0] in BENCHMARKS
                    else check.metric,
                    "expect": check.expect if check.expect != "at_most" else f"< {check.margin:g}",
                    **_estimate_columns(est),
                    "left_out": mixed,
                    **on_paper,
                    "_arrays": arrays,
                }
            )
    adjusted = holm([e.p_value for e in estimates])
    tested = max(int(np.sum(~np.isnan([e.p_value for e in estimates]))), 1)
    for row, est, p, check in zip(rows, estimates, adjusted, [c for f in findings for c in f.checks], strict=True):
        row["p_holm"] = p
        row["verdict"], row["why"] = decide(est, check.expect, p, check.margin, ALPHA)
        on_paper = {k: row.get(k, np.nan) for k in ("paper_effect", "paper_cells")}
        row.update(power_row(check, row.pop("_arrays"), on_paper, planned, tested, est=est))
    table = pd.DataFrame(rows)
    primary = table[table["role"] == "primary"].set_index("finding")["verdict"]
    table.insert(1, "finding_verdict", table["finding"].map(primary))
    return table


def _estimate_columns(est: Estimate) -> dict:
    return {
        "cells": est.cells,
        "seeds": est.seeds,
        "effect": est.mean,
        "iqm": est.iqm,
        "ci_low": est.ci_low,
        "ci_high": est.ci_high,
        "holds": est.holds,
        "p_improvement": est.prob_improvement,
        "p": est.p_value,
        "basis": est.basis,
    }


def planned_power(studies: list[dict], folders=()) -> list[str]:
    """Before a grid is spent (dry_run=true): per takeaway, the cells and seeds its primary check would get from the
    planned runs' study coordinates, and the smallest effect that design detects beside the paper's effect: from the
    seed spread of the records already in `folders` (the sweep's own, its inputs'), else DEFAULT_DIFF_SD."""
    if not studies:
        return []
    existing = [folder for folder in map(Path, folders) if folder.is_dir() and any(folder.rglob(RECORD))]
    done = per_run(load_runs(existing)) if existing else pd.DataFrame()
    measured = {
        finding.key: cells_of(done, finding.checks[0])[0]
        for finding in FINDINGS
        if finding.checks[0].metric in done.columns
    }
    checks = sum(len(finding.checks) for finding in FINDINGS)  # Holm's worst case: every check has data
    metrics = {f"{b}/{spec.metric}": 0.0 for b, spec in BENCHMARKS.items()} | {"pref/accuracy": 0.0}
    rows = []
    for i, study in enumerate(studies):
        run = {c: study.get(c, "") for c in MATCH} | {
            "run_dir": f"planned/{i}",
            "run_key": f"planned/{i}",
            "merge_input_keys": "",  # a merge's inputs are not among the planned runs: matched by coordinates
            "cell": study.get("cell"),
            "peft": peft_label(study.get("adapter") or "lora", study.get("quant") or "none"),
            "family": family(study.get("paper_model")),
            **{f"{k}_settings": v for k, v in (study.get("sections") or {}).items()},
        }
        run = {k: ("" if v is None else v) for k, v in run.items()}
        rows += [{**run, "stage": stage, **metrics} for stage in ("trained", "baseline")]
    wide, paper = pd.DataFrame(rows), published_frame()
    lines = []
    for finding in FINDINGS:
        check = finding.checks[0]
        arrays, _, _ = cells_of(wide, check)
        if not arrays:
            continue
        seeds = int(np.median([len(a) for a in arrays]))
        published = _on_paper(paper, check)
        power = power_row(check, measured.get(finding.key, []), published, seeds, checks, len(arrays))
        effect = published.get("paper_effect", np.nan)
        size = "no published effect" if np.isnan(effect) else f"paper's effect {abs(effect):.3g}"
        warn = "  <- cannot detect the paper's effect: add seeds or cells" if power["underpowered"] else ""
        lines.append(
            f"power {finding.key} ({check.label}): detects >= {power['mde']:.3g} with {power['mde_basis']}; "
            f"{size}{warn}"
        )
    return lines
