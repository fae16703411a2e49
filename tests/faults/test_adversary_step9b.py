"""Step 9's second adversarial pass: breaks found and fixed.

- ``set_params(batch_size=-5)`` after a fit made ``transform`` return uninitialised memory
  (no block was projected) and ``batch_size=0`` a bare ``ValueError``: the parameters a
  transform reads are checked when it runs, as ``fit`` checks them;
- numpy scalars (``np.int64`` bytes, ``np.True_``) were refused as options and as a call's
  ``progress=``;
- ``IncrementalPCA(progress=False)`` was a bare ``TypeError`` (the estimator follows
  ``ooc.set_options(progress=)``; its parameters are its model's, as scikit-learn's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA

import ooc_accessor as ooc


@pytest.fixture
def x() -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.normal(size=(300, 4)) * [4.0, 2.0, 1.0, 0.5]


@pytest.mark.parametrize(
    ("value", "error"),
    [(-5, ooc.ArgumentError), (0, ooc.ArgumentError), ("10", ooc.ArgumentTypeError)],
)
@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_parameters_set_after_the_fit_are_checked_when_used(x, value, error, method) -> None:
    est = ooc.IncrementalPCA(2).fit(x)
    scores = est.transform(x)
    est.set_params(batch_size=value)
    arg = x if method == "transform" else scores
    with pytest.raises(error, match="batch_size"):
        getattr(est, method)(arg)
    est.set_params(batch_size=7)  # a valid value again: scikit-learn's scores
    ref = PCA(2).fit(x)
    np.testing.assert_allclose(
        np.abs(est.transform(x)), np.abs(ref.transform(x)), rtol=1e-9, atol=1e-9
    )


def test_whiten_set_after_the_fit_is_checked(x) -> None:
    est = ooc.IncrementalPCA(2).fit(x)
    est.set_params(whiten="yes")
    with pytest.raises(ooc.OOCError, match="whiten"):
        est.transform(x)


def test_numpy_scalars_are_options_like_python_ones() -> None:
    with ooc.set_options(chunk_memory=np.int64(2**20), progress=np.True_):
        assert ooc.get_options()["chunk_memory"] == 2**20
        assert ooc.get_options()["progress"] is True
        assert type(ooc.get_options()["chunk_memory"]) is int
    with ooc.set_options(progress=np.bool_(False)):
        assert ooc.get_options()["progress"] is False
    with pytest.raises(ooc.ArgumentError, match="progress"):
        ooc.set_options(progress=np.int64(1))


def test_a_calls_numpy_bool_progress(capfd) -> None:
    df = pd.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0) * 2 + 1})
    capfd.readouterr()
    fit = df.ooc.lstsq("y ~ x", progress=np.False_)
    assert capfd.readouterr().err == ""
    np.testing.assert_allclose(fit.params.values, [1.0, 2.0], atol=1e-10)


def test_the_estimator_refuses_a_progress_parameter_by_name(x) -> None:
    with pytest.raises(ooc.ArgumentTypeError, match=r"IncrementalPCA\(\) got an unknown"):
        ooc.IncrementalPCA(2, progress=False)
    est = clone(ooc.IncrementalPCA(2, batch_size=50))
    assert est.get_params()["batch_size"] == 50
    with ooc.set_options(progress=False):
        assert est.fit(x).n_samples_seen_ == 300
