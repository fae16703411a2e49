"""Breaks an adversarial tester found in the PCA side (Step 6), each as a class of tests.

1. ``get_covariance``/``get_precision`` at any magnitude: scikit-learn's value on the
   unscaled data times the scaling law (covariance s**2, precision s**-2), or a DataError
   where float64 cannot hold it; never -inf, a wrong number or a bare OverflowError.
2. ``whiten=True``: ``get_covariance`` is scikit-learn's (its definition, whiten included),
   and beyond float64 a DataError, never ``[inf, nan]`` or scipy's ValueError.
3. Whitened scores have unit variance at any magnitude (the clamp is relative).
4. A field's land does not depend on its chunking (``missing="drop"`` and ``"raise"``).
5. Every public argument of IncrementalPCA and ``pca()``: a wrong type, a negative, NaN,
   a bool for an int, an unknown keyword: an OOCError that is also the builtin, naming it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.decomposition import PCA

import ooc_accessor as ooc
from ooc_accessor.errors import PrecisionWarning
from ooc_accessor.pca_call import pca

SOLVERS = ["full", "covariance_eigh", "randomized"]
SCALES = [1e-150, 1e-100, 1e-80, 1e-40, 1.0, 1e40, 1e80, 1e100, 1e150]


def _strict(fn):
    """Run ``fn`` with every warning an error (numpy's overflow/underflow too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


def _data(n: int = 200, p: int = 3, seed: int = 21) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) + rng.normal(size=p)


def _fit(x, solver: str, k, whiten: bool = False, batch_size: int = 37):
    est = ooc.IncrementalPCA(
        k, whiten=whiten, svd_solver=solver, batch_size=batch_size, random_state=0
    )
    return est.fit(x)


# -- 1. covariance and precision follow the scaling law ------------------------------------


