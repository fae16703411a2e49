"""Ports of statsmodels' module-level regression tests (``test_regression.py``) to ooc fits.

Each test names the statsmodels function it ports; the data, reference values and
tolerances are statsmodels', the fit is an ooc formula fit of the same data. Functions
not ported, and why, are in :data:`NOT_PORTED`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.datasets import longley
from statsmodels.regression.linear_model import OLS, WLS
from statsmodels.tools.tools import add_constant

import ooc_accessor  # registers .ooc

#: statsmodels' module-level tests not ported, and why
NOT_PORTED = {
    "test_wls_missing, test_formula_missing_cat": "missing='drop' is test_missing.py's",
    "test_bad_size": "statsmodels' array-shape check: a frame's columns have one length",
    "test_yule_walker_*, test_burg*": "autoregression estimators, not least squares",
    "test_ridge, test_regularized_*, test_sqrt_lasso": "fit_regularized: not offered",
    "test_summary_as_latex": "ooc's summary is text and HTML (no LaTeX)",
    "test_bool_regressor": "patsy codes a bool column as a categorical (x[T.True])",
    "test_fvalue_only_constant (hac)": "cov_type='hac' is not offered (HC1 part ported)",
    "test_condition_number_nonpositive_eigval": "edits statsmodels' result cache",
    "test_hessian_factor_*, test_conf_int_el_*": "likelihood Hessians and el_test",
    "test_fit_invalid_method_raises": "an ooc fit has one method (TSQR)",
}


def test_wls_example() -> None:
    """statsmodels' test_wls_example: the values from R's lm summary."""
    df = pd.DataFrame({"y": [1, 3, 4, 5, 2, 3, 4], "x": np.arange(1, 8.0)})
    fit = df.ooc.lstsq("y ~ x", weights=np.arange(1, 8.0))
    np.testing.assert_almost_equal(fit.fvalue, 0.127337843215, 6)
    np.testing.assert_almost_equal(fit.scale, 2.44608530786**2, 6)


def test_wls_tss() -> None:
    """statsmodels' test_wls_tss: integer weights are repeated rows."""
    y = np.array([22, 22, 22, 23, 23, 23.0])
    x = np.array([[1, 0], [1, 0], [1, 1], [0, 1], [0, 1], [0, 1.0]])
    ols = pd.DataFrame({"y": y, "a": x[:, 0], "b": x[:, 1]}).ooc.lstsq("y ~ a + b")
    yw, xw = np.array([22, 22, 23.0]), np.array([[1, 0], [1, 1], [0, 1.0]])
    wls = pd.DataFrame({"y": yw, "a": xw[:, 0], "b": xw[:, 1], "w": [2, 1, 3.0]}).ooc.lstsq(
        "y ~ a + b", weights="w"
    )
    assert ols.centered_tss == wls.centered_tss


def _dummies() -> tuple[pd.DataFrame, np.ndarray]:
    rs = np.random.RandomState(12345)
    x = rs.randint(0, 3, size=30)
    d = pd.get_dummies(pd.Series(x, dtype="category"), drop_first=False, dtype=float)
    d.columns = ["d0", "d1", "d2"]
    return d, rs.normal(size=30)


def test_const_indicator() -> None:
    """statsmodels' test_const_indicator: a full set of dummies is an implicit constant."""
    d, e = _dummies()
    df = d.assign(y=d.to_numpy() @ [1.0, 2.0, 3.0] + e)
    resc = df.ooc.lstsq("y ~ d1 + d2")
    res = df.ooc.lstsq("y ~ 0 + d0 + d1 + d2")
    np.testing.assert_almost_equal(resc.rsquared, res.rsquared, 12)
    assert res.model.data.k_constant == 1
    assert resc.model.data.k_constant == 1


def test_fvalue_const_only() -> None:
    """statsmodels' test_fvalue_const_only: an HC1 F test beside an explicit constant."""
    d, e = _dummies()
    d["d0"] = 1.0
    df = d.assign(y=d.to_numpy() @ [1.0, 2.0, 3.0] + e)
    res = df.ooc.lstsq("y ~ 0 + d0 + d1 + d2", cov_type="HC1")
    ref = OLS(df["y"], d, hasconst=True).fit(cov_type="HC1")
    assert not np.isnan(res.fvalue)
    assert isinstance(res.fvalue, float) and isinstance(res.f_pvalue, float)
    np.testing.assert_allclose(res.fvalue, ref.fvalue, rtol=1e-10)


