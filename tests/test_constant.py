"""The constant test (issue 15, class 5): ``k_constant`` as statsmodels decides it.

A model has a constant when a constant column lies in the span of its design: an explicit
intercept, a constant column by another name, or an implicit one (full dummy coding). That
decides the centred or uncentred R-squared, the F test and ``df_model``. Regression through
the origin on Longley (whose YEAR column is nearly, but not, constant) is the certified
case; the other members of the class are compared with statsmodels OLS on the same patsy
design, and the decision must not change when a column is rescaled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import ooc_accessor  # noqa: F401 - registers .ooc

RTO = "TOTEMP ~ 0 + GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR"

#: statsmodels' names compared, all of them on every member of the class
STATS = (
    "rsquared",
    "rsquared_adj",
    "ess",
    "ssr",
    "fvalue",
    "f_pvalue",
    "centered_tss",
    "uncentered_tss",
    "mse_model",
    "mse_resid",
    "mse_total",
    "llf",
    "aic",
    "bic",
)
DOF = ("df_model", "df_resid", "k_constant")


def _certified() -> dict[str, float]:
    """statsmodels' certified regression-through-the-origin results on Longley (Stata)."""
    try:
        from statsmodels.regression.tests.results.results_regression import LongleyRTO

        c = LongleyRTO()
        return {
            name: getattr(c, name)
            for name in ("rsquared", "rsquared_adj", "ess", "fvalue", "df_model", "ssr")
        } | {"params": np.asarray(c.params), "bse": np.asarray(c.bse)}
    except ImportError:  # statsmodels installed without its tests: the same numbers, from
        # statsmodels/regression/tests/results/results_regression.py, class LongleyRTO
        return {
            "rsquared": 0.9999670130705958,
            "rsquared_adj": 0.9999472209129532,
            "ess": 68443718827.40025,
            "fvalue": 50523.39573737409,
            "df_model": 6,
            "ssr": 2257822.599757476,
            "params": np.array(
                [-52.993523, 0.07107319, -0.42346599, -0.57256869, -0.41420348, 48.417859]
            ),
            "bse": np.array(
                [129.5447812, 0.0301663805, 0.4177363573, 0.2789908665, 0.3212848136, 17.68947719]
            ),
        }


@pytest.fixture(scope="module")
def longley() -> pd.DataFrame:
    return sm.datasets.longley.load_pandas().data


@pytest.mark.parametrize("chunksize", [1, 3, 7, 16])
def test_longley_rto_certified(longley, chunksize):
    c = _certified()
    fit = longley.ooc.lstsq(RTO, chunksize=chunksize)
    assert fit.k_constant == 0
    assert fit.df_model == c["df_model"] == 6
    assert fit.df_resid == 10
    for name in ("rsquared", "rsquared_adj", "ess", "fvalue", "ssr"):
        np.testing.assert_allclose(getattr(fit, name), c[name], rtol=1e-7, err_msg=name)
    # Stata's printed coefficients carry 8 significant digits
    np.testing.assert_allclose(fit.params.to_numpy(), c["params"], rtol=1e-6)
    np.testing.assert_allclose(fit.bse.to_numpy(), c["bse"], rtol=1e-6)


def _frame(n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "g": rng.choice(["a", "b", "c"], n),
            "h": rng.choice(["u", "v"], n),
        }
    )
    df["near"] = 1.0 + 1e-6 * rng.normal(size=n)  # nearly, not exactly, constant
    df["y"] = 3.0 + 2.0 * df.x - df.z + (df.g == "b") + rng.normal(size=n)
    return df


CASES = [
    ("y ~ x + z", 1),  # explicit intercept
    ("y ~ 0 + x + z", 0),  # none
    ("y ~ 0 + C(g)", 1),  # implicit: full dummy coding sums to one
    ("y ~ 0 + C(g) + x", 1),
    ("y ~ 0 + C(g):C(h) + x", 1),  # cell dummies of an interaction: implicit too
    ("y ~ 0 + I(x*0+3) + x", 1),  # a constant column not called Intercept
    ("y ~ 0 + near + x", 0),  # near-constant: not a constant
    ("y ~ 0 + C(g) + I(x*1e10)", 1),  # a scaled column beside an implicit constant
    ("y ~ 0 + I(x*1e10) + I(z*1e-4)", 0),
    ("y ~ I(x*1e10) + z", 1),
]


