"""The ``.ooc`` accessors: thin, stateless, delegating.

Each method converts nothing it need not and calls the plain function that works without
the accessor. Accessors hold only the object: anything fitted lives on the returned result
(pandas builds a new accessor on every access; xarray caches one per object).
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import xarray as xr

from .arguments import check_keywords
from .design import Design, build_design, capture_env
from .pca import IncrementalPCA, pca
from .progress import showing
from .results import LstsqResult, SVDResult, lstsq, svd
from .stats.glmfit import glm
from .stats.glmresults import GLMResults

_DESIGN_ARGS = (
    "formula",
    "chunksize",
    "path",
    "dim",
    "missing",
    "weights",
    "compression",
    "eval_env",
)


class _OocMixin:
    """Methods shared by every ``.ooc`` accessor."""

    def __init__(self, obj: Any) -> None:
        # no validation here: xarray would turn an error into "error initializing accessor"
        self._obj = obj

    def design(
        self,
        formula: str,
        chunksize: int | str = "auto",
        path: str | os.PathLike | None = None,
        *,
        dim: str | None = None,
        missing: str = "drop",
        weights: Any = None,
        compression: str | None = None,
        eval_env: Any = 0,
        progress: bool | None = None,
        **unknown: Any,
    ) -> Design:
        """Build ``formula``'s design matrix chunk by chunk into a NetCDF store.

        See :func:`ooc_accessor.design.build_design` for the parameters.
        """
        # named here, not as Python's TypeError: a typo'd keyword gets the accepted ones
        check_keywords("design", unknown, _DESIGN_ARGS)
        env = capture_env(eval_env)
        with showing(progress):
            return build_design(
                self._obj,
                formula,
                dim=dim,
                chunksize=chunksize,
                path=path,
                missing=missing,
                weights=weights,
                compression=compression,
                eval_env=env,
            )

    def lstsq(
        self,
        formula: str,
        weights: Any = None,
        *,
        dim: str | None = None,
        eval_env: Any = 0,
        cov_type: str = "nonrobust",
        cov_kwds: dict | None = None,
        use_t: bool | None = None,
        progress: bool | None = None,
        **design_kwargs: Any,
    ) -> LstsqResult:
        """Least-squares fit of ``formula`` (statsmodels' OLS, or WLS with ``weights``).

        ``cov_type="HC0"``... ``"HC3"`` gives heteroscedasticity-robust inference. See
        :func:`ooc_accessor.results.lstsq` for the parameters.
        """
        env = capture_env(eval_env)
        robust = {"cov_type": cov_type, "cov_kwds": cov_kwds, "use_t": use_t}
        with showing(progress):
            return lstsq(
                self._obj, formula, weights, dim=dim, eval_env=env, **robust, **design_kwargs
            )

    def glm(
        self,
        formula: str,
        family: Any = "gaussian",
        link: Any = None,
        var_weights: Any = None,
        freq_weights: Any = None,
        offset: Any = None,
        exposure: Any = None,
        *,
        dim: str | None = None,
        eval_env: Any = 0,
        maxiter: int = 100,
        tol: float = 1e-8,
        cov_type: str = "nonrobust",
        cov_kwds: dict | None = None,
        use_t: bool | None = None,
        progress: bool | None = None,
        **design_kwargs: Any,
    ) -> GLMResults:
        """A generalized linear model of ``formula`` by IRLS (statsmodels' GLM names).

        ``family`` is a name (``"binomial"``, ``"poisson"``, ``"gamma"``...) or a
        statsmodels family; ``offset``, ``exposure``, ``var_weights`` and ``freq_weights``
        a column's name or one value per row; statsmodels' ``scale``, ``atol``, ``rtol``,
        ``tol_criterion`` and ``start_params`` are taken too. See
        :func:`ooc_accessor.stats.glmfit.glm` for the parameters.
        """
        env = capture_env(eval_env)
        with showing(progress):
            return glm(
                self._obj,
                formula,
                family,
                link,
                var_weights,
                freq_weights,
                offset,
                exposure,
                dim=dim,
                eval_env=env,
                maxiter=maxiter,
                tol=tol,
                cov_type=cov_type,
                cov_kwds=cov_kwds,
                use_t=use_t,
                **design_kwargs,
            )

    def svd(
        self,
        formula: str,
        k: int | None = None,
        *,
        dim: str | None = None,
        eval_env: Any = 0,
        progress: bool | None = None,
        **design_kwargs: Any,
    ) -> SVDResult:
        """Thin SVD of ``formula``'s design matrix (e.g. ``"0 + a + b + c"``).

        See :func:`ooc_accessor.results.svd` for the parameters.
        """
        env = capture_env(eval_env)
        with showing(progress):
            return svd(self._obj, formula, k, dim=dim, eval_env=env, **design_kwargs)

    def pca(
        self,
        n_components: int | None = None,
        columns: list | None = None,
        *,
        dim: str | None = None,
        variables: list | None = None,
        progress: bool | None = None,
        **kwargs: Any,
    ) -> IncrementalPCA:
        """A fitted :class:`~ooc_accessor.IncrementalPCA`.

        pandas: ``columns=`` picks the features. xarray: ``dim=`` names the sample
        dimension and every other dimension is stacked into features (unstacked again in
        ``components_``); ``variables=`` picks a Dataset's variables. See
        :func:`ooc_accessor.pca.pca` for the parameters.
        """
        with showing(progress):
            return pca(
                self._obj, n_components, columns=columns, dim=dim, variables=variables, **kwargs
            )


@pd.api.extensions.register_dataframe_accessor("ooc")
class OocDataFrameAccessor(_OocMixin):
    """``DataFrame.ooc``: out-of-core design matrices and fits for a pandas frame."""


@xr.register_dataset_accessor("ooc")
class OocDatasetAccessor(_OocMixin):
    """``Dataset.ooc``: designs and fits over the variables along ``dim``, xarray results."""


@xr.register_dataarray_accessor("ooc")
class OocDataArrayAccessor(_OocMixin):
    """``DataArray.ooc``: PCA with a named sample dimension (``dim=``); other dims stacked."""
