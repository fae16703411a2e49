"""``fit.model``: statsmodels-model-like access to a fit's formula and design.

statsmodels' ``OLS.from_formula`` on the same frame is the oracle for every name; making
the model must read no row (the store of a fit made without ``path=`` is not written).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import xarray as xr

import ooc_accessor as ooc
from ooc_accessor.stats.model import OLS, WLS, LinearModel


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 60
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(3, 2, size=n),
            "g": rng.choice(["p", "q", "r"], size=n),
            "w": rng.uniform(0.5, 2.0, size=n),
        },
        index=pd.Index(np.arange(n) * 3 + 10, name="row"),
    )
    df["y"] = 1 + 2 * df.a - df.b + (df.g == "q") + rng.normal(size=n)
    return df


FORMULA = "y ~ a + b + C(g)"


def test_ols_model_names_match_statsmodels(frame: pd.DataFrame) -> None:
    fit = frame.ooc.lstsq(FORMULA)
    sm = smf.ols(FORMULA, frame).fit()
    model = fit.model
    assert isinstance(model, OLS) and isinstance(model, LinearModel)
    assert type(model).__name__ == "OLS" == model.model_name
    assert model.formula == FORMULA
    assert model.exog_names == sm.model.exog_names
    assert model.endog_names == sm.model.endog_names == "y"
    assert model.nobs == sm.model.nobs == 60.0
    assert model.df_model == sm.model.df_model == 4.0
    assert model.df_resid == sm.model.df_resid == 55.0
    assert model.k_constant == sm.model.k_constant == 1
    assert model.rank == sm.model.rank == 5
    assert model.k_exog == 5
    assert model.data.xnames == sm.model.data.xnames
    assert model.data.ynames == sm.model.data.ynames
    assert model.data.param_names == sm.model.data.param_names
    assert model.data.const_idx == sm.model.data.const_idx == 0
    assert model.weights is None


def test_making_the_model_reads_no_row(frame: pd.DataFrame) -> None:
    fit = frame.ooc.lstsq(FORMULA)
    model = fit.model
    assert model.design._stored is None  # the deferred store is still unwritten
    _ = (model.exog_names, model.nobs, model.df_resid, model.data.xnames, repr(model))
    assert model.design._stored is None
    assert model.design is fit._design


def test_exog_endog_are_the_lazy_design(frame: pd.DataFrame) -> None:
    fit = frame.ooc.lstsq(FORMULA)
    sm = smf.ols(FORMULA, frame).fit()
    exog, endog = fit.model.exog, fit.model.endog
    assert isinstance(exog, xr.DataArray) and exog.chunks is not None  # dask-backed
    assert exog.dims == ("obs", "term") and endog.dims == ("obs",)
    assert list(exog["term"].values) == sm.model.exog_names
    np.testing.assert_allclose(exog.values, sm.model.exog, rtol=1e-14)
    np.testing.assert_allclose(endog.values, sm.model.endog, rtol=1e-14)
    np.testing.assert_array_equal(exog["obs"].values, frame.index.to_numpy())


def test_wls_model_and_weights(frame: pd.DataFrame) -> None:
    fit = frame.ooc.lstsq(FORMULA, weights="w")
    sm = smf.wls(FORMULA, frame, weights=frame["w"]).fit()
    model = fit.model
    assert isinstance(model, WLS) and type(model).__name__ == "WLS" == fit.model_name
    w = model.weights
    assert isinstance(w, xr.DataArray) and w.dims == ("obs",)
    np.testing.assert_allclose(w.values, sm.model.weights, rtol=1e-15)
    # statsmodels' WLS log-likelihood carries 0.5 * sum(log(weights))
    assert float(np.sum(np.log(w))) == pytest.approx(float(np.sum(np.log(frame["w"]))))


def test_model_after_update_spans_every_row(frame: pd.DataFrame) -> None:
    first, rest = frame.iloc[:40], frame.iloc[40:]
    fit = first.ooc.lstsq(FORMULA).update(rest)
    model = fit.model
    assert model.nobs == 60.0 and model.df_resid == 55.0
    assert model.exog.shape == (60, 5)
    np.testing.assert_allclose(model.endog.values, frame["y"].to_numpy())


def test_model_fit_gives_the_covariance_asked_for(frame: pd.DataFrame) -> None:
    fit = frame.ooc.lstsq(FORMULA)
    assert fit.model is fit.model  # one model per result, as statsmodels'
    assert fit.model.fit() is fit
    hc1 = fit.model.fit(cov_type="HC1")
    sm = smf.ols(FORMULA, frame).fit(cov_type="HC1")
    assert hc1.cov_type == "HC1" and hc1.use_t is False
    np.testing.assert_allclose(hc1.bse.to_numpy(), sm.bse.to_numpy(), rtol=1e-10)
    assert hc1.model is not fit.model and hc1.model.fit() is hc1


def test_stored_design_model(frame: pd.DataFrame, tmp_path) -> None:
    design = frame.ooc.design(FORMULA, path=tmp_path / "d.nc")
    fit = design.lstsq()
    assert fit.model.design is design
    assert isinstance(design, ooc.Design)
    np.testing.assert_allclose(fit.model.exog.sel(term="a").values, frame["a"].to_numpy())


def test_model_without_intercept_has_no_constant(frame: pd.DataFrame) -> None:
    fit = frame.ooc.lstsq("y ~ 0 + a + b")
    sm = smf.ols("y ~ 0 + a + b", frame).fit()
    assert fit.model.k_constant == sm.model.k_constant == 0
    assert fit.model.df_model == sm.model.df_model == 2.0
    assert fit.model.data.const_idx is None


def test_const_idx_finds_a_constant_column_by_any_name(frame: pd.DataFrame) -> None:
    df = frame.assign(one=1.0)
    fit = df.ooc.lstsq("y ~ 0 + a + one + b")
    sm = smf.ols("y ~ 0 + a + one + b", df).fit()
    assert fit.model.k_constant == sm.model.k_constant == 1
    assert fit.model.data.const_idx == sm.model.data.const_idx == 1


def test_weights_given_as_an_array_are_not_stored(frame: pd.DataFrame, tmp_path) -> None:
    design = frame.ooc.design(FORMULA, path=tmp_path / "d.nc")
    fit = design.lstsq(weights=frame["w"].to_numpy())
    assert type(fit.model).__name__ == "WLS"
    with pytest.raises(ooc.ArgumentError, match="not stored with the design"):
        _ = fit.model.weights
