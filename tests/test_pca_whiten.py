"""Class 6 of Step 6: ``whiten=True`` on rank-deficient data, every solver, against scikit-learn.

A component of zero variance used to be divided by zero (NaN or inf scores with
``svd_solver="covariance_eigh"``, whose eigenvalues are clipped at exactly 0). scikit-learn
divides by ``max(sqrt(explained_variance_), eps)`` instead; the library, for every solver, by
``max(sqrt(explained_variance_), eps * sqrt(explained_variance_[0]))`` (relative, so data of
any magnitude whitens to unit variance: tests/faults/test_adversary_pca.py). The scores are
finite and the components that carry variance are scikit-learn's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.decomposition import IncrementalPCA as SkIncrementalPCA

import ooc_accessor as ooc
from ooc_accessor.errors import PrecisionWarning

SOLVERS = ["full", "covariance_eigh", "randomized"]


def _rank_deficient(n: int = 80, seed: int = 0) -> np.ndarray:
    """Rank 3 in 6 columns: a sum of two columns, a constant, a copy (exact dependences)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * [3.0, 1.0, 0.5] + [1.0, -2.0, 4.0]
    return np.c_[x, x[:, 0] + x[:, 1], np.full(n, 2.5), x[:, 2]]


def _fit(solver: str, x: np.ndarray, k: int | None, batch_size: int = 13):
    est = ooc.IncrementalPCA(
        k, whiten=True, svd_solver=solver, batch_size=batch_size, random_state=0
    )
    with warnings.catch_warnings():
        # the covariance solver warns that null components are not resolved: they are not
        warnings.simplefilter("ignore", PrecisionWarning)
        return est.fit(x)


def _matched(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``got`` with each column's sign set to agree with ``want``'s."""
    return got * np.where(np.sum(got * want, axis=0) < 0, -1.0, 1.0)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("k", [None, 5, 4, 3], ids=["all", "k5", "k4", "k3"])
def test_rank_deficient_whitened_scores_are_finite_and_scikit_learns(solver, k):
    x = _rank_deficient()
    est = _fit(solver, x, k)
    ref = PCA(k, whiten=True, svd_solver="full").fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        scores = est.transform(x)
    assert scores.shape == (80, ref.n_components_)
    assert np.isfinite(scores).all()
    stable = ref.explained_variance_ratio_ > 1e-12  # the three components that exist
    assert stable.sum() == 3
    want = ref.transform(x)[:, stable]
    np.testing.assert_allclose(_matched(scores[:, stable], want), want, rtol=1e-8, atol=1e-8)
    # whitened: unit variance for the components that carry variance
    np.testing.assert_allclose(scores[:, stable].var(axis=0, ddof=1), 1.0, rtol=1e-8)
    # null components are in the null space of the inverse transform: the round trip holds
    np.testing.assert_allclose(est.inverse_transform(scores), x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_zero_variance_is_clamped_as_scikit_learn(solver):
    # a constant column only: every variance but one is exactly zero
    x = np.c_[np.linspace(-1.0, 1.0, 30), np.full(30, 7.0), np.full(30, -3.0)]
    est = _fit(solver, x, 3, batch_size=7)
    ref = PCA(3, whiten=True, svd_solver="full").fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        scores = est.transform(x)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(np.abs(scores[:, 0]), np.abs(ref.transform(x)[:, 0]), rtol=1e-10)
    # a null direction's score is roundoff divided by eps, as in scikit-learn (whose own
    # test_whitening leaves them out): finite and bounded, never NaN or inf
    assert np.abs(scores[:, 1:]).max() < 1e3
    np.testing.assert_allclose(est.inverse_transform(scores), x, atol=1e-12)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_whitened_partial_fit_and_scikit_learns_incremental_pca(solver):
    x = _rank_deficient(seed=3)
    est = ooc.IncrementalPCA(3, whiten=True, svd_solver=solver)
    for a in range(0, len(x), 11):
        est.partial_fit(x[a : a + 11])
    ref = SkIncrementalPCA(3, whiten=True, batch_size=20).fit(x)
    want = ref.transform(x)
    np.testing.assert_allclose(_matched(est.transform(x), want), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_full_rank_whitening_matches_scikit_learn_tightly(solver):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(120, 6)) @ rng.normal(size=(6, 6))
    est = _fit(solver, x, 6)
    ref = PCA(6, whiten=True, svd_solver="full").fit(x)
    want = ref.transform(x)
    np.testing.assert_allclose(_matched(est.transform(x), want), want, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(est.inverse_transform(est.transform(x)), x, atol=1e-10)


def test_accessor_route_whitened_scores_are_finite():
    df = pd.DataFrame(_rank_deficient(), columns=list("abcdef"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        est = df.ooc.pca(5, whiten=True, svd_solver="covariance_eigh")
        scores = est.transform(df)
    assert isinstance(scores, pd.DataFrame)
    assert np.isfinite(scores.to_numpy()).all()
