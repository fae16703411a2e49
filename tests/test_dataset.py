"""The accessor on xarray Datasets and DataArrays: formulas over variables along ``dim``,
fields stacked into features with land NaNs, labeled xarray results, chunking errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import xarray as xr
from conftest import FORMULA, make_frame
from sklearn.decomposition import PCA

import ooc_accessor as ooc


def _dataset(df: pd.DataFrame) -> xr.Dataset:
    return xr.Dataset.from_dataframe(df)


# -- formulas over a Dataset -----------------------------------------------------------------


@pytest.mark.parametrize("chunks", [None, 1, 37, 400])
def test_dataset_lstsq_equals_statsmodels(chunks):
    df = make_frame()
    ds = _dataset(df)
    if chunks is not None:
        ds = ds.chunk({"row": chunks})
    fit = ds.ooc.lstsq(FORMULA, dim="row", chunksize=53)
    ref = smf.ols(FORMULA, df).fit()
    assert isinstance(fit.params, xr.DataArray) and fit.params.dims == ("term",)
    assert list(fit.params["term"].values) == list(ref.params.index)
    np.testing.assert_allclose(fit.params.values, ref.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(fit.bse.values, ref.bse.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(fit.rsquared, ref.rsquared, rtol=1e-10)
    resid = fit.resid
    assert resid.dims == ("row",)
    np.testing.assert_array_equal(resid["row"].values, ref.resid.index.to_numpy())
    np.testing.assert_allclose(resid.values, ref.resid.to_numpy(), rtol=1e-7, atol=1e-10)
    assert fit.fittedvalues.dims == ("row",)


def test_dataset_weights_predict_and_one_dim_default():
    df = make_frame(seed=3)
    ds = _dataset(df)
    fit = ds.ooc.lstsq(FORMULA, weights="w")  # one dimension: dim defaults to it
    ref = smf.wls(FORMULA, df, weights=df["w"]).fit()
    np.testing.assert_allclose(fit.params.values, ref.params.to_numpy(), rtol=1e-9)
    pred = fit.predict(ds)
    assert isinstance(pred, xr.DataArray) and pred.dims == ("row",)
    expected = ref.predict(df)
    np.testing.assert_allclose(pred.values, expected.to_numpy(), rtol=1e-9, equal_nan=True)


def test_dataset_svd_is_xarray_and_equals_numpy():
    df = make_frame(seed=1).dropna()
    ds = _dataset(df).chunk({"row": 45})
    res = ds.ooc.svd("0 + a + b + c + d", dim="row", chunksize=31)
    x = df[["a", "b", "c", "d"]].to_numpy()
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    assert res.s.dims == ("component",) and res.Vt.dims == ("component", "term")
    np.testing.assert_allclose(res.s.values, s, rtol=1e-10)
    np.testing.assert_allclose(np.abs(res.Vt.values), np.abs(vt), atol=1e-8)
    assert res.U.dims == ("row", "component")
    np.testing.assert_allclose(np.abs(res.U.values), np.abs(u), atol=1e-8)
    np.testing.assert_array_equal(res.U["row"].values, df.index.to_numpy())


def test_dataset_formula_errors_name_the_variable():
    df = make_frame()
    ds = _dataset(df)
    with pytest.raises(ooc.MissingColumnError, match=r"'zz', which is not a variable"):
        ds.ooc.lstsq("y ~ a + zz", dim="row")
    with pytest.raises(ValueError, match=r"dim='time' is not a dimension"):
        ds.ooc.lstsq("y ~ a", dim="time")
    grid = ds.assign(field=(("row", "k"), np.zeros((len(df), 3))))
    with pytest.raises(ooc.ColumnTypeError, match=r"variable 'field' has dims \('row', 'k'\)"):
        grid.ooc.lstsq("y ~ a + field", dim="row")
    with pytest.raises(ValueError, match=r"pass dim= naming the sample dimension"):
        grid.ooc.lstsq("y ~ a")
    text_y = ds.assign(y=ds["cat1"])
    with pytest.raises(ooc.ColumnTypeError, match=r"^variable 'y' is used as the response"):
        text_y.ooc.lstsq("y ~ a", dim="row")
    bad = ds.assign(b=ds["b"].where(ds["row"] != 1007, np.inf))
    with pytest.raises(ooc.DataError, match=r"variable 'b' holds 1 infinite value.*row 1007"):
        bad.ooc.lstsq("y ~ a + b", dim="row")


# -- fields: dims stacked into features, land NaNs ----------------------------------------------


def make_field(nt: int = 240, ny: int = 9, nx: int = 12, seed: int = 0) -> xr.Dataset:
    """An SST-like field (time, lat, lon) with land cells NaN at every time, and a second
    variable on another grid."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(-40, 40, ny)
    lon = np.linspace(0, 330, nx)
    t = np.arange(nt)
    modes = rng.normal(size=(3, ny, nx))
    amp = np.stack([3 * np.sin(t / 9), 2 * np.cos(t / 5), rng.normal(size=nt)], axis=1)
    sst = 15 + np.einsum("tk,kyx->tyx", amp, modes) + 0.3 * rng.normal(size=(nt, ny, nx))
    land = np.zeros((ny, nx), dtype=bool)
    land[2:5, 3:6] = True
    land[7, 10] = True
    sst[:, land] = np.nan
    slp = 1000 + rng.normal(size=(nt, 4)) @ rng.normal(size=(4, 5))
    return xr.Dataset(
        {
            "sst": (("time", "lat", "lon"), sst),
            "slp": (("time", "station"), slp),
        },
        coords={
            "time": pd.date_range("2000-01-01", periods=nt, freq="MS"),
            "lat": lat,
            "lon": lon,
            "station": [f"s{i}" for i in range(5)],
        },
        attrs={"land": land},
    )


