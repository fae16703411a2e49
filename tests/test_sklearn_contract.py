"""``ooc.IncrementalPCA`` as scikit-learn users meet it, and the accessor route beside it.

Plain estimator: ndarray attributes and scores (pandas only through ``set_output``),
``get_feature_names_out``, ``check_is_fitted``, scikit-learn's ``NotFittedError``, a
``Pipeline`` with its notebook HTML repr, sparse input, ``get_covariance``/``get_precision``.
Accessor route (``df.ooc.pca``, ``da.ooc.pca``, ``ds.ooc.pca``, ``design.pca``): labeled
results as DESIGN.md says. Numbers are checked against scikit-learn's PCA.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
import xarray as xr
from scipy import sparse
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError as SkNotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr
from sklearn.utils.validation import check_is_fitted

import ooc_accessor as ooc

ATTRS = [
    "components_",
    "explained_variance_",
    "explained_variance_ratio_",
    "singular_values_",
    "mean_",
    "var_",
]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(90, 4)) @ rng.normal(size=(4, 4)) + [3, -1, 0, 10]
    return pd.DataFrame(x, columns=["p", "q", "r", "s"], index=pd.RangeIndex(100, 190))


def _aligned(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of ``a`` (components) signed like ``b``'s."""
    return a * np.where(np.sum(a * b, axis=1) < 0, -1.0, 1.0)[:, None]


# -- a plain scikit-learn estimator -------------------------------------------------------------


