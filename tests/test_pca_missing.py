"""PCA's ``missing=``: "raise" (scikit-learn's behaviour) or "drop" (statsmodels' name).

With ``missing="drop"`` the fit equals scikit-learn's PCA of the rows without NaN, for
every solver and block size, on a DataFrame, a float16 memmap and a field; transform
gives NaN scores for the incomplete rows and the usual scores for the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.decomposition import PCA

import ooc_accessor as ooc


def _frame(n: int = 300, p: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) + rng.normal(size=p) * 5
    df = pd.DataFrame(x, columns=[f"f{j}" for j in range(p)], index=np.arange(n) * 3 + 7)
    for row, col in ((0, 0), (5, 2), (6, 2), (77, 5), (150, 1), (151, 3), (299, 4)):
        df.iat[row, col] = np.nan
    return df


def _assert_matches(est, ref, k: int, rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(
        np.asarray(est.explained_variance_), ref.explained_variance_[:k], rtol=rtol
    )
    np.testing.assert_allclose(np.asarray(est.mean_), ref.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        np.abs(np.asarray(est.components_)), np.abs(ref.components_[:k]), atol=1e-8
    )


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
@pytest.mark.parametrize("batch", [1, 7, None])
def test_drop_equals_sklearn_on_complete_rows(solver, batch):
    df = _frame()
    complete = df.dropna()
    k = 3
    est = df.ooc.pca(k, svd_solver=solver, batch_size=batch, missing="drop", random_state=0)
    ref = PCA(k, svd_solver="full").fit(complete.to_numpy())
    assert est.n_samples_seen_ == len(complete) == 293
    _assert_matches(est, ref, k, rtol=1e-9 if solver != "randomized" else 1e-6)
    scores = est.transform(df)
    assert scores.index.equals(df.index)
    incomplete = df.isna().any(axis=1)
    assert scores[incomplete].isna().all(axis=None)
    np.testing.assert_allclose(
        np.abs(scores[~incomplete].to_numpy()),
        np.abs(ref.transform(complete.to_numpy())),
        rtol=1e-6,
        atol=1e-8,
    )


def test_raise_names_the_feature_and_row():
    df = _frame()
    with pytest.raises(
        ooc.DataError,
        match=r"column 'f0' holds 1 missing value\(s\) \(7 in all columns\).*missing='drop'",
    ):
        df.ooc.pca(2)
    with pytest.raises(
        ooc.DataError,
        match=r"feature 2 holds 2 NaN value\(s\) in rows 0-299 \(the first at row 5\)"
        r".*missing='drop'",
    ):
        ooc.IncrementalPCA(2).fit(df.to_numpy())
    with pytest.raises(
        ValueError, match=r"missing must be one of \('raise', 'drop'\), not 'ignore'"
    ):
        df.ooc.pca(2, missing="ignore")


def test_inf_is_not_missing():
    df = _frame().fillna(0.0)
    df.iat[10, 1] = np.inf
    with pytest.raises(ooc.DataError, match=r"feature 'f1' holds 1 inf value\(s\).*not missing"):
        df.ooc.pca(2, missing="drop")


def test_partial_fit_drops_per_call():
    df = _frame()
    est = ooc.IncrementalPCA(3, missing="drop", svd_solver="covariance_eigh")
    for part in np.array_split(df.to_numpy(), 4):
        est.partial_fit(part)
    ref = PCA(3, svd_solver="full").fit(df.dropna().to_numpy())
    assert est.n_samples_seen_ == 293
    _assert_matches(est, ref, 3)


def test_float16_memmap_with_nan_rows(tmp_path):
    df = _frame().astype(np.float16)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float16, shape=df.shape)
    mm[:] = df.to_numpy()
    mm.flush()
    est = ooc.IncrementalPCA(2, batch_size=16, missing="drop").fit(mm)
    ref = PCA(2, svd_solver="full").fit(df.dropna().to_numpy(dtype=np.float64))
    _assert_matches(est, ref, 2)


def test_all_rows_dropped_is_an_error():
    df = _frame()
    df["f0"] = np.nan
    with pytest.raises(ooc.DataError, match=r"every row holds a missing value"):
        df.ooc.pca(2, missing="drop")
    with pytest.raises(ooc.DataError, match=r"X has no rows"):
        ooc.IncrementalPCA(1).fit(np.ones((0, 2)))


@pytest.mark.parametrize("chunks", [None, 1, 9])
def test_field_drop_steps_with_missing_cells(chunks):
    rng = np.random.default_rng(1)
    t, ny, nx = 60, 4, 5
    data = rng.normal(size=(t, ny, nx)) + np.linspace(0, 3, ny * nx).reshape(ny, nx)
    data[:, 0, 0] = np.nan  # land: missing at every step
    data[[3, 40], 2, 3] = np.nan  # two steps with a missing ocean cell
    da = xr.DataArray(data, dims=("time", "lat", "lon"), coords={"time": np.arange(t)})
    if chunks:
        da = da.chunk({"time": chunks})
    with pytest.raises(
        ooc.DataError, match=r"lat=2, lon=3 is missing at [12] of the .*missing='drop'"
    ):
        da.ooc.pca(3, dim="time")
    est = da.ooc.pca(3, dim="time", missing="drop", svd_solver="full")
    keep = np.ones(t, dtype=bool)
    keep[[3, 40]] = False
    flat = data.reshape(t, -1)[keep][:, 1:]
    ref = PCA(3, svd_solver="full").fit(flat)
    assert est.n_samples_seen_ == 58
    np.testing.assert_allclose(est.explained_variance_.values, ref.explained_variance_, rtol=1e-9)
    assert np.isnan(est.components_.sel(lat=0, lon=0)).all()