def test_conf_int_single_regressor() -> None:
    """statsmodels' test_conf_int_single_regressor: one regressor, a (1, 2) frame."""
    rs = np.random.RandomState(3232121)
    df = pd.DataFrame({"y": rs.randn(10), "x": np.ones(10)})
    conf_int = df.ooc.lstsq("y ~ 0 + x").conf_int()
    np.testing.assert_equal(conf_int.shape, (1, 2))
    assert isinstance(conf_int, pd.DataFrame)


def test_fvalue_implicit_constant() -> None:
    """statsmodels' test_fvalue_implicit_constant: NaN F for an implicit constant (HC1)."""
    rs = np.random.RandomState(2)
    x = rs.randn(100, 1)
    x = ((x > 0) == [True, False]).astype(int)
    y = x.sum(1) + rs.randn(100)
    df = pd.DataFrame({"y": y, "p": x[:, 0], "q": x[:, 1]})
    for weights in (None, np.ones(100)):
        res = df.ooc.lstsq("y ~ 0 + p + q", weights=weights, cov_type="HC1")
        assert np.isnan(res.fvalue) and np.isnan(res.f_pvalue)
        assert "HC1" in str(res.summary())


def test_fvalue_only_constant() -> None:
    """statsmodels' test_fvalue_only_constant (its WLS HC1 part): NaN F."""
    rs = np.random.RandomState(2)
    df = pd.DataFrame({"y": rs.randn(20), "one": np.ones(20)})
    res = df.ooc.lstsq("y ~ 0 + one", weights=np.ones(20), cov_type="HC1")
    assert np.isnan(res.fvalue) and np.isnan(res.f_pvalue)
    assert "HC1" in str(res.summary())


def test_ols_constant() -> None:
    """statsmodels' test_ols_constant: NaN F for a constant-only model, no warning."""
    rs = np.random.RandomState(323219)
    df = pd.DataFrame({"y": rs.standard_normal(200)})
    res = df.ooc.lstsq("y ~ 1")
    with warnings.catch_warnings(record=True) as recording:
        warnings.simplefilter("always")
        assert np.isnan(res.fvalue)
        assert np.isnan(res.f_pvalue)
    assert len(recording) == 0


def test_summary_no_constant() -> None:
    """statsmodels' test_summary_no_constant: the uncentred R² note."""
    rs = np.random.RandomState(0)
    x = rs.standard_normal((100, 2))
    df = pd.DataFrame({"y": rs.standard_normal(100), "a": x[:, 0], "b": x[:, 1]})
    assert "R² is computed " in str(df.ooc.lstsq("y ~ 0 + a + b").summary())
    assert "R² is computed " not in str(df.ooc.lstsq("y ~ a + b").summary())


def _six_columns() -> pd.DataFrame:
    rs = np.random.RandomState(323218)
    y = rs.standard_normal(100)
    x = rs.standard_normal((100, 1)) + rs.standard_normal((100, 5))
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(5)]).assign(y=y)


SIX = "y ~ 0 + x0 + x1 + x2 + x3 + x4"


def test_condition_number() -> None:
    """statsmodels' test_condition_number."""
    df = _six_columns()
    x = df.drop(columns="y").to_numpy()
    res = df.ooc.lstsq(SIX)
    np.testing.assert_allclose(res.condition_number, np.sqrt(np.linalg.cond(x.T @ x)))
    np.testing.assert_allclose(res.condition_number, np.linalg.cond(x))


def test_slim_summary() -> None:
    """statsmodels' test_slim_summary: 3 tables, 2 when slim, the same coefficients."""
    res = _six_columns().ooc.lstsq(SIX)
    summ, slim = res.summary(), res.summary(slim=True)
    assert len(summ.tables) == 3 and len(slim.tables) == 2
    assert not summ.tables[0].equals(slim.tables[0])
    pd.testing.assert_frame_equal(slim.tables[1], summ.tables[1])


def test_slim_summary_skips_diagnostics(monkeypatch: pytest.MonkeyPatch) -> None:
    """statsmodels' test_slim_summary_skips_diagnostics: no pass over the rows."""
    from ooc_accessor.stats import summary as summary_module

    def boom(*args, **kwargs):
        raise AssertionError("the slim summary computed the residual diagnostics")

    res = _six_columns().ooc.lstsq(SIX)
    monkeypatch.setattr(summary_module, "residual_diagnostics", boom)
    text = str(res.summary(slim=True))
    assert "Omnibus" not in text and "x4" in text
    with pytest.raises(AssertionError, match="diagnostics"):
        str(res.summary())


