"""Row blocks of a numeric matrix (PCA, SVD), whatever holds it: an array or memmap, a
DataFrame's numeric columns, a stored design's X (a Dataset or DataArray: :mod:`fields`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import store
from .errors import ArgumentError, ArgumentTypeError, ColumnTypeError, DataError, MissingColumnError


def _preview(items: list[Any], k: int = 12) -> str:
    shown = ", ".join(repr(i) for i in items[:k])
    return shown + (f", ... ({len(items)} in all)" if len(items) > k else "")


class MatrixSource:
    """A numeric (rows x features) matrix read block by block, whatever holds it.

    Attributes
    ----------
    n_rows, n_features : int
    feature_names : list or None
        Column names (DataFrame), feature coordinate (DataArray), terms (design store).
    index : pandas.Index or None
        Row labels (the frame's index, the sample coordinate, the store's ``obs``).
    kind : {"numpy", "pandas", "xarray"}
        What the labeled results should be.
    """

    kind = "numpy"
    feature_names: list | None = None
    feature_dim = "feature"
    sample_dim = "obs"
    #: what a reader does with a row holding NaN: "raise", or "drop" it (PCA's missing=)
    missing = "raise"

    def __init__(self, array: Any, index: pd.Index | None = None) -> None:
        if array.ndim != 2:
            raise ArgumentError(
                f"expected a 2-D (samples, features) array, got shape {array.shape}; "
                "reshape it, or pass a DataArray with dim= naming the sample dimension"
            )
        if array.dtype.kind not in "biuf":
            raise ColumnTypeError(
                f"the array has dtype {array.dtype}; PCA needs numbers (convert it first)"
            )
        self.array = array
        self.n_rows, self.n_features = (int(s) for s in array.shape)
        self.index = index

    def block(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` in their stored dtype (float16 stays float16: converted per panel)."""
        out = self.array[a:b]
        # a dask array is read here, not through a cluster: one round trip per block
        return out.compute(scheduler="sync") if hasattr(out, "compute") else np.asarray(out)

    def ranges(self, rows: int) -> list[tuple[int, int]]:
        """Row ranges of at most ``rows`` rows."""
        return [(a, min(a + rows, self.n_rows)) for a in range(0, self.n_rows, rows)]

    def feature_label(self, j: int) -> Any:
        """How to name feature ``j`` in a message."""
        return self.feature_names[j] if self.feature_names is not None else j


class FrameMatrix(MatrixSource):
    """The numeric columns of a DataFrame (all, or ``columns``) as a matrix."""

    kind = "pandas"

    def __init__(
        self, frame: pd.DataFrame, columns: list | None = None, missing: str = "raise"
    ) -> None:
        cols = list(frame.columns) if columns is None else list(columns)
        absent = [c for c in cols if c not in frame.columns]
        if absent:
            raise MissingColumnError(
                f"columns {absent} are not in the frame (columns: {_preview(list(frame.columns))})"
                "; pick columns= from those"
            )
        for c in cols:
            dtype = frame[c].dtype
            if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                raise ColumnTypeError(
                    f"column {c!r} has dtype {dtype}; PCA needs numeric columns: drop it "
                    "(columns=[...]) or encode it first"
                )
        self.frame = frame[cols]
        self.n_rows, self.n_features = len(frame), len(cols)
        self.feature_names = cols
        self.index = frame.index
        self.missing = missing
        if self.n_rows and missing == "raise":
            nan = self.frame.isna().sum()
            if nan.any():
                name = nan.index[np.argmax(nan.to_numpy() > 0)]
                raise DataError(
                    f"column {name!r} holds {int(nan[name])} missing value(s) "
                    f"({int(nan.sum())} in all columns); fill them, or pass missing='drop' "
                    "to leave those rows out"
                )

    def block(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` as a float array."""
        return self.frame.iloc[a:b].to_numpy(dtype=np.float64, na_value=np.nan)


class DesignMatrix(MatrixSource):
    """The X of a stored design, read from the store one chunk at a time."""

    kind = "pandas"

    def __init__(self, design: Any) -> None:
        self.design = design
        self.kind = design.source_kind
        self.feature_dim = "term"
        self.path = design.path
        self.store_id = design.store_id  # in the task keys: see reduce.lstsq_stats_graph
        self.n_rows, self.n_features = design.n_obs, len(design.terms)
        self.feature_names = design.terms
        self.index = None  # read from the store only when a labeled output needs it

    #: read from a file any process can open: a dask worker may fold its blocks
    remote = True

    def block(self, a: int, b: int) -> np.ndarray:
        """Stored rows ``a:b`` of X."""
        (x,) = store.read_block(self.path, a, b, ("X",), self.store_id)
        return x

    def __getstate__(self) -> dict:
        # the Design handle (a finalizer, an open dataset) stays with the client: a worker
        # needs only the store's path
        return {k: v for k, v in vars(self).items() if k != "design"}


def as_matrix(
    data: Any, *, columns: list | None = None, dim: str | None = None, missing: str = "raise"
) -> MatrixSource:
    """Wrap what the user holds as a :class:`MatrixSource` (``missing``: its NaN policy)."""
    import xarray as xr

    if isinstance(data, MatrixSource):
        return data
    if isinstance(data, pd.DataFrame):
        return FrameMatrix(data, columns, missing)
    if isinstance(data, (xr.DataArray, xr.Dataset)):
        from .fields import FieldMatrix  # fields builds on this module

        return FieldMatrix(data, dim, missing=missing)
    if isinstance(data, (np.ndarray, list, tuple)) or hasattr(data, "__array__"):
        arr = data if hasattr(data, "shape") and hasattr(data, "dtype") else np.asarray(data)
        src = MatrixSource(arr)
        src.missing = missing
        return src
    raise ArgumentTypeError(
        f"cannot read a matrix from {type(data).__name__}; pass a DataFrame, a numpy array "
        "or memmap, or a DataArray/Dataset with dim="
    )
