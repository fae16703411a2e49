"""Breaks found by the adversary pass on GLMs and predictions (Step 8), kept as tests.

Each was a silent wrong number, a user's file replaced, or a misleading error before it was
fixed; the references are statsmodels on the same data (or a direct fit of the null model).
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


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n), "firm": rng.integers(0, 12, n)})
    df["y"] = rng.poisson(np.exp(0.3 + 0.5 * df.x)).astype(float)
    df["off"] = rng.normal(scale=0.3, size=n)
    df["w"] = rng.uniform(0.5, 2.0, n)
    return df


def test_multiindex_rows_dropped_keep_their_offset_and_weights():
    """The store holds a MultiIndex's tuples as text: offsets were read from the last row."""
    df = _frame()
    df.index = pd.MultiIndex.from_product([list("ab"), range(100)])
    df.loc[df.index[::9], "x"] = np.nan
    keep = df.x.notna()
    r = df.ooc.glm("y ~ x", "poisson", offset="off", var_weights=df.w, chunksize=37)
    s = smf.glm(
        "y ~ x", df[keep], family=FAM.Poisson(), offset=df.off[keep], var_weights=df.w[keep]
    ).fit()
    np.testing.assert_allclose(r.params, s.params, rtol=1e-9)
    np.testing.assert_allclose(r.llf, s.llf, rtol=1e-10)
    groups = df.firm.sample(frac=1.0, random_state=3)  # a Series on the MultiIndex, shuffled
    rc = r.get_robustcov_results("cluster", groups=groups)
    sc = smf.glm(
        "y ~ x", df[keep], family=FAM.Poisson(), offset=df.off[keep], var_weights=df.w[keep]
    ).fit(cov_type="cluster", cov_kwds={"groups": df.firm[keep].to_numpy()})
    np.testing.assert_allclose(rc.bse, sc.bse, rtol=1e-8)


def test_stacked_dataset_rows_dropped_keep_their_offset():
    df = _frame()
    ds = xr.Dataset.from_dataframe(df.reset_index(drop=True)).rename({"index": "i"})
    ds = ds.assign_coords(
        lat=("i", np.repeat(np.arange(20), 10)), lon=("i", np.tile(np.arange(10), 20))
    )
    ds = ds.set_index(i=["lat", "lon"])
    ds["x"] = ds.x.where(np.arange(200) % 7 != 3)
    r = ds.ooc.glm("y ~ x", "poisson", offset="off", dim="i", chunksize=41)
    keep = np.arange(200) % 7 != 3
    s = smf.glm("y ~ x", df[keep], family=FAM.Poisson(), offset=df.off[keep]).fit()
    np.testing.assert_allclose(r.params.values, s.params.values, rtol=1e-9)


def test_an_exact_fit_inside_the_support_is_not_separation():
    df = pd.DataFrame({"g": list("ab") * 20, "y": [3.0, 5.0] * 20})
    r = df.ooc.glm("y ~ C(g)", "poisson")
    s = smf.glm("y ~ C(g)", df, family=FAM.Poisson()).fit()
    np.testing.assert_allclose(r.params, s.params, rtol=1e-10)
    np.testing.assert_allclose(r.bse, s.bse, rtol=1e-8)
    x = np.linspace(-1, 1, 60)
    exact = pd.DataFrame({"x": x, "p": 1 / (1 + np.exp(-x))})
    np.testing.assert_allclose(exact.ooc.glm("p ~ x", "binomial").params, [0, 1], atol=1e-9)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pandas 3.1's inplace notice
def test_cluster_groups_by_name_refuse_a_reordered_frame():
    df = _frame()
    r = df.ooc.glm("y ~ x", "poisson")
    df.sort_values("x", inplace=True)
    with pytest.raises(ooc.DataError, match="changed after the fit"):
        r.get_robustcov_results("cluster", groups="firm")


@pytest.mark.parametrize("call", ["glm", "lstsq", "design"])
def test_path_over_the_data_own_store_is_refused(tmp_path, call):
    df = _frame()
    df[["x", "y"]].to_csv(tmp_path / "d.csv", index=False)
    ds = ooc.read_csv(tmp_path / "d.csv", tmp_path / "d.nc")
    with pytest.raises(ooc.StoreError, match="the file the data are read from"):
        if call == "glm":
            ds.ooc.glm("y ~ x", "poisson", path=tmp_path / "d.nc")
        elif call == "lstsq":
            ds.ooc.lstsq("y ~ x", path=tmp_path / "d.nc")
        else:
            ds.ooc.design("y ~ x", path=tmp_path / "d.nc")
    np.testing.assert_array_equal(ds.x.values, df.x.to_numpy())  # the data are still there


def test_null_model_with_a_large_offset_converges():
    rng = np.random.default_rng(19)
    df = pd.DataFrame({"x": rng.normal(size=300)})
    df["y"] = rng.binomial(1, 0.5, 300).astype(float)
    df["off"] = rng.normal(size=300) + 5.0
    r = df.ooc.glm("y ~ x", "binomial", offset="off")
    null = smf.glm("y ~ 1", df, family=FAM.Binomial(), offset=df.off).fit()
    np.testing.assert_allclose(r.llnull, null.llf, rtol=1e-10)
    np.testing.assert_allclose(r.null_deviance, null.deviance, rtol=1e-10)


def test_prediction_weights_are_matched_by_label():
    df = _frame()
    fit = df.ooc.lstsq("y ~ x")
    s = smf.ols("y ~ x", df).fit()
    new = df.iloc[:6].copy()
    want = s.get_prediction(new, weights=new.w.to_numpy()).summary_frame()["obs_ci_lower"]
    shuffled = new.w.sample(frac=1.0, random_state=1)
    da = xr.DataArray(shuffled.to_numpy(), dims=("obs",), coords={"obs": shuffled.index})
    ds = xr.Dataset.from_dataframe(new).rename({"index": "t"})
    da_t = da.rename({"obs": "t"})
    for data, w in ((new, shuffled), (new, da), (ds, shuffled.rename_axis("t")), (ds, da_t)):
        got = fit.get_prediction(data, weights=w).summary_frame()["obs_ci_lower"]
        np.testing.assert_allclose(np.asarray(got), want.to_numpy(), rtol=1e-9)
    with pytest.raises(ooc.DataError, match="lacks 1 of"):
        fit.get_prediction(new, weights=new.w.iloc[1:])
    with pytest.raises(ooc.ArgumentError, match="repeat"):
        fit.get_prediction(new, weights=pd.Series(1.0, index=[0, 0, 1, 2, 3, 4]))


def test_glm_messages_and_arguments():
    df = _frame()
    r = df.ooc.glm("y ~ x", "poisson", tol=np.float32(1e-8))  # a numpy number is a number
    assert r.converged
    with pytest.raises(ooc.DataError, match="exposure must be positive"):
        r.predict(df.iloc[:3], exposure=-1.0)
    with pytest.raises(ooc.DataError, match="edge of the Poisson family's support"):
        df.assign(y=0.0).ooc.glm("y ~ x", "poisson")  # no count at all: every mean 0
    with pytest.raises(ooc.DataError, match="every freq_weight"):
        df.ooc.glm("y ~ x", "poisson", freq_weights=0.0)
