"""What both prediction routes share: the blocks of new data, each block's values, the
weights, and statsmodels' ``PredictionResults`` over in-memory arrays.

New data's design is rebuilt block by block with the fit's formula state (levels,
transforms); each block gives its rows' predicted mean ``x b`` and its variance
``x C x'`` (``C`` the coefficients' covariance: the plain one, or the robust one the result
was made with). A row with a missing input is NaN, in its place: the results are aligned to
the data's rows, as :meth:`~ooc_accessor.results.LstsqResult.predict`'s are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats as sps

from ..blocks import Block
from ..errors import ArgumentError, ArgumentTypeError, DataError
from ..fitstats import check_alpha
from ..signatures import checked_methods
from ..sources import sample_dim_of
from .rowvalues import row_values

__all__ = [
    "PredictionResults",
    "block_values",
    "check_positive",
    "label_text",
    "prediction_blocks",
    "weights_in_memory",
]


def prediction_blocks(
    result: Any, data: Any, chunksize: int | str, dim: str | None, what: str = "predict"
) -> tuple[int, str | None, Iterator[tuple[int, Block]]]:
    """``(rows of data, its sample dim or None, (first row, Block) pairs of X)``."""
    if not isinstance(data, (pd.DataFrame, xr.Dataset)):
        raise ArgumentTypeError(
            f"{what} needs a DataFrame or a Dataset with the formula's columns, not "
            f"{type(data).__name__}; wrap an array as pd.DataFrame(values, columns=[...])"
        )
    design = result._design
    if isinstance(data, xr.Dataset):
        if dim is None and design.sample_dim in data.dims:
            dim = design.sample_dim
        dim = sample_dim_of(data, dim)  # a dim the Dataset lacks is named, not a KeyError
        n = int(data.sizes[dim])
    else:
        n = len(data)
    return n, dim, design.predictor_blocks(data, chunksize, dim)


def block_values(built: Block, beta: np.ndarray, cov: np.ndarray | None) -> dict[str, np.ndarray]:
    """The kept rows' ``predicted_mean`` ``x b`` (and, with ``cov``, ``var_pred_mean``
    ``x C x'``) of one built block, in the order of ``built.pos``."""
    out = {"predicted_mean": built.x @ beta}
    if cov is not None:
        out["var_pred_mean"] = np.einsum("ij,jk,ik->i", built.x, cov, built.x)
    return out


def label_text(label: Any) -> str:
    """A row label as a message quotes it (``1280``, ``'r7'``, not ``np.int64(1280)``)."""
    return repr(label.item() if isinstance(label, np.generic) else label)


def check_positive(w: np.ndarray, row: Callable[[int], str]) -> None:
    """Refuse a weight that is not positive, naming its row (``row(i)``: position i's)."""
    bad = w <= 0
    if np.any(bad):
        i = int(np.argmax(bad))
        raise DataError(
            f"prediction weights must be positive (they divide the residual variance); "
            f"row {row(i)} has {float(w[i])}: fix that weight"
        )


def weights_in_memory(weights: Any, data: Any, n: int, dim: str | None) -> np.ndarray | None:
    """Prediction weights: a column's name, a scalar, or one per row (a Series or a
    DataArray with a coordinate matched by label, as fit weights are)."""
    if weights is None:
        return None
    if isinstance(weights, str):
        if weights not in (data.columns if isinstance(data, pd.DataFrame) else data.variables):
            raise ArgumentError(f"weights={weights!r} names no column of the data")
    w = row_values(weights, data, dim if isinstance(data, xr.Dataset) else None, "weights")
    if isinstance(data, pd.DataFrame):
        labels: Any = data.index
    else:
        labels = data.indexes.get(dim, pd.RangeIndex(n))
    check_positive(w, lambda i: label_text(labels[i]))
    return w


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class PredictionResults:
    """statsmodels' ``PredictionResults``: ``predicted_mean``, ``se_mean``, ``se_obs``,
    ``var_pred_mean``, ``var_resid``, ``conf_int(obs, alpha)`` and ``summary_frame``,
    each aligned to the data's rows (NaN where an input was missing)."""

    def __init__(
        self,
        predicted_mean: np.ndarray,
        var_pred_mean: np.ndarray,
        var_resid: Any,
        *,
        df: float,
        use_t: bool,
        labels: Any,
    ) -> None:
        self.predicted_mean = predicted_mean
        self.var_pred_mean = var_pred_mean
        self.var_resid = var_resid
        self.df = df
        self.dist = sps.t if use_t else sps.norm
        self.dist_args: tuple = (df,) if use_t else ()
        #: the data's row labels: a pandas Index, or (dim, coordinate or None) for a Dataset
        self._labels = labels

    @property
    def se_mean(self) -> np.ndarray:
        """Standard errors of the predicted means."""
        return np.sqrt(self.var_pred_mean)

    @property
    def se_obs(self) -> np.ndarray:
        """Standard errors of a new observation (the residual variance added)."""
        return np.sqrt(self.var_pred_mean + self.var_resid)

    def conf_int(self, obs: bool = False, alpha: float = 0.05) -> np.ndarray:
        """Intervals for the mean (or, ``obs=True``, for a new observation), ``(n, 2)``."""
        check_alpha(alpha)
        se = self.se_obs if obs else self.se_mean
        q = self.dist.ppf(1 - alpha / 2.0, *self.dist_args)
        return np.column_stack((self.predicted_mean - q * se, self.predicted_mean + q * se))

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame | xr.Dataset:
        """``mean``, ``mean_se``, ``mean_ci_lower/upper``, ``obs_ci_lower/upper`` by row:
        a DataFrame on the data's index, or a Dataset along its sample dimension."""
        check_alpha(alpha)
        mean_ci, obs_ci = self.conf_int(False, alpha), self.conf_int(True, alpha)
        columns = {
            "mean": self.predicted_mean,
            "mean_se": self.se_mean,
            "mean_ci_lower": mean_ci[:, 0],
            "mean_ci_upper": mean_ci[:, 1],
            "obs_ci_lower": obs_ci[:, 0],
            "obs_ci_upper": obs_ci[:, 1],
        }
        if isinstance(self._labels, pd.Index):
            return pd.DataFrame(columns, index=self._labels)
        dim, coord = self._labels
        coords = {dim: coord} if coord is not None else {}
        return xr.Dataset({k: ((dim,), v) for k, v in columns.items()}, coords=coords)