def _stacked(ds: xr.Dataset, names: list[str]) -> np.ndarray:
    parts = [ds[n].values.reshape(ds.sizes["time"], -1) for n in names]
    x = np.concatenate(parts, axis=1)
    return x[:, ~np.isnan(x).all(axis=0)]


@pytest.mark.parametrize("chunks", [None, 1, 17, 240])
@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_field_pca_equals_numpy_svd_with_land_preserved(chunks, solver):
    ds = make_field()
    land = ds.attrs["land"]
    if chunks is not None:
        ds = ds.chunk({"time": chunks})
    pca = ds.ooc.pca(5, dim="time", variables=["sst"], svd_solver=solver, batch_size=23)
    x = _stacked(ds, ["sst"])
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    ev = s**2 / (len(x) - 1)
    np.testing.assert_allclose(pca.explained_variance_.values, ev[:5], rtol=1e-9)
    np.testing.assert_allclose(pca.singular_values_.values, s[:5], rtol=1e-9)
    comps = pca.components_
    assert comps.dims == ("component", "lat", "lon")
    np.testing.assert_array_equal(comps["lat"].values, ds["lat"].values)
    np.testing.assert_array_equal(comps["lon"].values, ds["lon"].values)
    assert np.isnan(comps.values[:, land]).all()
    assert not np.isnan(comps.values[:, ~land]).any()
    np.testing.assert_allclose(np.abs(comps.values[:, ~land]), np.abs(vt[:5]), atol=1e-8)
    mean = pca.mean_
    assert mean.dims == ("lat", "lon") and np.isnan(mean.values[land]).all()
    np.testing.assert_allclose(mean.values[~land], x.mean(axis=0), rtol=1e-12)
    scores = pca.transform(ds)
    assert scores.dims == ("time", "component")
    np.testing.assert_array_equal(scores["time"].values, ds["time"].values)
    np.testing.assert_allclose(np.abs(scores.values), np.abs(xc @ vt[:5].T), atol=1e-8)
    back = pca.inverse_transform(scores)
    assert back.dims == ("time", "lat", "lon") and np.isnan(back.values[:, land]).all()


