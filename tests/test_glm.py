"""GLMs by IRLS over a stored design, against statsmodels' GLM on the same data.

Issue's bounds: params 1e-7, bse 1e-6, deviance/llf/aic 1e-9, for a logistic model with a
categorical and an interaction, a Poisson model with exposure and a Gamma model with a log
link, at chunk sizes from a few rows to the whole; the other families, the weights, the
offsets, the lazy residuals and the errors too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
import xarray as xr

import ooc_accessor as ooc

FAM = sm.families
LOG = FAM.links.Log()


def make_data(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "g": rng.choice(list("abc"), n),
        }
    )
    df.index = pd.Index(rng.permutation(n) * 3 + 7, name="id")  # labels are not positions
    eta = -0.3 + 0.8 * df.x - 0.5 * df.z + (df.g == "b") * 0.4 + 0.3 * df.x * (df.g == "c")
    df["hit"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    df["expo"] = rng.uniform(0.5, 3, n)
    df["cnt"] = rng.poisson(np.exp(0.2 + 0.3 * df.x + np.log(df.expo))).astype(float)
    df["pos"] = rng.gamma(2.0, np.exp(0.5 + 0.2 * df.x) / 2.0)
    df["ig"] = rng.wald(np.exp(0.3 + 0.1 * df.x), 4.0)
    df["w"] = rng.uniform(0.5, 2.0, n)
    df["f"] = rng.integers(1, 4, n).astype(float)
    df["off"] = rng.normal(scale=0.2, size=n)
    return df


DF = make_data()

#: (formula, ooc keywords, statsmodels family, statsmodels keywords)
MAIN = {
    "logistic": ("hit ~ x + z + C(g) + x:C(g)", {"family": "binomial"}, FAM.Binomial(), {}),
    "poisson-exposure": (
        "cnt ~ x + C(g)",
        {"family": "poisson", "exposure": "expo"},
        FAM.Poisson(),
        {"exposure": DF.expo},
    ),
    "gamma-log": ("pos ~ x + z", {"family": "gamma", "link": "log"}, FAM.Gamma(LOG), {}),
}


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def check_against(r, s, *, p=1e-7, se=1e-6, fit=1e-9) -> None:
    assert list(r.params.index) == list(s.params.index)
    assert rel(r.params, s.params) < p
    assert rel(r.bse, s.bse) < se
    assert rel(r.tvalues, s.tvalues) < se
    assert rel(r.pvalues, s.pvalues) < 1e-6 or np.allclose(r.pvalues, s.pvalues, atol=1e-300)
    assert rel(r.conf_int(), s.conf_int()) < se
    assert rel(r.cov_params(), s.cov_params()) < se
    for name in ("deviance", "llf", "aic", "null_deviance", "pearson_chi2", "scale"):
        assert rel(getattr(r, name), getattr(s, name)) < fit, name
    for name in ("llnull", "bic_llf", "bic_deviance"):
        assert rel(getattr(r, name), getattr(s, name)) < fit, name
    assert rel(r.pseudo_rsquared("cs"), s.pseudo_rsquared("cs")) < 1e-8
    assert rel(r.pseudo_rsquared("mcf"), s.pseudo_rsquared("mcf")) < 1e-8
    assert (r.nobs, r.df_model, r.df_resid) == (s.nobs, s.df_model, s.df_resid)
    assert r.converged and s.converged
    assert r.fit_history["iteration"] == s.fit_history["iteration"]


@pytest.mark.parametrize("case", list(MAIN))
@pytest.mark.parametrize("chunksize", [97, 100_000])
def test_main_models_equal_statsmodels(case, chunksize):
    formula, kw, fam, skw = MAIN[case]
    r = DF.ooc.glm(formula, chunksize=chunksize, **kw)
    s = smf.glm(formula, DF, family=fam, **skw).fit()
    check_against(r, s)


@pytest.mark.parametrize("case", list(MAIN))
def test_blocks_of_three_rows(case):
    """Blocks of 3 rows (a block's sums of a few rows merged ~100 times per iteration)."""
    small = make_data(n=300, seed=8)
    formula, kw, fam, skw = MAIN[case]
    skw = {k: small[v.name] for k, v in skw.items()}  # the small frame's own columns
    r = small.ooc.glm(formula, chunksize=3, **kw)
    s = smf.glm(formula, small, family=fam, **skw).fit()
    check_against(r, s)


@pytest.mark.parametrize(
    ("formula", "kw", "fam", "skw"),
    [
        ("ig ~ x", {"family": "inverse_gaussian"}, FAM.InverseGaussian(), {}),
        ("ig ~ x", {"family": "inverse_gaussian", "link": "log"}, FAM.InverseGaussian(LOG), {}),
        ("cnt ~ x + z", {"family": "negativebinomial"}, FAM.NegativeBinomial(alpha=1.0), {}),
        ("cnt ~ x", {"family": FAM.Tweedie(var_power=1.5)}, FAM.Tweedie(var_power=1.5), {}),
        ("pos ~ x + C(g)", {"family": "gaussian"}, FAM.Gaussian(), {}),
        ("pos ~ x", {"family": "gaussian", "link": "log"}, FAM.Gaussian(LOG), {}),
        (
            "hit ~ x + z",
            {"family": "binomial", "link": "probit"},
            FAM.Binomial(FAM.links.Probit()),
            {},
        ),
        (
            "hit ~ x",
            {"family": "binomial", "link": "cloglog"},
            FAM.Binomial(FAM.links.CLogLog()),
            {},
        ),
        ("pos ~ x", {"family": "gamma"}, FAM.Gamma(), {}),
        ("cnt ~ x", {"family": "poisson", "offset": "off"}, FAM.Poisson(), {"offset": DF.off}),
        (
            "cnt ~ x",
            {"family": "poisson", "offset": "off", "exposure": "expo"},
            FAM.Poisson(),
            {"offset": DF.off, "exposure": DF.expo},
        ),
        (
            "pos ~ x",
            {"family": "gamma", "link": "log", "var_weights": "w"},
            FAM.Gamma(LOG),
            {"var_weights": DF.w},
        ),
        (
            "hit ~ x + C(g)",
            {"family": "binomial", "freq_weights": "f"},
            FAM.Binomial(),
            {"freq_weights": DF.f},
        ),
        (
            "pos ~ x",
            {"family": "gaussian", "var_weights": "w", "freq_weights": "f"},
            FAM.Gaussian(),
            {"var_weights": DF.w, "freq_weights": DF.f},
        ),
    ],
)
def test_other_families_links_weights_and_offsets(formula, kw, fam, skw):
    r = DF.ooc.glm(formula, chunksize=211, **kw)
    s = smf.glm(formula, DF, family=fam, **skw).fit()
    check_against(r, s)


def test_row_inputs_by_label_array_and_number():
    """A Series is matched by label (shuffled here), an array by position, a number for all."""
    s = smf.glm("cnt ~ x", DF, family=FAM.Poisson(), exposure=DF.expo, offset=DF.off).fit()
    shuffled = DF.expo.sample(frac=1.0, random_state=1)
    r = DF.ooc.glm("cnt ~ x", "poisson", exposure=shuffled, offset=DF.off.to_numpy())
    check_against(r, s)
    s2 = smf.glm("cnt ~ x", DF, family=FAM.Poisson(), offset=np.full(len(DF), 0.25)).fit()
    check_against(DF.ooc.glm("cnt ~ x", "poisson", offset=0.25), s2)


def test_dropped_rows_drop_their_offset_and_weights():
    df = DF.copy()
    df.loc[df.index[::17], "x"] = np.nan
    r = df.ooc.glm("cnt ~ x", "poisson", exposure="expo", var_weights=df.w, chunksize=50)
    keep = df.x.notna()
    s = smf.glm(
        "cnt ~ x", df[keep], family=FAM.Poisson(), exposure=df.expo[keep], var_weights=df.w[keep]
    ).fit()
    assert r._design.n_dropped == int((~keep).sum())
    check_against(r, s)


def test_a_dataset_gives_xarray_results():
    ds = xr.Dataset.from_dataframe(DF.reset_index(drop=True)).rename({"index": "t"})
    ds = ds.chunk({"t": 300})
    r = ds.ooc.glm("hit ~ x + C(g)", "binomial", var_weights="w", dim="t", chunksize=123)
    s = smf.glm("hit ~ x + C(g)", DF, family=FAM.Binomial(), var_weights=DF.w).fit()
    assert isinstance(r.params, xr.DataArray) and r.params.dims == ("term",)
    np.testing.assert_allclose(r.params.values, s.params.values, rtol=1e-7)
    np.testing.assert_allclose(r.bse.values, s.bse.values, rtol=1e-6)
    np.testing.assert_allclose(r.llf, s.llf, rtol=1e-9)
    fitted = r.fittedvalues
    assert fitted.dims == ("t",)
    np.testing.assert_allclose(fitted.values, s.fittedvalues.values, rtol=1e-9)


def test_stored_design_glm(tmp_path):
    design = DF.ooc.design("pos ~ x + z", path=tmp_path / "d.nc", chunksize=333)
    w = DF.w.to_numpy()
    r = design.glm("gamma", link="log", var_weights=w)
    s = smf.glm("pos ~ x + z", DF, family=FAM.Gamma(LOG), var_weights=DF.w).fit()
    check_against(r, s)
    again = ooc.open_design(tmp_path / "d.nc").glm(FAM.Gamma(LOG), var_weights=w)
    np.testing.assert_array_equal(again.params, r.params)
    with pytest.raises(ooc.ArgumentTypeError, match="names a column"):
        design.glm("gamma", var_weights="w")


def test_lazy_row_outputs_equal_statsmodels():
    r = DF.ooc.glm("cnt ~ x + C(g)", "poisson", exposure="expo", var_weights="w", chunksize=131)
    s = smf.glm(
        "cnt ~ x + C(g)", DF, family=FAM.Poisson(), exposure=DF.expo, var_weights=DF.w
    ).fit()
    for name in (
        "fittedvalues",
        "mu",
        "resid_response",
        "resid_pearson",
        "resid_deviance",
        "resid_working",
    ):
        got = getattr(r, name)
        assert got.chunks is not None, name  # lazy
        np.testing.assert_allclose(got.values, np.asarray(getattr(s, name)), rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(r.fittedvalues.indexes[r.fittedvalues.dims[0]], DF.index)


def test_predict_mean_and_linear_with_exposure():
    r = DF.ooc.glm("cnt ~ x + C(g)", "poisson", exposure="expo")
    s = smf.glm("cnt ~ x + C(g)", DF, family=FAM.Poisson(), exposure=DF.expo).fit()
    new = DF.iloc[:40].copy()
    new.loc[new.index[3], "x"] = np.nan
    got = r.predict(new, exposure="expo")
    want = s.predict(new, exposure=new.expo)
    assert got.index.equals(new.index) and np.isnan(got.iloc[3])
    np.testing.assert_allclose(got.drop(new.index[3]), want.drop(new.index[3]), rtol=1e-9)
    lin = r.predict(new, which="linear")
    want = s.predict(new, which="linear", exposure=np.ones(len(new)))
    np.testing.assert_allclose(lin.drop(new.index[3]), want.drop(new.index[3]), rtol=1e-9)


def test_tests_on_a_glm_equal_statsmodels():
    formula, kw, fam, skw = MAIN["logistic"]
    r = DF.ooc.glm(formula, **kw)
    s = smf.glm(formula, DF, family=fam, **skw).fit()
    t, ts = r.t_test("x = z"), s.t_test("x = z")
    np.testing.assert_allclose(t.effect, ts.effect, rtol=1e-7)
    np.testing.assert_allclose(t.pvalue, ts.pvalue, rtol=1e-6)
    w, ws = r.wald_test("x = 0, z = 0", use_f=False), s.wald_test("x = 0, z = 0", scalar=True)
    np.testing.assert_allclose(w.statistic, ws.statistic, rtol=1e-7)
    np.testing.assert_allclose(w.pvalue, ws.pvalue, rtol=1e-6)


def test_summary_has_statsmodels_blocks():
    r = DF.ooc.glm("pos ~ x + z", "gamma", link="log")
    text = str(r.summary())
    for piece in (
        "Generalized Linear Model Regression Results",
        "Model Family:",
        "Gamma",
        "Link Function:",
        "Log",
        "Deviance:",
        "Pearson chi2:",
        "No. Iterations:",
        "Pseudo R-squ. (CS):",
        "Covariance Type:",
        "P>|z|",
    ):
        assert piece in text, piece
    assert f"{r.deviance:#8.5g}".strip() in text  # statsmodels' format
    assert f"{r.llf:#8.5g}".strip() in text
    assert "<table" in r._repr_html_()


def test_perfect_separation_raises():
    x = np.linspace(-1, 1, 60)
    df = pd.DataFrame({"x": x, "y": (x > 0).astype(float)})
    with pytest.raises(ooc.PerfectSeparationError, match="perfect separation"):
        df.ooc.glm("y ~ x", "binomial", chunksize=13)


def test_no_convergence_raises_with_the_history():
    with pytest.raises(ooc.ConvergenceError, match=r"did not converge in 2 IRLS.*deviance"):
        DF.ooc.glm("pos ~ x + z", "gamma", link="log", maxiter=2)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"family": "binomal"}, ooc.ArgumentError, "not one of"),
        ({"family": "binomial", "link": "log10"}, ooc.ArgumentError, "link='log10'"),
        ({"family": "gamma", "link": "logit"}, ooc.ArgumentError, "cannot be used with the gamma"),
        ({"family": "gamma", "exposure": "expo"}, ooc.ArgumentError, "needs the log link"),
        ({"family": "poisson", "offset": "nope"}, ooc.MissingColumnError, "offset='nope'"),
        ({"family": "poisson", "exposure": -np.ones(len(DF))}, ooc.DataError, "exposure must be"),
        (
            {"family": "poisson", "var_weights": [1.0, 2.0]},
            ooc.ArgumentError,
            "var_weights has 2 values",
        ),
        ({"family": 3}, ooc.ArgumentTypeError, "family must be"),
    ],
)
def test_bad_arguments_are_named(kw, error, match):
    with pytest.raises(error, match=match):
        DF.ooc.glm("cnt ~ x", **kw)


