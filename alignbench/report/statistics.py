"""The statistic behind a study report's checks: one effect per cell, a t interval over cells, Holm across checks.

A check compares a metric between two sides (DPO vs SFT ...) over *cells*: configurations identical except for
the compared axis (one per model x dataset x preference ...). A cell holds a few seeds; its data are the
seed-paired differences a_seed - b_seed, and its *effect* is their mean. The cell, not the seed, is the unit.

Why a t interval over cells (df = K-1), as in clustered/paired analysis (Miller 2024, "Adding error bars to
evals"): each cell effect varies by seed noise / n_k plus the between-cell spread of true effects (the
random-effects view), so the sample variance of the K cell effects already holds both, and the t interval is exact
under normality whatever the number of seeds. Pooling seeds across cells treats them as independent and ignores
the between-cell spread; a percentile bootstrap over 3-8 units is anti-conservative (over 3 units its 95%
interval is [min, max]: a resample of one value thrice has chance 1/27 > 2.5%). With a single cell, the t runs over
that cell's seed differences (df = n-1) and speaks for that one configuration only; with one value there is no
interval and no p-value.

expect: "greater" / "less" test effect == 0 two-sided, and say which side the mean lies on; "at_most" (the claim:
effect < margin, e.g. "no gain beyond a small margin") tests H0: effect >= margin one-sided.

Also reported, after rliable (Agarwal et al. 2021): the IQM of the cell effects (scipy.stats.trim_mean(x, 0.25)
drops int(K/4) whole cells at each end, so it is the plain mean for K < 4), and the probability of improvement
(POI): per cell, the share of seed pairs with a > b (ties count 1/2), averaged over cells; for "less" it is P(a < b),
so both read "how often one seed pair goes the claimed way" (for at_most it stays P(a > b): how often a gains at
all). Unlike rliable's all-pairs POI it keeps the seed pairing.

Holm's step-down adjustment runs across all checks of a report (the i-th smallest of m p-values is held to
alpha / (m - i + 1)), so the chance that any check without a true effect gets a verdict stays at or below alpha,
whatever the dependence between checks. Verdicts: supported / contradicted need adjusted p < alpha, the side of the
mean deciding which (for at_most, contradicted is simpler and unadjusted: the interval lies above the margin);
else inconclusive; absent without cells. minimum_detectable_effect says what a design could have found (noncentral
t).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

EXPECT = ("greater", "less", "at_most")
ALPHA = 0.05


@dataclass(frozen=True)
class Estimate:
    cells: int  # K: cells with at least one value
    seeds: int  # seed differences over all cells
    mean: float  # mean of the cell effects
    iqm: float  # interquartile mean of the cell effects (the mean for K < 4)
    sd_cells: float  # sd of the cell effects (NaN for K < 2)
    ci_low: float
    ci_high: float  # two-sided `level` interval, unadjusted
    p_value: float
    holds: int  # cells whose effect is on the expected side
    prob_improvement: float
    basis: str  # "t over 6 cells" | "t over 3 seeds of 1 cell" | "no interval (1 value)"


def estimate(cells: Sequence[np.ndarray], expect: str, margin: float = 0.0, level: float = 0.95) -> Estimate:
    """Effect, interval and p-value of one check from its cells' seed-paired differences (NaNs dropped)."""
    _validate(expect, level)
    diffs = [d[~np.isnan(d)] for d in (np.asarray(c, dtype=float).ravel() for c in cells)]
    diffs = [d for d in diffs if d.size]
    if not diffs:
        nan = math.nan
        return Estimate(0, 0, nan, nan, nan, nan, nan, nan, 0, nan, "no interval (no values)")
    effects = np.array([[d.mean() for d in diffs]])
    agree = np.array([[_agree(d, expect) for d in diffs]])
    tested = effects if len(diffs) >= 2 else diffs[0][None]
    return _estimates(effects, agree, tested, sum(d.size for d in diffs), expect, margin, level)[0]


def estimate_many(diffs: np.ndarray, expect: str, margin: float = 0.0, level: float = 0.95) -> list[Estimate]:
    """estimate() of many studies of one balanced design at once, for simulations (calibration, power):
    diffs shaped (studies, cells, seeds), without NaNs."""
    _validate(expect, level)
    diffs = np.asarray(diffs, dtype=float)
    if diffs.ndim != 3 or 0 in diffs.shape[1:]:
        raise ValueError(f"diffs must be shaped (studies, cells >= 1, seeds >= 1), not {diffs.shape}")
    effects = diffs.mean(axis=-1)
    tested = effects if diffs.shape[1] >= 2 else diffs[:, 0]
    return _estimates(effects, _agree(diffs, expect), tested, diffs.shape[1] * diffs.shape[2], expect, margin, level)


def _validate(expect: str, level: float) -> None:
    if expect not in EXPECT:
        raise ValueError(f"expect must be one of {EXPECT}, not {expect!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")


def _agree(diffs: np.ndarray, expect: str) -> np.ndarray:
    """Per cell (last axis): the share of seed pairs on the claimed side, a tie counting 1/2 as in the
    Mann-Whitney U that POI comes from."""
    sign = -1.0 if expect == "less" else 1.0
    return np.mean((sign * diffs > 0) + 0.5 * (diffs == 0), axis=-1)


