"""Breaks found by the adversarial pass over the robust covariances, the hypothesis tests
and the streamed fit's later passes (Step 8's first part), kept as regression tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import ooc_accessor as ooc


def _hetero(n=300, seed=28, offset=0.0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": offset + rng.normal(size=n), "z": rng.normal(size=n)})
    df["y"] = 1 + 0.3 * (df.x - offset) - 0.2 * df.z + rng.normal(size=n) * (1 + df.z**2)
    return df


@pytest.mark.parametrize("offset", [1e3, 1e5, 1e6, 1e7])
def test_hc_of_an_ill_conditioned_design_keeps_its_digits(offset):
    """A column of 1e6 + noise beside the intercept: the sandwich through (X'X)^-1 lost
    7e-4 relative; through triangular solves on R it keeps its digits. The reference is
    the same fit of the column less its offset (exact in float64 here, by Sterbenz): the
    slopes and their robust errors do not change under that shift, and that fit is well
    conditioned."""
    df = _hetero(offset=offset)
    fit = df.ooc.lstsq("y ~ x + z", chunksize=41)
    ref = smf.ols("y ~ x + z", df.assign(x=df.x - offset)).fit()
    for kind in ("HC0", "HC1", "HC2", "HC3"):
        np.testing.assert_allclose(
            getattr(fit, f"{kind}_se")[["x", "z"]],
            getattr(ref, f"{kind}_se")[["x", "z"]],
            rtol=1e-8,
        )


def test_robust_f_of_a_rank_deficient_design():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=200), "z": rng.normal(size=200)})
    df["x2"] = 2 * df.x
    df["y"] = 1 + 0.3 * df.x - 0.2 * df.z + rng.normal(size=200) * (1 + df.x**2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = df.ooc.lstsq("y ~ x + x2 + z", cov_type="HC0")
        ref = smf.ols("y ~ x + x2 + z", df).fit(cov_type="HC0")
        np.testing.assert_allclose(fit.fvalue, ref.fvalue, rtol=1e-8)
        np.testing.assert_allclose(fit.f_pvalue, ref.f_pvalue, rtol=1e-6)
    # a level whose rows all weigh 0: rank deficient in the weighted design only
    rng = np.random.default_rng(21)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "z": rng.normal(size=200),
            "g": rng.choice(list("abc"), 200),
            "w": rng.uniform(0.1, 3, 200),
        }
    )
    df["y"] = 1 + df.x + rng.normal(size=200) * (1 + df.x**2)
    df.loc[df.g == "c", "w"] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = df.ooc.lstsq("y ~ x + z + C(g)", weights="w", cov_type="HC0")
        ref = smf.wls("y ~ x + z + C(g)", df, weights=df.w).fit(cov_type="HC0")
    np.testing.assert_allclose(fit.fvalue, ref.fvalue, rtol=1e-8)
    np.testing.assert_allclose(fit.f_pvalue, ref.f_pvalue, rtol=1e-6)


def test_robust_f_with_a_constant_column_by_another_name():
    df = _hetero().assign(one=1.0)
    fit = df.ooc.lstsq("y ~ 0 + one + x + z", cov_type="HC1")
    ref = smf.ols("y ~ 0 + one + x + z", df).fit(cov_type="HC1")
    np.testing.assert_allclose(fit.fvalue, ref.fvalue, rtol=1e-8)
    np.testing.assert_allclose(fit.f_pvalue, ref.f_pvalue, rtol=1e-6)


def test_weights_series_is_copied_at_the_fit(tmp_path):
    df = _hetero()
    w = pd.Series(np.linspace(0.5, 2.0, len(df)), index=df.index)
    design = df.ooc.design("y ~ x + z", path=tmp_path / "d.nc")
    fit = design.lstsq(weights=w)
    expected = smf.wls("y ~ x + z", df, weights=w.to_numpy().copy()).fit().HC1_se
    w[:] = 100.0  # edited after the fit: the fit keeps the weights it was made with
    np.testing.assert_allclose(np.asarray(fit.HC1_se), np.asarray(expected), rtol=1e-8)


def test_wald_test_does_not_depend_on_column_units():
    df = _hetero()
    plain = df.ooc.lstsq("y ~ x + z")
    scaled = df.assign(x=df.x * 1e8).ooc.lstsq("y ~ x + z")
    for spec in ("x = 0, z = 0", "x = 0"):
        np.testing.assert_allclose(scaled.f_test(spec).fvalue, plain.f_test(spec).fvalue, rtol=1e-8)
        assert scaled.f_test(spec).df_num == plain.f_test(spec).df_num


def test_constraints_that_test_nothing_and_bad_inputs():
    fit = _hetero().ooc.lstsq("y ~ x + z")
    with pytest.raises(ooc.ArgumentError, match="zero variance"):
        fit.f_test(np.zeros((1, 3)))
    with pytest.raises(ooc.ArgumentError, match="empty"):
        fit.t_test("")
    with pytest.raises(ooc.ArgumentTypeError, match="another fit"):
        fit.compare_f_test(None)
    with pytest.raises(ooc.ArgumentTypeError):
        fit.t_test("x = 0").conf_int(alpha="a")
    with pytest.raises(ooc.ArgumentError, match="between 0 and 1"):
        fit.t_test("x = 0").conf_int(alpha=2)


def test_labelled_constraint_matrices_are_matched_by_name():
    df = _hetero()
    fit = df.ooc.lstsq("y ~ x + z")
    by_name = fit.t_test(pd.DataFrame({"z": [1.0]}))
    assert by_name.effect[0] == pytest.approx(fit.params["z"])
    assert fit.t_test(pd.Series({"z": 1.0})).effect[0] == pytest.approx(fit.params["z"])
    with pytest.raises(ooc.FormulaError, match="not terms"):
        fit.t_test(pd.DataFrame({"nope": [1.0]}))


def test_update_after_weights_given_to_the_fit_asks_for_the_new_weights(tmp_path):
    df = _hetero().assign(w=lambda d: np.linspace(0.5, 2, len(d)))
    a, b = df.iloc[:200], df.iloc[200:]
    design = a.ooc.design("y ~ x + z", path=tmp_path / "d.nc", weights="w")
    fit = design.lstsq(weights=np.ones(len(a)))  # overrides the stored weights
    with pytest.raises(ooc.ArgumentError, match="pass weights="):
        fit.update(b)


def test_a_later_pass_over_changed_data_is_a_data_error():
    df = _hetero().assign(w=1.5)
    fit = df.ooc.lstsq("y ~ x + z", weights="w", chunksize=50)
    del df["w"]
    with pytest.raises(ooc.DataError, match="cannot be read as it was fitted"):
        _ = fit.HC1_se
    df2 = _hetero()
    fit2 = df2.ooc.lstsq("y ~ x + z", chunksize=50)
    df2.loc[:, "y"] = np.nan  # every row would now be dropped
    with pytest.raises(ooc.DataError, match="changed after it was fitted"):
        _ = fit2.fittedvalues


def test_hc1_without_residual_degrees_of_freedom_is_nan():
    df = pd.DataFrame({"x": [1.0, 2.0, 4.0], "z": [0.5, -1.0, 2.0], "y": [1.0, 3.0, 2.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = df.ooc.lstsq("y ~ x + z", cov_type="HC1")
        assert np.isnan(np.asarray(fit.bse)).all()


def test_a_level_seen_once_leaves_the_other_hc2_errors_finite():
    rng = np.random.default_rng(2)
    n = 120
    df = pd.DataFrame(
        {"x": rng.normal(size=n), "z": rng.normal(size=n), "g": rng.choice(list("abc"), n)}
    )
    df.loc[0, "g"] = "once"  # a dummy with a single row: leverage 1, residual 0
    df["y"] = 1 + 2 * df.x - df.z + rng.normal(size=n) * (1 + df.x**2)
    fit = df.ooc.lstsq("y ~ x + z + C(g)")
    ref = smf.ols("y ~ x + z + C(g)", df).fit()
    others = [t for t in fit.terms if "once" not in t]
    np.testing.assert_allclose(fit.HC2_se[others], ref.HC2_se[others], rtol=1e-6)


def test_comparison_of_fits_on_other_rows_or_weights_is_refused():
    df = _hetero()
    full = df.ooc.lstsq("y ~ x + z")
    with pytest.raises(ooc.ArgumentError, match="weighting"):
        full.compare_f_test(df.assign(w=100.0).ooc.lstsq("y ~ x", weights="w"))
    with pytest.raises(ooc.ArgumentError, match="number of rows"):
        full.compare_lr_test(df.iloc[:100].ooc.lstsq("y ~ x"))


# -- the second, short pass: cluster groups, predictions, read_csv's parse thread ------------
def _firms(n=300, seed=5):
    df = _hetero(n, seed)
    rng = np.random.default_rng(seed)
    df["firm"] = rng.integers(0, 25, n)
    df["year"] = rng.integers(0, 6, n)
    df.index = pd.Index(np.arange(n) * 3 + 7, name="row")
    return df


def test_cluster_groups_with_labels_are_matched_by_label():
    import xarray as xr

    df = _firms()
    ref = smf.ols("y ~ x + z", df).fit(cov_type="cluster", cov_kwds={"groups": df.firm.values})
    fit = df.ooc.lstsq("y ~ x + z", chunksize=37)
    shuffled = df.firm.iloc[::-1]
    da = xr.DataArray(shuffled.values, dims="row", coords={"row": shuffled.index})
    for groups in (shuffled, da, shuffled.to_frame()):
        robust = fit.get_robustcov_results("cluster", groups=groups, use_t=False)
        np.testing.assert_allclose(robust.bse, ref.bse, rtol=1e-8)
    two = df[["firm", "year"]].iloc[::-1]
    ref2 = smf.ols("y ~ x + z", df).fit(
        cov_type="cluster", cov_kwds={"groups": df[["firm", "year"]].to_numpy()}
    )
    robust = fit.get_robustcov_results("cluster", groups=two, use_t=False)
    np.testing.assert_allclose(robust.bse, ref2.bse, rtol=1e-8)


def test_cluster_fit_update_and_missing_groups_are_named():
    df = _firms()
    fit = df.iloc[:200].ooc.lstsq("y ~ x + z", cov_type="cluster", cov_kwds={"groups": "firm"})
    with pytest.raises(ooc.ArgumentError, match="new rows' groups"):
        fit.update(df.iloc[200:])
    df.loc[df.index[3], "firm"] = np.nan
    with pytest.raises(ooc.ArgumentError, match="cluster group is missing"):
        df.ooc.lstsq("y ~ x + z", cov_type="cluster", cov_kwds={"groups": "firm"})


def test_prediction_intervals_refuse_a_bad_alpha():
    df = _hetero()
    pred = df.ooc.lstsq("y ~ x + z").get_prediction(df.iloc[:5])
    for alpha in (1.5, 0, -0.1):
        with pytest.raises(ooc.ArgumentError, match="between 0 and 1"):
            pred.summary_frame(alpha)


def test_read_csv_refuses_row_names_it_would_drop(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("a,b\n10,1,2\n20,3,4\n30,5,6\n")  # R's write.csv: row names, no header
    with pytest.raises(ooc.CSVError, match="index_col=0"):
        ooc.read_csv(p, tmp_path / "r.nc", progress=False, chunksize=2)
    assert not (tmp_path / "r.nc").exists()
    ds = ooc.read_csv(p, tmp_path / "r.nc", progress=False, chunksize=2, index_col=0)
    assert list(ds.indexes[next(iter(ds.sizes))]) == [10, 20, 30]


def test_read_csv_names_a_converter_s_error_and_refuses_skipfooter(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("a,b\nx,1\ny,2\n")
    with pytest.raises(ooc.CSVError, match="KeyError"):
        ooc.read_csv(p, tmp_path / "c.nc", progress=False, converters={"a": {"x": 1}.__getitem__})
    with pytest.raises(ooc.CSVError, match="ZeroDivisionError"):
        ooc.read_csv(p, tmp_path / "c.nc", progress=False, converters={"b": lambda v: 1 / 0})
    with pytest.raises(ooc.ArgumentError, match="skipfooter"):
        ooc.read_csv(p, tmp_path / "c.nc", progress=False, skipfooter=1)