def test_response_outside_the_support_names_the_row():
    df = DF.copy()
    df.loc[df.index[5], "pos"] = -1.0
    with pytest.raises(ooc.DataError, match=r"Gamma family needs 'pos' positive.*stored row 5"):
        df.ooc.glm("pos ~ x", "gamma")


def test_a_missing_offset_names_its_row():
    df = DF.copy()
    df.loc[df.index[9], "off"] = np.nan
    with pytest.raises(
        ooc.DataError, match=rf"offset must be finite; the row labeled {df.index[9]}"
    ):
        df.ooc.glm("cnt ~ x", "poisson", offset="off")


def test_a_text_response_is_refused():
    df = DF.assign(yes=np.where(DF.hit > 0, "yes", "no"))
    with pytest.raises(ooc.ColumnTypeError, match=r"'yes' is used as the response.*to numbers"):
        df.ooc.glm("yes ~ x", "binomial")


@pytest.mark.parametrize("case", list(MAIN))
@pytest.mark.parametrize(
    ("cov_type", "groups"),
    [("HC0", None), ("HC1", None), ("HC3", None), ("cluster", "g"), ("cluster", "grp")],
)
def test_robust_covariances_equal_statsmodels(case, cov_type, groups):
    """statsmodels' GLM gives every HC type its one sandwich; clusters with its corrections."""
    formula, kw, fam, skw = MAIN[case]
    df = DF.assign(grp=np.random.default_rng(3).integers(0, 40, len(DF)))
    ck = None if groups is None else {"groups": groups}
    r = df.ooc.glm(formula, chunksize=101, cov_type=cov_type, cov_kwds=ck, **kw)
    sck = {} if groups is None else {"groups": pd.factorize(df[groups])[0]}
    s = smf.glm(formula, df, family=fam, **skw).fit(cov_type=cov_type, cov_kwds=sck)
    assert r.cov_type == s.cov_type and r.use_t == s.use_t
    np.testing.assert_allclose(r.bse, s.bse, rtol=1e-8)
    np.testing.assert_allclose(r.pvalues, s.pvalues, rtol=1e-6)
    np.testing.assert_allclose(r.conf_int(), s.conf_int(), rtol=1e-8)
    if groups is not None:
        assert r.df_resid_inference == s.df_resid_inference
        # the same groups as one value per fitted row, and as a Series matched by label
        by_array = r.get_robustcov_results("cluster", groups=df[groups].to_numpy())
        shuffled = df[groups].sample(frac=1.0, random_state=2)
        by_label = r.get_robustcov_results("cluster", groups=shuffled)
        np.testing.assert_allclose(by_array.bse, s.bse, rtol=1e-8)
        np.testing.assert_allclose(by_label.bse, s.bse, rtol=1e-8)


