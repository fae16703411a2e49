"""PCA's ``weights=`` (EOF area weighting, xeofs' convention).

The weighted fit equals numpy's SVD of the centred field times the weights, for every
solver, chunking, input kind and dtype; the weights are matched by dim name and coordinate
label (reversed, a superset, transposed dims), broadcast over the other feature dims, and
refused, by name, when they cannot be matched or are not finite and >= 0. transform
applies them, inverse_transform undoes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ooc_accessor as ooc
from ooc_accessor.pca import IncrementalPCA
from ooc_accessor.pca_call import pca

NT, NY, NX = 40, 6, 5
SOLVERS = {
    "full": {},
    "covariance_eigh": {},
    # as many random directions as features: the range finder spans them all (exact)
    "randomized": {"n_oversamples": 60, "random_state": 0},
}


def _field(seed: int = 0, dtype: type = np.float64) -> xr.Dataset:
    """sst(time, lat, lon), slp(time, lat) and an index nino(time) with structure."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(-75.0, 75.0, NY)
    lon = np.arange(NX) * 30.0
    t = np.arange(NT)
    modes = rng.normal(size=(3, NY, NX))
    amp = rng.normal(size=(NT, 3)) * [4.0, 2.0, 1.0]
    sst = np.einsum("tk,kyx->tyx", amp, modes) + rng.normal(size=(NT, NY, NX)) + 15.0
    slp = amp[:, :1] * rng.normal(size=NY) + rng.normal(size=(NT, NY)) * 0.5 + 1000.0
    nino = amp[:, 0] + rng.normal(size=NT) * 0.3
    return xr.Dataset(
        {
            "sst": (("time", "lat", "lon"), sst.astype(dtype)),
            "slp": (("time", "lat"), slp.astype(dtype)),
            "nino": (("time",), nino.astype(dtype)),
        },
        coords={"time": t, "lat": lat, "lon": lon},
    )


def _coslat(ds: xr.Dataset) -> xr.DataArray:
    return np.sqrt(np.cos(np.deg2rad(ds.lat)))


