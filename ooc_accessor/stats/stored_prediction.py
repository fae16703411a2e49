"""Predictions of large data, stored: one pass writes them to a chunked NetCDF store.

For a Dataset whose formula variables are dask-backed or still on disk, ``fit.predict`` and
``fit.get_prediction`` build the new design block by block (as the in-memory route does),
write each block's predicted means (and their variances) to a store of row-length outputs
(:mod:`~ooc_accessor.rowoutputs`) and return lazy dask-backed DataArrays reading it, along
the data's sample dimension with its coordinate (NaN where an input is missing). Standard
errors, intervals and the summary frame are lazy elementwise expressions of the stored
columns, so memory holds a few blocks whatever the number of rows.

What is stored, per row: ``predicted_mean`` (8 bytes), for ``get_prediction`` also
``var_pred_mean`` (8 bytes) and, with one weight per row, ``var_resid`` (8 bytes), plus
the row label (8 bytes for numbers and dates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import lazy, progress
from ..arguments import resolve_chunksize
from ..blocks import Block
from ..errors import ArgumentError, DataError
from ..fitstats import check_alpha
from ..rowoutputs import MIN_CHUNK_ROWS, RowColumnsWriter, open_columns, output_path
from ..signatures import checked_methods
from .prediction_base import (
    PredictionResults,
    block_values,
    check_positive,
    label_text,
    prediction_blocks,
    weights_in_memory,
)

__all__ = ["StoredPredictionResults", "is_large", "stored_prediction"]

#: a DataFrame's rows in a stored output (as a fit's ``fittedvalues``)
FRAME_DIM = "obs"


def _not_loaded(var: xr.Variable) -> bool:
    """Whether a variable is dask-backed or still read lazily from its file."""
    return var.chunks is not None or not getattr(var, "_in_memory", True)


def is_large(data: Any, names: list[str]) -> bool:
    """Whether ``data`` is a Dataset one of whose ``names`` (the formula's variables) is
    dask-backed or not yet loaded from its file: its outputs are then stored."""
    if not isinstance(data, xr.Dataset):
        return False
    return any(_not_loaded(data.variables[c]) for c in names if c in data.variables)


def _spans(
    blocks: Iterator[tuple[int, Block]], n: int, beta: np.ndarray, cov: np.ndarray | None
) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    """``(first row, stop, values)``: each block's extent in the data (its dropped rows
    too, known once the next block starts) and its values there, NaN at dropped rows.

    Only the small values wait for the next block, never the block's design rows.
    """
    held: tuple[int, dict[str, np.ndarray], np.ndarray] | None = None
    for start, built in blocks:
        if held is not None:
            yield held[0], start, _spread(held[1], held[2], start - held[0])
        held = (start, block_values(built, beta, cov), built.pos)
        del built  # not held while the next block is built
    if held is not None:
        yield held[0], n, _spread(held[1], held[2], n - held[0])


def _spread(kept: dict[str, np.ndarray], pos: np.ndarray, m: int) -> dict[str, np.ndarray]:
    """The kept rows' values put at their positions ``pos`` among ``m`` rows, NaN elsewhere."""
    out = {}
    for name, values in kept.items():
        out[name] = np.full(m, np.nan)
        out[name][pos] = values
    return out


def _aligned(weights: xr.DataArray, index: pd.Index | None, dim: str | None) -> xr.DataArray:
    """A weights DataArray along ``dim`` matched to the data's rows by its coordinate (as
    fit weights are), lazily; one without a coordinate (or data without one) by position."""
    if weights.dims != (dim,) or dim not in weights.indexes or index is None:
        return weights
    own = weights.indexes[dim]
    if own.equals(index):
        return weights
    if own.has_duplicates or index.has_duplicates:
        raise ArgumentError(
            "weights is a DataArray whose labels differ from the data's row labels and "
            "repeat, so it cannot be matched by label; pass it on the data's labels or as an "
            "array in row order"
        )
    absent = ~index.isin(own)
    if absent.any():
        raise DataError(
            f"weights lacks {int(absent.sum())} of the data's row labels (the first: "
            f"{label_text(index[absent][0])}); pass a weight for every row"
        )
    return weights.reindex({dim: index})