def test_summary_after_remove_data() -> None:
    """statsmodels' test_summary_after_remove_data: the summary needs no kept rows."""
    data = longley.load()
    df = pd.concat([data.endog, data.exog], axis=1)
    res = df.ooc.lstsq("TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR")
    before = str(res.summary(slim=True))
    res.remove_data()
    assert str(res.summary(slim=True)).split("\n")[2:] == before.split("\n")[2:]
    ref = OLS(data.endog, add_constant(data.exog)).fit()
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)
    ref_w = WLS(data.endog, add_constant(data.exog)).fit()
    np.testing.assert_allclose(res.bse.to_numpy(), ref_w.bse.to_numpy(), rtol=1e-8)


def test_ols_wls_fixed_scale() -> None:
    """statsmodels' test_ols_wls_fixed_scale, and its values: the fixed scale is the
    covariance's and resid_pearson's; mse_resid stays the estimate."""
    rs = np.random.RandomState(3293829)
    x = add_constant(rs.uniform(size=(50, 2)))
    y = np.dot(x, [1, 2, 3]) + rs.standard_normal(50)
    weights = rs.uniform(0.5, 2.0, 50)
    df = pd.DataFrame({"y": y, "a": x[:, 1], "b": x[:, 2], "w": weights})
    expected_scale = 5.0

    res1 = df.ooc.lstsq("y ~ a + b", cov_type="fixed scale", cov_kwds={"scale": expected_scale})
    np.testing.assert_allclose(res1.scale, expected_scale)
    np.testing.assert_allclose(res1.resid_pearson, res1.resid / np.sqrt(expected_scale))
    ref1 = OLS(y, x).fit(cov_type="fixed scale", cov_kwds={"scale": expected_scale})
    np.testing.assert_allclose(res1.bse.to_numpy(), ref1.bse, rtol=1e-12)
    np.testing.assert_allclose(res1.pvalues.to_numpy(), ref1.pvalues, rtol=1e-10)
    np.testing.assert_allclose([res1.fvalue, res1.mse_resid], [ref1.fvalue, ref1.mse_resid])
    assert res1.cov_kwds == ref1.cov_kwds and res1.use_t is False

    res2 = df.ooc.lstsq(
        "y ~ a + b", weights="w", cov_type="fixed_scale", cov_kwds={"scale": expected_scale}
    )
    np.testing.assert_allclose(res2.scale, expected_scale)
    np.testing.assert_allclose(res2.resid_pearson, res2.wresid / np.sqrt(expected_scale))
    ref2 = WLS(y, x, weights=weights).fit(
        cov_type="fixed_scale", cov_kwds={"scale": expected_scale}
    )
    np.testing.assert_allclose(res2.bse.to_numpy(), ref2.bse, rtol=1e-12)

    res3 = df.ooc.lstsq("y ~ a + b")
    res3_robust = res3.get_robustcov_results(cov_type="fixed scale", scale=expected_scale)
    np.testing.assert_allclose(res3_robust.scale, expected_scale)
    np.testing.assert_allclose(
        res3_robust.resid_pearson, res3_robust.wresid / np.sqrt(expected_scale)
    )
    assert res3_robust.use_t is True  # the plain fit's, as statsmodels
    # back to the estimate
    assert res3_robust.get_robustcov_results("nonrobust").scale == res3.scale


def test_fixed_scale_refusals() -> None:
    df = pd.DataFrame({"y": [1.0, 2, 4, 3], "a": [0.0, 1, 2, 3]})
    with pytest.raises(ooc_accessor.ArgumentError, match="positive and finite"):
        df.ooc.lstsq("y ~ a", cov_type="fixed scale", cov_kwds={"scale": -1.0})
    with pytest.raises(ooc_accessor.ArgumentTypeError, match="must be a number"):
        df.ooc.lstsq("y ~ a", cov_type="fixed scale", cov_kwds={"scale": "5"})
    with pytest.raises(ooc_accessor.ArgumentError, match=r"takes the keywords \['scale'\]"):
        df.ooc.lstsq("y ~ a", cov_type="fixed scale", cov_kwds={"groups": "a"})
