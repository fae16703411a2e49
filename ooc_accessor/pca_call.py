"""``pca(data, n_components, ...)``: the accessors' PCA, a fitted, labelled
:class:`~ooc_accessor.IncrementalPCA` in one call (as ``results.lstsq`` is their fit)."""

from __future__ import annotations

from typing import Any

from .arguments import check_keywords
from .pca import IncrementalPCA

__all__ = ["pca"]


def pca(
    data: Any,
    n_components: int | None = None,
    *,
    columns: list | None = None,
    dim: str | None = None,
    variables: list | None = None,
    **kwargs: Any,
) -> IncrementalPCA:
    """A fitted :class:`IncrementalPCA` of ``data`` (the accessors' ``pca``).

    Parameters
    ----------
    data : DataFrame, ndarray, memmap, DataArray or Design
    n_components : int, optional
    columns : list, optional
        Columns of a DataFrame to use (default: all, which must be numeric).
    dim : str, optional
        The sample dimension of a DataArray or Dataset; the other dims become features.
    variables : list of str, optional
        The Dataset variables to decompose together (default: all along ``dim``).
    **kwargs
        Other :class:`IncrementalPCA` parameters (``whiten``, ``svd_solver``, ``weights``...).
    """
    params = [p for p in IncrementalPCA._get_param_names() if p != "n_components"]
    check_keywords("pca", kwargs, ["n_components", "columns", "dim", "variables", *params])
    est = IncrementalPCA(n_components, **kwargs)
    est._labeled = True  # the accessor route: labeled results (see the class docstring)
    return est.fit(data, columns=columns, dim=dim, variables=variables)
