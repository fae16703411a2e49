"""Per-row inputs of a model beside its formula (a GLM's offset, exposure and weights).

Each is a column's name, one number for every row, or one value per row of the data: a
Series aligned on the frame's index, a DataArray on the sample dimension's coordinate, an
array by position (:func:`~ooc_accessor.rowweights.row_weights`' rules).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import xxhash

from ..errors import ArgumentError, ColumnTypeError, MissingColumnError
from ..rowlabels import index_values
from ..rowweights import row_weights

__all__ = ["row_index", "row_values", "rows_digest"]


def _column(data: pd.DataFrame | xr.Dataset, column: str, dim: str | None, name: str) -> Any:
    names = list(data.columns) if isinstance(data, pd.DataFrame) else list(data.data_vars)
    if column not in names:
        raise MissingColumnError(
            f"{name}={column!r} is not a column of the data (columns: {names[:20]}); pass one "
            "of those names, or one value per row"
        )
    values = data[column]
    if isinstance(data, xr.Dataset) and values.dims != (dim,):
        raise ArgumentError(
            f"{name}={column!r} has dims {values.dims}; it must lie along the sample "
            f"dimension {dim!r} only"
        )
    try:
        if isinstance(values, pd.Series):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(values.values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ColumnTypeError(
            f"{name}={column!r} must hold numbers, but holds {values.dtype} values; convert "
            "the column (pd.to_numeric) first"
        ) from exc


def row_values(
    values: Any, data: pd.DataFrame | xr.Dataset, dim: str | None, name: str
) -> np.ndarray:
    """``values`` as one float64 per row of ``data`` (``dim``: a Dataset's sample dim).

    Parameters
    ----------
    values : str, number, pandas.Series, xarray.DataArray or array-like
        A column's name, one number for all rows, or one value per row (by label when
        labeled).
    data : pandas.DataFrame or xarray.Dataset
        The rows.
    dim : str or None
        A Dataset's sample dimension.
    name : str
        The argument's name, for messages.
    """
    if isinstance(values, str):
        return _column(data, values, dim, name)
    if isinstance(data, pd.DataFrame):
        n = len(data)
        return row_weights(values, data.index, n, "frame's", f"a frame of {n} rows", None, name)
    n = int(data.sizes[dim])
    return row_weights(
        values, data.indexes.get(dim), n, f"Dataset's {dim!r}", f"{n} rows along {dim!r}", dim, name
    )


def row_index(data: Any, dim: str | None) -> pd.Index | None:
    """The data's row labels (None: a Dataset dimension without a coordinate)."""
    return data.index if isinstance(data, pd.DataFrame) else data.indexes.get(dim)


def rows_digest(data: Any, dim: str | None) -> tuple[int, int]:
    """``(rows, hash of the row labels)`` of the data: a later read of its columns by row
    position checks that the rows are still those fitted."""
    index = row_index(data, dim)
    n = len(data) if isinstance(data, pd.DataFrame) else int(data.sizes[dim])
    if index is None:
        return n, 0
    hashed = pd.util.hash_pandas_object(pd.Index(index_values(index)[0]), index=False)
    return n, xxhash.xxh3_64_intdigest(hashed.to_numpy().tobytes())
