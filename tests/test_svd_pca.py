"""SVD and PCA against numpy and scikit-learn on the same data, at the issue's tolerances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ooc_accessor as ooc

EXACT = ["full", "covariance_eigh"]
K = 30  # digits' top 30 components have well separated variances: their axes are defined


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().data


@pytest.fixture(scope="module")
def reference(digits) -> PCA:
    return PCA(n_components=K, svd_solver="full").fit(digits)


def _frame(seed: int = 0, n: int = 600, p: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) + rng.normal(size=p) * 5
    cols = [f"x{i}" for i in range(p)]
    return pd.DataFrame(x, columns=cols, index=pd.Index(np.arange(n) * 3 + 11, name="id"))


# -- SVD -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chunksize",
    [
        2,  # blocks shorter than the column count
        97,  # odd blocks, ragged last one
        600,  # the whole matrix in one block
    ],
)
def test_svd_equals_numpy(chunksize):
    df = _frame()
    formula = "0 + " + " + ".join(df.columns)
    result = df.ooc.svd(formula, chunksize=chunksize)
    u, s, vt = np.linalg.svd(df.to_numpy(), full_matrices=False)
    np.testing.assert_allclose(result.s.to_numpy(), s, rtol=1e-10)
    np.testing.assert_allclose(np.abs(result.Vt.to_numpy()), np.abs(vt), atol=1e-8)
    assert result.U.chunks is not None  # lazy: read from the stored U
    np.testing.assert_allclose(np.abs(result.U.values), np.abs(u), atol=1e-8)
    # signs: each row of Vt has its largest-magnitude entry positive, U follows
    vt_ooc = result.Vt.to_numpy()
    assert np.all(vt_ooc[np.arange(6), np.abs(vt_ooc).argmax(axis=1)] > 0)
    np.testing.assert_allclose(result.U.values * result.s.to_numpy() @ vt_ooc, df, atol=1e-9)
    assert list(result.Vt.columns) == list(df.columns)
    np.testing.assert_array_equal(result.U["obs"].values, df.index.values)
    assert result.U.dims == ("obs", "component")


def test_svd_truncated_and_signs_chunk_invariant():
    df = _frame(seed=2)
    formula = "0 + " + " + ".join(df.columns)
    a = df.ooc.svd(formula, k=3, chunksize=5)
    b = df.ooc.svd(formula, k=3, chunksize=600)
    assert a.s.size == 3 and a.U.shape == (600, 3)
    np.testing.assert_allclose(a.Vt.to_numpy(), b.Vt.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(a.U.values, b.U.values, atol=1e-12)
    with pytest.raises(ValueError, match=r"k must be an int from 1 to min\(n_obs, n_terms\) = 6"):
        df.ooc.svd(formula, k=7)


# -- PCA: scikit-learn's numbers -------------------------------------------------------------


@pytest.mark.parametrize("solver", EXACT)
@pytest.mark.parametrize("batch_size", [1, 101, None])
def test_pca_equals_sklearn_full(digits, reference, solver, batch_size):
    pca = ooc.IncrementalPCA(K, svd_solver=solver, batch_size=batch_size).fit(digits)
    np.testing.assert_allclose(pca.explained_variance_, reference.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(
        pca.explained_variance_ratio_, reference.explained_variance_ratio_, rtol=1e-9
    )
    np.testing.assert_allclose(pca.singular_values_, reference.singular_values_, rtol=1e-9)
    np.testing.assert_allclose(pca.mean_, reference.mean_, atol=1e-12)
    np.testing.assert_allclose(pca.noise_variance_, reference.noise_variance_, rtol=1e-9)
    np.testing.assert_allclose(np.abs(pca.components_), np.abs(reference.components_), atol=1e-8)
    scores = pca.transform(digits)
    np.testing.assert_allclose(np.abs(scores), np.abs(reference.transform(digits)), atol=1e-8)
    np.testing.assert_allclose(pca.var_, digits.var(axis=0), rtol=1e-10, atol=1e-12)
    assert pca.n_components_ == K and pca.n_samples_seen_ == len(digits)
    assert pca.n_features_in_ == 64


@pytest.mark.parametrize("solver", EXACT)
def test_partial_fit_reversed_blocks_equals_fit(digits, solver):
    whole = ooc.IncrementalPCA(K, svd_solver=solver).fit(digits)
    inc = ooc.IncrementalPCA(K, svd_solver=solver)
    for rows in reversed(np.array_split(np.arange(len(digits)), 13)):
        inc.partial_fit(digits[rows])
    np.testing.assert_allclose(inc.explained_variance_, whole.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(inc.components_, whole.components_, atol=1e-9)
    np.testing.assert_allclose(inc.mean_, whole.mean_, atol=1e-12)
    assert inc.n_samples_seen_ == len(digits)


def test_whiten_and_inverse_transform(digits):
    ref = PCA(10, whiten=True, svd_solver="full").fit(digits)
    pca = ooc.IncrementalPCA(10, whiten=True).fit(digits)
    np.testing.assert_allclose(
        np.abs(pca.transform(digits)), np.abs(ref.transform(digits)), atol=1e-8
    )
    back = pca.inverse_transform(pca.transform(digits))
    np.testing.assert_allclose(back, ref.inverse_transform(ref.transform(digits)), atol=1e-8)
    full = ooc.IncrementalPCA().fit(digits)  # all components: the round trip is exact
    np.testing.assert_allclose(full.inverse_transform(full.transform(digits)), digits, atol=1e-9)


# -- PCA: the estimator contract -------------------------------------------------------------


def test_pipeline_clone_params(digits):
    target = load_digits().target
    ours = make_pipeline(
        StandardScaler(), ooc.IncrementalPCA(20), LogisticRegression(max_iter=3000)
    )
    theirs = make_pipeline(StandardScaler(), PCA(20), LogisticRegression(max_iter=3000))
    ours.fit(digits, target)
    theirs.fit(digits, target)
    np.testing.assert_allclose(ours.predict_proba(digits), theirs.predict_proba(digits), atol=1e-6)
    est = ooc.IncrementalPCA(5, whiten=True, svd_solver="full")
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()
    assert est.set_params(n_components=3) is est and est.n_components == 3
    with pytest.raises(ValueError, match="invalid parameter 'bogus'"):
        est.set_params(bogus=1)
    ours.set_params(incrementalpca__n_components=7)
    assert ours.named_steps["incrementalpca"].n_components == 7


def test_not_fitted_and_bad_arguments(digits):
    pca = ooc.IncrementalPCA(3)
    assert not hasattr(pca, "components_")
    with pytest.raises(ooc.NotFittedError, match="not fitted yet"):
        pca.transform(digits)
    with pytest.raises(ValueError, match=r"n_components=65 must be at most .* = 64"):
        ooc.IncrementalPCA(65).fit(digits)
    with pytest.raises(ValueError, match=r"n_components=20 must be at most .* = 10"):
        ooc.IncrementalPCA(20).fit(digits[:10]).explained_variance_  # noqa: B018
    with pytest.raises(ValueError, match="svd_solver must be one of"):
        ooc.IncrementalPCA(3, svd_solver="arpack").fit(digits)
    fitted = ooc.IncrementalPCA(3).fit(digits)
    with pytest.raises(
        ooc.ArgumentError, match="X has 10 features, but IncrementalPCA is expecting 64 features"
    ):
        fitted.partial_fit(digits[:, :10])


def test_refits_reset(digits):
    pca = ooc.IncrementalPCA(5).fit(digits[:500])
    pca.fit(digits)
    assert pca.n_samples_seen_ == len(digits)


def test_input_errors_name_the_offender():
    df = _frame()
    bad = df.assign(x3=df.x3.where(df.index % 7 != 0))
    with pytest.raises(ooc.DataError, match=r"column 'x3' holds 86 missing value\(s\)"):
        bad.ooc.pca(2)
    with pytest.raises(ooc.ColumnTypeError, match=r"column 'g' has dtype str"):
        df.assign(g="a").ooc.pca(2)
    arr = df.to_numpy().copy()
    arr[[5, 9], 2] = np.nan
    with pytest.raises(
        ooc.DataError, match=r"feature 2 holds 2 NaN value\(s\).*first at row 5.*missing='drop'"
    ):
        ooc.IncrementalPCA(2).fit(arr)
    da = xr.DataArray(arr, dims=("time", "station"))
    with pytest.raises(
        ValueError, match=r"dim='sample' is not a dimension .*\('time', 'station'\)"
    ):
        da.ooc.pca(2, dim="sample")


# -- labels and inputs ------------------------------------------------------------------------


def test_dataframe_results_are_labeled():
    df = _frame()
    pca = df.ooc.pca(3, columns=["x0", "x1", "x2", "x4"])
    ref = PCA(3, svd_solver="full").fit(df[["x0", "x1", "x2", "x4"]].to_numpy())
    assert list(pca.components_.columns) == ["x0", "x1", "x2", "x4"]
    assert pca.components_.index.name == "component"
    assert list(pca.feature_names_in_) == ["x0", "x1", "x2", "x4"]
    np.testing.assert_allclose(pca.explained_variance_, ref.explained_variance_, rtol=1e-10)
    scores = pca.transform(df[["x0", "x1", "x2", "x4"]])
    pd.testing.assert_index_equal(scores.index, df.index)
    assert pca.mean_.index.tolist() == ["x0", "x1", "x2", "x4"]


def test_dataarray_float16_memmap(tmp_path):
    df = _frame(p=8, n=900)
    mm = np.memmap(tmp_path / "x.f16", dtype=np.float16, mode="w+", shape=(900, 8))
    mm[:] = df.to_numpy()
    mm.flush()
    ro = np.memmap(tmp_path / "x.f16", dtype=np.float16, mode="r", shape=(900, 8))
    da = xr.DataArray(ro, dims=("sample", "feature"), coords={"feature": list("abcdefgh")})
    pca = da.ooc.pca(n_components=4, dim="sample", batch_size=128)
    ref = PCA(4, svd_solver="full").fit(np.asarray(ro, dtype=np.float64))
    np.testing.assert_allclose(pca.explained_variance_, ref.explained_variance_, rtol=1e-10)
    assert pca.components_.dims == ("component", "feature")
    assert list(pca.components_["feature"].values) == list("abcdefgh")
    scores = pca.transform(da, dim="sample")
    assert scores.dims == ("sample", "component") and scores.chunks is not None
    np.testing.assert_allclose(np.abs(scores.values), np.abs(ref.transform(ro)), atol=1e-8)


def test_design_pca_and_svd_share_the_store():
    df = _frame()
    design = df.ooc.design("0 + x0 + x1 + x2", chunksize=50)
    ref = PCA(2, svd_solver="full").fit(df[["x0", "x1", "x2"]].to_numpy())
    pca = design.pca(2)
    np.testing.assert_allclose(pca.explained_variance_, ref.explained_variance_, rtol=1e-10)
    assert list(pca.components_.columns) == ["x0", "x1", "x2"]
    s = np.linalg.svd(df[["x0", "x1", "x2"]].to_numpy(), compute_uv=False)
    np.testing.assert_allclose(design.svd().s.to_numpy(), s, rtol=1e-10)


def test_scores_of_a_stored_design_are_stored_and_lazy():
    df = _frame()
    design = df.ooc.design("0 + x0 + x1 + x2 + x3", chunksize=64)
    pca = design.pca(3)
    scores = pca.transform(design)
    assert scores.dims == ("obs", "component") and scores.chunks is not None
    np.testing.assert_array_equal(scores["obs"].values, df.index.values)
    ref = PCA(3, svd_solver="full").fit(df[["x0", "x1", "x2", "x3"]].to_numpy())
    np.testing.assert_allclose(
        np.abs(scores.values),
        np.abs(ref.transform(df[["x0", "x1", "x2", "x3"]].to_numpy())),
        atol=1e-8,
    )


def test_covariance_solver_warns_where_its_digits_run_out():
    rng = np.random.default_rng(4)
    # variances spanning 1e12: the smallest kept ones are below what eigh of X'X resolves
    x = rng.normal(size=(2000, 6)) * np.logspace(0, -6, 6)
    with pytest.warns(ooc.PrecisionWarning, match="svd_solver='full'"):
        cov = ooc.IncrementalPCA(6, svd_solver="covariance_eigh").fit(x).explained_variance_
    exact = ooc.IncrementalPCA(6, svd_solver="full").fit(x).explained_variance_
    ref = PCA(6, svd_solver="full").fit(x).explained_variance_
    np.testing.assert_allclose(exact, ref, rtol=1e-9)
    assert np.abs(cov / ref - 1).max() > np.abs(exact / ref - 1).max()
