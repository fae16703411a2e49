"""PCA breaks found by the Step 9 adversary, fixed as classes.

1. A fitting call that raises part way (an inf or NaN in a late block, values in a land
   cell, a value the QR cannot hold, too few rows kept...) must leave the estimator exactly
   as before the call: a ``partial_fit`` its previous state, a ``fit`` its previous fit or
   unfitted. Checked on every kind of source and solver, bit for bit, and by folding more
   rows afterwards (the folded state itself, not only the results, must be the old one).
2. New data of a fitted field whose feature coordinate is missing, extra, renamed, over
   other dims or with other labels (or a dim renamed) is refused with an ArgumentError, in
   transform and partial_fit, with weights or not, per variable of a Dataset: never taken
   by position.
3. The covariance solver's PrecisionWarning names every kept component it loses.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ooc_accessor as ooc

SOLVERS = ["full", "covariance_eigh"]
ATTRS = ["mean_", "var_", "components_", "explained_variance_", "singular_values_"]


def _fitted(est):
    """Every fitted number of ``est`` (None when it is not fitted)."""
    if not est.__sklearn_is_fitted__():
        return None
    out = {"n": est.n_samples_seen_, "p": est.n_features_in_}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ooc.PrecisionWarning)
        out.update({a: np.asarray(getattr(est, a)).copy() for a in ATTRS})
    return out


def _assert_same(got, want):
    if want is None:
        assert got is None
        return
    assert got is not None and got["n"] == want["n"] and got["p"] == want["p"]
    for a in ATTRS:
        np.testing.assert_array_equal(got[a], want[a], err_msg=a)


# -- the sources: a good first batch, a bad second one, a good third one ------------------------

_RNG = np.random.default_rng(9)
A = _RNG.standard_normal((120, 4)) * [4.0, 3.0, 2.0, 1.0]
B = _RNG.standard_normal((300, 4)) * 5.0
C = _RNG.standard_normal((90, 4)) + 1.0


def _bad(x, kind):
    """``x`` with a fault near its end (row 280 of 300: a late block)."""
    x = x.copy()
    x[280, 1] = {"inf": np.inf, "nan": np.nan, "huge": 1e307}[kind]
    return x


def _da(x):
    da = xr.DataArray(x, dims=("time", "f"), coords={"f": list("abcd")})
    return da.chunk({"time": 50})


def _ds(x):
    ds = xr.Dataset(
        {
            "u": (("time", "f"), x[:, :2]),
            "v": (("time", "g"), x[:, 2:]),
        },
        coords={"f": ["a", "b"], "g": ["c", "d"]},
    )
    return ds.chunk({"time": 50})


def _memmap(x, tmp_path, name):
    mm = np.lib.format.open_memmap(tmp_path / f"{name}.npy", mode="w+", shape=x.shape)
    mm[:] = x
    mm.flush()
    return np.load(tmp_path / f"{name}.npy", mmap_mode="r")


def _design(x, tmp_path, name):
    df = pd.DataFrame(x, columns=list("abcd"))
    return df.ooc.design("0 + a + b + c + d", path=tmp_path / f"{name}.nc", chunksize=50)


SOURCES = {
    # kind: (wrap(x, tmp_path, name), fit kwargs)
    "dataarray": (lambda x, t, n: _da(x), {"dim": "time"}),
    "dataset": (lambda x, t, n: _ds(x), {"dim": "time"}),
    "ndarray": (lambda x, t, n: x, {}),
    "memmap": (_memmap, {}),
    "design": (_design, {}),
}


def _cases():
    for kind in SOURCES:
        for solver in SOLVERS:
            faults = ["inf", "nan"] if kind != "design" else []  # a design holds neither
            if solver == "full":
                faults.append("huge")  # the QR's own range check, in the late block
            for fault in faults:
                yield pytest.param(kind, solver, fault, id=f"{kind}-{solver}-{fault}")


@pytest.mark.parametrize(("kind", "solver", "fault"), list(_cases()))
def test_failed_partial_fit_leaves_the_previous_state(tmp_path, kind, solver, fault):
    wrap, kw = SOURCES[kind]
    good, bad = wrap(A, tmp_path, "a"), wrap(_bad(B, fault), tmp_path, "b")
    more = wrap(C, tmp_path, "c")
    est = ooc.IncrementalPCA(2, batch_size=40, svd_solver=solver).partial_fit(good, **kw)
    before = _fitted(est)
    with pytest.raises(ooc.DataError):
        est.partial_fit(bad, **kw)
    _assert_same(_fitted(est), before)
    # the folded state itself is the old one: more rows give what they give without the error
    ref = ooc.IncrementalPCA(2, batch_size=40, svd_solver=solver).partial_fit(good, **kw)
    _assert_same(_fitted(est.partial_fit(more, **kw)), _fitted(ref.partial_fit(more, **kw)))
    assert est.n_samples_seen_ == len(A) + len(C)


@pytest.mark.parametrize("solver", [*SOLVERS, "randomized"])
@pytest.mark.parametrize("fitted_before", [False, True], ids=["unfitted", "refit"])
def test_failed_fit_leaves_the_previous_fit(solver, fitted_before):
    est = ooc.IncrementalPCA(2, batch_size=40, svd_solver=solver, random_state=0)
    if fitted_before:
        est.fit(A)
    before = _fitted(est)
    with pytest.raises(ooc.DataError, match=r"feature 1 holds 1 inf"):
        est.fit(_bad(B, "inf"))
    _assert_same(_fitted(est), before)
    if not fitted_before:
        assert not hasattr(est, "n_samples_seen_")
        with pytest.raises(ooc.NotFittedError):
            est.components_  # noqa: B018
        # a later partial_fit starts from nothing, not from the rows before the error
        est.set_params(svd_solver="full").partial_fit(C)
        assert est.n_samples_seen_ == len(C)


def test_failed_fit_after_its_folds_leaves_the_previous_fit():
    # missing="drop" keeps 2 rows: n_components=3 is refused after every block is folded
    x = A.copy()
    x[2:, 0] = np.nan
    est = ooc.IncrementalPCA(3, batch_size=40, missing="drop").fit(C)
    before = _fitted(est)
    with pytest.raises(ooc.ArgumentError, match=r"n_components=3 must be at most"):
        est.fit(x)
    _assert_same(_fitted(est), before)


def _land_field(x, wet_land_row=None):
    """(time, lat, lon) field whose cell (0, 0) is land (NaN at every step)."""
    nt = x.shape[0]
    values = np.empty((nt, 2, 3))
    values.reshape(nt, 6)[:, 1:5] = x
    values.reshape(nt, 6)[:, 5] = x[:, 0] - x[:, 1]
    values[:, 0, 0] = np.nan
    if wet_land_row is not None:
        values[wet_land_row, 0, 0] = 1.0
    da = xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={"lat": [10.0, 20.0], "lon": [0.0, 90.0, 180.0]},
        name="sst",
    )
    return da.chunk({"time": 50})


@pytest.mark.parametrize("solver", SOLVERS)
def test_failed_partial_fit_land_and_weights(solver):
    w = xr.DataArray([1.0, 0.5], dims="lat", coords={"lat": [10.0, 20.0]})
    est = ooc.IncrementalPCA(2, svd_solver=solver, batch_size=40, weights=w)
    est.partial_fit(_land_field(A), dim="time")
    before = _fitted(est)
    # values in the fitted land cell, in a late block
    with pytest.raises(ooc.DataError, match=r"land in the fitted PCA"):
        est.partial_fit(_land_field(B, wet_land_row=280), dim="time")
    _assert_same(_fitted(est), before)
    # other weights than at the first call
    est.set_params(weights=w * 2)
    with pytest.raises(ooc.ArgumentError):
        est.partial_fit(_land_field(B), dim="time")
    est.set_params(weights=w)
    _assert_same(_fitted(est), before)
    # a missing value in a late block (missing="raise")
    nan = _land_field(B).load()
    nan[280, 1, 1] = np.nan
    with pytest.raises(ooc.DataError, match=r"'sst' at lat=20.0, lon=90.0 is missing"):
        est.partial_fit(nan.chunk({"time": 50}), dim="time")
    _assert_same(_fitted(est), before)


@pytest.mark.parametrize("solver", SOLVERS)
def test_failed_partial_fit_missing_drop(solver):
    est = ooc.IncrementalPCA(2, batch_size=40, svd_solver=solver, missing="drop")
    x = A.copy()
    x[5, 2] = np.nan  # dropped
    est.partial_fit(x)
    before = _fitted(est)
    assert before["n"] == len(A) - 1
    bad = _bad(B, "nan")
    bad[290, 3] = np.inf  # NaN rows are dropped, inf still raises
    with pytest.raises(ooc.DataError, match=r"inf"):
        est.partial_fit(bad)
    _assert_same(_fitted(est), before)


# -- 2. a fitted field's coordinates: never matched by position --------------------------------

LAT = np.array([-30.0, 0.0, 30.0])
LON = np.array([0.0, 90.0, 180.0, 270.0])


def _sst(nt=60, seed=20):
    rng = np.random.default_rng(seed)
    return xr.DataArray(
        rng.standard_normal((nt, 3, 4)) * np.arange(1, 13).reshape(3, 4),
        dims=("time", "lat", "lon"),
        coords={"time": np.arange(nt), "lat": LAT, "lon": LON},
        name="sst",
    )


FIELD_CHANGES = {
    "lat-dropped": (
        lambda g: g.isel(lat=slice(None, None, -1)).drop_vars("lat"),
        r"no coordinate 'lat'.*assign_coords",
    ),
    "lat-renamed-coord": (
        lambda g: g.drop_vars("lat").assign_coords(latitude=("lat", LAT)),
        r"no coordinate 'lat'",
    ),
    "lat-other-labels": (lambda g: g.assign_coords(lat=LAT + 1.0), r"coordinate 'lat'"),
    "lat-reversed": (lambda g: g.isel(lat=slice(None, None, -1)), r"coordinate 'lat'"),
    "lat-dim-renamed": (lambda g: g.rename({"lat": "y"}), r"lat"),
    "lon-coord-on-other-dims": (
        lambda g: g.drop_vars("lon").assign_coords(lon=(("lat", "lon"), np.tile(LON, (3, 1)))),
        r"coordinate 'lon'",
    ),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weights"])
@pytest.mark.parametrize("change", list(FIELD_CHANGES), ids=list(FIELD_CHANGES))
def test_field_coordinates_are_checked(change, weighted):
    sst = _sst()
    w = xr.DataArray([0.5, 1.0, 2.0], dims="lat", coords={"lat": LAT}) if weighted else None
    bad = FIELD_CHANGES[change][0](sst)
    match = FIELD_CHANGES[change][1]
    labeled = sst.ooc.pca(2, dim="time", weights=w)
    plain = ooc.IncrementalPCA(2, weights=w).partial_fit(sst, dim="time")
    before = _fitted(plain)
    for est in (labeled, plain):
        with pytest.raises(ooc.ArgumentError, match=f"(?s){match}"):
            est.transform(bad)
    with pytest.raises(ooc.ArgumentError, match=f"(?s){match}"):
        plain.partial_fit(bad, dim="time")
    _assert_same(_fitted(plain), before)


def test_field_extra_coordinate():
    sst = _sst()
    est = ooc.IncrementalPCA(2).fit(sst.drop_vars("lat"), dim="time")
    # the fit took lat by position: data labeled along lat cannot be matched by label
    with pytest.raises(ooc.ArgumentError, match=r"coordinate 'lat'.*drop_vars\('lat'\)"):
        est.transform(sst, dim="time")
    with pytest.raises(ooc.ArgumentError, match=r"coordinate 'lat'"):
        est.partial_fit(sst, dim="time")
    # an extra coordinate over dims matched by label is no danger: a cell area
    full = ooc.IncrementalPCA(2).fit(sst, dim="time")
    area = sst.assign_coords(area=(("lat", "lon"), np.ones((3, 4))))
    np.testing.assert_array_equal(full.transform(area), full.transform(sst))
    # the positions at fit passed again: the same scores as the labeled fit
    np.testing.assert_allclose(
        est.transform(sst.drop_vars("lat"), dim="time"), full.transform(sst), rtol=1e-12
    )


def test_field_auxiliary_coordinate_missing():
    rng = np.random.default_rng(3)
    da = xr.DataArray(
        rng.standard_normal((40, 5)),
        dims=("time", "station"),
        coords={"station_name": ("station", list("vwxyz"))},
    )
    est = da.ooc.pca(2, dim="time")
    with pytest.raises(ooc.ArgumentError, match=r"no coordinate 'station_name'"):
        est.transform(da.drop_vars("station_name"))
    with pytest.raises(ooc.ArgumentError, match=r"coordinate 'station_name'"):
        est.transform(da.isel(station=[1, 0, 2, 3, 4]))


def test_dataset_coordinates_per_variable():
    sst = _sst()
    rng = np.random.default_rng(4)
    ds = xr.Dataset(
        {
            "sst": sst,
            "rain": (("time", "station"), rng.standard_normal((60, 3))),
        },
        coords={"station": ["p", "q", "r"]},
    )
    est = ds.ooc.pca(2, dim="time")
    ref = est.transform(ds).values
    with pytest.raises(ooc.ArgumentError, match=r"variable 'rain' has no coordinate 'station'"):
        est.transform(ds.drop_vars("station"))
    with pytest.raises(ooc.ArgumentError, match=r"variable 'sst'.*coordinate 'lon'"):
        est.transform(ds.assign_coords(lon=LON + 1.0))
    # the variables' coordinates in another order are the same features
    np.testing.assert_allclose(
        est.transform(ds.isel(station=[2, 0, 1]).sortby("station")).values, ref, rtol=1e-12
    )


def test_field_transform_right_after_assigning_coords():
    sst = _sst()
    w = xr.DataArray([0.5, 1.0, 2.0], dims="lat", coords={"lat": LAT})
    est = sst.ooc.pca(2, dim="time", weights=w)
    fixed = sst.drop_vars("lat").assign_coords(lat=LAT)
    np.testing.assert_array_equal(est.transform(fixed).values, est.transform(sst).values)


# -- 3. the covariance solver's PrecisionWarning -----------------------------------------------


def test_precision_warning_names_every_lost_component():
    rng = np.random.default_rng(22)
    cols = list("abcde")
    df = pd.DataFrame(rng.standard_normal((300, 5)) * [5, 4, 3, 2, 1], columns=cols)
    w = pd.Series([1e150, 1, 1e-150, 1, 1], index=cols)
    est = df.ooc.pca(3, weights=w, svd_solver="covariance_eigh")
    with pytest.warns(ooc.PrecisionWarning) as record:
        est.explained_variance_  # noqa: B018
    msg = str(record[0].message)
    assert "component(s) 1 (" in msg and ", 2 (" in msg and "0 (" not in msg
    # the full solver keeps them: with a's weight far above, components 1 and 2 are those of
    # b, d, e once a is regressed out (c's weight 1e-150 leaves it nothing)
    full = df.ooc.pca(3, weights=w, svd_solver="full")
    x = df.to_numpy() - df.to_numpy().mean(axis=0)
    a = x[:, :1]
    rest = x[:, [1, 3, 4]] - a @ np.linalg.lstsq(a, x[:, [1, 3, 4]], rcond=None)[0]
    ev = np.linalg.eigvalsh(rest.T @ rest / (len(x) - 1))[::-1]
    np.testing.assert_allclose(np.asarray(full.explained_variance_)[1:], ev[:2], rtol=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_failed_first_partial_fit_leaves_it_unfitted(solver):
    est = ooc.IncrementalPCA(2, batch_size=40, svd_solver=solver)
    with pytest.raises(ooc.DataError):
        est.partial_fit(_bad(B, "inf"))
    assert not hasattr(est, "n_features_in_") and not est.__sklearn_is_fitted__()
    # the failed call fixed nothing: other features are a first call, as on a new estimator
    est.partial_fit(C[:, :3])
    ref = ooc.IncrementalPCA(2, batch_size=40, svd_solver=solver).partial_fit(C[:, :3])
    _assert_same(_fitted(est), _fitted(ref))
