"""statsmodels' GLM names added for its own test classes: ``scale=``, ``result.model``,
the Anscombe residuals, ``llf_scaled``, ``get_distribution``, ``summary2`` and friends,
each against statsmodels' GLM on the same data (and lazy where it has a value per row)."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import xarray as xr
from numpy.testing import assert_allclose

import ooc_accessor as ooc

FAM = sm.families


def _frame(n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.uniform(-1, 1, n)})
    df["cnt"] = rng.poisson(np.exp(0.4 + 0.5 * df.x)).astype(float)
    df["pos"] = rng.gamma(2.0, np.exp(0.3 + 0.2 * df.x) / 2.0)
    df["w"] = rng.uniform(0.5, 2.0, n)
    df["f"] = rng.integers(1, 4, n).astype(float)
    df["off"] = rng.normal(scale=0.1, size=n)
    return df


DF = _frame()
X = sm.add_constant(DF[["x", "z"]].to_numpy())


def _sm(y: str, family, **kw):
    return sm.GLM(DF[y].to_numpy(), X, family=family, **kw)


@pytest.mark.parametrize(
    ("scale", "family", "y"),
    [
        ("X2", FAM.Gamma(FAM.links.Log()), "pos"),  # the default, said
        ("dev", FAM.Gamma(FAM.links.Log()), "pos"),  # deviance / df_resid
        (0.7, FAM.Gamma(FAM.links.Log()), "pos"),  # fixed
        ("x2", FAM.Poisson(), "cnt"),  # quasi-Poisson
        ("dev", FAM.Poisson(), "cnt"),
    ],
)
def test_scale_option_matches_statsmodels(scale, family, y):
    r = DF.ooc.glm(f"{y} ~ x + z", family=family, scale=scale, freq_weights="f", chunksize=41)
    s = _sm(y, family, freq_weights=DF.f.to_numpy()).fit(scale=scale)
    assert_allclose(r.scale, s.scale, rtol=1e-10)
    assert_allclose(r.params, s.params, rtol=1e-9)
    assert_allclose(r.bse, s.bse, rtol=1e-8)
    assert_allclose(r.llf, s.llf, rtol=1e-10)
    assert r.fit_history["iteration"] == s.fit_history["iteration"]
    assert r.scaletype == r.model.scaletype == (scale.lower() if isinstance(scale, str) else scale)


@pytest.mark.parametrize("bad", ["pearson", True, [1.0]])
def test_scale_refused(bad):
    with pytest.raises((ooc.ArgumentError, ooc.ArgumentTypeError), match="scale"):
        DF.ooc.glm("pos ~ x", family="gamma", scale=bad)


@pytest.fixture(scope="module")
def pair():
    """ooc and statsmodels: a Gamma-log GLM with var_weights, freq_weights and an offset."""
    fam = FAM.Gamma(FAM.links.Log())
    kw = {"var_weights": "w", "freq_weights": "f", "offset": "off"}
    r = DF.ooc.glm("pos ~ x + z", family=fam, chunksize=37, **kw)
    s = _sm(
        "pos",
        fam,
        var_weights=DF.w.to_numpy(),
        freq_weights=DF.f.to_numpy(),
        offset=DF.off.to_numpy(),
    ).fit()
    return r, s


def _lazy(a) -> bool:
    return isinstance(a, xr.DataArray) and isinstance(a.data, dsa.Array)


def test_model_rows_are_lazy_and_statsmodels(pair):
    r, s = pair
    m = r.model
    for name in ("endog", "exog", "var_weights", "freq_weights", "iweights"):
        assert _lazy(getattr(m, name)), name
        assert_allclose(getattr(m, name), getattr(s.model, name), rtol=1e-15, err_msg=name)
    assert_allclose(m.offset_exposure, s.model._offset_exposure, rtol=1e-15)
    assert (m.nobs, m.wnobs, m.df_model, m.df_resid) == (
        s.model.nobs,
        s.model.wnobs,
        s.model.df_model,
        s.model.df_resid,
    )
    assert m.exog_names == ["Intercept", "x", "z"]
    assert m.endog_names == "pos"
    assert m.family is r.family


def test_model_functions_match_statsmodels(pair):
    r, s = pair
    p = np.asarray(r.params) * 0.97
    m, sm_ = r.model, s.model
    for scale in (None, 1.3):
        obs = m.score_obs(p, scale)
        assert _lazy(obs) and obs.dims == ("obs", "term")
        assert_allclose(obs, sm_.score_obs(p, scale), rtol=1e-10)
        assert_allclose(m.score(p, scale), sm_.score(p, scale), rtol=1e-10)
        for observed in (True, False):
            assert_allclose(
                m.hessian(p, scale, observed), sm_.hessian(p, scale, observed), rtol=1e-10
            )
            assert_allclose(
                m.hessian_factor(p, scale, observed),
                sm_.hessian_factor(p, scale, observed),
                rtol=1e-10,
            )
        assert_allclose(m.loglike(p, scale), sm_.loglike(p, scale), rtol=1e-12)
    assert_allclose(m.information(p), sm_.information(p), rtol=1e-10)
    mu = m.predict(p)
    assert_allclose(m.estimate_scale(mu), sm_.estimate_scale(sm_.predict(p)), rtol=1e-12)
    for which in ("mean", "linear", "var_unscaled"):
        assert _lazy(m.predict(p, which=which))
        assert_allclose(m.predict(p, which=which), sm_.predict(p, which=which), rtol=1e-12)
    new = X[:5] * 1.1
    assert_allclose(
        m.predict(p, exog=new, offset=np.ones(5)),
        sm_.predict(p, exog=new, offset=np.ones(5)),
        rtol=1e-13,
    )


def test_results_names_match_statsmodels(pair):
    r, s = pair
    for name in ("resid_anscombe", "resid_anscombe_scaled", "resid_anscombe_unscaled"):
        assert _lazy(getattr(r, name)), name
        assert_allclose(getattr(r, name), getattr(s, name), rtol=1e-10, err_msg=name)
    assert_allclose(r.llf_scaled(), s.llf_scaled(), rtol=1e-12)
    assert_allclose(r.llf_scaled(2.0), s.llf_scaled(2.0), rtol=1e-12)
    assert _lazy(r.predict()) and _lazy(r.predict(which="var_unscaled"))
    assert_allclose(r.predict(), s.predict(), rtol=1e-12)
    assert_allclose(r.predict(which="var_unscaled"), s.predict(which="var_unscaled"), rtol=1e-12)
    d1, d2 = r.get_distribution(), s.get_distribution()
    assert_allclose(d1.mean(), d2.mean(), rtol=1e-12)
    assert_allclose(d1.var(), d2.var(), rtol=1e-12)
    assert r.cov_kwds == s.cov_kwds
    assert r.method == s.method == "IRLS"
    assert r.mle_settings["optimizer"] == s.mle_settings["optimizer"]


def test_predict_new_rows_var_unscaled():
    r = DF.ooc.glm("cnt ~ x", family="poisson")
    new = pd.DataFrame({"x": [0.0, 1.0]}, index=["a", "b"])
    got = r.predict(new, which="var_unscaled")
    assert_allclose(got, np.exp(r.params["Intercept"] + r.params["x"] * new.x), rtol=1e-13)
    assert list(got.index) == ["a", "b"]


def test_discrete_distribution_warns_on_excess_dispersion():
    r = DF.ooc.glm("cnt ~ x", family="poisson", scale="x2")
    with pytest.warns(UserWarning, match="using scale=1"):
        d = r.get_distribution()
    assert_allclose(d.mean(), r.fittedvalues, rtol=1e-13)


def test_robust_cov_kwds_and_summary2():
    r = DF.ooc.glm("cnt ~ x", family="poisson", cov_type="HC0")
    assert r.cov_kwds["description"].startswith("Standard Errors are robust to HC0")
    text = str(r.summary2())
    assert "Generalized linear model" in text
    assert "Poisson" in text and "Intercept" in text
    assert f"{r.params['x']:.4f}" in text
    text = str(r.summary())
    assert f"{r.scale:#8.5g}".strip() in text  # statsmodels' number formats


def test_binomial_instance_with_trials_is_not_used_with_its_rows():
    # statsmodels' GLM of (successes, failures) leaves the trials on the family instance
    fam = FAM.Binomial()
    counts = np.column_stack([DF.cnt, DF.cnt + 3])
    sm.GLM(counts, X, family=fam)
    assert np.size(fam.n) == len(DF)
    df = DF.assign(p=DF.cnt / (2 * DF.cnt + 3), n=2 * DF.cnt + 3)
    r = df.ooc.glm("p ~ x + z", family=fam, var_weights="n", chunksize=50)
    s = sm.GLM(counts, X, family=FAM.Binomial()).fit()
    assert_allclose(r.params, s.params, rtol=1e-10)
    assert_allclose(r.deviance, s.deviance, rtol=1e-10)
    assert np.size(fam.n) == len(DF)  # the caller's instance is left as it was


@pytest.mark.parametrize(
    "kw",
    [
        {"atol": 1e-8, "rtol": 0.0},
        {"atol": 0.0, "rtol": 1e-8},
        {"atol": 1e-6, "rtol": 1e-6, "tol_criterion": "params"},
        {"atol": 0.0, "rtol": 1e-10, "tol_criterion": "params"},
    ],
)
def test_tolerances_match_statsmodels(kw):
    r = DF.ooc.glm("pos ~ x + z", family=FAM.Gamma(FAM.links.Log()), chunksize=61, **kw)
    s = _sm("pos", FAM.Gamma(FAM.links.Log())).fit(**kw)
    assert r.fit_history["iteration"] == s.fit_history["iteration"]
    assert len(r.fit_history["deviance"]) == len(s.fit_history["deviance"])
    assert_allclose(r.fit_history["deviance"][1:], s.fit_history["deviance"][1:], rtol=1e-10)
    assert_allclose(r.params, s.params, rtol=1e-9)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"atol": -1.0}, "atol must be a non-negative"),
        ({"rtol": "x"}, "rtol must be a non-negative"),
        ({"tol_criterion": "llf"}, "tol_criterion='llf'"),
        ({"atol": 0.0, "rtol": 0.0}, "could never converge"),
    ],
)
def test_tolerances_refused(kw, match):
    with pytest.raises(ooc.ArgumentError, match=match):
        DF.ooc.glm("pos ~ x", family="gamma", **kw)


def test_convergence_error_names_the_tolerance():
    with pytest.raises(ooc.ConvergenceError, match=r"tolerance on the params: atol 0, rtol 1e-15"):
        DF.ooc.glm(
            "pos ~ x", family="gamma", maxiter=2, atol=0.0, rtol=1e-15, tol_criterion="params"
        )


def test_start_params_as_statsmodels():
    # statsmodels' test_glm_start_params (its issue 1604): a start that reaches the answer
    y = np.repeat(np.array([0, 1, 0, 0, 0, 1.0]), [50, 1, 50, 1, 5, 10])
    x = np.repeat([0, 0, 0.001, 100, -1, -1], [50, 1, 50, 1, 5, 10])
    df = pd.DataFrame({"y": y, "x": x})
    with pytest.warns(ooc.PerfectSeparationWarning, match="1 of 117 rows"):  # x = 100
        r = df.ooc.glm("y ~ x", family="binomial", start_params=[-4, -5], chunksize=30)
    assert_allclose(r.params, [-4.60305022, -5.29634545], atol=1e-6)
    assert_allclose(r.fit_history["params"][1], [-4, -5])
    s = sm.GLM(y, sm.add_constant(x), family=FAM.Binomial()).fit(start_params=[-4, -5])
    assert r.fit_history["iteration"] == s.fit_history["iteration"]
    assert_allclose(r.fit_history["deviance"][1:], s.fit_history["deviance"][1:], rtol=1e-10)


def test_start_params_with_offset():
    kw = {"offset": "off"}
    r = DF.ooc.glm("cnt ~ x + z", family="poisson", start_params=[0.1, 0.2, 0.0], **kw)
    s = _sm("cnt", FAM.Poisson(), offset=DF.off.to_numpy()).fit(start_params=[0.1, 0.2, 0.0])
    assert r.fit_history["iteration"] == s.fit_history["iteration"]
    assert_allclose(r.fit_history["deviance"][1:], s.fit_history["deviance"][1:], rtol=1e-10)
    assert_allclose(r.params, s.params, rtol=1e-10)


@pytest.mark.parametrize("bad", [[1.0], [0.0, np.nan], "ab"])
def test_start_params_refused(bad):
    with pytest.raises((ooc.ArgumentError, ooc.ArgumentTypeError), match="start_params"):
        DF.ooc.glm("pos ~ x", family="gamma", start_params=bad)


def test_model_of_a_dataset_fit_sums_over_its_sample_dim():
    ds = xr.Dataset({k: ("time", DF[k].to_numpy()) for k in ("cnt", "x", "z")})
    r = ds.ooc.glm("cnt ~ x + z", family="poisson", dim="time", chunksize=53)
    s = _sm("cnt", FAM.Poisson()).fit()
    p = np.asarray(r.params) * 0.9
    assert r.model.score_obs(p).dims == ("time", "term")
    assert_allclose(r.model.score(p), s.model.score(p), rtol=1e-10)
    assert_allclose(r.model.hessian(p), s.model.hessian(p), rtol=1e-10)
    assert_allclose(r.resid_anscombe, s.resid_anscombe, rtol=1e-10)
    assert_allclose(r.predict(which="linear"), s.predict(which="linear"), rtol=1e-12)
