"""Class 10 for the PCA: every error ``IncrementalPCA`` and the fields raise is an ``OOCError``.

One case per message: the library class, the builtin a caller catches (``ValueError``,
``TypeError``, ``KeyError``...), and the words that name the offender and the fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import sparse

import ooc_accessor as ooc

RNG = np.random.default_rng(11)
X = RNG.normal(size=(30, 4))
DF = pd.DataFrame(X, columns=["a", "b", "c", "d"])
FIELD = xr.DataArray(
    RNG.normal(size=(20, 3, 2)),
    dims=("time", "lat", "lon"),
    coords={"lat": [0.0, 1.0, 2.0], "lon": [10.0, 20.0]},
    name="sst",
)


def _fitted(**kw) -> ooc.IncrementalPCA:
    return ooc.IncrementalPCA(2, **kw).fit(X)


CASES = [
    # (id, call, library class, builtin, message)
    (
        "too-many-components",
        lambda: ooc.IncrementalPCA(5).fit(X),
        ooc.ArgumentError,
        ValueError,
        r"n_components=5 must be at most min\(n_samples, n_features\) = 4 \(n_features=4\); "
        r"pass a smaller n_components, or None",
    ),
    (
        "more-components-than-rows",
        lambda: ooc.IncrementalPCA(4, batch_size=2).fit(X[:3]),
        ooc.ArgumentError,
        ValueError,
        r"n_components=4 must be at most min\(n_samples, n_features\) = 3 \(3 samples, 4 feat",
    ),
    (
        "first-partial-fit-rows",
        lambda: ooc.IncrementalPCA(3).partial_fit(X[:2]),
        ooc.ArgumentError,
        ValueError,
        r"n_components=3 must be less or equal to the batch number of samples 2 for the first "
        r"partial_fit call",
    ),
    (
        "n-components-changed",
        lambda: _fitted().set_params(n_components=3).partial_fit(X),
        ooc.ArgumentError,
        ValueError,
        r"n_components changed from 2 to 3 since the first partial_fit call; set it back, or "
        r"call fit",
    ),
    (
        "n-components-type",
        lambda: ooc.IncrementalPCA(2.5).fit(X),
        ooc.ArgumentError,
        ValueError,
        r"n_components must be a positive int or None, not 2\.5",
    ),
    (
        "batch-size",
        lambda: ooc.IncrementalPCA(2, batch_size=-1).fit(X),
        ooc.ArgumentError,
        ValueError,
        r"batch_size must be a positive int \(rows per block\) or None, not -1",
    ),
    (
        "svd-solver",
        lambda: ooc.IncrementalPCA(2, svd_solver="arpack").fit(X),
        ooc.ArgumentError,
        ValueError,
        r"svd_solver must be one of \('auto', 'full', 'covariance_eigh', 'randomized'\), "
        r"not 'arpack'",
    ),
    (
        "iterated-power",
        lambda: ooc.IncrementalPCA(2, iterated_power=-2).fit(X),
        ooc.ArgumentError,
        ValueError,
        r"iterated_power must be 'auto' or an int >= 0 \(power iterations\), not -2",
    ),
    (
        "n-oversamples",
        lambda: ooc.IncrementalPCA(2, n_oversamples=1.5).fit(X),
        ooc.ArgumentError,
        ValueError,
        r"n_oversamples must be an int >= 0 \(extra random directions\), not 1\.5",
    ),
    (
        "whiten",
        lambda: ooc.IncrementalPCA(2, whiten="yes").fit(X),
        ooc.ArgumentTypeError,
        TypeError,
        r"whiten must be True or False, not 'yes'",
    ),
    (
        "missing",
        lambda: ooc.IncrementalPCA(2, missing="ignore").fit(X),
        ooc.ArgumentError,
        ValueError,
        r"missing must be one of \('raise', 'drop'\), not 'ignore'",
    ),
    (
        "set-params",
        lambda: ooc.IncrementalPCA(2).set_params(n_component=3),
        ooc.ArgumentError,
        ValueError,
        r"invalid parameter 'n_component' for IncrementalPCA; valid: \['batch_size'",
    ),
    (
        "randomized-partial-fit",
        lambda: ooc.IncrementalPCA(2, svd_solver="randomized").partial_fit(X),
        ooc.ArgumentError,
        ValueError,
        r"svd_solver='randomized' needs every row at once \(several passes\): call fit",
    ),
    (
        "sparse-partial-fit",
        lambda: ooc.IncrementalPCA(2).partial_fit(sparse.csr_array(X)),
        ooc.ArgumentTypeError,
        TypeError,
        r"IncrementalPCA.partial_fit does not support sparse input. Either convert data to "
        r"dense or use IncrementalPCA.fit",
    ),
    (
        "one-dimensional",
        lambda: ooc.IncrementalPCA(1).fit(X[:, 0]),
        ooc.ArgumentError,
        ValueError,
        r"expected a 2-D \(samples, features\) array, got shape \(30,\); reshape it \(Reshape "
        r"your data",
    ),
    (
        "complex",
        lambda: ooc.IncrementalPCA(1).fit(X + 1j),
        ooc.ArgumentError,
        ValueError,
        r"Complex data not supported: the array has dtype complex128; pass its real part",
    ),
    (
        "object-not-a-number",
        lambda: ooc.IncrementalPCA(1).fit(np.array([[1.0, {}], [2.0, 3.0]], dtype=object)),
        ooc.ArgumentTypeError,
        TypeError,
        r"the array has dtype object and holds a value that is not a number \(float\(\) "
        r"argument must be a string or a real number",
    ),
    (
        "not-a-matrix",
        lambda: ooc.IncrementalPCA(1).fit({"a": 1}),
        ooc.ArgumentTypeError,
        TypeError,
        r"cannot read a matrix from dict; pass a DataFrame, a numpy array or memmap, a "
        r"scipy.sparse matrix",
    ),
    (
        "no-features",
        lambda: ooc.IncrementalPCA().fit(np.empty((5, 0))),
        ooc.DataError,
        ValueError,
        r"X has no features: found array with 0 feature\(s\) \(shape=\(5, 0\)\)",
    ),
    (
        "no-rows",
        lambda: ooc.IncrementalPCA().fit(np.empty((0, 3))),
        ooc.DataError,
        ValueError,
        r"X has no rows \(shape \(0, 3\)\): nothing to decompose",
    ),
    (
        "not-fitted",
        lambda: ooc.IncrementalPCA(2).transform(X),
        ooc.NotFittedError,
        AttributeError,
        r"this IncrementalPCA is not fitted yet; call fit or partial_fit first",
    ),
    (
        "feature-count",
        lambda: _fitted().transform(X[:, :3]),
        ooc.ArgumentError,
        ValueError,
        r"X has 3 features, but IncrementalPCA is expecting 4 features as input; pass data "
        r"with the features it was fitted on",
    ),
    (
        "inverse-shape",
        lambda: _fitted().inverse_transform(np.ones((3, 3))),
        ooc.ArgumentError,
        ValueError,
        r"inverse_transform needs scores of shape \(n_samples, 2\) \(the fitted n_components\)"
        r", got \(3, 3\)",
    ),
    (
        "columns-on-ndarray",
        lambda: ooc.IncrementalPCA(2).fit(X, columns=["a"]),
        ooc.ArgumentError,
        ValueError,
        r"columns= selects DataFrame columns; a ndarray has none",
    ),
    (
        "dim-on-dataframe",
        lambda: ooc.IncrementalPCA(2).fit(DF, dim="time"),
        ooc.ArgumentError,
        ValueError,
        r"dim= names the sample dimension of xarray data; a DataFrame has rows: drop "
        r"dim='time'",
    ),
    (
        "variables-on-dataframe",
        lambda: ooc.IncrementalPCA(2).fit(DF, variables=["a"]),
        ooc.ArgumentError,
        ValueError,
        r"variables= selects Dataset variables; pass columns= for a DataFrame's columns",
    ),
    (
        "columns-on-xarray",
        lambda: ooc.IncrementalPCA(2).fit(FIELD, columns=["a"], dim="time"),
        ooc.ArgumentError,
        ValueError,
        r"columns= selects DataFrame columns; for xarray data use variables=",
    ),
    (
        "wrong-dim",
        lambda: FIELD.ooc.pca(2, dim="sample"),
        ooc.ArgumentError,
        ValueError,
        r"dim='sample' is not a dimension of the DataArray \(dims \('time', 'lat', 'lon'\)\); "
        r"pass one of \['time', 'lat', 'lon'\]",
    ),
    (
        "no-dim",
        lambda: FIELD.ooc.pca(2),
        ooc.ArgumentError,
        ValueError,
        r"pass dim= naming the sample dimension of the DataArray \(dims \['time', 'lat', "
        r"'lon'\]\); the other dims become features",
    ),
    (
        "transform-other-dim",
        lambda: FIELD.ooc.pca(2, dim="time").transform(FIELD, dim="lat"),
        ooc.ArgumentError,
        ValueError,
        r"dim='lat', but the PCA was fitted along 'time'; pass dim='time'",
    ),
    (
        "plain-transform-other-dim",
        lambda: ooc.IncrementalPCA(2).fit(FIELD, dim="time").transform(FIELD, dim="lat"),
        ooc.ArgumentError,
        ValueError,
        r"dim='lat', but the PCA was fitted along 'time'; pass dim='time'",
    ),
    (
        "xarray-on-array-fit",
        lambda: _fitted().transform(xr.DataArray(X, dims=("t", "f"))),
        ooc.ArgumentError,
        ValueError,
        r"this PCA was not fitted on xarray data: pass an array \(np.asarray\), or dim=",
    ),
    (
        "variables-on-dataarray",
        lambda: FIELD.ooc.pca(2, dim="time", variables=["sst"]),
        ooc.ArgumentError,
        ValueError,
        r"variables= selects variables of a Dataset; a DataArray is one: drop variables=",
    ),
    (
        "absent-variable",
        lambda: FIELD.to_dataset().ooc.pca(2, dim="time", variables=["t2m"]),
        ooc.MissingColumnError,
        KeyError,
        r"variable\(s\) \['t2m'\] are not in the Dataset \(data variables: \['sst'\]\); pick "
        r"variables= from those",
    ),
    (
        "no-variable-along-dim",
        lambda: FIELD.to_dataset().assign_coords(k=[1, 2]).ooc.pca(2, dim="k"),
        ooc.ArgumentError,
        ValueError,
        r"no data variable of the Dataset has the dimension 'k'; pass dim= naming the sample "
        r"dimension of its data variables",
    ),
    (
        "variable-without-dim",
        lambda: (
            FIELD.to_dataset()
            .assign(z=("k", [1.0, 2.0]))
            .ooc.pca(1, dim="k", variables=["z", "sst"])
        ),
        ooc.ArgumentError,
        ValueError,
        r"variable 'sst' has dims \('time', 'lat', 'lon'\), without the sample dim 'k'; leave "
        r"it out of variables=",
    ),
    (
        "grid-shape",
        lambda: FIELD.ooc.pca(2, dim="time").transform(FIELD.isel(lon=[0])),
        ooc.ArgumentError,
        ValueError,
        r"variable 'sst' has feature shape \(3, 1\); the PCA was fitted on \(3, 2\): pass data "
        r"on the grid it was fitted on",
    ),
    (
        "grid-dims",
        lambda: FIELD.ooc.pca(2, dim="time").transform(FIELD.rename(lon="x")),
        ooc.ArgumentError,
        ValueError,
        r"variable 'sst' has dims \('time', 'lat', 'x'\); the PCA was fitted on \('time', "
        r"'lat', 'lon'\)",
    ),
    (
        "grid-shifted",
        lambda: FIELD.ooc.pca(2, dim="time").transform(FIELD.assign_coords(lon=[15.0, 25.0])),
        ooc.ArgumentError,
        ValueError,
        r"variable 'sst': its coordinate 'lon' differs from the fit's. The feature names should"
        r" match",
    ),
    (
        "dtype",
        lambda: FIELD.astype(str).ooc.pca(2, dim="time"),
        ooc.ColumnTypeError,
        TypeError,
        r"variable 'sst' has dtype <U\d+; PCA needs numbers \(convert it first\)",
    ),
]


@pytest.mark.parametrize(
    ("call", "cls", "builtin", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_pca_error(call, cls, builtin, match):
    with pytest.raises(cls, match=match) as info:
        call()
    assert isinstance(info.value, ooc.OOCError)
    assert isinstance(info.value, builtin)
