"""A uniform sample of rows of lazy per-row outputs, read block by block.

Residuals and fitted values can be as long as the data: a plot takes at most ``n`` rows,
drawn uniformly without replacement. The lazy (dask) arrays are indexed *before* anything
is computed, so only the blocks holding a sampled row are read, one at a time, and only the
sampled values are kept: memory holds a few blocks plus the sample, whatever the rows.
"""

from __future__ import annotations

from typing import Any

import dask
import numpy as np
import xarray as xr

from ..errors import ArgumentError


def generator(random_state: Any) -> np.random.Generator:
    """numpy's Generator seeded by ``random_state`` (an int, a Generator or None)."""
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(
            f"random_state={random_state!r} cannot seed numpy's default_rng ({exc}): pass an "
            "int, a numpy Generator or None"
        ) from exc


def sample_rows(total: int, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted positions of ``n`` of ``total`` rows drawn uniformly (None: take them all)."""
    if total <= n:
        return None
    # without replacement: numpy's Generator draws this in O(n), not O(total)
    return np.sort(rng.choice(total, size=n, replace=False))


def take_rows(arrays: list[xr.DataArray], rows: np.ndarray | None) -> list[np.ndarray]:
    """The values of each 1-D lazy array at ``rows`` (all when None), computed together so
    blocks the arrays share are read once."""
    picked = []
    for a in arrays:
        data = a.data  # the bare array: the row labels need not be read
        picked.append(data if rows is None else data[rows])
    return [np.asarray(v, dtype=np.float64).reshape(-1) for v in dask.compute(*picked)]
