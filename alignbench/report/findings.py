"""The paper's eight findings as paired comparisons over runs: effect, bootstrap CI over seeds, and a verdict.

A check compares two values of one axis (DPO vs SFT, BeaverTails vs HH-RLHF, trained vs its base ...) on runs
identical in every other axis, seed included, so each pair differs only in what is compared. The mean paired
difference gets a percentile bootstrap 95% CI (scipy.stats.bootstrap, resampling pairs). An interaction check
("more so with SFT") compares the paired differences of two slices, themselves paired on the remaining axes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd
from scipy import stats

from alignbench.report.results import completed
from alignbench.report.study import AXES, COUPLED, SWEEPS

MIN_PAIRS = 3  # fewer seed-matched pairs than this: no interval worth a verdict
RESAMPLES = 9999
TEST = (
    f"paired percentile bootstrap of the mean difference (scipy.stats.bootstrap, {RESAMPLES} resamples, "
    "seed 0) over pairs matched on every other axis and the seed"
)

TOXICITY, MMLU, BBH, PREF = "real_toxicity/score", "mmlu/acc", "bbh/exact_match", "pref/accuracy"
LABELS = {
    TOXICITY: "RealToxicity score",
    MMLU: "MMLU accuracy",
    BBH: "BBH exact match",
    PREF: "held-out preference accuracy",
}


class Verdict(StrEnum):
    supported = "supported"
    contradicted = "contradicted"
    inconclusive = "inconclusive"  # too few pairs, or the interval includes the null
    absent = "absent"  # the runs it needs do not exist: see `sweep`


@dataclass(frozen=True)
class Check:
    """effect = metric(axis=a) - metric(axis=b) on runs matching `where`; `expect` says what the paper claims.

    expect: "greater" (effect > 0), "less" (effect < 0), or "equivalent" (|effect| < margin).
    With `by`, the effect is the interaction: effect(by=by_values[0]) - effect(by=by_values[1]).
    """

    label: str
    metric: str
    axis: str
    a: str
    b: str
    expect: str
    where: dict = field(default_factory=dict)
    margin: float = 0.0
    by: str | None = None
    by_values: tuple = ()


@dataclass(frozen=True)
class Finding:
    number: int
    claim: str
    sweep: str
    checks: tuple[Check, ...]


FINDINGS = (
    Finding(
        1,
        "Higher-quality, more informative data (BeaverTails) aligns better, more so with SFT.",
        "paper",
        (
            Check(
                "BeaverTails - HH-RLHF, harmlessness (harmless runs)",
                TOXICITY,
                "dataset",
                "beavertails",
                "hh_rlhf",
                "greater",
                {"preference": "harmless", "variant": ""},
            ),
            Check(
                "... larger with SFT than with DPO",
                TOXICITY,
                "dataset",
                "beavertails",
                "hh_rlhf",
                "greater",
                {"preference": "harmless", "variant": ""},
                by="method",
                by_values=("sft", "dpo"),
            ),
        ),
    ),
    Finding(
        2,
        "SFT on strong instruction-tuned models saturates or degrades them.",
        "paper",
        (
            Check(
                "SFT on instruct bases: trained - base, MMLU",
                MMLU,
                "stage",
                "trained",
                "baseline",
                "less",
                {"kind": "instruct", "method": "sft", "variant": ""},
            ),
        ),
    ),
    Finding(
        3,
        "Mixing diverse preferences causes trade-offs; worse with DPO.",
        SWEEPS["mixture"],
        (
            Check(
                "mixture - harmless only, harmlessness",
                TOXICITY,
                "preference",
                "mixed",
                "harmless",
                "less",
                {"dataset": "beavertails"},
            ),
            Check(
                "... larger loss with DPO than with SFT",
                TOXICITY,
                "preference",
                "mixed",
                "harmless",
                "less",
                {"dataset": "beavertails"},
                by="method",
                by_values=("dpo", "sft"),
            ),
        ),
    ),
    Finding(
        4,
        "DPO beats SFT and is more faithful to explicit preferences (harmlessness) than to broad ones (helpfulness).",
        "paper",
        (
            Check("DPO - SFT, held-out preference accuracy", PREF, "method", "dpo", "sft", "greater", {"variant": ""}),
            Check(
                "... gain larger on harmless than on helpful pairs",
                PREF,
                "method",
                "dpo",
                "sft",
                "greater",
                {"variant": ""},
                by="preference",
                by_values=("harmless", "helpful"),
            ),
        ),
    ),
    Finding(
        5,
        "SFT first, then DPO (recommended, not run in the paper).",
        SWEEPS["chain"],
        (
            Check(
                "SFT then DPO - DPO alone, held-out preference accuracy",
                PREF,
                "method",
                "sft_dpo",
                "dpo",
                "greater",
                {"variant": ""},
            ),
        ),
    ),
    Finding(
        6,
        "Pre-trained models align better with SFT, instruction-tuned ones with DPO; DPO on pre-trained "
        "Mistral-7B collapses on harmlessness.",
        "paper",
        (
            Check(
                "(DPO - SFT) on instruct - on pre-trained bases, harmlessness",
                TOXICITY,
                "method",
                "dpo",
                "sft",
                "greater",
                {"variant": ""},
                by="kind",
                by_values=("instruct", "pretrained"),
            ),
            Check(
                "DPO on pre-trained Mistral: trained - base, harmlessness",
                TOXICITY,
                "stage",
                "trained",
                "baseline",
                "less",
                {"paper_model": "mistral", "method": "dpo", "preference": "harmless", "variant": ""},
            ),
        ),
    ),
    Finding(
        7,
        "Merging (DARE-TIES) mitigates trade-offs; SLERP degrades; merging all four is best.",
        SWEEPS["merge"],
        (
            Check(
                "DARE-TIES - SLERP merge, harmlessness",
                TOXICITY,
                "variant",
                "merge_dare_ties",
                "merge_slerp",
                "greater",
            ),
            Check(
                "DARE of all four (SFT+DPO) - DARE-TIES of DPO, harmlessness",
                TOXICITY,
                "method",
                "sft+dpo",
                "dpo",
                "greater",
                {"variant": "merge_dare_ties"},
            ),
        ),
    ),
    Finding(
        8,
        "QLoRA and LoRA show similar trends (BBH/MMLU within 0.03).",
        "paper",
        (
            Check(
                "QLoRA - LoRA, MMLU (equivalent within 0.03)",
                MMLU,
                "adapter",
                "qlora",
                "lora",
                "equivalent",
                {"variant": ""},
                margin=0.03,
            ),
            Check(
                "QLoRA - LoRA, BBH (equivalent within 0.03)",
                BBH,
                "adapter",
                "qlora",
                "lora",
                "equivalent",
                {"variant": ""},
                margin=0.03,
            ),
        ),
    ),
)


def per_run(frame: pd.DataFrame) -> pd.DataFrame:
    """Completed runs as one row per (run, stage), the metrics as columns named benchmark/metric."""
    done = completed(frame).dropna(subset=["value"])
    index = ["run_dir", "stage", *AXES, "paper_model"]
    # An axis a run does not have (mixture share of a single-preference run) must still match in a pair.
    done = done.assign(
        key=done["benchmark"] + "/" + done["metric"],
        **{c: done[c].astype(object).where(done[c].notna(), "") for c in index},
    )
    return done.groupby([*index, "key"])["value"].first().unstack("key").reset_index()


def paired(wide: pd.DataFrame, check: Check, where: dict, metric: str) -> pd.DataFrame:
    """effect per pair of rows equal on every axis but `check.axis` (and the axes that move with it)."""
    rows = wide
    for key, value in where.items():
        rows = rows[rows[key] == value]
    if check.axis != "stage":  # the base is a stage of the same run; otherwise compare trained models
        rows = rows[rows["stage"] == "trained"]
    free = {check.axis, *COUPLED.get(check.axis, []), "run_dir", "paper_model"}
    if check.axis == "kind":
        free |= {"model"}
    if check.axis == "stage":
        free.discard("run_dir")  # trained and base rows of one run pair with each other
    key = [c for c in ["run_dir", "stage", *AXES] if c not in free]
    # The same configuration run twice (two sweep folders) counts once, averaged.
    side = [rows[rows[check.axis] == v].groupby(key)[metric].mean().dropna() for v in (check.a, check.b)]
    joined = pd.concat(side, axis=1, keys=["a", "b"], join="inner")
    return joined.assign(effect=joined["a"] - joined["b"]).reset_index()


def effects(wide: pd.DataFrame, check: Check) -> pd.Series:
    """The paired effects of a check on per_run() rows (an interaction: differences of paired effects, paired
    again on the remaining axes)."""
    if check.metric not in wide.columns:
        return pd.Series(dtype=float)
    if not check.by:
        return paired(wide, check, check.where, check.metric)["effect"]
    slices = [paired(wide, check, {**check.where, check.by: v}, check.metric) for v in check.by_values]
    free = {check.by, *COUPLED.get(check.by, []), "a", "b", "effect"}
    if check.by == "kind":
        free |= {"model"}
    key = [c for c in slices[0].columns if c not in free]
    left, right = (s.set_index(key)["effect"] for s in slices)
    both = pd.concat([left, right], axis=1, keys=["x", "y"], join="inner")
    return both["x"] - both["y"]


def verdict(values: pd.Series, check: Check) -> dict:
    """Effect, standardized effect (d_z), bootstrap CI and verdict of one check's paired effects."""
    values = values.dropna().to_numpy(dtype=float)
    out = {
        "check": check.label,
        "metric": LABELS.get(check.metric, check.metric),
        "pairs": len(values),
        "effect": np.nan,
        "d_z": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
    }
    if len(values) == 0:
        return {**out, "verdict": Verdict.absent, "why": "no paired runs"}
    sd = values.std(ddof=1) if len(values) > 1 else np.nan
    out.update(effect=values.mean(), d_z=values.mean() / sd if sd else np.nan)
    if len(values) < MIN_PAIRS:
        return {**out, "verdict": Verdict.inconclusive, "why": f"{len(values)} pairs < {MIN_PAIRS}"}
    if np.ptp(values) == 0:  # every pair the same: the bootstrap distribution is a point
        low = high = values[0]
    else:
        ci = stats.bootstrap(
            (values,),
            np.mean,
            n_resamples=RESAMPLES,
            confidence_level=0.95,
            method="percentile",
            rng=np.random.default_rng(0),
        ).confidence_interval
        low, high = ci.low, ci.high
    out.update(ci_low=low, ci_high=high)
    if check.expect == "equivalent":
        if -check.margin < low and high < check.margin:
            return {**out, "verdict": Verdict.supported, "why": f"CI inside ±{check.margin}"}
        if low > check.margin or high < -check.margin:
            return {**out, "verdict": Verdict.contradicted, "why": f"CI outside ±{check.margin}"}
        return {**out, "verdict": Verdict.inconclusive, "why": f"CI crosses ±{check.margin}"}
    sign = 1 if check.expect == "greater" else -1
    if sign * low > 0 and sign * high > 0:
        return {**out, "verdict": Verdict.supported, "why": f"CI {'above' if sign > 0 else 'below'} 0"}
    if sign * low < 0 and sign * high < 0:
        return {**out, "verdict": Verdict.contradicted, "why": f"CI {'below' if sign > 0 else 'above'} 0"}
    return {**out, "verdict": Verdict.inconclusive, "why": "CI includes 0"}


def overall(verdicts: list[str]) -> Verdict:
    """A finding holds only if all its checks do; any contradicted check contradicts it."""
    if all(v == Verdict.absent for v in verdicts):
        return Verdict.absent
    if Verdict.contradicted in verdicts:
        return Verdict.contradicted
    if all(v == Verdict.supported for v in verdicts):
        return Verdict.supported
    return Verdict.inconclusive


def check_findings(frame: pd.DataFrame, findings=FINDINGS) -> pd.DataFrame:
    """One row per check of every finding: effect, d_z, 95% CI, pairs, verdict, and the finding's verdict."""
    wide = per_run(frame)
    rows = []
    for finding in findings:
        results = [verdict(effects(wide, check), check) for check in finding.checks]
        verdict_all = overall([r["verdict"] for r in results])
        for result in results:
            rows.append(
                {
                    "finding": finding.number,
                    "claim": finding.claim,
                    "finding_verdict": verdict_all,
                    "sweep": finding.sweep,
                    **result,
                }
            )
    return pd.DataFrame(rows)
