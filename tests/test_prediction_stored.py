"""Predictions of lazy Datasets are stored and lazy, and equal the in-memory route's.

A Dataset whose formula variables are dask-backed (chunked, or opened with ``chunks=``) or
not yet loaded from its file gets ``predict`` / ``get_prediction`` outputs written block
by block to a chunked NetCDF store and returned as dask-backed DataArrays along its sample
dim. Each case checks the numbers (1e-12 against the in-memory route on the same rows,
1e-8 against statsmodels), the alignment (NaN in place of a row with a missing input,
the coordinate), laziness, and the store's life (where it goes, kept with ``path=``,
removed with the results, refused once replaced).
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager

import dask
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import xarray as xr
from conftest import FORMULA, make_frame

import ooc_accessor as ooc
from ooc_accessor.stats.prediction import PredictionResults, StoredPredictionResults

COLUMNS = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
N_NEW = 120


@contextmanager
def raise_if_dask_computes():
    """Fail if anything is computed inside (xarray's test helper, by a scheduler)."""

    def scheduler(dsk, keys, **kwargs):
        raise AssertionError("a dask graph was computed where only a lazy result was asked")

    with dask.config.set(scheduler=scheduler):
        yield


@pytest.fixture(scope="module")
def frames():
    # the new rows: a or cat1 NaN at rows 3, 8, 17, 50
    return make_frame(500, seed=11), make_frame(N_NEW, seed=12)


@pytest.fixture(scope="module", params=["nonrobust", "HC1"])
def fits(request, frames):
    df, _ = frames
    cov = request.param
    ours = df.ooc.lstsq(FORMULA, cov_type=cov, chunksize=37)
    return ours, smf.ols(FORMULA, df).fit(cov_type=cov)


def close(actual: np.ndarray, desired: np.ndarray) -> None:
    """Equal at 1e-12 of the values' scale, NaN in the same places. Blocks of other
    lengths let BLAS sum ``x b`` in another order: a mean near 0 (cancellation) then
    differs in its last bits relative to itself, not to the terms it sums."""
    scale = float(np.nanmax(np.abs(desired)))
    np.testing.assert_allclose(actual, desired, rtol=1e-12, atol=1e-12 * scale)


def _frame(sf: xr.Dataset) -> pd.DataFrame:
    return sf.to_dataframe()[COLUMNS]


# dask chunks of the new data x blocks of the rebuilt design, each case commented
GEOMETRY = [
    pytest.param(1, "auto", id="one-row-chunks"),  # 120 blocks of 1 row, each its own read
    pytest.param(7, 13, id="odd-chunks-odd-blocks"),  # blocks cut at both edges
    pytest.param(N_NEW, "auto", id="one-chunk"),  # the whole data in one block
    pytest.param(50, 1, id="one-row-blocks"),  # chunksize=1: 1-row blocks, 4096-row store
]


@pytest.mark.parametrize(("chunks", "chunksize"), GEOMETRY)
def test_stored_summary_frame_equals_memory_and_statsmodels(fits, frames, chunks, chunksize):
    fit, ref = fits
    _, new = frames
    lazy = new.to_xarray().chunk({"row": chunks})
    got = fit.get_prediction(lazy, chunksize=chunksize)
    assert isinstance(got, StoredPredictionResults)
    memory = fit.get_prediction(new).summary_frame(0.1)
    for alpha in (0.05, 0.1):
        sf = got.summary_frame(alpha)
        assert list(sf.data_vars) == COLUMNS
        assert all(sf[c].chunks is not None for c in COLUMNS)  # dask-backed
        np.testing.assert_array_equal(sf["row"].values, new.index.to_numpy())
        ours = _frame(sf.compute())
        assert ours.index.equals(new.index)  # every row, in place
        theirs = ref.get_prediction(new).summary_frame(alpha)
        kept = ours.dropna()
        assert kept.index.equals(theirs.index)  # NaN exactly where an input is missing
        assert len(kept) == N_NEW - 4  # a or cat1 missing at 4 rows (y at row 99: not used)
        np.testing.assert_allclose(kept.to_numpy(), theirs.to_numpy(), rtol=1e-8)
    close(ours.to_numpy(), memory.to_numpy())
    p = fit.predict(lazy, chunksize=chunksize)
    assert p.name == "predicted" and p.chunks is not None
    close(p.values, fit.predict(new).to_numpy())
    close(p.values, memory["mean"].to_numpy())


def test_every_output_is_lazy_and_labeled(fits, frames):
    fit, ref = fits
    _, new = frames
    got = fit.get_prediction(new.to_xarray().chunk({"row": 11}))
    with raise_if_dask_computes():  # building the outputs reads nothing
        se_mean, se_obs = got.se_mean, got.se_obs
        ci = got.conf_int(obs=True, alpha=0.2)
        sf = got.summary_frame()
    assert ci.dims == ("row", "bound") and list(ci["bound"].values) == ["lower", "upper"]
    theirs = ref.get_prediction(new).conf_int(obs=True, alpha=0.2)
    keep = ~np.isnan(got.predicted_mean.values)
    np.testing.assert_allclose(ci.values[keep], theirs, rtol=1e-8)
    ref_pred = ref.get_prediction(new)
    np.testing.assert_allclose(se_mean.values[keep], ref_pred.se_mean, rtol=1e-8)
    np.testing.assert_allclose(se_obs.values[keep], ref_pred.se_obs, rtol=1e-8)
    np.testing.assert_allclose(got.var_pred_mean.values[keep], ref_pred.var_pred_mean, rtol=1e-8)
    assert sf["row"].to_index().equals(new.index)
    assert got.var_resid == pytest.approx(ref.scale, rel=1e-12)


@pytest.mark.parametrize("weights", ["w", "array", "dataarray", 2.5])
def test_weights_divide_the_residual_variance(frames, weights):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    ref = smf.ols(FORMULA, df).fit()
    lazy = new.to_xarray().chunk({"row": 9})
    w = {
        "w": "w",
        "array": np.linspace(0.5, 2.0, N_NEW),
        "dataarray": lazy["w"] * 2,  # a dask DataArray along the sample dim
        2.5: 2.5,
    }[weights]
    got = fit.get_prediction(lazy, weights=w).summary_frame().compute()
    memory_w = w.compute() if isinstance(w, xr.DataArray) else w
    memory = fit.get_prediction(new.to_xarray(), weights=memory_w).summary_frame()
    for c in COLUMNS:
        close(got[c].values, memory[c].values)
    keep = ~np.isnan(got["mean"].values)
    wv = np.broadcast_to(np.asarray(new.w if weights == "w" else memory_w, float), N_NEW)
    theirs = ref.get_prediction(new[keep], weights=wv[keep]).summary_frame()
    np.testing.assert_allclose(_frame(got)[keep].to_numpy(), theirs.to_numpy(), rtol=1e-8)


def test_bad_weight_is_named_by_row(frames):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    bad = new.copy()
    bad.loc[bad.index[40], "w"] = -1.0  # label 1280
    lazy = bad.to_xarray().chunk({"row": 9})
    with pytest.raises(ooc.DataError, match=r"row 1280 has -1\.0"):
        fit.get_prediction(lazy, weights="w")
    with pytest.raises(ooc.DataError, match=r"row 1280 has -1\.0"):
        fit.get_prediction(bad, weights="w")  # the in-memory route names it too
    with pytest.raises(ooc.ArgumentError, match="names no column"):
        fit.get_prediction(lazy, weights="nope")
    with pytest.raises(ooc.ArgumentError, match=r"3 values for .* one weight per row"):
        fit.get_prediction(lazy, weights=np.ones(3))
    with pytest.raises(ooc.DataError, match="lacks 117 of the data's row labels"):
        fit.get_prediction(lazy, weights=lazy["w"][:3])  # matched by its coordinate
    with pytest.raises(ooc.DataError, match=r"weights=0\.0 was given for every row"):
        fit.get_prediction(lazy, weights=0.0)


def test_netcdf_opened_lazily_with_and_without_chunks(tmp_path, frames):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    path = tmp_path / "new.nc"
    new.assign(cat1=new.cat1.fillna("")).to_xarray().to_netcdf(path, engine="h5netcdf")
    memory = fit.get_prediction(new.assign(cat1=new.cat1.replace({"": None})))
    expected = memory.summary_frame()
    for chunks in ({"row": 23}, None):  # dask-backed; lazily indexed by the backend
        with xr.open_dataset(path, engine="h5netcdf", chunks=chunks) as ds:
            ds = ds.assign(cat1=ds.cat1.where(ds.cat1 != ""))
            got = fit.get_prediction(ds)
            assert isinstance(got, StoredPredictionResults)
            sf = _frame(got.summary_frame().compute())
            close(sf.to_numpy(), expected.to_numpy())


def test_in_memory_data_keeps_in_memory_results(fits, frames):
    fit, _ = fits
    _, new = frames
    got = fit.get_prediction(new.to_xarray())  # numpy-backed
    assert type(got) is PredictionResults
    assert isinstance(got.predicted_mean, np.ndarray)
    close(got.predicted_mean, fit.predict(new).to_numpy())
    assert isinstance(fit.get_prediction(new).summary_frame(), pd.DataFrame)
    assert fit.predict(new.to_xarray()).chunks is None


def test_temporary_goes_to_tmpdir_and_goes_with_the_results(tmp_path, monkeypatch, frames):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    monkeypatch.setenv("OOC_ACCESSOR_TMPDIR", str(tmp_path))
    got = fit.get_prediction(new.to_xarray().chunk({"row": 30}))
    stores = [p for p in os.listdir(tmp_path) if p.startswith("ooc-pred-")]
    assert stores == [os.path.basename(got.path)]
    assert os.stat(got.path).st_mode & 0o777 == 0o600  # a shared temporary dir
    # 16 bytes a row of outputs and 8 of labels, plus HDF5's overhead
    assert os.path.getsize(got.path) < 24 * N_NEW + 64 * 2**10
    sf, path = got.summary_frame(), got.path
    del got
    gc.collect()
    assert os.path.exists(path)  # the summary frame still reads it
    assert float(sf["mean"][0]) == pytest.approx(float(fit.predict(new).iloc[0]), rel=1e-12)
    del sf
    gc.collect()
    assert not os.path.exists(path)


def test_failed_pass_leaves_nothing(tmp_path, monkeypatch, frames):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    monkeypatch.setenv("OOC_ACCESSOR_TMPDIR", str(tmp_path))
    bad = new.copy()
    bad.loc[bad.index[100], "cat1"] = "zeta"  # an unseen level in the 12th chunk
    with pytest.raises(ooc.UnseenLevelError, match="zeta"):
        fit.get_prediction(bad.to_xarray().chunk({"row": 9}))
    assert os.listdir(tmp_path) == []


def test_path_keeps_the_store(tmp_path, frames):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    path = tmp_path / "pred.nc"
    got = fit.get_prediction(new, weights="w", path=path)  # a DataFrame, stored on request
    assert isinstance(got, StoredPredictionResults) and got.path == str(path)
    sf = got.summary_frame()
    assert sf["mean"].dims == ("obs",) and sf["obs"].to_index().equals(new.index)
    expected = fit.get_prediction(new, weights="w").summary_frame()
    close(_frame(sf.compute()).to_numpy(), expected.to_numpy())
    del got, sf
    gc.collect()
    with xr.open_dataset(path, engine="h5netcdf") as kept:
        assert set(kept.data_vars) == {"predicted_mean", "var_pred_mean", "var_resid"}
        np.testing.assert_array_equal(kept["obs"].values, new.index.to_numpy())
        close(kept.predicted_mean.values, expected["mean"].to_numpy())
        assert kept.attrs["scale"] == pytest.approx(fit.scale, rel=1e-15)
        assert kept.attrs["df_resid"] == fit.df_resid
    with pytest.raises(ooc.StoreError, match="pass another path"):
        fit.predict(new, path=fit._design.path)  # the fit's own design: refused
    user = tmp_path / "mine.nc"
    user.write_bytes(b"not a store")
    with pytest.raises(ooc.StoreError, match="not an ooc_accessor store"):
        fit.predict(new, path=user)
    assert user.read_bytes() == b"not a store"


def test_replaced_or_removed_store_refuses_reads(tmp_path, frames):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    path = tmp_path / "pred.nc"
    old = fit.predict(new.iloc[:60], path=path)
    fit.predict(new.iloc[60:], path=path)  # another store at the same path
    with pytest.raises(ooc.StoreError, match="replaced"):
        old.compute()
    os.remove(path)
    with pytest.raises(ooc.StoreNotFoundError, match="no prediction store"):
        old.compute()


@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2021-03-01", periods=N_NEW, freq="h", name="row"),
        pd.Index([f"r{i}" for i in range(N_NEW)], name="row"),
    ],
    ids=["dates", "strings"],
)
def test_row_labels_of_other_kinds(frames, index):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    relabeled = new.set_axis(index)
    got = fit.predict(relabeled.to_xarray().chunk({"row": 16}))
    assert got["row"].to_index().equals(index)
    close(got.values, fit.predict(new).to_numpy())


def test_dataset_without_coordinate_and_empty(frames):
    df, new = frames
    fit = df.ooc.lstsq(FORMULA)
    ds = xr.Dataset({c: ("t", new[c].to_numpy()) for c in new.columns}).chunk({"t": 30})
    got = fit.predict(ds, dim="t")
    assert got.dims == ("t",) and "t" not in got.coords  # positions, as in memory
    close(got.values, fit.predict(new).to_numpy())
    empty = fit.get_prediction(ds.isel(t=slice(0, 0)), dim="t").summary_frame().compute()
    assert empty.sizes["t"] == 0 and list(empty.data_vars) == COLUMNS
