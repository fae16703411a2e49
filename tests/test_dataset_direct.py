"""A read_csv store's Dataset read by the design one block at a time, in one open per block.

The direct read (``lazy.read_many``) must give exactly what reading each variable through
dask gives, and must step aside whenever the variable no longer reads the store's rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ooc_accessor as ooc
from ooc_accessor.sources import table_source


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(3)
    n = 1000
    frame = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "a": rng.normal(size=n),
            "k": rng.integers(-5, 5, size=n),
            "flag": rng.integers(0, 2, size=n).astype(bool),
            "when": pd.date_range("2020-01-01", periods=n, freq="h"),
            "g": rng.choice(["x", "y", "z"], size=n),
        }
    )
    frame.loc[::17, "a"] = np.nan
    csv = tmp_path / "in.csv"
    frame.to_csv(csv, index=False)
    return ooc.read_csv(csv, tmp_path / "s.nc", chunksize=97, progress=False)


COLUMNS = ["y", "a", "k", "flag", "when", "g"]
CODES = ["y", "a", "k", "flag", "when", "C(g)"]


@pytest.mark.parametrize("rows", [1, 13, 250, 1000])
def test_direct_blocks_equal_dask_blocks(store, rows):
    direct = table_source(store, None).select(COLUMNS, CODES)
    # (a column of date strings is a string column: read through dask, decoded)
    assert {"y", "a", "k", "flag"} <= set(direct._stored)
    slow = table_source(store, None).select(COLUMNS, CODES)
    slow._stored = {}
    for a, b in direct.ranges(rows):
        pd.testing.assert_frame_equal(direct.block(a, b), slow.block(a, b))


def test_a_changed_variable_is_read_as_changed(store):
    changed = store.assign(a=store["a"] * 2.0)
    source = table_source(changed, None).select(COLUMNS, CODES)
    assert "a" not in source._stored and "y" in source._stored
    block = source.block(0, 50)
    np.testing.assert_array_equal(block["a"].to_numpy(), 2.0 * store["a"].values[:50])
    d1 = store.ooc.design("y ~ a + k + C(g)", chunksize=61)
    d2 = changed.ooc.design("y ~ a + k + C(g)", chunksize=61)
    x1, x2, j = d1.X.values, d2.X.values, d1.terms.index("a")
    np.testing.assert_array_equal(x2[:, j], 2.0 * x1[:, j])
    np.testing.assert_array_equal(np.delete(x2, j, axis=1), np.delete(x1, j, axis=1))


def test_a_subset_is_read_through_dask(store):
    sub = store.isel(index=slice(100, 400))
    source = table_source(sub, None).select(COLUMNS, CODES)
    assert source._stored == {}
    fit_sub = sub.ooc.lstsq("y ~ a + C(g)")
    frame = store.to_dataframe().iloc[100:400]
    fit_frame = frame.ooc.lstsq("y ~ a + C(g)")
    np.testing.assert_allclose(fit_sub.params.values, fit_frame.params.values, rtol=1e-12)


@pytest.mark.parametrize("rows", [1, 13, 96, 97, 1000])
def test_blocks_read_by_chunk_equal_blocks_read_alone(store, rows):
    """Blocks cut from a whole stored chunk are the blocks read one by one."""
    columns = ["y", "a", "k", "flag", "g"]  # all read directly: whole chunks
    source = table_source(store, None).select(columns, ["y", "a", "k", "flag", "C(g)"])
    assert set(source._stored) | source.string_codes == set(columns)
    ranges = source.ranges(rows)
    blocks = list(source.blocks(rows))
    assert [(len(b)) for b in blocks] == [b - a for a, b in ranges]
    for (a, b), block in zip(ranges, blocks, strict=True):
        pd.testing.assert_frame_equal(block, source.block(a, b))
