"""get_prediction's summary frame equals statsmodels' (rtol 1e-8), aligned to the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from conftest import FORMULA, make_frame

import ooc_accessor as ooc

COLUMNS = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1"])
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("chunksize", [1, 13, "auto"])
def test_summary_frame_equals_statsmodels(cov_type, weights, chunksize):
    df = make_frame(500, seed=11)
    new = make_frame(120, seed=12)  # with missing values at rows 3, 8, 17, 50, 99
    fit = df.ooc.lstsq(FORMULA, weights=weights, cov_type=cov_type, chunksize=chunksize)
    model = smf.ols(FORMULA, df) if weights is None else smf.wls(FORMULA, df, weights=df.w)
    ref = model.fit(cov_type=cov_type)
    for alpha in (0.05, 0.2):
        ours = fit.get_prediction(new, chunksize=chunksize).summary_frame(alpha)
        theirs = ref.get_prediction(new).summary_frame(alpha)
        assert list(ours.columns) == COLUMNS == list(theirs.columns)
        assert ours.index.equals(new.index)  # every row, in place
        kept = ours.dropna()
        assert kept.index.equals(theirs.index)
        np.testing.assert_allclose(kept.to_numpy(), theirs.to_numpy(), rtol=1e-8)
    # weights divide the residual variance of a new observation
    w = np.linspace(0.5, 2.0, len(new))
    ours = fit.get_prediction(new, weights=w).summary_frame().dropna()
    keep = new.index.get_indexer(ours.index)
    theirs = ref.get_prediction(new.iloc[keep], weights=w[keep]).summary_frame()
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-8)


def test_xarray_dataset():
    df = make_frame(300, seed=13).dropna()
    ds = df.to_xarray()
    fit = ds.ooc.lstsq(FORMULA, dim="row", chunksize=40)
    out = fit.get_prediction(ds.isel(row=slice(0, 50))).summary_frame()
    ref = smf.ols(FORMULA, df).fit().get_prediction(df.iloc[:50]).summary_frame()
    assert set(out.data_vars) == set(COLUMNS)
    np.testing.assert_array_equal(out["row"].values, df.index[:50])
    for c in COLUMNS:
        np.testing.assert_allclose(out[c].values, ref[c].values, rtol=1e-8)


def test_eigenvals_and_condition_number():
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, weights="w", chunksize=37)
    ref = smf.wls(FORMULA, df, weights=df.w).fit()
    np.testing.assert_allclose(fit.eigenvals, ref.eigenvals, rtol=1e-9)
    np.testing.assert_allclose(fit.condition_number, ref.condition_number, rtol=1e-9)


def test_bad_inputs():
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA)
    with pytest.raises(ooc.ArgumentTypeError, match="get_prediction needs a DataFrame"):
        fit.get_prediction(np.zeros((3, 3)))
    with pytest.raises(ooc.ArgumentError, match=r"3 values for .* one weight per row"):
        fit.get_prediction(df, weights=np.ones(3))
    with pytest.raises(ooc.DataError, match="positive"):
        fit.get_prediction(df, weights=0.0)
    with pytest.raises(ooc.ArgumentError, match="names no column"):
        fit.get_prediction(df, weights="nope")
    other = df.rename(columns={"a": "A"})
    with pytest.raises(ooc.OOCError, match="'a'"):
        fit.get_prediction(other)
    assert isinstance(fit.get_prediction(df.iloc[:5]).summary_frame(), pd.DataFrame)
