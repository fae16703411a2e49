"""What a PCA reads: the input as a :class:`~ooc_accessor.sources.MatrixSource`, checked.

Every kind of input (ndarray, memmap, list, scipy.sparse, DataFrame, DataArray, Dataset,
stored Design) becomes a source read block by block. Its features are checked against the
fitted ones as scikit-learn does (``feature_names_in_``, ``n_features_in_``): by name when
the input carries names, in the same order, else an :class:`~ooc_accessor.ArgumentError`
(a ``ValueError``) naming the features unseen at fit, missing, or out of order. Messages
keep scikit-learn's wording, so code that matches them keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse

from .errors import ArgumentError, ArgumentTypeError, ColumnTypeError, OOCError
from .fields import FieldMatrix
from .names import check_count, check_names
from .sources import DesignMatrix, MatrixSource, as_matrix

__all__ = [
    "MISSING",
    "SOLVERS",
    "SparseMatrix",
    "check_params",
    "fitted_source",
    "input_names",
    "matrix_source",
]

MISSING = ("raise", "drop")
_RESHAPE = (
    "Reshape your data either using array.reshape(-1, 1) if your data has a single feature "
    "or array.reshape(1, -1) if it contains a single sample"
)


class SparseMatrix(MatrixSource):
    """A scipy.sparse matrix or array, densified one block of rows at a time.

    Formats without row slicing (COO, DIA, DOK, BSR) are converted to CSR once: a sparse
    copy, never a dense one.
    """

    def __init__(self, matrix: Any, missing: str = "raise") -> None:
        if matrix.format not in ("csr", "csc"):
            matrix = matrix.tocsr()
        super().__init__(matrix)
        self.missing = missing

    def block(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` as a dense array."""
        return self.array[a:b].toarray()


def _is_design(data: Any) -> bool:
    return hasattr(data, "terms") and hasattr(data, "n_obs") and hasattr(data, "chunk_rows")


def _array(data: Any) -> Any:
    """An array-like as an array to read by blocks: memmaps and dask arrays stay as they are;
    object arrays are converted to float64 (numbers held as objects), or refused."""
    arr = data if hasattr(data, "shape") and hasattr(data, "dtype") else np.asarray(data)
    if arr.ndim != 2:
        raise ArgumentError(
            f"expected a 2-D (samples, features) array, got shape {arr.shape}; reshape it "
            f"({_RESHAPE}), or pass a DataArray with dim= naming the sample dimension"
        )
    kind = arr.dtype.kind
    if kind == "c":
        raise ArgumentError(
            f"Complex data not supported: the array has dtype {arr.dtype}; pass its real "
            "part, or its real and imaginary parts as separate features"
        )
    if kind == "O":
        try:
            arr = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ArgumentTypeError(
                f"the array has dtype object and holds a value that is not a number ({exc}); "
                "convert it to numbers first"
            ) from exc
    return arr


def matrix_source(
    data: Any,
    columns: list | None = None,
    dim: str | None = None,
    variables: list | None = None,
    layout: Any = None,
    missing: str = "raise",
) -> MatrixSource:
    """What the user holds as a matrix source (``layout``: a fitted field's, for new data)."""
    _choice("missing", missing, MISSING)
    if _is_design(data):
        return DesignMatrix(data)  # a stored design: read X chunk by chunk
    if isinstance(data, (xr.DataArray, xr.Dataset)):
        if columns is not None:
            raise ArgumentError(
                "columns= selects DataFrame columns; for xarray data use variables= (a "
                "Dataset) or .sel/.isel (a DataArray)"
            )
        return FieldMatrix(data, dim, variables, layout=layout, missing=missing)
    if variables is not None:
        raise ArgumentError(
            "variables= selects Dataset variables; pass columns= for a DataFrame's columns"
        )
    if dim is not None:
        raise ArgumentError(
            f"dim= names the sample dimension of xarray data; a {type(data).__name__} has "
            f"rows: drop dim={dim!r}"
        )
    if sparse.issparse(data):
        return SparseMatrix(data, missing)
    if isinstance(data, pd.DataFrame):
        if columns is not None and (
            isinstance(columns, (str, bytes)) or not isinstance(columns, Iterable)
        ):
            raise ArgumentTypeError(
                f"columns= takes a list of column labels, not {columns!r}; pass "
                f"columns=[{columns!r}] for that one column"
            )
        return as_matrix(
            data, columns=list(columns) if columns is not None else None, missing=missing
        )
    if columns is not None:
        raise ArgumentError(
            f"columns= selects DataFrame columns; a {type(data).__name__} has none: select "
            "its columns by position first"
        )
    if isinstance(data, MatrixSource):
        return data
    if not isinstance(data, (np.ndarray, list, tuple)) and not hasattr(data, "__array__"):
        raise ArgumentTypeError(
            f"cannot read a matrix from {type(data).__name__}; pass a DataFrame, a numpy array "
            "or memmap, a scipy.sparse matrix, or a DataArray/Dataset with dim="
        )
    try:
        return as_matrix(_array(data), missing=missing)
    except OOCError:
        raise
    except TypeError as exc:  # not ours: say it as ours, the message kept
        raise ColumnTypeError(str(exc)) from exc
    except ValueError as exc:
        raise ArgumentError(str(exc)) from exc


