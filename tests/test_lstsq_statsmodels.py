"""lstsq equals statsmodels OLS/WLS on the same frame, at the issue's tolerances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from conftest import FORMULA, make_frame

FORMULAS = [
    FORMULA,  # the demo's: interactions, a categorical, an intercept
    "y ~ 0 + a + C(cat1)",  # implicit constant (full dummy coding): centred R^2
    "y ~ 0 + a + b",  # no constant: uncentred R^2, as statsmodels
    "y ~ center(c) + standardize(b) + np.log(w)",  # stateful transforms, a numpy call
    # a quoted column name, sum coding, a non-default reference level
    'y ~ a + Q("my b") + C(cat1, Sum) + C(cat1, Treatment(reference="gamma")):a',
    "y ~ a * n_int + flag + C(cat1)",  # an int column, a bool column (patsy: categorical)
]


def _reference(df, formula, weights):
    if weights is None:
        return smf.ols(formula, df).fit()
    return smf.wls(formula, df, weights=df[weights]).fit()


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("weights", [None, "w"])
def test_matches_statsmodels(formula, weights):
    df = make_frame()
    df["my b"] = df["b"] ** 2
    df["n_int"] = np.arange(len(df)) % 9
    df["flag"] = df["c"] > 0
    fit = df.ooc.lstsq(formula, weights=weights, chunksize=61)
    ref = _reference(df, formula, weights)
    assert list(fit.params.index) == list(ref.params.index)
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(fit.tvalues, ref.tvalues, rtol=1e-8)
    np.testing.assert_allclose(fit.conf_int(), ref.conf_int(), rtol=1e-8)
    np.testing.assert_allclose(fit.conf_int(0.1), ref.conf_int(0.1), rtol=1e-8)
    np.testing.assert_allclose(fit.pvalues, ref.pvalues, rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(fit.cov_params(), ref.cov_params(), rtol=1e-8, atol=1e-15)
    for name in ("rsquared", "rsquared_adj", "ssr", "ess", "centered_tss", "uncentered_tss"):
        np.testing.assert_allclose(getattr(fit, name), getattr(ref, name), rtol=1e-10)
    for name in ("fvalue", "llf", "aic", "bic", "scale"):
        np.testing.assert_allclose(getattr(fit, name), getattr(ref, name), rtol=1e-9)
    assert fit.nobs == ref.nobs
    assert fit.df_resid == ref.df_resid
    assert fit.df_model == ref.df_model
    assert fit.k_constant == ref.k_constant
    assert fit.rank == np.linalg.matrix_rank(ref.model.wexog)


def test_n_dropped_and_obs_index(frame):
    design = frame.ooc.design(FORMULA, chunksize=50)
    ref = smf.ols(FORMULA, frame).fit()
    # rows 3, 17, 50 (a), 8 (cat1), 99 (y): five dropped, as statsmodels' missing="drop"
    assert design.n_dropped == 5 == len(frame) - ref.nobs
    assert design.n_obs == ref.nobs
    pd.testing.assert_index_equal(design.obs, ref.fittedvalues.index)
    np.testing.assert_array_equal(design.X["obs"].values, ref.fittedvalues.index.values)
    assert list(design.X["term"].values) == list(ref.params.index)
    np.testing.assert_allclose(design.X.values, ref.model.exog, rtol=0, atol=0)
    np.testing.assert_allclose(design.y.values, ref.model.endog, rtol=0, atol=0)


def test_fitted_resid_predict(frame):
    fit = frame.ooc.lstsq(FORMULA, chunksize=33)
    ref = smf.ols(FORMULA, frame).fit()
    fv = fit.fittedvalues
    assert fv.chunks is not None  # lazy: a dask array read from the store
    fv = fv.to_series()
    pd.testing.assert_index_equal(fv.index, ref.fittedvalues.index, check_names=False)
    np.testing.assert_allclose(fv.values, ref.fittedvalues.values, rtol=1e-10)
    np.testing.assert_allclose(fit.resid.values, ref.resid.values, rtol=1e-8, atol=1e-12)
    new = frame.iloc[::3]
    pred = fit.predict(new)
    pd.testing.assert_index_equal(pred.index, new.index)
    expected = ref.predict(new)
    np.testing.assert_allclose(pred.values, expected.values, rtol=1e-10)
    assert pred.isna().sum() == expected.isna().sum() > 0  # rows with NaN stay NaN, aligned


def test_update_folds_new_rows_like_one_fit():
    df = make_frame(600, seed=3)
    first, second = df.iloc[:350], df.iloc[350:]
    fit = first.ooc.lstsq(FORMULA, chunksize=40).update(second)
    ref = smf.ols(FORMULA, df).fit()
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=1e-8)
    assert fit.nobs == ref.nobs
    np.testing.assert_allclose(fit.fittedvalues.values, ref.fittedvalues.values, rtol=1e-9)
    wfit = first.ooc.lstsq(FORMULA, weights="w").update(second)
    wref = smf.wls(FORMULA, df, weights=df.w).fit()
    np.testing.assert_allclose(wfit.params, wref.params, rtol=1e-9)
    np.testing.assert_allclose(wfit.rsquared, wref.rsquared, rtol=1e-10)


def test_weights_as_array_and_series(frame):
    ref = smf.wls(FORMULA, frame, weights=frame.w).fit()
    by_array = frame.ooc.lstsq(FORMULA, weights=frame.w.to_numpy())
    by_series = frame.ooc.lstsq(FORMULA, weights=frame.w.sample(frac=1, random_state=1))
    np.testing.assert_allclose(by_array.params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(by_series.params, ref.params, rtol=1e-9)


def test_summary_text_and_html(frame):
    fit = frame.ooc.lstsq(FORMULA)
    text = str(fit.summary())
    assert "OLS Regression Results" in text
    assert "C(cat1)[T.beta]" in text
    assert f"{fit.rsquared:.4f}" in text
    assert "<table" in fit._repr_html_()
    assert "a:b" in fit.summary().as_html()


def test_singular_values_match_numpy(frame):
    ref = smf.ols(FORMULA, frame).fit()
    fit = frame.ooc.lstsq(FORMULA, chunksize=7)
    s = np.linalg.svd(ref.model.exog, compute_uv=False)
    np.testing.assert_allclose(fit.singular_values, s, rtol=1e-10)


def test_nullable_dtypes_are_read_as_float():
    df = make_frame(200)
    ref = smf.ols("y ~ a + b", df).fit()
    df["a"] = df["a"].astype("Float64")
    df["b"] = df["b"].round().astype("Int64")
    ref = smf.ols("y ~ a + b", df.astype({"a": float, "b": float})).fit()
    fit = df.ooc.lstsq("y ~ a + b", chunksize=30)
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-9)