def _reference(x: np.ndarray, w: np.ndarray, k: int) -> dict:
    """numpy's SVD of the centred, weighted matrix (samples x features)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    u, s, vt = np.linalg.svd((x - mean) * w, full_matrices=False)
    n = x.shape[0]
    return {
        "ev": s[:k] ** 2 / (n - 1),
        "ratio": s[:k] ** 2 / np.sum(s**2),
        "sv": s[:k],
        "vt": vt[:k],
        "scores": u[:, :k] * s[:k],
        "mean": mean,
    }


def _stack(ds: xr.Dataset, names: list[str]) -> np.ndarray:
    return np.concatenate([ds[n].values.reshape(NT, -1) for n in names], axis=1)


def _sst_weights(ds: xr.Dataset) -> np.ndarray:
    return np.repeat(_coslat(ds).values, NX)


def _check(est, ref: dict, comps: np.ndarray, rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(np.asarray(est.explained_variance_), ref["ev"], rtol=rtol)
    np.testing.assert_allclose(np.asarray(est.explained_variance_ratio_), ref["ratio"], rtol=rtol)
    np.testing.assert_allclose(np.asarray(est.singular_values_), ref["sv"], rtol=rtol)
    signs = np.sign(np.sum(comps * ref["vt"], axis=1))
    np.testing.assert_allclose(comps, ref["vt"] * signs[:, None], atol=1e-8)


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("chunk", [1, 7, None])
def test_dataarray_equals_numpy_svd_of_weighted_field(solver, chunk):
    ds = _field()
    da = ds.sst if chunk is None else ds.sst.chunk({"time": chunk})
    k = 4
    est = da.ooc.pca(k, dim="time", weights=_coslat(ds), svd_solver=solver, **SOLVERS[solver])
    ref = _reference(_stack(ds, ["sst"]), _sst_weights(ds), k)
    comps = est.components_
    assert comps.dims == ("component", "lat", "lon")
    _check(est, ref, comps.values.reshape(k, -1))
    # mean_ is the plain mean, in data units
    np.testing.assert_allclose(est.mean_.values, ds.sst.mean("time").values, rtol=1e-13)
    np.testing.assert_allclose(est.var_.values, ds.sst.var("time").values, rtol=1e-9)
    signs = np.sign(np.sum(comps.values.reshape(k, -1) * ref["vt"], axis=1))
    scores = est.transform(da).values
    np.testing.assert_allclose(scores, ref["scores"] * signs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_dataset_two_variables_broadcast_by_name(solver):
    """Weights over lat apply to every lon of sst and to slp; nino (no lat) weighs 1."""
    ds = _field(1).chunk({"time": 9})
    k = 5
    est = ds.ooc.pca(k, dim="time", weights=_coslat(ds), svd_solver=solver, **SOLVERS[solver])
    w = np.concatenate([_sst_weights(ds), _coslat(ds).values, [1.0]])
    ref = _reference(_stack(ds, ["sst", "slp", "nino"]), w, k)
    comps = est.components_
    flat = np.concatenate([comps[n].values.reshape(k, -1) for n in ("sst", "slp", "nino")], 1)
    _check(est, ref, flat)
    np.testing.assert_allclose(est.mean_["slp"].values, ds.slp.mean("time").values, rtol=1e-13)


def test_weights_over_both_dims_in_another_order():
    ds = _field(2)
    rng = np.random.default_rng(5)
    w = xr.DataArray(
        rng.uniform(0.2, 2.0, size=(NX, NY)),
        dims=("lon", "lat"),
        coords={"lon": ds.lon, "lat": ds.lat},
    )
    est = pca(ds.sst, 3, dim="time", weights=w)
    ref = _reference(_stack(ds, ["sst"]), w.transpose("lat", "lon").values.ravel(), 3)
    _check(est, ref, est.components_.values.reshape(3, -1))


def test_reversed_and_wider_coordinates_are_aligned_by_label():
    ds = _field(3)
    w = _coslat(ds)
    base = ds.sst.ooc.pca(3, dim="time", weights=w)
    reversed_w = w.isel(lat=slice(None, None, -1))
    # a global grid's weights applied to a region: picked by label
    glob = np.sqrt(np.cos(np.deg2rad(xr.DataArray(np.linspace(-90, 90, 13), dims="lat"))))
    glob = glob.assign_coords(lat=glob.values * 0 + np.linspace(-90, 90, 13))
    region = ds.sst.sel(lat=[-75.0, -15.0, 45.0])
    for other in (reversed_w,):
        est = ds.sst.ooc.pca(3, dim="time", weights=other)
        np.testing.assert_allclose(est.explained_variance_, base.explained_variance_, rtol=1e-12)
        np.testing.assert_allclose(est.components_, base.components_, atol=1e-12)
    est = region.ooc.pca(2, dim="time", weights=glob)
    x = region.values.reshape(NT, -1)
    ref = _reference(x, np.repeat(np.sqrt(np.cos(np.deg2rad([-75.0, -15.0, 45.0]))), NX), 2)
    _check(est, ref, est.components_.values.reshape(2, -1))


def test_ones_equal_unweighted():
    ds = _field(4).chunk({"time": 11})
    ones = xr.ones_like(ds.lat)
    a = ds.ooc.pca(4, dim="time", variables=["sst", "slp"])
    b = ds.ooc.pca(4, dim="time", variables=["sst", "slp"], weights=ones)
    for name in ("explained_variance_", "singular_values_", "explained_variance_ratio_"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12)
    xr.testing.assert_allclose(b.components_, a.components_, atol=1e-12)
    xr.testing.assert_allclose(b.transform(ds), a.transform(ds), rtol=1e-10, atol=1e-10)


def test_pandas_series_by_column_name():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(80, 4)) @ rng.normal(size=(4, 4)) + [1.0, -2.0, 3.0, 50.0]
    df = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    w = pd.Series({"d": 0.5, "b": 2.0, "a": 1.0, "c": 3.0, "unused": 9.0})  # any order
    est = df.ooc.pca(3, weights=w, batch_size=13)
    ref = _reference(x, np.array([1.0, 2.0, 3.0, 0.5]), 3)
    _check(est, ref, est.components_.to_numpy())
    np.testing.assert_allclose(est.mean_.to_numpy(), x.mean(axis=0), rtol=1e-13)
    ones = df.ooc.pca(3, weights=pd.Series(1.0, index=df.columns))
    plain = df.ooc.pca(3)
    np.testing.assert_allclose(ones.explained_variance_, plain.explained_variance_, rtol=1e-12)
    # transform applies the weights by column name; inverse_transform undoes them
    signs = np.sign(np.sum(est.components_.to_numpy() * ref["vt"], axis=1))
    scores = est.transform(df)
    np.testing.assert_allclose(scores.to_numpy(), ref["scores"] * signs, rtol=1e-9, atol=1e-9)
    every = df.ooc.pca(None, weights=w)
    back = every.inverse_transform(every.transform(df))
    np.testing.assert_allclose(back.to_numpy(), x, rtol=1e-10, atol=1e-10)
    # a Dataset of 1-D variables (a table): a Series or a DataArray over "variable"
    table = xr.Dataset({c: ("time", df[c].to_numpy()) for c in df.columns})
    over = xr.DataArray([1.0, 2.0, 3.0, 0.5], dims="variable", coords={"variable": list("abcd")})
    for tw in (w, over):
        tab = table.ooc.pca(3, dim="time", weights=tw)
        _check(tab, ref, tab.components_.values)
    # an unnamed array: one weight per column
    arr = IncrementalPCA(3, weights=[1.0, 2.0, 3.0, 0.5]).fit(x)
    _check(arr, ref, arr.components_)


def test_transform_inverse_round_trip_and_new_data():
    ds = _field(7)
    w = _coslat(ds)
    train, new = ds.sst.isel(time=slice(0, 30)), ds.sst.isel(time=slice(30, None))
    full = train.ooc.pca(None, dim="time", weights=w)  # every component: exact round trip
    scores = full.transform(train)
    xr.testing.assert_allclose(scores, full.fit_transform(train, dim="time"), rtol=1e-10)
    back = full.inverse_transform(scores.compute())
    np.testing.assert_allclose(back.values, train.values, rtol=1e-10, atol=1e-10)
    # new data: (x - mean_) * w projected on the weighted axes
    x = train.values.reshape(30, -1)
    ref = _reference(x, _sst_weights(ds), 3)
    est = train.ooc.pca(3, dim="time", weights=w)
    comps = est.components_.values.reshape(3, -1)
    expect = ((new.values.reshape(10, -1) - x.mean(axis=0)) * _sst_weights(ds)) @ comps.T
    np.testing.assert_allclose(est.transform(new).values, expect, rtol=1e-10, atol=1e-10)
    _check(est, ref, comps)


def test_zero_weight_cells():
    """A zero weight multiplies a cell away: components 0 there, mean_ and the inverse NaN."""
    ds = _field(8)
    w = _coslat(ds).copy()
    w[0] = 0.0
    est = ds.sst.ooc.pca(None, dim="time", weights=w)
    ref = _reference(_stack(ds, ["sst"]), np.repeat(w.values, NX), 5)
    np.testing.assert_allclose(est.explained_variance_[:5], ref["ev"], rtol=1e-9)
    # (the components past the 25 of nonzero variance span the zero-weight cells: arbitrary)
    assert np.all(np.abs(est.components_.isel(lat=0, component=slice(0, 25)).values) < 1e-12)
    assert (
        est.mean_.isel(lat=0).isnull().all() and est.mean_.isel(lat=slice(1, None)).notnull().all()
    )
    scores = est.transform(ds.sst)  # finite: the cell is multiplied by 0
    assert np.isfinite(scores.values).all()
    back = est.inverse_transform(scores.compute())
    assert back.isel(lat=0).isnull().all()
    np.testing.assert_allclose(
        back.isel(lat=slice(1, None)).values, ds.sst.isel(lat=slice(1, None)).values, rtol=1e-9
    )


def test_partial_fit_equals_fit_and_keeps_weights():
    ds = _field(9)
    w = _coslat(ds)
    est = IncrementalPCA(3, weights=w)
    for a, b in ((0, 12), (12, 13), (13, 40)):
        est.partial_fit(ds.sst.isel(time=slice(a, b)), dim="time")
    ref = _reference(_stack(ds, ["sst"]), _sst_weights(ds), 3)
    _check(est, ref, est.components_)
    est.weights = w * 2
    with pytest.raises(ooc.ArgumentError, match="weights= changed since the first partial_fit"):
        est.partial_fit(ds.sst.isel(time=slice(0, 5)), dim="time")


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_low_precision_fields(dtype):
    ds = _field(10, dtype=dtype)
    est = ds.sst.chunk({"time": 6}).ooc.pca(3, dim="time", weights=_coslat(ds))
    ref = _reference(_stack(ds, ["sst"]), _sst_weights(ds), 3)  # of the stored values
    _check(est, ref, est.components_.values.reshape(3, -1))


def test_missing_drop_and_land():
    ds = _field(11)
    sst = ds.sst.copy()
    sst[:, 2, 3] = np.nan  # land: missing at every step, dropped as a feature
    sst[[4, 17], 0, 0] = np.nan  # two steps with a gap: left out with missing="drop"
    # weights NaN over land only, as from .where(ocean): unused there, so accepted
    w = _coslat(ds) * xr.ones_like(sst.isel(time=0, drop=True)).where(sst.isel(time=0).notnull())
    est = sst.chunk({"time": 8}).ooc.pca(3, dim="time", weights=w, missing="drop")
    keep = np.setdiff1d(np.arange(NT), [4, 17])
    x = sst.values.reshape(NT, -1)
    cells = np.flatnonzero(~np.isnan(x).all(axis=0))
    ref = _reference(x[np.ix_(keep, cells)], _sst_weights(ds)[cells], 3)
    comps = est.components_.values.reshape(3, -1)
    assert np.isnan(comps[:, 2 * NX + 3]).all()
    _check(est, ref, comps[:, cells])


def test_whiten_with_weights_gives_unit_variance_scores():
    ds = _field(12)
    est = ds.sst.ooc.pca(3, dim="time", weights=_coslat(ds), whiten=True)
    scores = est.transform(ds.sst).values
    np.testing.assert_allclose(scores.var(axis=0, ddof=1), 1.0, rtol=1e-10)


def _refusal_cases(ds: xr.Dataset) -> list:
    w = _coslat(ds)
    nan, neg, inf = w.copy(), w.copy(), w.copy()
    nan[2], neg[1], inf[3] = np.nan, -0.5, np.inf
    return [
        (
            nan,
            ooc.ArgumentError,
            r"5 NaN value\(s\) \(the first, nan, for 'sst' at lat=-15.0, lon=0",
        ),
        (neg, ooc.ArgumentError, r"negative value\(s\) \(the first, -0.5, for 'sst' at lat=-45.0"),
        (inf, ooc.ArgumentError, r"5 inf value\(s\) \(the first, inf, for .sst. at lat=15.0"),
        (xr.ones_like(ds.time, dtype=float), ooc.ArgumentError, "'time', the sample dimension"),
        (xr.DataArray(np.ones(3), dims="depth"), ooc.ArgumentError, "'depth'.*not a feature dim"),
        (w.isel(lat=slice(0, 4)), ooc.ArgumentError, r"no value at lat=\[45.0, 75.0\]"),
        (w.drop_vars("lat"), ooc.ArgumentError, "weights= has no coordinate 'lat'"),
        (w.assign_coords(lat=w.lat + 0.5), ooc.ArgumentError, "matched by label"),
        (w.values, ooc.ArgumentTypeError, "takes a DataArray over feature dims"),
        (pd.Series(w.values), ooc.ArgumentTypeError, "takes a DataArray"),
    ]


def test_refusals_name_the_dim_or_coordinate():
    ds = _field(13)
    for weights, err, match in _refusal_cases(ds):
        with pytest.raises(err, match=match):
            ds.sst.ooc.pca(2, dim="time", weights=weights)
    # a variable holding only some of the weights' dims: ambiguous, refused
    w2 = xr.ones_like(ds.sst.isel(time=0, drop=True))
    with pytest.raises(ooc.ArgumentError, match=r"variable 'slp' lacks \['lon'\]"):
        ds.ooc.pca(2, dim="time", variables=["sst", "slp"], weights=w2)
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 3)), columns=["a", "b", "c"])
    with pytest.raises(ooc.ArgumentError, match=r"no weight for the feature\(s\) \['c'\]"):
        df.ooc.pca(2, weights=pd.Series({"a": 1.0, "b": 2.0}))
    with pytest.raises(ooc.ArgumentTypeError, match="pandas Series indexed by feature name"):
        df.ooc.pca(2, weights=np.ones(3))
    with pytest.raises(
        ooc.ArgumentError, match=r"negative value\(s\) \(the first, -2.0, for feature 'b'\)"
    ):
        df.ooc.pca(2, weights=pd.Series({"a": 1.0, "b": -2.0, "c": 1.0}))
    with pytest.raises(ooc.ArgumentError, match=r"shape \(2,\); the data has 3 features"):
        IncrementalPCA(2, weights=[1.0, 2.0]).fit(df.to_numpy())


def test_stored_design_by_term_name():
    rng = np.random.default_rng(14)
    df = pd.DataFrame(rng.normal(size=(120, 3)) @ rng.normal(size=(3, 3)), columns=list("abc"))
    design = df.ooc.design("0 + a + b + c", chunksize=37)
    est = design.pca(2, weights=pd.Series({"c": 2.0, "a": 1.0, "b": 0.5}))
    ref = _reference(df.to_numpy(), np.array([1.0, 0.5, 2.0]), 2)
    _check(est, ref, np.asarray(est.components_))
    signs = np.sign(np.sum(np.asarray(est.components_) * ref["vt"], axis=1))
    scores = est.transform(design).values  # stored beside the design, weighted alike
    np.testing.assert_allclose(scores, ref["scores"] * signs, rtol=1e-9, atol=1e-9)


def test_on_a_cluster_the_weights_travel_with_the_blocks():
    """Workers fold weighted blocks (the weights travel on the source): numpy's answer."""
    import distributed

    ds = _field(15).chunk({"time": 8})
    ref = _reference(_stack(ds, ["sst"]), _sst_weights(ds), 3)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        for solver in SOLVERS:
            est = ds.sst.ooc.pca(
                3, dim="time", weights=_coslat(ds), svd_solver=solver, **SOLVERS[solver]
            )
            _check(est, ref, est.components_.values.reshape(3, -1))