def _estimates(
    effects: np.ndarray, agree: np.ndarray, tested: np.ndarray, seeds: int, expect: str, margin: float, level: float
) -> list[Estimate]:
    """Estimates of studies stacked on the first axis: cell effects and agreement (studies, K), and the values
    the t runs over (studies, m): the K effects, or the seeds of the single cell."""
    k, m = effects.shape[1], tested.shape[1]
    low, high, p = _t_test(tested, expect, margin, level)
    iqm = stats.trim_mean(effects, 0.25, axis=1)
    sd = effects.std(axis=1, ddof=1) if k >= 2 else np.full(len(effects), math.nan)
    holds = {"greater": effects > 0, "less": effects < 0, "at_most": effects < margin}[expect].sum(axis=1)
    poi = agree.mean(axis=1)  # cells weigh alike, as they do in the test
    if m < 2:
        basis = "no interval (1 value)"
    else:
        basis = f"t over {k} cells" if k >= 2 else f"t over {m} seeds of 1 cell"
    columns = effects.mean(axis=1), iqm, sd, low, high, p, holds, poi
    return [
        Estimate(k, seeds, float(mu), float(q), float(s), float(lo), float(hi), float(pv), int(h), float(pi), basis)
        for mu, q, s, lo, hi, pv, h, pi in zip(*columns, strict=True)
    ]


def _t_test(values: np.ndarray, expect: str, margin: float, level: float) -> tuple[np.ndarray, ...]:
    """(low, high, p) of the one-sample t over the last axis; NaNs for a single value."""
    n = values.shape[-1]
    if n < 2:
        nan = np.full(values.shape[:-1], math.nan)
        return nan, nan, nan
    mean, df = values.mean(axis=-1), n - 1
    se = values.std(axis=-1, ddof=1) / math.sqrt(n)
    half = stats.t.ppf((1 + level) / 2, df) * se
    null = margin if expect == "at_most" else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (mean - null) / se
    # identical values: the limit of the t statistic, not 0/0
    t = np.where(se > 0, t, np.where(mean == null, 0.0, np.copysign(np.inf, mean - null)))
    p = stats.t.cdf(t, df) if expect == "at_most" else 2 * stats.t.sf(np.abs(t), df)
    return mean - half, mean + half, p


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (step-down); NaNs stay NaN and do not count among the m tests."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = order.size
    # the i-th smallest p (from 0) is held to alpha / (m - i); the running max keeps the step-down's order
    scaled = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(scaled, 1.0)
    return out


def decide(est: Estimate, expect: str, adjusted_p: float, margin: float = 0.0, alpha: float = ALPHA) -> tuple[str, str]:
    """(verdict, why) of one check from its estimate and its Holm-adjusted p-value (`why` says "p" where the
    adjustment left it unchanged, e.g. a report of one check)."""
    if est.cells == 0:
        return "absent", "no cells"
    seeds = f"{est.seeds} seed{'s' if est.seeds != 1 else ''}"
    scope = f"1 cell, {seeds}" if est.cells == 1 else f"{est.holds} of {est.cells} cells"
    if math.isnan(adjusted_p):
        return "inconclusive", f"{scope}: no interval"
    name = "p" if adjusted_p == est.p_value else "Holm p"
    test = f"{name}={adjusted_p:.2g} {'<' if adjusted_p < alpha else '>='} {alpha:g}"
    if expect == "at_most":
        test += f" against effect >= {margin:g}"
    why = f"{scope}: {test} (this configuration only)" if est.cells == 1 else f"{test}, {scope}"
    if expect == "at_most":
        if adjusted_p < alpha:
            return "supported", why
        if est.ci_low > margin:
            return "contradicted", f"{why}; interval above {margin:g}"
        return "inconclusive", why
    if adjusted_p >= alpha:
        return "inconclusive", why
    on_side = est.mean > 0 if expect == "greater" else est.mean < 0
    return ("supported" if on_side else "contradicted"), why


def minimum_detectable_effect(
    cells: int, seeds: int, seed_sd: float, between_sd: float = 0.0, alpha: float = ALPHA, power: float = 0.8
) -> float:
    """Smallest true mean effect the two-sided t test of `estimate` finds with `power` at level `alpha`.

    Over `cells` cell effects (each the mean of `seeds` paired differences of sd `seed_sd`, true effects spread by
    `between_sd`), or over the seeds of a single cell (between_sd then plays no part). NaN when df < 1.
    """
    if not alpha < power < 1:
        raise ValueError(f"need alpha < power < 1, got alpha={alpha}, power={power}")
    if cells >= 2 and seeds >= 1:
        n, se = cells, math.sqrt(seed_sd**2 / seeds + between_sd**2) / math.sqrt(cells)
    elif cells == 1 and seeds >= 1:
        n, se = seeds, seed_sd / math.sqrt(seeds)
    else:
        return math.nan
    df = n - 1
    if df < 1:
        return math.nan
    crit = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(nc: float) -> float:
        # both tails; the lower one by symmetry, as nct.cdf(-crit) can return NaN at df=1
        return stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc) - power

    upper = 1.0
    while shortfall(upper) < 0:  # power grows with nc from alpha at 0 towards 1
        upper *= 2
    return float(optimize.brentq(shortfall, 0.0, upper, xtol=1e-10)) * se
