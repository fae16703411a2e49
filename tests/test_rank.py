"""Rank-deficient designs: rank reported, dependent terms named, numpy's minimum-norm fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import ooc_accessor as ooc


@pytest.fixture
def deficient() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 5000
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n) * 1e6,  # badly scaled: the rank test must not care
            # an unused category gives an all-zero dummy column
            "g": pd.Categorical(rng.choice(["x", "y"], n), categories=["x", "y", "z"]),
        }
    )
    df["a2"] = df.a + df.b
    df["a3"] = 2 * df.a
    df["y"] = df.a - 3e-6 * df.b + rng.normal(size=n)
    return df


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")  # statsmodels'
def test_dependent_terms_named_and_min_norm(deficient):
    formula = "y ~ a + b + a2 + C(g) + a3"
    with pytest.warns(ooc.RankWarning) as record:
        fit = deficient.ooc.lstsq(formula, chunksize=777)
    message = str(record[0].message)
    assert "rank 4 for 7 columns" in message
    assert "'a3' is a linear combination of 'a'" in message
    assert "'a2' is a linear combination of 'a', 'b'" in message
    assert "'C(g)[T.z]' is all zeros" in message
    assert fit.rank == 4
    x, y = fit._design.X.values, fit._design.y.values
    beta, _, rank, s = np.linalg.lstsq(x, y, rcond=None)
    assert rank == fit.rank
    np.testing.assert_allclose(fit.params.values, beta, rtol=1e-8, atol=1e-12 * np.abs(beta).max())
    # the null singular values are rounding noise: compare them on the scale of the largest
    np.testing.assert_allclose(fit.singular_values, s, rtol=1e-9, atol=1e-13 * s[0])
    # statsmodels' pinv fit gives the same minimum-norm answer and the same inference
    ref = sm.OLS(y, x).fit()
    np.testing.assert_allclose(fit.ssr, ref.ssr, rtol=1e-10)
    np.testing.assert_allclose(fit.bse.values, ref.bse, rtol=1e-6, atol=1e-12)
    assert fit.df_resid == ref.df_resid and fit.df_model == ref.df_model


def test_badly_scaled_full_rank_is_kept(deficient):
    df = deficient.assign(b=deficient.b * 1e8)  # columns 14 orders of magnitude apart
    fit = df.ooc.lstsq("y ~ a + b", chunksize=1000)
    assert fit.rank == 3
    ref = sm.OLS(df.y, sm.add_constant(df[["a", "b"]])).fit(method="qr")
    np.testing.assert_allclose(fit.params.values, ref.params.values, rtol=1e-9)