def _weight_reader(
    weights: Any, data: Any, n: int, dim: str | None
) -> float | Callable[[int, int], np.ndarray] | None:
    """Prediction weights as a scalar, or a reader of rows ``a:b`` (never all rows at once
    for a variable of the Dataset or a DataArray along its sample dimension)."""
    if weights is None:
        return None
    if not isinstance(weights, (str, xr.DataArray)) and np.ndim(weights) == 0:
        w = float(weights)
        if not w > 0:
            raise DataError(
                f"prediction weights must be positive (they divide the residual variance); "
                f"weights={w} was given for every row"
            )
        return w
    column = None
    if isinstance(data, xr.Dataset) and isinstance(weights, str):
        if weights not in data.variables:
            raise ArgumentError(f"weights={weights!r} names no column of the data")
        column = data[weights]
    elif isinstance(data, xr.Dataset) and isinstance(weights, xr.DataArray):
        column = _aligned(weights, data.indexes.get(dim), dim)
    if column is not None:
        if column.dims != (dim,) or column.sizes[dim] != n:
            raise ArgumentError(
                f"weights has dims {dict(column.sizes)} for {n} rows along {dim!r}: give one "
                "per row"
            )

        def read(a: int, b: int) -> np.ndarray:
            return np.asarray(column.isel({dim: slice(a, b)}).values, dtype=np.float64)

        return read
    w = weights_in_memory(weights, data, n, dim)
    return lambda a, b: w[a:b]


def stored_prediction(
    result: Any,
    data: Any,
    *,
    what: str,
    weights: Any = None,
    chunksize: int | str = "auto",
    dim: str | None = None,
    path: Any = None,
) -> dict[str, Any]:
    """Write ``data``'s predictions to a store in one pass; the lazy columns reading it.

    ``what`` "predict" stores ``predicted_mean`` only; "get_prediction" also
    ``var_pred_mean`` and, with per-row ``weights``, ``var_resid`` (else the scalar
    residual variance is returned under that name).
    """
    n, dim, blocks = prediction_blocks(result, data, chunksize, dim, what)
    frame = isinstance(data, pd.DataFrame)
    index = data.index if frame else data.indexes.get(dim)
    dim = FRAME_DIM if frame else dim
    variance = what == "get_prediction"
    beta = np.asarray(result.params, dtype=np.float64)
    cov = np.asarray(result.cov_params(), dtype=np.float64) if variance else None
    w = _weight_reader(weights, data, n, dim) if variance else None
    names = ["predicted_mean"] + (["var_pred_mean"] if variance else [])
    names += ["var_resid"] if callable(w) else []
    refused = (*_fit_stores(result), "" if frame else data.encoding.get("source", ""))
    final, temporary = output_path(path, "pred", refused)
    rows = resolve_chunksize(chunksize, len(result._design.terms), n)
    chunk_rows = min(n, max(rows, MIN_CHUNK_ROWS))
    labels = index if index is not None else pd.RangeIndex(n)
    row_bytes = 8 * len(result._design.terms)
    with (
        RowColumnsWriter(final, names, n, chunk_rows, labels) as writer,
        progress.task(f"{what} (stored)", n, row_bytes),
    ):
        for a, b, values in _spans(blocks, n, beta, cov):
            if callable(w):
                wb = w(a, b)
                check_positive(wb, lambda i, a=a: label_text(labels[a + i]))
                values["var_resid"] = result.scale / wb
            writer.append(values, labels[a:b])
            progress.advance(b - a)
        sid = writer.commit(_attrs(result, dim, what))
    owner = lazy.TemporaryFile(final) if temporary else None
    out: dict[str, Any] = dict(open_columns(final, sid, names, n, chunk_rows, dim, index, owner))
    if variance and not callable(w):
        out["var_resid"] = result.scale if w is None else result.scale / w
    out.update(path=final, dim=dim)
    return out


def _fit_stores(result: Any) -> list[str]:
    """The paths of the fit's design stores already written (a design deferred until its
    rows are asked for has none yet: asking its ``path`` would write it)."""
    designs = result._designs() if hasattr(result, "_designs") else (result._design,)
    written = [getattr(d, "_stored", d) for d in designs]  # a deferred one's Design or None
    return [p for d in written if (p := getattr(d, "_path", None))]


