"""Predictions with their uncertainty: ``predict``, statsmodels' ``get_prediction`` and
``summary_frame``, in memory or stored.

New data's design is rebuilt block by block with the fit's formula state (levels,
transforms); each block gives its rows' predicted mean ``x b`` and its variance ``x C x'``
(``C`` the coefficients' covariance: the plain one, or the robust one the result was made
with). A row with a missing input is NaN, in its place: the results are aligned to the
data's rows.

Two routes give the same numbers from the same block computation
(:func:`~ooc_accessor.stats.prediction_base.block_values`):

- in memory, for a DataFrame or a Dataset whose formula variables are loaded (numpy):
  arrays as long as the data (``predict``: 8 bytes a row; ``get_prediction``: 16, its
  summary frame 48 more), labeled as the data's rows;
- stored (:mod:`~ooc_accessor.stats.stored_prediction`), for a Dataset one of whose formula
  variables is dask-backed or not yet loaded from its file (``xr.open_dataset(...,
  chunks=...)``, ``ooc.read_csv``), or for any data when ``path=`` is given: lazy
  DataArrays over a chunked NetCDF store, memory a few blocks whatever the rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import labels as row_labels
from ..sources import formula_names
from .prediction_base import (
    PredictionResults,
    block_values,
    prediction_blocks,
    weights_in_memory,
)
from .stored_prediction import StoredPredictionResults, is_large, stored_prediction

__all__ = [
    "PredictionResults",
    "StoredPredictionResults",
    "get_prediction",
    "predict",
    "prediction_blocks",
]


def _stored(result: Any, data: Any, path: Any) -> bool:
    """Whether ``data``'s outputs are written to a store (see the module)."""
    if path is not None:
        return True
    codes = [f.code for f in result._design.design_infos[1].factor_infos]
    return is_large(data, formula_names(codes))


def _labels(data: Any, dim: str | None) -> Any:
    """The rows' labels: a DataFrame's index, or (dim, its index or None) for a Dataset."""
    if isinstance(data, xr.Dataset):
        return (dim, data.indexes[dim] if dim in data.indexes else None)
    return data.index


def predict(
    result: Any,
    data: pd.DataFrame | xr.Dataset,
    *,
    chunksize: int | str = "auto",
    dim: str | None = None,
    path: Any = None,
) -> pd.Series | xr.DataArray:
    """Predicted means of ``data``'s rows, NaN where an input is missing.

    Parameters
    ----------
    result : LstsqResult
    data : pandas.DataFrame or xarray.Dataset
        The formula's right-side columns (a Dataset's variables along ``dim``).
    chunksize : int or "auto"
        Rows per block of the rebuilt design.
    dim : str, optional
        A Dataset's sample dimension (default: the fit's, if the Dataset has it).
    path : str or path-like, optional
        Store the predictions in a NetCDF file there and keep it; see Notes.

    Returns
    -------
    pandas.Series or xarray.DataArray
        Named ``predicted``: a Series on a DataFrame's index, a DataArray along a
        Dataset's ``dim`` (with its coordinate); lazy (dask) when stored.

    Notes
    -----
    Stored, lazy results come for a Dataset one of whose formula variables is dask-backed
    or not yet loaded from its file, and for any data given ``path``. The store is chunked
    NetCDF4 holding ``predicted_mean`` along ``obs`` (8 bytes a row) and the data's row
    labels (8 bytes a row for numbers and dates). Without ``path`` it is a temporary in
    ``$OOC_ACCESSOR_TMPDIR`` (else the system's temporary directory), removed when the last
    result reading it is collected; with ``path`` it stays (``xr.open_dataset(path)``
    reads it, dimension ``obs``), and a DataFrame's predictions are then a DataArray along
    ``obs``. Memory holds a few blocks, whatever the number of rows.
    """
    if _stored(result, data, path):
        out = stored_prediction(
            result, data, what="predict", chunksize=chunksize, dim=dim, path=path
        )
        return out["predicted_mean"].rename("predicted")
    n, dim, blocks = prediction_blocks(result, data, chunksize, dim)
    beta = np.asarray(result.params, dtype=np.float64)
    mean = np.full(n, np.nan)
    for start, built in blocks:
        mean[start + built.pos] = block_values(built, beta, None)["predicted_mean"]
    where = _labels(data, dim)
    if isinstance(where, tuple):
        d, index = where
        coords = {d: index} if index is not None else {}
        return xr.DataArray(mean, dims=(d,), coords=coords, name="predicted")
    return row_labels.by_row(mean, where, "predicted")


def get_prediction(
    result: Any,
    data: Any,
    weights: Any = None,
    *,
    chunksize: int | str = "auto",
    dim: str | None = None,
    path: Any = None,
) -> PredictionResults:
    """Predicted means of ``data``'s rows with standard errors and intervals.

    Parameters
    ----------
    result : LstsqResult
    data : pandas.DataFrame or xarray.Dataset
    weights : str, float or array-like, optional
        A column's name, a scalar, or one per row: they divide the residual variance of
        ``obs_ci`` (statsmodels' ``weights``); must be positive.
    chunksize : int or "auto"
        Rows per block of the rebuilt design.
    dim : str, optional
        A Dataset's sample dimension.
    path : str or path-like, optional
        Store the outputs in a NetCDF file there and keep it; see Notes.

    Returns
    -------
    PredictionResults or StoredPredictionResults
        In memory: arrays, ``summary_frame`` a DataFrame on a DataFrame's index or a Dataset
        along ``dim``. Stored: lazy DataArrays along the data's sample dimension (``obs``
        for a DataFrame) and a lazy ``summary_frame`` Dataset.

    Notes
    -----
    Stored for a Dataset one of whose formula variables is dask-backed or not yet loaded
    from its file, and for any data given ``path``. The store is chunked NetCDF4 holding
    ``predicted_mean`` and ``var_pred_mean`` along ``obs`` (16 bytes a row), with one
    weight per row also ``var_resid`` (8 more), and the row labels (8 bytes a row for
    numbers and dates); standard errors, intervals and the summary frame are computed
    from those columns chunk by chunk when asked. Without ``path`` it is a temporary in
    ``$OOC_ACCESSOR_TMPDIR`` (else the system's temporary directory), removed when the
    last result reading it is collected; with ``path`` it stays (``xr.open_dataset``
    reads it; its attributes hold ``scale``, ``df_resid`` and ``use_t``).
    """
    use = {"df": result.df_resid, "use_t": result.use_t}
    if _stored(result, data, path):
        columns = stored_prediction(
            result,
            data,
            what="get_prediction",
            weights=weights,
            chunksize=chunksize,
            dim=dim,
            path=path,
        )
        return StoredPredictionResults(columns, **use)
    n, dim, blocks = prediction_blocks(result, data, chunksize, dim, "get_prediction")
    beta = np.asarray(result.params, dtype=np.float64)
    cov = np.asarray(result.cov_params(), dtype=np.float64)
    mean, var = np.full(n, np.nan), np.full(n, np.nan)
    for start, built in blocks:
        values = block_values(built, beta, cov)
        mean[start + built.pos] = values["predicted_mean"]
        var[start + built.pos] = values["var_pred_mean"]
    w = weights_in_memory(weights, data, n, dim)
    var_resid = result.scale if w is None else result.scale / w
    return PredictionResults(mean, var, var_resid, labels=_labels(data, dim), **use)