def test_two_way_cluster_and_use_t():
    df = DF.assign(a=np.random.default_rng(4).integers(0, 30, len(DF)))
    df["b"] = np.random.default_rng(5).integers(0, 25, len(df))
    r = df.ooc.glm(
        "pos ~ x + z",
        "gamma",
        link="log",
        cov_type="cluster",
        cov_kwds={"groups": ["a", "b"]},
        use_t=True,
    )
    groups = np.column_stack([df.a, df.b])
    s = smf.glm("pos ~ x + z", df, family=FAM.Gamma(LOG)).fit(
        cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
    )
    np.testing.assert_allclose(r.bse, s.bse, rtol=1e-8)
    np.testing.assert_allclose(r.pvalues, s.pvalues, rtol=1e-6)
    np.testing.assert_allclose(r.conf_int(), s.conf_int(), rtol=1e-8)


def test_robust_cov_of_a_stored_design_takes_groups_per_row(tmp_path):
    design = DF.ooc.design("cnt ~ x", chunksize=250)
    r = design.glm("poisson", cov_type="cluster", cov_kwds={"groups": DF.g.to_numpy()})
    s = smf.glm("cnt ~ x", DF, family=FAM.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(DF.g)[0]}
    )
    np.testing.assert_allclose(r.bse, s.bse, rtol=1e-8)
    with pytest.raises(ooc.ArgumentError, match="stored design, which has none"):
        design.glm("poisson", cov_type="cluster", cov_kwds={"groups": "g"})
    with pytest.raises(ooc.ArgumentError, match="cov_type='HC5'"):
        design.glm("poisson", cov_type="HC5")


