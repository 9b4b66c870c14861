"""The statistic of a report's checks: hand computations, edge cases, Holm, and calibration by simulation.

The simulations use fixed numpy Generator seeds, so every rate below is a deterministic number; the bounds leave
several binomial standard errors of room around what the t test promises.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from alignbench.report.statistics import (
    Estimate,
    decide,
    estimate,
    estimate_many,
    holm,
    minimum_detectable_effect,
)

STUDIES = 4000  # per scenario: a rate's binomial SE is <= 0.008


def simulate(rng: np.random.Generator, cells: int, seeds: int, effect: float = 0.0, tau: float = 0.0) -> np.ndarray:
    """(STUDIES, cells, seeds) paired differences: cell effects ~ N(effect, tau), seed noise ~ N(0, 1)."""
    true = effect + tau * rng.standard_normal((STUDIES, cells, 1))
    return true + rng.standard_normal((STUDIES, cells, seeds))


def verdict_rates(diffs: np.ndarray, expect: str = "greater", margin: float = 0.0) -> tuple[float, float]:
    """(rate of supported, rate of supported or contradicted), each study one check (adjusted p = p)."""
    verdicts = [decide(e, expect, e.p_value, margin)[0] for e in estimate_many(diffs, expect, margin)]
    supported = np.mean([v == "supported" for v in verdicts])
    return float(supported), float(supported + np.mean([v == "contradicted" for v in verdicts]))


def assert_same(a: Estimate, b: Estimate) -> None:
    assert (a.cells, a.seeds, a.holds, a.basis) == (b.cells, b.seeds, b.holds, b.basis)
    for name in ("mean", "iqm", "sd_cells", "ci_low", "ci_high", "p_value", "prob_improvement"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-12, err_msg=name)


# 1. hand computations --------------------------------------------------------------------------------------------

CELLS = [
    np.array([0.3, 0.1, 0.2]),  # effect 0.2, all three pairs agree
    np.array([0.5, 0.0, 0.4]),  # effect 0.3, one tie
    np.array([-0.1, 0.2]),  # effect 0.05, a missing seed
    np.array([0.6, 0.2, 0.4, np.nan]),  # effect 0.4: NaN is a seed that did not run
    np.array([0.05, -0.05, 0.3]),  # effect 0.1
    np.array([np.nan, np.nan]),  # a cell without values is no cell
]
EFFECTS = np.array([0.2, 0.3, 0.05, 0.4, 0.1])


def test_estimate_matches_hand_computation():
    est = estimate(CELLS, "greater")
    k = len(EFFECTS)
    sd = EFFECTS.std(ddof=1)
    half = stats.t.ppf(0.975, k - 1) * sd / math.sqrt(k)
    assert (est.cells, est.seeds, est.basis) == (5, 14, "t over 5 cells")
    assert est.mean == pytest.approx(EFFECTS.mean())
    assert est.sd_cells == pytest.approx(sd)
    assert (est.ci_low, est.ci_high) == pytest.approx((EFFECTS.mean() - half, EFFECTS.mean() + half))
    assert est.p_value == pytest.approx(stats.ttest_1samp(EFFECTS, 0.0).pvalue)
    assert est.iqm == pytest.approx(np.mean([0.1, 0.2, 0.3]))  # K=5: trim_mean drops one cell at each end
    assert est.holds == 5
    # per cell: 3/3, (2 + 1/2)/3 with the tie, 1/2, 3/3, 2/3
    assert est.prob_improvement == pytest.approx(np.mean([1, 2.5 / 3, 0.5, 1, 2 / 3]))


def test_less_counts_the_other_side_and_a_wider_level_widens():
    est = estimate(CELLS, "less")
    assert est.holds == 0
    assert est.prob_improvement == pytest.approx(np.mean([0, 0.5 / 3, 0.5, 0, 1 / 3]))  # P(a < b), tie 1/2
    assert est.p_value == pytest.approx(estimate(CELLS, "greater").p_value)  # same two-sided test
    wide = estimate(CELLS, "greater", level=0.99)
    assert wide.ci_low < est.ci_low and wide.ci_high > est.ci_high


def test_iqm_of_eight_cells_is_the_mean_of_the_middle_four():
    est = estimate([[x] for x in [5, -3, 1, 2, 3, 4, 100, 0]], "greater")
    assert est.iqm == pytest.approx(np.mean([1, 2, 3, 4]))
    assert est.mean == pytest.approx(112 / 8)
    assert estimate([[1.0], [2.0], [9.0]], "greater").iqm == pytest.approx(4.0)  # K < 4: nothing trimmed


def test_at_most_is_a_one_sided_test_against_the_margin():
    effects = np.array([0.01, -0.02, 0.03, 0.0, 0.02, -0.01])
    est = estimate([[e] for e in effects], "at_most", margin=0.05)
    assert est.p_value == pytest.approx(stats.ttest_1samp(effects, 0.05, alternative="less").pvalue)
    assert est.holds == 6
    assert decide(est, "at_most", est.p_value, margin=0.05)[0] == "supported"
    at_zero = estimate([[e] for e in effects], "at_most", margin=0.0)  # mean 0.005: not shown below 0
    assert decide(at_zero, "at_most", at_zero.p_value, margin=0.0)[0] == "inconclusive"
    above = estimate([[e + 0.5] for e in effects], "at_most", margin=0.05)
    assert above.ci_low > 0.05
    assert decide(above, "at_most", above.p_value, margin=0.05)[0] == "contradicted"


def test_estimate_many_is_estimate_of_each_study():
    rng = np.random.default_rng(11)
    for cells, seeds in [(6, 3), (1, 4), (1, 1), (3, 1)]:
        diffs = rng.normal(0.3, 1.0, size=(20, cells, seeds))
        for expect in ("greater", "less", "at_most"):
            for many, study in zip(estimate_many(diffs, expect, margin=0.1), diffs, strict=True):
                assert_same(many, estimate(list(study), expect, margin=0.1))


def test_unknown_expect_and_bad_level_are_refused():
    with pytest.raises(ValueError, match="expect"):
        estimate(CELLS, "equivalent")
    with pytest.raises(ValueError, match="level"):
        estimate(CELLS, "greater", level=95)


# 2. one cell, one value, no cells --------------------------------------------------------------------------------


def test_one_cell_falls_back_to_its_seeds():
    seeds = np.array([0.1, 0.2, 0.15])
    est = estimate([seeds], "greater")
    ci = stats.ttest_1samp(seeds, 0.0).confidence_interval(0.95)
    assert (est.cells, est.seeds, est.basis) == (1, 3, "t over 3 seeds of 1 cell")
    assert (est.ci_low, est.ci_high) == pytest.approx((ci.low, ci.high))
    assert math.isnan(est.sd_cells)
    verdict, why = decide(est, "greater", est.p_value)
    assert verdict == "supported"
    assert why.startswith("1 cell, 3 seeds: p=0.035 < 0.05") and "this configuration only" in why


def test_one_value_gives_no_interval_and_no_verdict():
    est = estimate([np.array([0.4])], "greater")
    assert est.basis == "no interval (1 value)"
    assert all(math.isnan(x) for x in (est.ci_low, est.ci_high, est.p_value))
    assert est.mean == 0.4 and est.holds == 1
    assert decide(est, "greater", est.p_value)[0] == "inconclusive"


@pytest.mark.parametrize("cells", [[], [np.array([np.nan, np.nan])], [np.array([])]])
def test_no_values_are_absent(cells):
    est = estimate(cells, "greater")
    assert (est.cells, est.seeds) == (0, 0)
    assert math.isnan(est.p_value) and math.isnan(est.mean)
    assert decide(est, "greater", est.p_value) == ("absent", "no cells")


def test_identical_values_take_the_limit_of_the_t_statistic():
    est = estimate([[0.0, 0.0, 0.0], [0.0, 0.0]], "greater")
    assert est.p_value == 1.0 and est.ci_low == est.ci_high == 0.0
    assert decide(est, "greater", est.p_value)[0] == "inconclusive"


def test_why_names_the_adjusted_p_and_the_cells():
    est = estimate([[0.5, 0.6]] * 6, "greater")
    assert decide(est, "greater", 0.003) == ("supported", "Holm p=0.003 < 0.05, 6 of 6 cells")
    assert decide(est, "less", 0.003)[0] == "contradicted"
    assert decide(est, "greater", 0.2) == ("inconclusive", "Holm p=0.2 >= 0.05, 6 of 6 cells")


# 3. Holm ---------------------------------------------------------------------------------------------------------


def test_holm_hand_example():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])
    np.testing.assert_allclose(holm([0.5, 0.2]), [0.5, 0.4])
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(holm([0.02]), [0.02])  # one test: nothing to adjust
    assert holm([]).shape == (0,)
    assert np.isnan(holm([np.nan, np.nan])).all()


def test_holm_keeps_order_and_only_raises():
    p = np.random.default_rng(3).uniform(0, 0.2, size=25)
    adjusted = holm(p)
    assert (adjusted >= p).all() and (adjusted <= 1).all()
    order = np.argsort(p)
    assert (np.diff(adjusted[order]) >= 0).all()
    assert adjusted[order[0]] == pytest.approx(25 * p.min())


# 4. agreeing signs are not evidence by themselves ----------------------------------------------------------------


def test_three_agreeing_pairs_are_not_enough_by_themselves():
    tight = estimate([np.array([0.1, 0.2, 0.15])], "greater")
    spread = estimate([np.array([0.01, 0.5, 0.02])], "greater")
    assert tight.holds == spread.holds == 1 and tight.prob_improvement == spread.prob_improvement == 1.0
    assert decide(tight, "greater", tight.p_value)[0] == "supported"
    assert spread.p_value > 0.3
    assert decide(spread, "greater", spread.p_value)[0] == "inconclusive"
    # the old rule, a percentile bootstrap over the pairs, lies within [min, max] > 0: it would have said supported
    old = stats.bootstrap(
        (np.array([0.01, 0.5, 0.02]),), np.mean, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    assert old.low > 0


# 5. calibration by simulation ------------------------------------------------------------------------------------

NULLS = [(tau, cells, seeds) for tau in (0.0, 0.5, 1.0, 2.0) for cells in (4, 8) for seeds in (3, 5)]


@pytest.mark.parametrize(("tau", "cells", "seeds"), NULLS)
def test_null_studies_rarely_get_a_verdict(tau, cells, seeds):
    """No true mean effect (every cell 0, or cells spread around 0 by tau): a false "supported" at most 5% of the
    time, any verdict at most 10% (the test promises 2.5% and 5%)."""
    rng = np.random.default_rng([int(tau * 10), cells, seeds])
    supported, any_verdict = verdict_rates(simulate(rng, cells, seeds, tau=tau))
    print(f"null tau={tau} K={cells} n={seeds}: supported {supported:.4f}, any verdict {any_verdict:.4f}")
    assert supported <= 0.05
    assert any_verdict <= 0.10


def test_a_clear_effect_is_found():
    """An effect of one seed sd in every cell, 8 cells x 5 seeds: supported at least 80% of the time."""
    supported, any_verdict = verdict_rates(simulate(np.random.default_rng(1), 8, 5, effect=1.0))
    print(f"effect 1.0 K=8 n=5: supported {supported:.4f}")
    assert supported >= 0.80
    assert any_verdict == supported  # never contradicted


def test_at_most_is_calibrated_at_its_margin():
    """True effect exactly at the margin (the edge of H0: effect >= margin): the one-sided test says "supported"
    alpha of the time, here within 3 binomial SEs; beyond the margin, less."""
    rng = np.random.default_rng(2)
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / STUDIES)
    at_margin, _ = verdict_rates(simulate(rng, 6, 3, effect=0.2, tau=1.0), "at_most", margin=0.2)
    beyond, _ = verdict_rates(simulate(rng, 6, 3, effect=0.5, tau=1.0), "at_most", margin=0.2)
    print(f"at_most at margin: supported {at_margin:.4f}; beyond: {beyond:.4f}")
    assert at_margin <= bound
    assert beyond < at_margin


def test_the_old_pooled_bootstrap_was_anti_conservative():
    """The former rule, a percentile bootstrap over all seed pairs pooled across cells, on cell-varying nulls
    (tau=2, 4 cells x 3 seeds): it treats 12 pairs from 4 cells as 12 independent units and claims effects that
    are not there far more often than the t over cells does on the same data."""
    rng = np.random.default_rng(5)
    diffs = simulate(rng, 4, 3, tau=2.0)[:1000]
    pooled = diffs.reshape(len(diffs), -1)
    claims = 0
    for values in pooled:
        means = values[rng.integers(0, values.size, size=(999, values.size))].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        claims += low > 0 or high < 0
    new_any = verdict_rates(diffs)[1]
    print(f"pooled bootstrap any verdict {claims / len(pooled):.4f} vs t over cells {new_any:.4f}")
    assert claims / len(pooled) > 0.10 >= new_any


# 6. minimum detectable effect ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cells", "seeds", "between_sd"), [(6, 3, 0.5), (1, 5, 0.0), (3, 2, 1.0)])
def test_mde_is_detected_with_the_promised_power(cells, seeds, between_sd):
    mde = minimum_detectable_effect(cells, seeds, seed_sd=1.0, between_sd=between_sd)
    rng = np.random.default_rng([cells, seeds])
    found = np.mean([e.p_value < 0.05 for e in estimate_many(simulate(rng, cells, seeds, mde, between_sd), "greater")])
    print(f"MDE cells={cells} seeds={seeds} between_sd={between_sd}: {mde:.3f}, rejected {found:.4f}")
    assert found == pytest.approx(0.8, abs=0.05)


def test_mde_shrinks_with_more_cells_and_seeds():
    mde = minimum_detectable_effect
    assert mde(8, 3, 1.0, 0.5) < mde(6, 3, 1.0, 0.5) < mde(4, 3, 1.0, 0.5) < mde(2, 3, 1.0, 0.5)
    assert mde(6, 5, 1.0, 0.5) < mde(6, 3, 1.0, 0.5)
    assert mde(6, 3, 1.0, 0.0) < mde(6, 3, 1.0, 0.5)  # spread between cells costs power
    assert mde(6, 3, 2.0) == pytest.approx(2 * mde(6, 3, 1.0))  # scales with the noise
    assert mde(8, 3, 1.0, 0.5, power=0.9) > mde(8, 3, 1.0, 0.5)


def test_mde_needs_a_degree_of_freedom():
    assert math.isnan(minimum_detectable_effect(1, 1, 1.0))
    assert math.isnan(minimum_detectable_effect(0, 5, 1.0))
    assert math.isfinite(minimum_detectable_effect(2, 1, 1.0))  # df = 1: huge but defined
    with pytest.raises(ValueError):
        minimum_detectable_effect(6, 3, 1.0, power=0.01)
