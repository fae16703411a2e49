"""Per-row weights given by the user, as one float per row of the data, aligned by label.

A pandas Series is aligned on its index and a DataArray on its coordinate along its one
dimension, as pandas and xarray users expect; a DataArray without a coordinate, and a plain
array or list, are positional and must have one value per row. Rows labeled alike on both
sides are matched; a row without a weight, or labels that repeat and differ, are refused
rather than turned into a silently dropped row or a weight taken from another row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .errors import ArgumentError, ColumnTypeError, DataError
from .translate import label


def _one(name: str) -> str:
    """What one of ``name`` is called in a message: "weight", or "value" (an offset)."""
    return "weight" if name == "weights" else "value"


def weights_array(weights: Any, name: str = "weights") -> np.ndarray:
    """Weights given as a sequence or array: one number per row, as float64."""
    arr = np.asarray(weights)
    if arr.ndim != 1:
        raise ArgumentError(
            f"{name} has shape {arr.shape}; pass one {_one(name)} per row (a 1-D array, a list, "
            "a Series or a column name)"
        )
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ColumnTypeError(
            f"{name} must be numbers, but holds {arr.dtype} values ({exc}); convert them "
            "(pd.to_numeric) or pass a numeric column's name"
        ) from exc


def align_weights(
    weights: pd.Series, index: pd.Index, whose: str, kind: str = "Series", name: str = "weights"
) -> np.ndarray:
    """A weights Series as one value per row of ``index``, aligned by label.

    Alignment must be exact: labels that repeat cannot be matched, and a row whose label
    the Series lacks would silently become a dropped NaN weight, so both are refused.
    Labels the rows lack (extra weights) are left out, as pandas' alignment does.
    """
    if not weights.index.equals(index):
        if weights.index.has_duplicates or index.has_duplicates:
            raise ArgumentError(
                f"{name} is a {kind} whose labels differ from the {whose} row labels and "
                "repeat, so it cannot be aligned by label; pass it on those labels "
                f"({name}.set_axis(index)) or as an array in row order"
            )
        absent = ~index.isin(weights.index)
        if absent.any():
            raise DataError(
                f"{name} lacks {int(absent.sum())} of the {whose} row labels (the first: "
                f"{label(index[absent][0])!r}); pass a {_one(name)} for every row, labeled like "
                "the rows (or an array in row order)"
            )
        weights = weights.reindex(index)
    return _numbers(weights, name)


def _numbers(weights: pd.Series, name: str = "weights") -> np.ndarray:
    try:
        return weights.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ColumnTypeError(
            f"{name} must be numbers, but holds {weights.dtype} values ({exc}); convert "
            "them (pd.to_numeric) or pass a numeric column's name"
        ) from exc


def row_weights(
    weights: Any,
    index: pd.Index | None,
    n_rows: int,
    whose: str,
    count: str,
    dim: str | None = None,
    name: str = "weights",
) -> np.ndarray:
    """``weights`` (a Series, a DataArray, an array, a list or one number for every row)
    as one float per row.

    Parameters
    ----------
    weights : pandas.Series, xarray.DataArray or array-like
        The user's weights.
    index : pandas.Index or None
        The rows' labels; None when the rows have none (a Dataset dimension without a
        coordinate), so only positions can match them.
    n_rows : int
        Number of rows.
    whose : str
        Whose rows they are, for messages ("frame's", "Dataset's 'time'").
    count : str
        The rows counted, for messages ("a frame of 12 rows").
    dim : str, optional
        The one dimension a DataArray must lie along (a Dataset's sample dimension); any
        one dimension when None.
    name : str
        What the values are, for messages (``"weights"``, ``"offset"``...).

    Returns
    -------
    numpy.ndarray
        float64, ``(n_rows,)``, in row order.
    """
    import xarray as xr

    if isinstance(weights, xr.DataArray):
        if weights.ndim != 1 or (dim is not None and weights.dims != (dim,)):
            along = f"({dim!r},)" if dim is not None else "one dimension"
            only = repr(dim) if dim is not None else "the sample dimension"
            raise ArgumentError(
                f"{name} has dims {weights.dims}; expected {along}: pass a DataArray "
                f"along {only} only, one {_one(name)} per row"
            )
        (wdim,) = weights.dims
        if wdim in weights.indexes and index is not None:
            # a coordinate on both sides: align by label, as xarray does
            series = pd.Series(np.asarray(weights.values), index=weights.indexes[wdim])
            return align_weights(series, index, whose, "DataArray", name)
        values = weights_array(weights.values, name)  # no labels to match: positions, as xarray
    elif isinstance(weights, pd.Series):
        # rows without labels are labeled by position, like the blocks handed on
        values = align_weights(
            weights, pd.RangeIndex(n_rows) if index is None else index, whose, "Series", name
        )
    elif isinstance(weights, (int, float, np.integer, np.floating)) and not isinstance(
        weights, (bool, np.bool_)
    ):
        # one weight for every row, as statsmodels' WLS takes a scalar
        values = np.full(n_rows, float(weights))
    else:
        values = weights_array(weights, name)
    if values.shape[0] != n_rows:
        raise ArgumentError(
            f"{name} has {values.shape[0]} values for {count}; pass one {_one(name)} per row "
            "(a Series, or a DataArray with a coordinate, is aligned by label)"
        )
    return values
