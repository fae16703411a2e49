"""Heteroscedasticity-robust covariances (HC0-HC3) equal statsmodels', out of core.

Standard errors and covariances at rtol 1e-8, p-values at 1e-6, OLS and WLS, streamed and
stored designs, several chunkings; inference under ``cov_type`` (t or normal, the robust
F test) as statsmodels decides it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from conftest import FORMULA, make_frame

import ooc_accessor as ooc
from ooc_accessor.stats import robust

HC = ("HC0", "HC1", "HC2", "HC3")


def _reference(df, formula, weights, **fit_kwargs):
    if weights is None:
        return smf.ols(formula, df).fit(**fit_kwargs)
    return smf.wls(formula, df, weights=df[weights]).fit(**fit_kwargs)


def _same_inference(fit, ref):
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(fit.tvalues, ref.tvalues, rtol=1e-8)
    np.testing.assert_allclose(fit.pvalues, ref.pvalues, rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(fit.conf_int(), ref.conf_int(), rtol=1e-8)
    np.testing.assert_allclose(fit.conf_int(0.1), ref.conf_int(0.1), rtol=1e-8)
    np.testing.assert_allclose(fit.cov_params(), ref.cov_params(), rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(fit.fvalue, ref.fvalue, rtol=1e-8)
    np.testing.assert_allclose(fit.f_pvalue, ref.f_pvalue, rtol=1e-6, atol=1e-300)
    assert fit.use_t == ref.use_t
    assert fit.cov_type == ref.cov_type


@pytest.mark.parametrize("chunksize", [1, 7, 61, "auto"])
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("stored", [False, True])
def test_hc_equal_statsmodels(chunksize, weights, stored, tmp_path):
    df = make_frame()
    path = tmp_path / "d.nc" if stored else None
    fit = df.ooc.lstsq(FORMULA, weights=weights, chunksize=chunksize, path=path)
    ref = _reference(df, FORMULA, weights)
    for k in HC:
        np.testing.assert_allclose(getattr(fit, f"{k}_se"), getattr(ref, f"{k}_se"), rtol=1e-8)
        np.testing.assert_allclose(getattr(fit, f"cov_{k}"), getattr(ref, f"cov_{k}"), rtol=1e-8)
        # statsmodels' get_robustcov_results keeps the fit's use_t (True for a plain fit)
        _same_inference(fit.get_robustcov_results(k), ref.get_robustcov_results(k))
        for use_t in (True, False):
            _same_inference(
                fit.get_robustcov_results(k, use_t=use_t),
                ref.get_robustcov_results(k, use_t=use_t),
            )
    # the plain fit is unchanged by them
    _same_inference(fit, ref)


@pytest.mark.parametrize("cov_type", HC)
@pytest.mark.parametrize("weights", [None, "w"])
def test_fit_with_cov_type(cov_type, weights):
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, weights=weights, cov_type=cov_type, chunksize=33)
    ref = _reference(df, FORMULA, weights, cov_type=cov_type)
    assert fit.use_t is False  # statsmodels: the normal for a robust covariance
    _same_inference(fit, ref)
    fit_t = df.ooc.lstsq(FORMULA, weights=weights, cov_type=cov_type, use_t=True, chunksize=33)
    _same_inference(fit_t, _reference(df, FORMULA, weights, cov_type=cov_type, use_t=True))
    assert "Covariance Type:" in str(fit.summary()) and cov_type in str(fit.summary())
    assert "P>|z|" in fit.summary().table().columns


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ 0 + a + b",  # no constant: every coefficient in the F test
        "y ~ 0 + a + C(cat1)",  # an implicit constant: statsmodels' F is nan
        "y ~ a + C(cat1, Sum) + center(b)",
    ],
)
def test_constants_and_codings(formula):
    df = make_frame()
    fit = df.ooc.lstsq(formula, cov_type="HC2", chunksize=50)
    ref = smf.ols(formula, df).fit(cov_type="HC2")
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(fit.pvalues, ref.pvalues, rtol=1e-6, atol=1e-300)
    if np.isnan(ref.fvalue):
        assert np.isnan(fit.fvalue) and np.isnan(fit.f_pvalue)
    else:
        np.testing.assert_allclose(fit.fvalue, ref.fvalue, rtol=1e-8)


def test_one_pass_for_every_hc(monkeypatch):
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, chunksize=40)
    calls = []
    original = robust.meat_blocks
    monkeypatch.setattr(robust, "meat_blocks", lambda *a: calls.append(1) or original(*a))
    for k in HC:
        assert np.all(getattr(fit, f"{k}_se") > 0)
        assert np.all(fit.get_robustcov_results(k).pvalues >= 0)
    assert 0 < len(calls) == -(-(len(df) - 5) // 40)  # one call per block, one pass


def test_after_update_covers_every_row():
    df = make_frame(700, seed=2)
    fit = df.iloc[:300].ooc.lstsq(FORMULA, chunksize=41).update(df.iloc[300:])
    ref = smf.ols(FORMULA, df).fit()
    for k in HC:
        np.testing.assert_allclose(getattr(fit, f"{k}_se"), getattr(ref, f"{k}_se"), rtol=1e-8)
    robust_fit = df.iloc[:300].ooc.lstsq(FORMULA, cov_type="HC3").update(df.iloc[300:])
    np.testing.assert_allclose(robust_fit.bse, ref.get_robustcov_results("HC3").bse, rtol=1e-8)


def test_extreme_magnitudes_scale_exactly():
    """y times 2**300 and a column times 2**-400: the robust errors scale by those powers."""
    df = make_frame().dropna()
    big = df.copy()
    big["y"] = df["y"] * 2.0**300
    big["a"] = df["a"] * 2.0**-400
    fit = df.ooc.lstsq("y ~ a + b + C(cat1)", chunksize=37)
    huge = big.ooc.lstsq("y ~ a + b + C(cat1)", chunksize=37)
    factor = np.full(len(fit.terms), 2.0**300)
    factor[fit.terms.index("a")] = 2.0**700
    for k in HC:
        np.testing.assert_allclose(
            getattr(huge, f"{k}_se").values, getattr(fit, f"{k}_se").values * factor, rtol=1e-12
        )


def test_streamed_pass_refuses_changed_data():
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, chunksize=40)
    df["b"] = df["b"] + 1.0
    with pytest.raises(ooc.DataError, match="differ from those fitted"):
        _ = fit.HC0_se


def test_xarray_labels():
    ds = make_frame().dropna().to_xarray()
    fit = ds.ooc.lstsq(FORMULA, dim="row", cov_type="HC1", chunksize=45)
    ref = smf.ols(FORMULA, ds.to_dataframe()).fit(cov_type="HC1")
    assert fit.bse.dims == ("term",)
    np.testing.assert_allclose(fit.bse.values, ref.bse.values, rtol=1e-8)
    assert fit.cov_HC1.dims == ("term", "term2")


def test_bad_arguments():
    df = make_frame()
    with pytest.raises(ooc.ArgumentError, match="HC0"):
        df.ooc.lstsq(FORMULA, cov_type="HC9")
    fit = df.ooc.lstsq(FORMULA)
    with pytest.raises(ooc.ArgumentError, match="takes no keywords"):
        fit.get_robustcov_results("HC1", groups="cat1")
    with pytest.raises(ooc.ArgumentError, match="cov_type"):
        fit.get_robustcov_results("cluster")


def _panel(n=600, seed=3):
    df = make_frame(n, seed=seed)
    rng = np.random.default_rng(seed)
    df["firm"] = rng.integers(0, 37, len(df))
    df["year"] = rng.choice(["y1", "y2", "y3", "y4", "y5", "y6"], len(df))
    return df


def _cluster_ref(df, weights, groups, use_t=None):
    kept = df.dropna(subset=["a", "cat1", "y"])
    model = smf.ols(FORMULA, kept) if weights is None else smf.wls(FORMULA, kept, weights=kept.w)
    if isinstance(groups, list) and len(groups) == 2:
        g = np.column_stack([kept[groups[0]], pd.factorize(kept[groups[1]])[0]])
    else:
        g = kept[groups if isinstance(groups, str) else groups[0]].to_numpy()
    return model.fit(cov_type="cluster", cov_kwds={"groups": g}, use_t=use_t), kept


@pytest.mark.parametrize("groups", ["firm", ["firm", "year"]])
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("chunksize", [1, 29, "auto"])
@pytest.mark.parametrize("use_t", [None, True])
def test_cluster_equals_statsmodels(groups, weights, chunksize, use_t):
    df = _panel()  # with missing values: the fitted rows are a subset
    ref, _ = _cluster_ref(df, weights, groups, use_t)
    fit = df.ooc.lstsq(
        FORMULA,
        weights=weights,
        cov_type="cluster",
        cov_kwds={"groups": groups},
        use_t=use_t,
        chunksize=chunksize,
    )
    _same_inference(fit, ref)
    assert fit.df_resid_inference == ref.df_resid_inference
    for spec in ("a = 0", "a = b, c = 0"):
        np.testing.assert_allclose(fit.t_test(spec).pvalue, ref.t_test(spec).pvalue, rtol=1e-6)
        np.testing.assert_allclose(fit.f_test(spec).fvalue, ref.f_test(spec).fvalue, rtol=1e-8)


def test_cluster_groups_as_arrays_and_series(tmp_path):
    df = _panel()
    ref, kept = _cluster_ref(df, None, "firm")
    values = kept["firm"].to_numpy()
    series = pd.Series(values, index=kept.index).iloc[::-1]  # matched by label, not position
    streamed = df.ooc.lstsq(FORMULA, chunksize=41)
    stored = df.ooc.lstsq(FORMULA, chunksize=41, path=tmp_path / "d.nc")
    for fit in (streamed, stored):
        for groups in (values, series, values.tolist()):
            robust = fit.get_robustcov_results("cluster", groups=groups, use_t=False)
            np.testing.assert_allclose(robust.bse, ref.bse, rtol=1e-8)
    with pytest.raises(ooc.ArgumentError, match="stored design"):
        stored.get_robustcov_results("cluster", groups="firm")
    with pytest.raises(ooc.ArgumentError, match="one per fitted row"):
        streamed.get_robustcov_results("cluster", groups=values[:-1])
    with pytest.raises(ooc.MissingColumnError, match="nope"):
        streamed.get_robustcov_results("cluster", groups="nope")
    with pytest.raises(ooc.ArgumentError, match="groups"):
        streamed.get_robustcov_results("cluster")
    with pytest.raises(ooc.ArgumentError, match="takes the keywords"):
        streamed.get_robustcov_results("cluster", groups="firm", maxlags=2)


def test_cluster_missing_group_and_single_group():
    df = _panel()
    df.loc[df.index[20], "firm"] = np.nan
    with pytest.raises(ooc.ArgumentError, match="group is missing"):
        df.ooc.lstsq(FORMULA, cov_type="cluster", cov_kwds={"groups": "firm"})
    df["one"] = 1
    with pytest.raises(ooc.DataError, match="at least two groups"):
        df.ooc.lstsq(FORMULA, cov_type="cluster", cov_kwds={"groups": "one"})


def test_cluster_after_update_and_without_correction():
    df = _panel(700, seed=9).dropna()
    first, second = df.iloc[:400], df.iloc[400:]
    fit = first.ooc.lstsq(FORMULA, chunksize=53).update(second)
    kwds = {"groups": df["firm"].to_numpy(), "use_correction": False, "df_correction": False}
    ref = smf.ols(FORMULA, df).fit(cov_type="cluster", cov_kwds=dict(kwds))
    robust = fit.get_robustcov_results("cluster", use_t=False, **kwds)
    np.testing.assert_allclose(robust.bse, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(robust.pvalues, ref.pvalues, rtol=1e-6, atol=1e-300)
    assert not hasattr(robust, "df_resid_inference")