@pytest.mark.parametrize("s", SCALES)
@pytest.mark.parametrize("k", [1, 2, None], ids=["k1", "k2", "all"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_covariance_and_precision_follow_the_scaling_law(solver, k, s):
    x = _data()
    ref = PCA(k, svd_solver="full").fit(x)
    est = _strict(lambda: _fit(x * s, solver, k))
    cov = _strict(est.get_covariance)
    prec = _strict(est.get_precision)
    np.testing.assert_allclose(cov / s / s, ref.get_covariance(), rtol=1e-8, atol=0)
    # precision: relative to its largest entry (off-diagonal entries may be tiny)
    want = ref.get_precision()
    np.testing.assert_allclose(prec * s * s, want, rtol=1e-8, atol=1e-10 * np.abs(want).max())
    np.testing.assert_allclose(cov @ prec, np.eye(3), atol=1e-8)


@pytest.mark.parametrize("s", [1e-165, 1e-160, 1e160, 1e165])
@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_beyond_float64_covariance_or_precision_is_a_data_error(solver, s):
    """Covariance ~s**2, precision ~s**-2: one of them leaves float64 (1e-320 or 1e320);
    that one is a DataError naming it, the other (where the fit holds) is right."""
    x = _data()
    ref = PCA(2, svd_solver="full").fit(x)
    try:
        est = _strict(lambda: _fit(x * s, solver, 2))
        _strict(lambda: est.explained_variance_)
    except ooc.DataError:
        return  # the variances themselves are beyond float64: refused at the fit
    small, big = ("precision", "covariance") if s > 1 else ("covariance", "precision")
    with pytest.raises(ooc.DataError, match=big):
        _strict(getattr(est, f"get_{big}"))
    got = _strict(getattr(est, f"get_{small}"))
    law = s**2 if small == "covariance" else s**-2
    np.testing.assert_allclose(got / law, getattr(ref, f"get_{small}")(), rtol=1e-8)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_singular_covariance_has_no_precision(solver):
    """noise_variance_ 0 with a direction of no variance: a DataError, not LinAlgError."""
    few = np.array([[1.0, 2, 3], [4, 5, 7]])  # 2 samples, 3 features: rank 1
    flat = np.c_[np.arange(10.0), np.full(10, 3.0), np.full(10, 1.0)]  # constant columns
    for x, k in ((few, None), (flat, 1)):
        est = ooc.IncrementalPCA(k, svd_solver=solver).fit(x)
        with warnings.catch_warnings():  # the null components are not resolved: they are 0
            warnings.simplefilter("ignore", PrecisionWarning)
            assert est.noise_variance_ == 0.0
        with pytest.raises(ooc.DataError, match="singular"):
            est.get_precision()
        cov = est.get_covariance()  # the covariance itself is fine (singular)
        np.testing.assert_allclose(cov, np.cov(x.T), atol=1e-12)


# -- 2. whitened get_covariance: scikit-learn's definition, at any magnitude -----------------


@pytest.mark.parametrize("k", [None, 2], ids=["all", "k2"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_whitened_covariance_is_scikit_learns(solver, k):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5))
    ref = PCA(k, whiten=True, svd_solver="full").fit(x)
    est = _fit(x, solver, k, whiten=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        cov, prec = est.get_covariance(), est.get_precision()
    np.testing.assert_allclose(cov, ref.get_covariance(), rtol=1e-8)
    # the whitened model's covariance is ill-conditioned (ev**2): compare to its condition
    np.testing.assert_allclose(cov @ prec, np.eye(5), atol=1e-6)
    ev = ref.explained_variance_
    noise = ref.noise_variance_
    comps = ref.components_ * np.sqrt(ev)[:, None]
    defined = comps.T @ np.diag(np.maximum(ev - noise, 0)) @ comps + noise * np.eye(5)
    np.testing.assert_allclose(cov, defined, rtol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_whitened_covariance_beyond_float64_is_a_data_error(solver):
    x = _data() * 1e150  # variances ~1e300, their squares (whitened covariance) ~1e600
    est = _strict(lambda: _fit(x, solver, None, whiten=True))
    with pytest.raises(ooc.DataError, match=r"covariance \(whiten=True") as info:
        _strict(est.get_covariance)
    assert "e60" in str(info.value)  # the magnitude that cannot be held
    with pytest.raises(ooc.DataError, match="precision"):
        _strict(est.get_precision)  # ~1e-600
    # unwhitened, the same data's covariance (~1e300) is right
    plain = _strict(lambda: _fit(x, solver, None).get_covariance())
    np.testing.assert_allclose(plain, np.cov(x.T), rtol=1e-8)


# -- 3. whitened scores have unit variance at any magnitude ----------------------------------


@pytest.mark.parametrize("s", [1e-150, 1e-20, 1e-17, 1.0, 1e20, 1e150])
@pytest.mark.parametrize("solver", SOLVERS)
def test_whitened_scores_have_unit_variance_at_any_magnitude(solver, s):
    rng = np.random.default_rng(21)
    x = rng.normal(size=(200, 3)) @ np.diag([3.0, 2.0, 1.0]) * s
    est = _strict(lambda: _fit(x, solver, 2, whiten=True))
    scores = _strict(lambda: est.transform(x))
    np.testing.assert_allclose(scores.std(axis=0, ddof=1), 1.0, rtol=1e-8)
    sk = PCA(2, whiten=True, svd_solver="full").fit(x / s)
    ref = sk.transform(x / s)
    np.testing.assert_allclose(np.abs(scores), np.abs(ref), rtol=1e-6, atol=1e-8)
    back = sk.inverse_transform(ref)  # the rank-2 reconstruction, signs cancel
    np.testing.assert_allclose(_strict(lambda: est.inverse_transform(scores)) / s, back, atol=1e-9)


@pytest.mark.parametrize("s", [1e-100, 1.0, 1e150])
@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_whitened_zero_variance_component_stays_finite(solver, s):
    """A constant column at any scale: its null component's scores are finite, bounded.

    (At 1e-150 the full solver's roundoff variance of the null component, ~1e-330, is
    refused as beyond float64 by the spectrum: a DataError, not a wrong number.)"""
    x = np.c_[np.linspace(-1.0, 1.0, 30), np.full(30, 7.0), np.full(30, -3.0)] * s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        est = _fit(x, solver, 3, whiten=True, batch_size=7)
        scores = est.transform(x)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores[:, 0].std(ddof=1), 1.0, rtol=1e-8)
    assert np.abs(scores[:, 1:]).max() < 1e3


def test_whitened_all_zero_variance_stays_finite():
    x = np.full((20, 3), 4.0)
    est = _fit(x, "full", 2, whiten=True)
    scores = est.transform(x)
    np.testing.assert_array_equal(scores, 0.0)


# -- 4. a field's land does not depend on its chunking ---------------------------------------


def _field(gap_rows=(0,)) -> xr.DataArray:
    rng = np.random.default_rng(33)
    f = rng.normal(size=(60, 3, 4))
    f[:, 0, 0] = np.nan  # land: missing at every time
    for t in gap_rows:
        f[t, 1, 1] = np.nan  # a sporadic gap
    coords = {"lat": [0.0, 1, 2], "lon": [0.0, 1, 2, 3]}
    return xr.DataArray(f, dims=("time", "lat", "lon"), coords=coords)


CHUNKS = [None, {"time": 1}, {"time": 7}, {"time": 60}]


@pytest.mark.parametrize("gaps", [(0,), (0, 1, 2, 3, 4, 5, 6), (59,), (0, 30)])
@pytest.mark.parametrize("solver", SOLVERS)
def test_field_drop_is_chunk_invariant_and_numpys(solver, gaps):
    fld = _field(gaps)
    flat = fld.values.reshape(60, -1)
    ocean = ~np.isnan(flat).all(axis=0)
    rows = flat[:, ocean]
    rows = rows[~np.isnan(rows).any(axis=1)]
    centred = rows - rows.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    want_ev = s[:2] ** 2 / (len(rows) - 1)
    results = []
    for chunks in CHUNKS:
        d = fld if chunks is None else fld.chunk(chunks)
        est = d.ooc.pca(
            2, dim="time", missing="drop", svd_solver=solver, random_state=0, batch_size=5
        )
        assert est.n_samples_seen_ == 60 - len(gaps)
        ev = np.asarray(est.explained_variance_)
        np.testing.assert_allclose(ev, want_ev, rtol=1e-8)
        comps = np.asarray(est.components_)
        assert np.isnan(comps[:, 0, 0]).all()  # land comes back NaN
        assert not np.isnan(comps[:, 1, 1]).any()  # the gappy cell is ocean
        results.append((ev, comps))
    for ev, comps in results[1:]:
        np.testing.assert_allclose(ev, results[0][0], rtol=1e-12)
        np.testing.assert_allclose(np.abs(comps), np.abs(results[0][1]), rtol=1e-10)


@pytest.mark.parametrize("chunks", CHUNKS)
def test_field_raise_names_the_gappy_cell_whatever_the_chunks(chunks):
    fld = _field((0,))
    d = fld if chunks is None else fld.chunk(chunks)
    with pytest.raises(ooc.DataError, match=r"lat=1\.0, lon=1\.0 is missing at 1 ") as info:
        d.ooc.pca(2, dim="time")
    assert "land" not in str(info.value).split("(like land)")[0]


def test_field_all_missing_in_the_first_block_only_is_ocean():
    """Every cell missing at time 0..3 (one block of 4, or chunks of 1): a fit of the rest."""
    fld = _field(())
    fld[:4] = np.nan
    fld[:, 0, 0] = np.nan
    for chunks in CHUNKS:
        d = fld if chunks is None else fld.chunk(chunks)
        est = d.ooc.pca(2, dim="time", missing="drop", batch_size=4)
        assert est.n_samples_seen_ == 56
        assert est.n_features_in_ == 11


def test_partial_fit_decides_land_from_its_first_batch():
    """partial_fit cannot see later batches: a cell missing throughout the first batch is
    land, and a later batch holding values there is a DataError naming it."""
    fld = _field(())
    f = fld.values.copy()
    f[:10, 2, 3] = np.nan
    fld = fld.copy(data=f)
    est = ooc.IncrementalPCA(2, missing="drop")
    est.partial_fit(fld.isel(time=slice(0, 10)), dim="time")
    assert est.n_features_in_ == 10
    with pytest.raises(ooc.DataError, match=r"lat=2\.0, lon=3\.0 is land in the fitted PCA"):
        est.partial_fit(fld.isel(time=slice(10, 20)), dim="time")
    # fit sees every row: that cell is ocean
    assert ooc.IncrementalPCA(2, missing="drop").fit(fld, dim="time").n_features_in_ == 11


# -- 5. every argument: a library error naming it ----------------------------------------------

X = _data(n=40)
BAD = [
    # (kwargs, error class, builtin, the name in the message)
    ({"n_components": -1}, ooc.ArgumentError, ValueError, "n_components"),
    ({"n_components": 0}, ooc.ArgumentError, ValueError, "n_components"),
    ({"n_components": 1.5}, ooc.ArgumentError, ValueError, "n_components"),
    ({"n_components": float("nan")}, ooc.ArgumentError, ValueError, "n_components"),
    ({"n_components": True}, ooc.ArgumentTypeError, TypeError, "n_components"),
    ({"n_components": "2"}, ooc.ArgumentTypeError, TypeError, "n_components"),
    ({"batch_size": 0}, ooc.ArgumentError, ValueError, "batch_size"),
    ({"batch_size": -5}, ooc.ArgumentError, ValueError, "batch_size"),
    ({"batch_size": float("nan")}, ooc.ArgumentError, ValueError, "batch_size"),
    ({"batch_size": True}, ooc.ArgumentTypeError, TypeError, "batch_size"),
    ({"batch_size": "10"}, ooc.ArgumentTypeError, TypeError, "batch_size"),
    ({"svd_solver": "qr"}, ooc.ArgumentError, ValueError, "svd_solver"),
    ({"svd_solver": ["full"]}, ooc.ArgumentTypeError, TypeError, "svd_solver"),
    ({"svd_solver": None}, ooc.ArgumentTypeError, TypeError, "svd_solver"),
    ({"iterated_power": -1}, ooc.ArgumentError, ValueError, "iterated_power"),
    ({"iterated_power": 2.5}, ooc.ArgumentError, ValueError, "iterated_power"),
    ({"iterated_power": "7"}, ooc.ArgumentTypeError, TypeError, "iterated_power"),
    ({"iterated_power": False}, ooc.ArgumentTypeError, TypeError, "iterated_power"),
    ({"n_oversamples": -1}, ooc.ArgumentError, ValueError, "n_oversamples"),
    ({"n_oversamples": float("nan")}, ooc.ArgumentError, ValueError, "n_oversamples"),
    ({"n_oversamples": None}, ooc.ArgumentTypeError, TypeError, "n_oversamples"),
    ({"n_oversamples": True}, ooc.ArgumentTypeError, TypeError, "n_oversamples"),
    ({"whiten": 1}, ooc.ArgumentTypeError, TypeError, "whiten"),
    ({"whiten": "yes"}, ooc.ArgumentTypeError, TypeError, "whiten"),
    ({"copy": None}, ooc.ArgumentTypeError, TypeError, "copy"),
    ({"copy": "no"}, ooc.ArgumentTypeError, TypeError, "copy"),
    ({"missing": "omit"}, ooc.ArgumentError, ValueError, "missing"),
    ({"missing": None}, ooc.ArgumentTypeError, TypeError, "missing"),
    ({"missing": np.array(["drop"])}, ooc.ArgumentTypeError, TypeError, "missing"),
    ({"random_state": -1}, ooc.ArgumentError, ValueError, "random_state"),
    ({"random_state": 2**32}, ooc.ArgumentError, ValueError, "random_state"),
    ({"random_state": "x"}, ooc.ArgumentTypeError, TypeError, "random_state"),
    ({"random_state": 1.5}, ooc.ArgumentTypeError, TypeError, "random_state"),
    ({"random_state": True}, ooc.ArgumentTypeError, TypeError, "random_state"),
]


def _check(call, cls, builtin, name):
    with pytest.raises(cls, match=name) as info:
        call()
    assert isinstance(info.value, ooc.OOCError)
    assert isinstance(info.value, builtin)


@pytest.mark.parametrize(("kwargs", "cls", "builtin", "name"), BAD, ids=repr)
@pytest.mark.parametrize("route", ["fit", "partial_fit", "accessor"])
def test_bad_argument_is_a_library_error_naming_it(route, kwargs, cls, builtin, name):
    kwargs = {"svd_solver": "randomized", **kwargs} if name == "random_state" else kwargs
    if route == "accessor":
        df = pd.DataFrame(X, columns=list("abc"))
        kw = {"n_components": 2, **kwargs}
        _check(lambda: df.ooc.pca(**kw), cls, builtin, name)
        return
    params = {"n_components": 2, **kwargs}
    est = ooc.IncrementalPCA(**params)
    _check(lambda: getattr(est, route)(X), cls, builtin, name)


@pytest.mark.parametrize(
    "seed", [None, 0, 2**32 - 1, np.int64(5), np.random.RandomState(1), np.random.default_rng(2)]
)
def test_good_random_states_are_accepted(seed):
    est = ooc.IncrementalPCA(2, svd_solver="randomized", random_state=seed).fit(X)
    ref = PCA(2, svd_solver="full").fit(X)
    np.testing.assert_allclose(est.explained_variance_, ref.explained_variance_, rtol=1e-6)


def test_pca_unknown_keyword_names_it_and_the_accepted_ones():
    df = pd.DataFrame(X, columns=list("abc"))
    with pytest.raises(ooc.ArgumentTypeError, match=r"unknown keyword 'foo'.*whiten"):
        df.ooc.pca(2, foo=1)
    with pytest.raises(ooc.ArgumentTypeError, match=r"'wihten' \(did you mean 'whiten'\?\)"):
        pca(X, 2, wihten=True)


@pytest.mark.parametrize("columns", [0, "a", 1.5, b"a"])
def test_scalar_columns_is_a_library_type_error(columns):
    df = pd.DataFrame(X, columns=["a", 0, 1.5])
    with pytest.raises(ooc.ArgumentTypeError, match=r"columns=.*pass columns=\[") as info:
        df.ooc.pca(1, columns=columns)
    assert isinstance(info.value, TypeError)


def test_int_labelled_columns_as_a_list_or_tuple_work():
    dfi = pd.DataFrame(X, columns=[0, 1, 2])
    ref = PCA(1, svd_solver="full").fit(X[:, [0, 2]])
    for cols in ([0, 2], (0, 2), pd.Index([0, 2])):
        est = dfi.ooc.pca(1, columns=cols)
        np.testing.assert_allclose(
            np.asarray(est.explained_variance_), ref.explained_variance_, rtol=1e-10
        )


def test_dataset_variables_scalar_name_or_library_type_error():
    rng = np.random.default_rng(4)
    da = xr.DataArray(rng.normal(size=(20, 3)), dims=("time", "x"))
    ds = xr.Dataset({"a": da, "b": da * 2, 1: da + rng.normal(size=(20, 3))})
    ref = PCA(2, svd_solver="full").fit(ds[1].values)
    for one in (1, "a", [1]):  # one variable's name (any hashable) or a list
        est = ds.ooc.pca(2, dim="time", variables=one)
        assert est.n_features_in_ == 3
    est = ds.ooc.pca(2, dim="time", variables=1)
    np.testing.assert_allclose(np.asarray(est.explained_variance_), ref.explained_variance_)
    for bad in (2.5, object()):
        with pytest.raises(ooc.ArgumentTypeError, match=r"variables= takes a list") as info:
            ds.ooc.pca(1, dim="time", variables=bad)
        assert isinstance(info.value, TypeError)
    with pytest.raises(ooc.MissingColumnError, match=r"\['zz'\]"):
        ds.ooc.pca(1, dim="time", variables=["zz"])
