"""The one place that builds labeled outputs: pandas for pandas input, xarray for xarray.

Numbers arrive as numpy arrays with the term names; what comes back is what a statsmodels
(pandas) or xarray user expects to index by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

Kind = str  # "pandas" or "xarray"


def by_term(values: np.ndarray, terms: Sequence[str], kind: Kind, name: str | None = None):
    """A vector labeled by term: ``pd.Series`` or ``xr.DataArray`` with dim ``term``."""
    if kind == "xarray":
        return xr.DataArray(
            np.asarray(values), dims=("term",), coords={"term": list(terms)}, name=name
        )
    return pd.Series(np.asarray(values), index=pd.Index(list(terms)), name=name)


def term_by_term(values: np.ndarray, terms: Sequence[str], kind: Kind):
    """A (term, term) matrix: ``pd.DataFrame`` or ``xr.DataArray`` (dims term, term2)."""
    if kind == "xarray":
        return xr.DataArray(
            values, dims=("term", "term2"), coords={"term": list(terms), "term2": list(terms)}
        )
    return pd.DataFrame(values, index=list(terms), columns=list(terms))


def intervals(lower: np.ndarray, upper: np.ndarray, terms: Sequence[str], kind: Kind):
    """Confidence intervals as statsmodels lays them out: columns 0 and 1 by term."""
    if kind == "xarray":
        return xr.DataArray(
            np.column_stack([lower, upper]),
            dims=("term", "bound"),
            coords={"term": list(terms), "bound": ["lower", "upper"]},
        )
    return pd.DataFrame({0: lower, 1: upper}, index=list(terms))


def by_row(values: np.ndarray, index: pd.Index, name: str | None) -> pd.Series:
    """A column aligned to a frame's rows (NaN where a row could not be used)."""
    return pd.Series(values, index=index, name=name)


class FeatureLabels:
    """Feature labels of a matrix source: how PCA results are labeled for its kind.

    Parameters
    ----------
    kind : {"numpy", "pandas", "xarray"}
    names : list, optional
        One label per feature (column names, terms); positions when ``None``.
    feature_dim : str
        The feature dimension's name for xarray results.
    """

    def __init__(self, kind: Kind, names: Sequence | None, feature_dim: str = "feature") -> None:
        self.kind = kind
        self.names = None if names is None else list(names)
        self.feature_dim = feature_dim

    def _feats(self, p: int) -> list:
        return self.names if self.names is not None else list(range(p))

    def matrix(self, values: np.ndarray, lead_dim: str, lead_index):
        """Rows by feature: ndarray, ``pd.DataFrame`` or ``xr.DataArray`` (lead_dim, feature)."""
        if self.kind == "numpy":
            return values
        feats = self._feats(values.shape[1])
        if self.kind == "xarray":
            return xr.DataArray(
                values,
                dims=(lead_dim, self.feature_dim),
                coords={lead_dim: lead_index, self.feature_dim: feats},
            )
        return pd.DataFrame(values, index=lead_index, columns=pd.Index(feats))

    def vector(self, values: np.ndarray):
        """One value per feature: ndarray, ``pd.Series`` or ``xr.DataArray``."""
        if self.kind == "numpy":
            return values
        feats = self._feats(values.shape[0])
        if self.kind == "xarray":
            return xr.DataArray(values, dims=(self.feature_dim,), coords={self.feature_dim: feats})
        return pd.Series(values, index=pd.Index(feats))