def test_field_pca_matches_scikit_learn_and_several_variables():
    ds = make_field(seed=2)
    pca = ds.ooc.pca(4, dim="time")  # every variable along time: sst and slp side by side
    x = _stacked(ds, ["sst", "slp"])
    ref = PCA(4, svd_solver="full").fit(x)
    np.testing.assert_allclose(pca.explained_variance_.values, ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(
        pca.explained_variance_ratio_.values, ref.explained_variance_ratio_, rtol=1e-9
    )
    comps = pca.components_
    assert isinstance(comps, xr.Dataset)
    assert comps["sst"].dims == ("component", "lat", "lon")
    assert comps["slp"].dims == ("component", "station")
    assert list(comps["station"].values) == [f"s{i}" for i in range(5)]
    flat = np.concatenate(
        [comps["sst"].values.reshape(4, -1), comps["slp"].values.reshape(4, -1)], axis=1
    )
    flat = flat[:, ~np.isnan(flat).all(axis=0)]
    np.testing.assert_allclose(np.abs(flat), np.abs(ref.components_), atol=1e-8)


def test_partial_fit_on_time_slices_equals_one_fit():
    ds = make_field(seed=4)
    one = ooc.IncrementalPCA(3).fit(ds["sst"], dim="time")
    inc = ooc.IncrementalPCA(3)
    for a in range(240, 0, -40):  # reversed slices
        inc.partial_fit(ds["sst"].isel(time=slice(a - 40, a)), dim="time")
    # a plain estimator (not the accessor route): ndarray attributes, as scikit-learn's
    np.testing.assert_allclose(inc.explained_variance_, one.explained_variance_, rtol=1e-9)
    moved = ds["sst"].isel(time=slice(0, 40)).where(False)  # all NaN: another land mask
    with pytest.raises(ooc.DataError, match=r"missing in every row|missing at"):
        inc.partial_fit(moved.fillna(1.0).where(ds["lat"] > 0), dim="time")


def test_partly_missing_cell_is_named():
    ds = make_field()
    sst = ds["sst"].copy()
    sst[10:13, 0, 1] = np.nan
    with pytest.raises(ooc.DataError, match=r"'sst' at lat=-40.0, lon=30.0 is missing at 3 of the"):
        sst.ooc.pca(3, dim="time")
    sst = ds["sst"].copy()
    sst[100:, 3, 4] = 1.0  # a land cell that gains values later
    msg = r"'sst' at lat=-10.0, lon=120.0 is missing at 50 of the 50"
    with pytest.raises(ooc.DataError, match=msg):
        sst.ooc.pca(3, dim="time", batch_size=50)


def test_chunked_along_features_is_refused_with_the_fix(monkeypatch):
    from ooc_accessor import fields

    monkeypatch.setattr(fields, "CHUNK_LIMIT_BYTES", 64 * 1024)
    ds = make_field()
    bad = ds["sst"].chunk({"time": -1, "lat": 3})
    with pytest.raises(ooc.ChunkingError) as info:
        bad.ooc.pca(3, dim="time")
    msg = str(info.value)
    assert "'lat': (3, 3, 3)" in msg and "240 along 'time'" in msg
    assert "chunks={'time': " in msg and "'lat': -1, 'lon': -1" in msg
    good = ds["sst"].chunk({"time": 20, "lat": 3})  # split along features is fine
    pca = good.ooc.pca(3, dim="time")
    ref = ds["sst"].ooc.pca(3, dim="time")
    np.testing.assert_allclose(
        pca.explained_variance_.values, ref.explained_variance_.values, rtol=1e-10
    )


def test_netcdf_on_disk_opened_with_chunks(tmp_path):
    """An xr.tutorial-style file: written, opened lazily with chunks=, fitted block by block."""
    ds = make_field(nt=300, seed=5)
    ds = ds.assign(
        nino=("time", ds["sst"].isel(lat=4, lon=0).values + np.linspace(0, 1, 300)),
        amo=("time", np.sin(np.arange(300) / 7.0)),
    )
    path = tmp_path / "air.nc"
    ds.drop_attrs().to_netcdf(path, engine="h5netcdf")
    lazy = xr.open_dataset(path, engine="h5netcdf", chunks={"time": 40})
    assert lazy["sst"].chunks is not None
    pca = lazy.ooc.pca(4, dim="time", variables=["sst"])
    ref = ds.ooc.pca(4, dim="time", variables=["sst"])
    np.testing.assert_allclose(
        pca.explained_variance_.values, ref.explained_variance_.values, rtol=1e-10
    )
    fit = lazy.ooc.lstsq("nino ~ amo", dim="time")
    frame = ds[["nino", "amo"]].to_dataframe()
    sm = smf.ols("nino ~ amo", frame).fit()
    np.testing.assert_allclose(fit.params.values, sm.params.to_numpy(), rtol=1e-9)
    np.testing.assert_array_equal(fit.resid["time"].values, ds["time"].values)
    lazy.close()


def test_two_dim_dataarray_keeps_feature_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    x[:, 2] = np.nan  # a feature missing everywhere: dropped, NaN in the results
    da = xr.DataArray(x, dims=("sample", "sensor"), coords={"sensor": list("abcdef")})
    pca = da.ooc.pca(3, dim="sample")
    ref = PCA(3, svd_solver="full").fit(np.delete(x, 2, axis=1))
    np.testing.assert_allclose(pca.explained_variance_.values, ref.explained_variance_, rtol=1e-9)
    assert pca.components_.dims == ("component", "sensor")
    assert list(pca.feature_names_in_) == ["a", "b", "d", "e", "f"]
    assert np.isnan(pca.components_.sel(sensor="c")).all()


def test_coordinates_along_dim_are_formula_columns():
    rng = np.random.default_rng(3)
    n = 300
    ds = xr.Dataset(
        {"y": ("t", rng.normal(size=n))},
        coords={"t": np.arange(n) * 2.0, "elev": ("t", rng.normal(size=n))},
    ).chunk({"t": 70})
    fit = ds.ooc.lstsq("y ~ elev + t", dim="t")
    ref = smf.ols("y ~ elev + t", ds.compute().to_dataframe().reset_index()).fit()
    np.testing.assert_allclose(fit.params.values, ref.params.to_numpy(), rtol=1e-9)