def test_quasi_separation_warns():
    x = np.linspace(-1, 1, 60)
    df = pd.DataFrame({"x": np.r_[x, np.zeros(4)], "y": np.r_[(x > 0).astype(float), 0, 1, 0, 1]})
    with pytest.warns(ooc.PerfectSeparationWarning, match=r"a probability 0 or 1.*for \d+ of"):
        df.ooc.glm("y ~ x", "binomial")


def test_rank_deficient_glm_warns_and_gives_the_minimum_norm_fit():
    """statsmodels' IRLS does not converge here (its lstsq steps wander in the null space);
    the fit equals the reduced model's, split min-norm between the dependent columns."""
    df = DF.assign(x2=2 * DF.x)
    with pytest.warns(ooc.RankWarning, match="'x2' is a linear combination of 'x'"):
        r = df.ooc.glm("hit ~ x + x2 + z", "binomial", chunksize=300)
    s = smf.glm("hit ~ x + z", df, family=FAM.Binomial()).fit()
    b, bx = r.params, s.params["x"]
    np.testing.assert_allclose([b["x"], b["x2"]], [bx / 5, 2 * bx / 5], rtol=1e-8)
    np.testing.assert_allclose([b["Intercept"], b["z"]], s.params[["Intercept", "z"]], rtol=1e-8)
    np.testing.assert_allclose(r.llf, s.llf, rtol=1e-10)
    assert r.rank == 3 and r.df_model == 2


def test_fits_say_how_many_rows_were_dropped():
    df = DF.copy()
    df.loc[df.index[::50], "x"] = np.nan
    assert df.ooc.glm("cnt ~ x", "poisson").n_dropped == 30
    fit = df.ooc.lstsq("pos ~ x")
    assert fit.n_dropped == 30
    assert fit.update(df.iloc[:100]).n_dropped == 32  # the new rows' 2 too


def test_the_namespace_offers_public_names_only():
    names = dir(ooc)
    assert "GLMResults" in names and "read_csv" in names and "set_options" in names
    assert not {"accessors", "csvio", "design", "kernels", "options", "stats"} & set(names)
    assert names == sorted(ooc.__all__)
