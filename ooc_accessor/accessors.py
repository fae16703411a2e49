"""The ``.ooc`` accessors: thin, stateless, delegating.

Each method converts nothing it need not and calls the plain function that works without
the accessor. Accessors hold only the object: anything fitted lives on the returned result
(pandas builds a new accessor on every access; xarray caches one per object). The
docstrings, with every parameter, are in :mod:`ooc_accessor.accessor_docs`.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

import pandas as pd
import xarray as xr

from .accessor_docs import DESIGN_DOC, GLM_DOC, LSTSQ_DOC, PCA_DOC, SVD_DOC, documented
from .arguments import check_keywords
from .design import Design, build_design, capture_env
from .errors import AccessorAttributeError
from .pca import IncrementalPCA
from .pca_call import pca
from .progress import showing
from .results import LstsqResult, SVDResult, lstsq, svd
from .stats.glm import MAXITER, TOL
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
    "progress",
)

#: the methods that need a formula over named columns: a Dataset's or a frame's, not a
#: DataArray's (see OocDataArrayAccessor)
_FIT_METHODS = ("design", "lstsq", "glm", "svd")


class _PcaMixin:
    """The method every ``.ooc`` accessor has: a labeled PCA."""

    def __init__(self, obj: Any) -> None:
        # no validation here: xarray would turn an error into "error initializing accessor"
        self._obj = obj

    @documented(PCA_DOC)
    def pca(
        self,
        n_components: int | None = None,
        columns: list | None = None,
        *,
        dim: str | None = None,
        variables: list | None = None,
        weights: Any = None,
        whiten: bool = False,
        copy: bool = True,
        batch_size: int | None = None,
        svd_solver: str = "auto",
        iterated_power: int | str = "auto",
        n_oversamples: int = 10,
        random_state: Any = None,
        missing: str = "raise",
        progress: bool | None = None,
        **unknown: Any,
    ) -> IncrementalPCA:
        params = {
            "whiten": whiten,
            "copy": copy,
            "batch_size": batch_size,
            "svd_solver": svd_solver,
            "iterated_power": iterated_power,
            "n_oversamples": n_oversamples,
            "random_state": random_state,
            "missing": missing,
            "weights": weights,
        }
        with showing(progress):
            return pca(
                self._obj,
                n_components,
                columns=columns,
                dim=dim,
                variables=variables,
                **params,
                **unknown,
            )


class _OocMixin(_PcaMixin):
    """Methods shared by the DataFrame and Dataset accessors."""

    @documented(DESIGN_DOC)
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

    @documented(LSTSQ_DOC)
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
        chunksize: int | str = "auto",
        path: str | os.PathLike | None = None,
        missing: str = "drop",
        compression: str | None = None,
        progress: bool | None = None,
        **unknown: Any,
    ) -> LstsqResult:
        env = capture_env(eval_env)
        robust = {"cov_type": cov_type, "cov_kwds": cov_kwds, "use_t": use_t}
        store = {"chunksize": chunksize, "path": path, "missing": missing}
        store["compression"] = compression
        with showing(progress):
            return lstsq(
                self._obj, formula, weights, dim=dim, eval_env=env, **robust, **store, **unknown
            )

    @documented(GLM_DOC)
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
        maxiter: int = MAXITER,
        tol: float = TOL,
        scale: str | float | None = None,
        atol: float | None = None,
        rtol: float = 0.0,
        tol_criterion: str = "deviance",
        start_params: Any = None,
        cov_type: str = "nonrobust",
        cov_kwds: dict | None = None,
        use_t: bool | None = None,
        chunksize: int | str = "auto",
        path: str | os.PathLike | None = None,
        missing: str = "drop",
        compression: str | None = None,
        progress: bool | None = None,
        **unknown: Any,
    ) -> GLMResults:
        env = capture_env(eval_env)
        irls = {"maxiter": maxiter, "tol": tol, "scale": scale, "atol": atol, "rtol": rtol}
        irls.update(tol_criterion=tol_criterion, start_params=start_params)
        robust = {"cov_type": cov_type, "cov_kwds": cov_kwds, "use_t": use_t}
        store = {"chunksize": chunksize, "path": path, "missing": missing}
        store["compression"] = compression
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
                **irls,
                **robust,
                **store,
                **unknown,
            )

    @documented(SVD_DOC)
    def svd(
        self,
        formula: str,
        k: int | None = None,
        *,
        dim: str | None = None,
        eval_env: Any = 0,
        chunksize: int | str = "auto",
        path: str | os.PathLike | None = None,
        missing: str = "drop",
        compression: str | None = None,
        progress: bool | None = None,
        **unknown: Any,
    ) -> SVDResult:
        env = capture_env(eval_env)
        store = {"chunksize": chunksize, "path": path, "missing": missing}
        store["compression"] = compression
        with showing(progress):
            return svd(self._obj, formula, k, dim=dim, eval_env=env, **store, **unknown)


@pd.api.extensions.register_dataframe_accessor("ooc")
class OocDataFrameAccessor(_OocMixin):
    """``DataFrame.ooc``: out-of-core design matrices and fits for a pandas frame."""


@xr.register_dataset_accessor("ooc")
class OocDatasetAccessor(_OocMixin):
    """``Dataset.ooc``: designs and fits over the variables along ``dim``, xarray results."""


@xr.register_dataarray_accessor("ooc")
class OocDataArrayAccessor(_PcaMixin):
    """``DataArray.ooc``: PCA with a named sample dimension (``dim=``); other dims stacked.

    Formulas need named columns, so ``design``, ``lstsq``, ``glm`` and ``svd`` are on the
    Dataset accessor only: convert with ``da.to_dataset(name=...)``.
    """

    def __getattr__(self, name: str) -> NoReturn:
        # only reached for names the class lacks; it forwards nothing (so _repr_html_
        # lookups and tab completion stay plain), it only explains the Dataset-only methods
        if name in _FIT_METHODS:
            raise AccessorAttributeError(
                f"DataArray.ooc has no {name!r}: a formula needs named columns; convert with "
                f"da.to_dataset(name=...) and call .ooc.{name}(...) on the Dataset"
            )
        raise AccessorAttributeError(f"'DataArray.ooc' accessor has no attribute {name!r}")