def _attrs(result: Any, dim: str, what: str) -> dict[str, Any]:
    """What the store records about the fit it came from (to rebuild intervals)."""
    return {
        "kind": what,
        "formula": str(result._design.formula),
        "sample_dim": str(dim),
        "scale": float(result.scale),
        "df_resid": float(result.df_resid),
        "use_t": int(bool(result.use_t)),
    }


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class StoredPredictionResults(PredictionResults):
    """:class:`PredictionResults` over stored columns: every row-length value is a lazy
    (dask) DataArray along the data's sample dimension, and ``path`` names the store.

    ``conf_int`` gives a DataArray with dims ``(dim, "bound")`` (``bound``: ``lower``,
    ``upper``), ``summary_frame`` a lazy Dataset; compute them (``.compute()``,
    ``.to_netcdf()``) chunk by chunk.

    Attributes
    ----------
    predicted_mean, var_pred_mean : xarray.DataArray
        Stored columns, lazy, along the data's sample dimension (``obs`` for a DataFrame)
        with its coordinate; NaN where an input is missing.
    var_resid : float or xarray.DataArray
        The residual variance (over the weights): a number, or a stored column with one
        weight per row.
    se_mean, se_obs : xarray.DataArray
        Lazy, computed from the stored columns.
    path : str
        The store. A temporary one is removed when the last output reading it is gone.
    """

    def __init__(self, columns: dict[str, Any], *, df: float, use_t: bool) -> None:
        super().__init__(
            columns["predicted_mean"],
            columns["var_pred_mean"],
            columns["var_resid"],
            df=df,
            use_t=use_t,
            labels=None,
        )
        self.path: str = columns["path"]
        self._dim: str = columns["dim"]

    @property
    def se_mean(self) -> xr.DataArray:
        """Standard errors of the predicted means, lazy."""
        return np.sqrt(self.var_pred_mean).rename("se_mean")

    @property
    def se_obs(self) -> xr.DataArray:
        """Standard errors of a new observation (the residual variance added), lazy."""
        return np.sqrt(self.var_pred_mean + self.var_resid).rename("se_obs")

    def conf_int(self, obs: bool = False, alpha: float = 0.05) -> xr.DataArray:
        """Intervals for the mean (or, ``obs=True``, a new observation), lazy, dims
        ``(dim, "bound")``."""
        lower, upper = self._bounds(obs, alpha)
        out = xr.concat([lower, upper], dim="bound").transpose(self._dim, "bound")
        return out.assign_coords(bound=["lower", "upper"]).rename("conf_int")

    def _bounds(self, obs: bool, alpha: float) -> tuple[xr.DataArray, xr.DataArray]:
        check_alpha(alpha)
        se = self.se_obs if obs else self.se_mean
        q = self.dist.ppf(1 - alpha / 2.0, *self.dist_args)
        return self.predicted_mean - q * se, self.predicted_mean + q * se

    def summary_frame(self, alpha: float = 0.05) -> xr.Dataset:
        """``mean``, ``mean_se``, ``mean_ci_lower/upper``, ``obs_ci_lower/upper``: a lazy
        Dataset along the data's sample dimension."""
        check_alpha(alpha)
        mean_lo, mean_hi = self._bounds(False, alpha)
        obs_lo, obs_hi = self._bounds(True, alpha)
        columns = {
            "mean": self.predicted_mean,
            "mean_se": self.se_mean,
            "mean_ci_lower": mean_lo,
            "mean_ci_upper": mean_hi,
            "obs_ci_lower": obs_lo,
            "obs_ci_upper": obs_hi,
        }
        return xr.Dataset({k: v.rename(None).variable for k, v in columns.items()}).assign_coords(
            self.predicted_mean.coords
        )

    def __repr__(self) -> str:
        n = self.predicted_mean.sizes[self._dim]
        where = f"{n} rows along {self._dim!r}"
        return f"<ooc StoredPredictionResults: {where}, stored at {self.path!r}>"
