"""statsmodels' OLS result names on an ooc fit: every public name is offered or refused
with a reason, and the newer ones (influence, outlier test, LM test, ``cov_kwds``,
pairwise t tests, slim summaries) give statsmodels' values on the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import xarray as xr

import ooc_accessor  # noqa: F401 - registers .ooc
from ooc_accessor.errors import ArgumentError

#: statsmodels' public result names that an ooc fit does not offer, and why
NOT_OFFERED = {
    "el_test": "empirical likelihood re-weights all n observations in memory per iteration",
    "conf_int_el": "empirical likelihood (as el_test)",
    "initialize": "statsmodels' constructor hook: an ooc result is made by a fit, never re-set",
    "load": "pickles hold a result with its design; an ooc design is a store: open_design()",
    "save": "as load: keep the design with design.save(path) and refit (one pass)",
    "summary2": "one summary layout, summary() (statsmodels' second one is experimental)",
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 80
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.uniform(-2, 2, size=n),
            "g": rng.choice(["lo", "mid", "hi"], size=n),
        },
        index=pd.Index(np.arange(n) * 5 + 3),
    )
    df["y"] = 2 + df.a - 0.5 * df.b + (df.g == "hi") * 1.5 + rng.normal(size=n)
    df.loc[df.index[7], "y"] += 7.0  # one outlier
    return df


FORMULA = "y ~ a + b + C(g)"


@pytest.fixture(scope="module")
def fits(frame: pd.DataFrame):
    return frame.ooc.lstsq(FORMULA, chunksize=23), smf.ols(FORMULA, frame).fit()


def test_every_statsmodels_name_is_offered_or_refused_with_a_reason(fits) -> None:
    ours, sm = fits
    public = [n for n in dir(sm) if not n.startswith("_")]
    missing = sorted(n for n in public if not hasattr(ours, n))
    assert missing == sorted(NOT_OFFERED)
    assert len(public) - len(missing) == 60


def test_cov_kwds(frame: pd.DataFrame) -> None:
    for kwargs in ({}, {"cov_type": "HC1"}, {"cov_type": "HC3", "use_t": True}):
        ours = frame.ooc.lstsq(FORMULA, **kwargs).cov_kwds
        assert ours == smf.ols(FORMULA, frame).fit(**kwargs).cov_kwds
    fit = frame.ooc.lstsq(FORMULA, cov_type="cluster", cov_kwds={"groups": "g"})
    sm = smf.ols(FORMULA, frame).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["g"])[0]}
    )
    assert fit.cov_kwds["groups"] == "g"
    assert {k: v for k, v in fit.cov_kwds.items() if k != "groups"} == {
        k: v for k, v in sm.cov_kwds.items() if k != "groups"
    }
    # back to the plain covariance: the plain description
    assert fit.get_robustcov_results("nonrobust").cov_kwds == {
        "description": smf.ols(FORMULA, frame).fit().cov_kwds["description"]
    }


def test_t_test_pairwise(fits) -> None:
    ours, sm = fits
    a = sm.t_test_pairwise("C(g)", method=["hs", "bonf"]).result_frame
    b = ours.t_test_pairwise("C(g)", method=["hs", "bonf"]).result_frame
    assert list(a.columns) == list(b.columns) and list(a.index) == list(b.index)
    np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=1e-9)


INFLUENCE_ROWS = [
    "hat_matrix_diag",
    "resid_studentized_internal",
    "resid_studentized_external",
    "sigma2_not_obsi",
    "influence",
    "resid_press",
    "resid_std",
    "dfbeta",
    "dfbetas",
    "params_not_obsi",
    "hat_diag_factor",
    "cov_ratio",
    "det_cov_params_not_obsi",
]


@pytest.mark.parametrize("name", INFLUENCE_ROWS)
def test_influence_rows_equal_statsmodels_refits(fits, name: str) -> None:
    ours, sm = fits
    got = getattr(ours.get_influence(), name)
    assert isinstance(got, xr.DataArray) and got.chunks is not None  # lazy
    np.testing.assert_allclose(got.values, np.asarray(getattr(sm.get_influence(), name)), rtol=1e-9)


@pytest.mark.parametrize("name", ["cooks_distance", "dffits", "dffits_internal"])
def test_influence_pairs(fits, name: str) -> None:
    ours, sm = fits
    got, ref = getattr(ours.get_influence(), name), getattr(sm.get_influence(), name)
    np.testing.assert_allclose(got[0].values, ref[0], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(got[1]), ref[1], rtol=1e-12)


def test_influence_summary_frame_and_press(fits, frame: pd.DataFrame) -> None:
    ours, sm = fits
    infl = ours.get_influence()
    ref = sm.get_influence().summary_frame()
    got = infl.summary_frame().to_dataframe()
    assert list(got.columns) == list(ref.columns)
    np.testing.assert_array_equal(got.index.to_numpy(), frame.index.to_numpy())
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-9, atol=1e-12)
    assert infl.ess_press == pytest.approx(sm.get_influence().ess_press, rel=1e-10)


def test_outlier_test(fits) -> None:
    ours, sm = fits
    lazy = ours.outlier_test()
    assert isinstance(lazy, xr.Dataset) and list(lazy) == ["student_resid", "unadj_p", "bonf(p)"]
    np.testing.assert_allclose(
        lazy.to_dataframe().to_numpy(), sm.outlier_test().to_numpy(), rtol=1e-9
    )
    got = ours.outlier_test(method="sidak", cutoff=0.05)
    ref = sm.outlier_test(method="sidak", cutoff=0.05)
    assert list(got.index) == list(ref.index) == [38]  # the row moved by 7
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-9)


def test_outlier_test_refusals(fits, frame: pd.DataFrame) -> None:
    ours, _ = fits
    with pytest.raises(ArgumentError, match="one-step corrections 'bonf' and 'sidak'"):
        ours.outlier_test(method="fdr_bh")
    with pytest.raises(ArgumentError, match="sorts or relabels"):
        ours.outlier_test(order=True)
    with pytest.raises(ArgumentError, match="unweighted"):
        frame.assign(w=1.0).ooc.lstsq(FORMULA, weights="w").get_influence()


def test_summary_slim_has_two_tables(fits) -> None:
    ours, _ = fits
    slim, full = ours.summary(slim=True), ours.summary()
    assert len(slim.tables) == 2 and len(full.tables) == 3
    assert "Omnibus" not in str(slim) and "Omnibus" in str(full)
    assert "R-squared:" in str(slim) and len(str(slim)) < len(str(full))
    np.testing.assert_allclose(slim.tables[1]["coef"].to_numpy(), ours.params.to_numpy())


def test_remove_data_keeps_the_result(fits) -> None:
    ours, _ = fits
    before = ours.params.copy()
    assert ours.remove_data() is None
    np.testing.assert_array_equal(ours.params.to_numpy(), before.to_numpy())


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
def test_het_scale(frame: pd.DataFrame, cov_type: str, weighted: bool) -> None:
    df = frame.assign(w=np.linspace(0.5, 2.0, len(frame)))
    if weighted:
        sm = smf.wls(FORMULA, df, weights=df["w"]).fit(cov_type=cov_type)
    else:
        sm = smf.ols(FORMULA, df).fit(cov_type=cov_type)
    fit = df.ooc.lstsq(FORMULA, weights="w" if weighted else None, cov_type=cov_type)
    got = fit.het_scale
    assert isinstance(got, xr.DataArray) and got.chunks is not None
    np.testing.assert_allclose(got.values, np.asarray(sm.het_scale), rtol=1e-10)


def test_het_scale_belongs_to_a_robust_result(fits) -> None:
    ours, _ = fits
    assert not hasattr(ours, "het_scale")  # as statsmodels' before an HC covariance
    with pytest.raises(AttributeError, match="get_robustcov_results"):
        _ = ours.het_scale


def _no_compute(*args, **kwargs):
    raise AssertionError("a dask graph was computed while it was being built")


def test_row_measures_build_without_computing(frame: pd.DataFrame, tmp_path) -> None:
    import dask

    fit = frame.ooc.design(FORMULA, path=tmp_path / "d.nc").lstsq()
    robust = fit.get_robustcov_results("HC3")
    with dask.config.set(scheduler=_no_compute):
        frame_ds = fit.get_influence().summary_frame()
        outliers = fit.outlier_test()
        scale = robust.het_scale
        with pytest.raises(AssertionError, match="was computed"):
            _ = float(scale.sum())
    assert frame_ds.sizes["obs"] == outliers.sizes["obs"] == len(frame)
    assert float(outliers["bonf(p)"].min()) < 0.05  # the outlier row, computed now
