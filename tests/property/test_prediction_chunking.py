"""Stored predictions do not depend on chunking: any dask chunks of the new data (regular
or ragged) and any block size give the in-memory route's summary frame."""

from __future__ import annotations

import numpy as np
from conftest import FORMULA, make_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

N = 90
_FIT = make_frame(400, seed=3).ooc.lstsq(FORMULA, cov_type="HC3")
_NEW = make_frame(N, seed=4)  # a or cat1 missing at rows 3, 8, 17, 50
_MEMORY = _FIT.get_prediction(_NEW).summary_frame()


@st.composite
def ragged_chunks(draw) -> tuple[int, ...]:
    """Chunk lengths summing to N, each from 1 row to all of them."""
    chunks, left = [], N
    while left:
        size = draw(st.integers(min_value=1, max_value=left))
        chunks.append(size)
        left -= size
    return tuple(chunks)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=ragged_chunks(), chunksize=st.integers(min_value=1, max_value=N + 5))
def test_any_chunks_and_blocks_give_the_in_memory_frame(chunks, chunksize):
    lazy = _NEW.to_xarray().chunk({"row": chunks})
    sf = _FIT.get_prediction(lazy, chunksize=chunksize).summary_frame().compute()
    ours = sf.to_dataframe()[list(_MEMORY.columns)]
    assert ours.index.equals(_MEMORY.index)
    scale = float(np.nanmax(np.abs(_MEMORY.to_numpy())))
    np.testing.assert_allclose(ours.to_numpy(), _MEMORY.to_numpy(), rtol=1e-12, atol=1e-12 * scale)
    assert int(ours["mean"].isna().sum()) == 4