@pytest.mark.parametrize(("formula", "k_constant"), CASES)
@pytest.mark.parametrize("chunksize", [7, 90])
def test_members_match_statsmodels(formula, k_constant, chunksize):
    df = _frame()
    fit = df.ooc.lstsq(formula, chunksize=chunksize)
    ref = smf.ols(formula, df).fit()
    assert ref.k_constant == k_constant  # the class member is what it claims to be
    for name in DOF:
        assert getattr(fit, name) == getattr(ref, name), name
    for name in STATS:
        np.testing.assert_allclose(getattr(fit, name), getattr(ref, name), rtol=1e-8, err_msg=name)


@pytest.mark.parametrize("chunksize", [3, 16])
def test_longley_variants_match_statsmodels(longley, chunksize):
    for data, formula in [
        (longley, RTO),
        (longley, RTO.replace("~ 0 +", "~")),
        (longley, RTO.replace("YEAR", "I(YEAR - 1954)")),  # centring YEAR: still no constant
        (longley, RTO.replace("YEAR", "I(YEAR / 1e6)")),
    ]:
        fit = data.ooc.lstsq(formula, chunksize=chunksize)
        ref = smf.ols(formula, data).fit()
        for name in DOF:
            assert getattr(fit, name) == getattr(ref, name), (formula, name)
        for name in STATS:
            np.testing.assert_allclose(
                getattr(fit, name), getattr(ref, name), rtol=1e-8, err_msg=f"{formula}: {name}"
            )


@pytest.mark.parametrize("factor", [1e-150, 1e-12, 1e12, 1e150])
def test_decision_is_scale_invariant(longley, factor):
    """Rescaling one column never changes whether the model has a constant (statsmodels'
    own matrix_rank test, with a tolerance relative to the largest singular value, can)."""
    df = _frame()
    scaled_df = df.assign(x=df.x * factor)
    scaled_longley = longley.assign(YEAR=longley.YEAR * factor)
    for data, formula, k in [
        (scaled_df, "y ~ 0 + C(g) + x", 1),
        (scaled_df, "y ~ 0 + I(x*0+3) + x", 1),
        (scaled_df, "y ~ 0 + near + x", 0),
        (scaled_df, "y ~ 0 + x + z", 0),
        (scaled_longley, RTO, 0),
    ]:
        fit = data.ooc.lstsq(formula, chunksize=11)
        assert fit.k_constant == k, (formula, factor)
        assert fit.df_model == fit.rank - k
        unscaled = smf.ols(formula, df if data is scaled_df else longley).fit()
        np.testing.assert_allclose(fit.rsquared, unscaled.rsquared, rtol=1e-8)
        np.testing.assert_allclose(fit.fvalue, unscaled.fvalue, rtol=1e-8)


@pytest.mark.parametrize("factor", [1e-10, 1e10, 1e100])
def test_scaled_longley_follows_the_scaling_law(longley, factor):
    """Longley through the origin with every column times ``factor``: the same model. (Here
    statsmodels itself says k_constant=1 and df_model=5 for factor=1e10: its rank test
    compares a ones column with a 1e10 times larger design, a decision that is not scale
    invariant; the certified answer is the unscaled one.)"""
    fit = (longley * factor).ooc.lstsq(RTO, chunksize=5)
    ref = smf.ols(RTO, longley).fit()
    for name in DOF:
        assert getattr(fit, name) == getattr(ref, name), name
    for name in ("rsquared", "rsquared_adj", "fvalue", "f_pvalue"):
        np.testing.assert_allclose(getattr(fit, name), getattr(ref, name), rtol=1e-8)
    for name in ("ess", "ssr", "centered_tss", "uncentered_tss", "mse_model", "mse_total"):
        np.testing.assert_allclose(getattr(fit, name), getattr(ref, name) * factor**2, rtol=1e-8)
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-7)
    np.testing.assert_allclose(fit.tvalues, ref.tvalues, rtol=1e-7)


def test_weighted_implicit_constant_matches_statsmodels():
    df = _frame()
    df["w"] = np.random.default_rng(2).uniform(0.2, 3.0, len(df))
    for formula in ("y ~ 0 + C(g) + x", "y ~ 0 + x + z", "y ~ 0 + I(x*0+3) + x"):
        fit = df.ooc.lstsq(formula, weights="w", chunksize=13)
        ref = smf.wls(formula, df, weights=df.w).fit()
        for name in DOF:
            assert getattr(fit, name) == getattr(ref, name), (formula, name)
        for name in STATS:
            np.testing.assert_allclose(
                getattr(fit, name), getattr(ref, name), rtol=1e-8, err_msg=f"{formula}: {name}"
            )
