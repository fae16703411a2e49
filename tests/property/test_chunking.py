"""Chunking must not change answers: any chunk size, any row order, the same fit."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FORMULA, make_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

N = 150
_FRAME = make_frame(N, seed=11)
_WHOLE = _FRAME.ooc.lstsq(FORMULA, chunksize=N)
_WHOLE_W = _FRAME.ooc.lstsq(FORMULA, weights="w", chunksize=N)


def _assert_same_fit(fit, ref, tol=1e-11):
    np.testing.assert_allclose(fit.params, ref.params, rtol=tol, atol=tol)
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=tol)
    np.testing.assert_allclose(fit.ssr, ref.ssr, rtol=tol)
    np.testing.assert_allclose(fit.rsquared, ref.rsquared, rtol=tol)
    assert fit.nobs == ref.nobs and fit.rank == ref.rank


@pytest.mark.parametrize(
    "chunksize",
    [
        1,  # one row per block: every block is shorter than the column count
        7,  # small odd blocks, a ragged last one
        37,  # odd size, blocks straddle the rows with missing values
        N,  # the whole frame in one block
    ],
)
def test_fixed_chunk_sizes_agree(chunksize):
    _assert_same_fit(_FRAME.ooc.lstsq(FORMULA, chunksize=chunksize), _WHOLE)
    _assert_same_fit(_FRAME.ooc.lstsq(FORMULA, weights="w", chunksize=chunksize), _WHOLE_W)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    chunksize=st.integers(min_value=1, max_value=N + 10),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    weighted=st.booleans(),
)
def test_any_chunking_and_row_order_agree(chunksize, seed, weighted):
    order = np.random.default_rng(seed).permutation(N)
    shuffled = _FRAME.iloc[order]
    fit = shuffled.ooc.lstsq(FORMULA, weights="w" if weighted else None, chunksize=chunksize)
    _assert_same_fit(fit, _WHOLE_W if weighted else _WHOLE)
    # the row labels travel with their rows
    fv = fit.fittedvalues.to_series().sort_index()
    ref = (_WHOLE_W if weighted else _WHOLE).fittedvalues.to_series().sort_index()
    np.testing.assert_allclose(fv.values, ref.values, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(fv.index, ref.index)