def test_plain_estimator_gives_ndarrays_like_scikit_learn(df):
    est = ooc.IncrementalPCA(3, batch_size=11).fit(df)
    ref = PCA(3, svd_solver="full").fit(df)
    for name in ATTRS:
        assert type(getattr(est, name)) is np.ndarray, name
    np.testing.assert_allclose(
        _aligned(est.components_, ref.components_), ref.components_, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(est.explained_variance_, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(est.singular_values_, ref.singular_values_, rtol=1e-10)
    np.testing.assert_allclose(est.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(est.noise_variance_, ref.noise_variance_, rtol=1e-9)
    scores = est.transform(df)
    assert type(scores) is np.ndarray
    np.testing.assert_allclose(np.abs(scores), np.abs(ref.transform(df)), rtol=1e-9)
    assert type(est.inverse_transform(scores)) is np.ndarray
    assert est.get_params()["n_components"] == 3 and clone(est).get_params() == est.get_params()


def test_set_output_pandas(df):
    est = ooc.IncrementalPCA(2).set_output(transform="pandas").fit(df)
    scores = est.transform(df)
    assert isinstance(scores, pd.DataFrame)
    assert list(scores.columns) == ["incrementalpca0", "incrementalpca1"]
    assert scores.index.equals(df.index)
    ref = PCA(2, svd_solver="full").set_output(transform="pandas").fit(df)
    np.testing.assert_allclose(np.abs(scores.to_numpy()), np.abs(ref.transform(df)), rtol=1e-9)
    both = est.fit_transform(df)
    assert isinstance(both, pd.DataFrame) and list(both.columns) == list(scores.columns)
    with sklearn.config_context(transform_output="pandas"):
        assert isinstance(ooc.IncrementalPCA(2).fit(df).transform(df), pd.DataFrame)
    assert type(est.set_output(transform="default").transform(df)) is np.ndarray


def test_get_feature_names_out(df):
    est = ooc.IncrementalPCA(3).fit(df)
    np.testing.assert_array_equal(
        est.get_feature_names_out(), ["incrementalpca0", "incrementalpca1", "incrementalpca2"]
    )
    np.testing.assert_array_equal(
        est.get_feature_names_out(["p", "q", "r", "s"]),
        ["incrementalpca0", "incrementalpca1", "incrementalpca2"],
    )
    with pytest.raises(ooc.ArgumentError, match="input_features is not equal to"):
        est.get_feature_names_out(["x", "q", "r", "s"])
    with pytest.raises(ooc.NotFittedError):
        ooc.IncrementalPCA(3).get_feature_names_out()


def test_check_is_fitted_and_scikit_learns_not_fitted_error(df):
    est = ooc.IncrementalPCA(2)
    with pytest.raises(SkNotFittedError):
        check_is_fitted(est)
    with pytest.raises(SkNotFittedError, match="not fitted yet; call fit or partial_fit"):
        est.transform(df)
    with pytest.raises(ooc.OOCError):  # one exception, both families
        est.components_  # noqa: B018
    assert issubclass(ooc.NotFittedError, SkNotFittedError)
    assert issubclass(ooc.NotFittedError, (ValueError)) and issubclass(
        ooc.NotFittedError, AttributeError
    )
    assert not hasattr(est, "components_")  # hasattr is False before fit, as scikit-learn's
    check_is_fitted(est.partial_fit(df))
    check_is_fitted(df.ooc.pca(2))


def test_pipeline_and_its_html_repr(df):
    y = df["s"].to_numpy() * 2 + 1
    ours = make_pipeline(StandardScaler(), ooc.IncrementalPCA(3), LinearRegression()).fit(df, y)
    theirs = make_pipeline(StandardScaler(), PCA(3), LinearRegression()).fit(df, y)
    np.testing.assert_allclose(ours.predict(df), theirs.predict(df), rtol=1e-9)
    html = estimator_html_repr(ours)
    assert "IncrementalPCA" in html and "<div" in html and "n_components" in html
    assert "IncrementalPCA" in ours._repr_html_()  # what a notebook shows
    assert "IncrementalPCA" in ooc.IncrementalPCA(3)._repr_html_()
    assert repr(ooc.IncrementalPCA(3, whiten=True)) == "IncrementalPCA(n_components=3, whiten=True)"
    names = make_pipeline(StandardScaler(), ooc.IncrementalPCA(2)).set_output(transform="pandas")
    out = names.fit_transform(df)
    assert list(out.columns) == ["incrementalpca0", "incrementalpca1"]


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
def test_sparse_input_by_batches(fmt):
    rng = np.random.default_rng(2)
    dense = rng.normal(size=(70, 6)) * (rng.random((70, 6)) < 0.4)
    x = sparse.csr_array(dense).asformat(fmt)
    est = ooc.IncrementalPCA(3, batch_size=9).fit(x)
    ref = PCA(3, svd_solver="full").fit(dense)
    np.testing.assert_allclose(est.explained_variance_, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(est.transform(x)), np.abs(ref.transform(dense)), rtol=1e-9)
    with pytest.raises(ooc.ArgumentTypeError, match="partial_fit does not support sparse input"):
        est.partial_fit(x)


def test_sparse_is_densified_one_batch_at_a_time(monkeypatch):
    from ooc_accessor.pca_inputs import SparseMatrix

    seen: list[tuple[int, int]] = []
    block = SparseMatrix.block

    def spy(self, a, b):
        out = block(self, a, b)
        seen.append(out.shape)
        return out

    monkeypatch.setattr(SparseMatrix, "block", spy)
    x = sparse.random_array((200, 8), density=0.2, format="csr", rng=0)
    est = ooc.IncrementalPCA(2, batch_size=30).fit(x)
    est.transform(x)
    assert seen and max(r for r, _ in seen) == 30  # never more rows dense than a batch
    assert sum(r for r, _ in seen) == 2 * 200  # fit and transform each read every row once
    np.testing.assert_allclose(
        est.explained_variance_,
        PCA(2, svd_solver="full").fit(x.toarray()).explained_variance_,
        rtol=1e-10,
    )


def test_covariance_and_precision_match_scikit_learn(df):
    for k, whiten in [(2, False), (3, True), (4, False)]:
        est = ooc.IncrementalPCA(k, whiten=whiten).fit(df)
        ref = PCA(k, whiten=whiten, svd_solver="full").fit(df)
        np.testing.assert_allclose(est.get_covariance(), ref.get_covariance(), rtol=1e-9)
        np.testing.assert_allclose(est.get_precision(), ref.get_precision(), rtol=1e-7)
        np.testing.assert_allclose(est.get_covariance() @ est.get_precision(), np.eye(4), atol=1e-9)


# -- the accessor route: labeled results --------------------------------------------------------


def test_accessor_route_on_pandas_is_labeled(df):
    est = df.ooc.pca(2)
    plain = ooc.IncrementalPCA(2).fit(df)
    assert isinstance(est.components_, pd.DataFrame)
    assert list(est.components_.columns) == ["p", "q", "r", "s"]
    assert isinstance(est.mean_, pd.Series) and list(est.mean_.index) == ["p", "q", "r", "s"]
    assert isinstance(est.explained_variance_, pd.Series)
    np.testing.assert_allclose(est.components_.to_numpy(), plain.components_, rtol=1e-12)
    scores = est.transform(df)
    assert isinstance(scores, pd.DataFrame) and scores.index.equals(df.index)
    np.testing.assert_allclose(scores.to_numpy(), plain.transform(df), rtol=1e-12)
    # a clone is a plain estimator again (the label flag is not a parameter)
    assert type(clone(est).fit(df).components_) is np.ndarray


def test_accessor_route_on_xarray_is_labeled_and_lazy():
    rng = np.random.default_rng(4)
    da = xr.DataArray(
        rng.normal(size=(50, 3, 2)),
        dims=("time", "lat", "lon"),
        coords={"time": np.arange(50), "lat": [1.0, 2.0, 3.0], "lon": [5.0, 6.0]},
    )
    est = da.ooc.pca(2, dim="time")
    assert isinstance(est.components_, xr.DataArray)
    assert est.components_.dims == ("component", "lat", "lon")
    scores = est.transform(da)
    assert isinstance(scores, xr.DataArray) and scores.chunks is not None  # lazy
    plain = ooc.IncrementalPCA(2).fit(da, dim="time")
    assert type(plain.components_) is np.ndarray and plain.components_.shape == (2, 6)
    np.testing.assert_allclose(scores.values, plain.transform(da, dim="time"), rtol=1e-12)
    ds = da.to_dataset(name="t2m")
    dsest = ds.ooc.pca(2, dim="time")
    assert isinstance(dsest.components_, xr.DataArray)
    np.testing.assert_allclose(dsest.transform(ds).values, scores.values, rtol=1e-12)


def test_design_route_gives_stored_lazy_scores(tmp_path, df):
    design = df.ooc.design("0 + p + q + r", path=tmp_path / "d.nc")
    est = design.pca(2)
    scores = est.transform(design)
    assert isinstance(scores, xr.DataArray) and scores.dims == ("obs", "component")
    assert scores.chunks is not None
    plain = ooc.IncrementalPCA(2).fit(design)
    got = plain.transform(design)
    assert type(got) is np.ndarray
    np.testing.assert_allclose(scores.values, got, rtol=1e-12)
    np.testing.assert_allclose(got, plain.transform(df[["p", "q", "r"]]), rtol=1e-12)