def input_names(data: Any) -> list | None:
    """Feature names ``data`` carries, read without touching its values (None: positions).

    DataFrame columns and a Design's terms. xarray data is checked on its coordinates by
    the fitted field layout instead (see :meth:`FieldLayout.check_coords`).
    """
    if isinstance(data, pd.DataFrame):
        return list(data.columns)
    if _is_design(data):
        return list(data.terms)
    return None


SOLVERS = ("auto", "full", "covariance_eigh", "randomized")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _count(name: str, value: Any, low: int, what: str, fix: str = "") -> None:
    """Refuse a count parameter below ``low`` or not an int (a bool, a float, a str):
    ``"{name} must be {what}, not {value}{fix}"``."""
    if _is_int(value):
        if value >= low:
            return
        raise ArgumentError(f"{name} must be {what}, not {value!r}{fix}")
    err = ArgumentError if isinstance(value, (float, np.floating)) else ArgumentTypeError
    raise err(f"{name} must be {what}, not {value!r} (a {type(value).__name__}){fix}")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False, not {value!r}")


def _choice(name: str, value: Any, options: tuple) -> None:
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be one of {options}, not {value!r}")
    if value not in options:
        raise ArgumentError(f"{name} must be one of {options}, not {value!r}")


def check_random_state(seed: Any) -> None:
    """Refuse seeds scikit-learn's ``check_random_state`` refuses (and bools), by name."""
    if seed is None or isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return
    if _is_int(seed):
        if 0 <= seed < 2**32:
            return
        raise ArgumentError(
            f"random_state must be None, an int in [0, 2**32 - 1], a numpy Generator or "
            f"RandomState, not {seed!r}"
        )
    raise ArgumentTypeError(
        f"random_state must be None, an int in [0, 2**32 - 1], a numpy Generator or "
        f"RandomState, not {seed!r} of type {type(seed).__name__}"
    )


def check_params(est: Any) -> None:
    """Refuse parameter values IncrementalPCA cannot use, naming the parameter and the fix.

    A value of the wrong type (a str, a bool for an int...) is an ArgumentTypeError, a
    value out of range (negative, a float, NaN) an ArgumentError.
    """
    if est.n_components is not None:
        _count(
            "n_components",
            est.n_components,
            1,
            "a positive int or None",
            "; None keeps every component",
        )
    if est.batch_size is not None:
        _count(
            "batch_size",
            est.batch_size,
            1,
            "a positive int (rows per block) or None",
            "; None reads about 16 MiB of rows per block",
        )
    _choice("svd_solver", est.svd_solver, SOLVERS)
    if not (isinstance(est.iterated_power, str) and est.iterated_power == "auto"):
        _count("iterated_power", est.iterated_power, 0, "'auto' or an int >= 0 (power iterations)")
    _count("n_oversamples", est.n_oversamples, 0, "an int >= 0 (extra random directions)")
    _flag("whiten", est.whiten)
    _flag("copy", est.copy)
    _choice("missing", est.missing, MISSING)
    check_random_state(est.random_state)


def fitted_source(
    est: Any, data: Any, dim: str | None, variables: list | None, layout: Any
) -> MatrixSource:
    """New data of a fitted estimator as a source, its features checked by name and count.

    ``layout`` is the fitted field's (None unless fitted on xarray data): xarray data is
    then stacked as the fit was, its coordinates checked against the fitted ones.
    """
    names = input_names(data)
    if names is not None:  # before any value is read (a frame's NaN check reads them)
        check_names(est, names)
    is_xarray = isinstance(data, (xr.DataArray, xr.Dataset))
    if layout is None and dim is None and is_xarray:
        raise ArgumentError(
            "this PCA was not fitted on xarray data: pass an array (np.asarray), or dim= "
            "naming the sample dimension"
        )
    if layout is not None and is_xarray:
        if dim is not None and dim != layout.sample_dim:
            raise ArgumentError(
                f"dim={dim!r}, but the PCA was fitted along {layout.sample_dim!r}; pass "
                f"dim={layout.sample_dim!r} (or rename that dimension)"
            )
        dim = layout.sample_dim
    else:
        layout = None
    src = matrix_source(data, dim=dim, variables=variables, layout=layout, missing=est.missing)
    if names is None and layout is None:
        check_names(est, src.feature_names)
    check_count(est, src.n_features)
    src.weights = getattr(est, "_weights", None)  # the fitted weights, for partial_fit's reads
    return src
