"""Results: small factors plus labels; row-length outputs stay lazy and stored.

:class:`LstsqResult` keeps the merged R factor of ``[X | y]`` and a few sums (O(p^2)
numbers), never n-length arrays, and exposes statsmodels' names and values.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import kernels, progress, reduce, solve, streamfit
from .arguments import check_keywords
from .design import (
    Design,
    build_design,
    capture_env,
)
from .designbase import DesignBase
from .errors import ArgumentError, ArgumentTypeError, DataError, RankWarning
from .fitstats import FitStatistics
from .plot import FitPlot, PlotAccessor
from .reprs import lstsq_report
from .reprs_html import Reported
from .rowweights import row_weights
from .signatures import checked_methods
from .stats.diagnostics import residual_diagnostics
from .stats.inference import HypothesisTests
from .stats.influence import InfluenceMixin
from .stats.model import LinearModel, model_of
from .stats.prediction import PredictionResults, get_prediction, predict
from .stats.robust import RobustCovariance, normalize_cov_type
from .stats.summary import Summary

#: build_design's keywords each fit passes on (svd has no weights: it would ignore them)
DESIGN_KEYWORDS = ("chunksize", "path", "missing", "compression")
LSTSQ_KEYWORDS = (
    "formula",
    "weights",
    "dim",
    "eval_env",
    "cov_type",
    "cov_kwds",
    "use_t",
    *DESIGN_KEYWORDS,
)

__all__ = ["LstsqResult", "SVDResult", "Summary", "lstsq", "lstsq_design", "svd", "svd_design"]

# the SVD's result lives in its own module; its names stay importable from here
from .svdresult import SVDResult, svd, svd_design  # noqa: E402


def _resolve_weights(design: Design, weights: Any) -> np.ndarray | bool | None:
    if weights is None:
        return True if design.has_weights else None
    if isinstance(weights, str):
        raise ArgumentTypeError(
            f"weights={weights!r} names a column, but a stored design has no columns: pass "
            f"weights as an array of its {design.n_obs} stored rows' values (a Series or "
            "DataArray is aligned on design.obs), or give weights= when the design is built"
        )
    labeled = isinstance(weights, (pd.Series, xr.DataArray))
    index = design.obs if labeled else None  # read from the store only when it is needed
    w = row_weights(
        weights, index, design.n_obs, "design's stored", f"the design's {design.n_obs} stored rows"
    )
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"weights must be finite and non-negative; stored row {i} has {float(w[i])}: "
            "fix that weight"
        )
    # a copy: a later pass (a robust covariance) must see the weights as they were fitted
    return np.array(w, dtype=np.float64, copy=True)


def lstsq_design(
    design: Design,
    weights: Any = None,
    *,
    cov_type: str = "nonrobust",
    cov_kwds: dict | None = None,
    use_t: bool | None = None,
) -> LstsqResult:
    """Fit y on X of a stored design (see :meth:`Design.lstsq`), with the covariance
    asked for (as :func:`lstsq`)."""
    normalize_cov_type(cov_type)  # a misspelt type is refused before the pass
    streamfit.one_response(design.formula, design.responses)
    w = _resolve_weights(design, weights)
    row_bytes = progress.design_row_bytes(design)
    stats = reduce.compute(
        reduce.lstsq_stats_graph(design.path, design.blocks(), w, design.store_id),
        desc="lstsq",
        row_bytes=row_bytes,
    )[0]

    def gradient(beta: np.ndarray) -> np.ndarray:
        graph = reduce.gradient_graph(design.path, design.blocks(), beta, w, design.store_id)
        return reduce.compute(graph, desc="lstsq: refinement pass", row_bytes=row_bytes)[0]

    fit = _fit(stats, design, w is not None, gradient, streamfit.store_pass(design, w))
    # weights given here, not the design's own: update() must be told the new rows' weights
    fit._weights_given = isinstance(w, np.ndarray)
    return _robust(fit, cov_type, cov_kwds, use_t)


def _fit(
    stats: kernels.LstsqStats,
    design: DesignBase,
    weighted: bool,
    gradient: Callable[[np.ndarray], np.ndarray],
    rows_pass: Callable[..., np.ndarray],
) -> LstsqResult:
    """The result of merged statistics; ``gradient(beta)`` is ``X' W (y - X beta)`` by
    one more pass over the rows, asked for only when the one-pass answer may be short of
    digits; ``rows_pass(fn, *args)`` sums ``fn(x, y, w, *args)`` over the fit's rows (the
    robust covariances' pass)."""
    if weighted and not np.any(stats.r):
        raise DataError(
            f"every weight of the {design.n_obs} rows is zero: a weighted fit has nothing to "
            "fit; give some rows a positive weight"
        )
    p = len(design.terms)
    sol = solve.solve_r(stats.xy_r(), p, stats.nobs, stats.exp[:p])
    result = LstsqResult(
        stats,
        design,
        weighted=weighted,
        solution=sol,
        kind=design.source_kind,
        rows_pass=rows_pass,
    )
    if solve.needs_refinement(sol, stats.xy_r()):
        # a second pass, only for fits whose one-pass answer may have under 13 digits; measured
        # on NIST, further steps gain nothing (the extended-precision gradient is the floor).
        # The pass reads raw rows, so it gets the raw coefficients and its gradient is scaled
        # back (in extended precision) to the units of the R factor.
        g = gradient(result._params)
        result._sol = solve.refine(sol, stats.xy_r(), solve.scaled_gradient(stats, g))
    return result


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class LstsqResult(Reported, RobustCovariance, HypothesisTests, InfluenceMixin, FitStatistics):
    """A least-squares fit with statsmodels' names: ``params``, ``bse``, ``summary()``...

    Holds the merged R factor of ``sqrt(w) [X | y | 1]`` and a few sums (scaled by powers
    of two: see :class:`~ooc_accessor.kernels.LstsqStats`), never n-length arrays.
    Row-length outputs (``fittedvalues``, ``resid``) are lazy, read from the store. The
    statistics are :class:`~ooc_accessor.fitstats.FitStatistics`'; a value float64 cannot
    hold (the ssr of y times 1e200) raises :class:`~ooc_accessor.errors.DataError`.

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas.Series
        By term.
    rsquared, rsquared_adj, ssr, ess, centered_tss, uncentered_tss, scale : float
    fvalue, f_pvalue, mse_model, mse_resid, mse_total, llf, aic, bic : float
    nobs, df_resid, df_model : float
    rank : int
    singular_values : ndarray
        Of the (weighted) design matrix, as numpy's ``lstsq`` returns them.
    k_constant : int
        1 when a constant lies in span(X) (an intercept, a constant column by any name, or
        an implicit one such as ``0 + C(g)``), as statsmodels decides it; the rank test is
        made on the column-equilibrated R, so rescaling a column never changes it.
    plot : FitPlot
        ``fit.plot.coef()``, ``fit.plot.resid()`` (needs matplotlib).
    """

    plot = PlotAccessor(FitPlot)

    def __init__(
        self,
        stats: kernels.LstsqStats,
        design: Design,
        *,
        weighted: bool,
        extra: tuple[Design, ...] = (),
        kind: str = "pandas",
        solution: solve.LstsqSolution | None = None,
        rows_pass: Callable[..., np.ndarray] | None = None,
    ) -> None:
        self._stats = stats
        self._main_pass = rows_pass
        self._weights_given = False
        self._design = design
        self._extra = extra
        self._weighted = weighted
        self._kind = kind
        self.terms: list[str] = design.terms
        self.response: str = design.responses[0]
        p = len(self.terms)
        self._sol = (
            solution
            if solution is not None
            else solve.solve_r(stats.xy_r(), p, stats.nobs, stats.exp[:p])
        )
        self.k_constant = int(solve.has_constant(stats))
        if self._sol.rank < p:
            self._warn_rank()

    def _warn_rank(self) -> None:
        msg = solve.rank_message(self._stats.xy_r(), self.terms, self._sol.rank)
        warnings.warn(msg, RankWarning, stacklevel=3)

    @property
    def n_dropped(self) -> int:
        """Rows left out of the fit for a missing value (those of :meth:`update`'s rows too),
        as the design's ``n_dropped``."""
        return int(sum(d.n_dropped for d in self._designs()))

    @property
    def model_name(self) -> str:
        """``"WLS"`` with weights, else ``"OLS"``."""
        return "WLS" if self._weighted else "OLS"

    @property
    def model(self) -> LinearModel:
        """statsmodels-model-like access to the formula and design (reads no row); the
        same object on each access, as statsmodels'."""
        if self.__dict__.get("_model") is None:
            self._model = model_of(self)
        return self._model

    # -- rows ---------------------------------------------------------------------
    def _designs(self) -> tuple[Design, ...]:
        return (self._design, *self._extra)

    def _rows_pass(
        self, fn: Callable, *args: Any, per_row: Any = None, merge: Callable | None = None
    ) -> Any:
        """The merge (sum) of ``fn(x, y, w, *args)`` over every row of the fit (those of
        :meth:`update` too), one more pass; ``per_row``: an array of one value per fitted
        row (split among the designs), or column names of the data (no update then)."""
        w = True if self._weighted else None
        main = self._main_pass or streamfit.store_pass(self._design, w)
        if not self._extra:
            return main(fn, *args, per_row=per_row, merge=merge)
        if isinstance(per_row, (pd.Series, pd.DataFrame)):
            raise ArgumentError(
                "groups matched by label belong to one data's rows; after update() pass one "
                "group value per fitted row (an array, in the order of the rows)"
            )
        if isinstance(per_row, list):
            raise ArgumentError(
                f"the groups {per_row} name columns of the first data only; after update() "
                "pass one group value per fitted row (an array in the order of the rows)"
            )
        parts, start = [], 0
        for i, d in enumerate(self._designs()):
            values = None if per_row is None else per_row[start : start + d.n_obs]
            run = main if i == 0 else streamfit.store_pass(d, w)
            parts.append(run(fn, *args, per_row=values, merge=merge))
            start += d.n_obs
        return (merge or reduce.sum_parts)(parts)

    def _with_cov(self, cov_type: str, use_t: bool) -> LstsqResult:
        """A copy whose inference uses ``cov_type`` (the meats' pass is shared)."""
        out = copy.copy(self)
        out.cov_type, out.use_t, out._robust_s = cov_type, use_t, None
        out.__dict__.pop("df_resid_inference", None)  # a cluster covariance's own
        out.__dict__.pop("n_groups", None)
        out.__dict__.pop("_fixed_scale", None)  # a fixed-scale covariance's own
        out.__dict__.pop("_model", None)  # model.fit() gives the result it belongs to
        return out

    @property
    def fittedvalues(self) -> xr.DataArray:
        """Fitted values, lazy (dask), dims ``("obs",)`` aligned to the stored rows."""
        beta = xr.DataArray(self._params, dims=("term",), coords={"term": self.terms})
        parts = [xr.dot(d.X, beta, dim="term") for d in self._designs()]
        out = parts[0] if len(parts) == 1 else xr.concat(parts, dim=self._design.sample_dim)
        return out.rename("fittedvalues")

    @property
    def resid(self) -> xr.DataArray:
        """Residuals ``y - fittedvalues``, lazy, dims ``("obs",)``."""
        ys = [d.y for d in self._designs()]
        y = ys[0] if len(ys) == 1 else xr.concat(ys, dim=self._design.sample_dim)
        return (y - self.fittedvalues).rename("resid")

    @property
    def wresid(self) -> xr.DataArray:
        """Whitened residuals ``sqrt(w) * resid`` (``resid`` without weights), lazy."""
        if not self._weighted:
            return self.resid.rename("wresid")
        ws = [d.weights for d in self._designs()]
        if any(w is None for w in ws):
            raise ArgumentError(
                "this fit's weights were given as an array to design.lstsq(weights=) and are "
                "not stored with the design: multiply resid by their square roots yourself"
            )
        w = ws[0] if len(ws) == 1 else xr.concat(ws, dim=self._design.sample_dim)
        return (np.sqrt(w) * self.resid).rename("wresid")

    @property
    def resid_pearson(self) -> xr.DataArray:
        """Whitened residuals over ``sqrt(scale)``, lazy (statsmodels' ``resid_pearson``)."""
        return (self.wresid / np.sqrt(self.scale)).rename("resid_pearson")

    def predict(
        self,
        data: pd.DataFrame | xr.Dataset,
        *,
        chunksize: int | str = "auto",
        dim: str | None = None,
        path: Any = None,
    ) -> pd.Series | xr.DataArray:
        """Predictions for ``data``, aligned to its rows (NaN where a value is missing).

        The design is rebuilt block by block with the fitted levels and transform state;
        a categorical level the fit never saw raises :class:`UnseenLevelError`. A Dataset
        gives a DataArray along ``dim`` (by default the fit's sample dimension): lazy,
        written block by block to a chunked NetCDF store (a temporary one, 8 bytes a row
        plus the row labels, or ``path``'s, kept), when its formula variables are
        dask-backed or on disk, or ``path`` is given. See
        :func:`ooc_accessor.stats.prediction.predict`.
        """
        return predict(self, data, chunksize=chunksize, dim=dim, path=path)

    def get_prediction(
        self,
        data: pd.DataFrame | xr.Dataset,
        weights: Any = None,
        *,
        chunksize: int | str = "auto",
        dim: str | None = None,
        path: Any = None,
    ) -> PredictionResults:
        """Predicted means for ``data`` with standard errors and intervals (statsmodels').

        ``summary_frame(alpha)`` gives ``mean``, ``mean_se``, ``mean_ci_*`` and
        ``obs_ci_*`` aligned to ``data``'s rows (NaN where an input is missing), under
        this result's covariance and ``use_t``. ``weights`` (a column name, a scalar, or
        one per row) divide the residual variance of ``obs_ci``, as statsmodels'. Lazy and
        stored as :meth:`predict` is (16 bytes a row, 24 with per-row weights); see
        :func:`ooc_accessor.stats.prediction.get_prediction`.
        """
        return get_prediction(self, data, weights, chunksize=chunksize, dim=dim, path=path)

    @property
    def diagn(self) -> dict[str, Any]:
        """statsmodels' residual diagnostics (``omni``, ``omnipv``, ``skew``, ``kurtosis``,
        ``jb``, ``jbpv``, ``condno``, ``mineigval``, and ``durbin_watson``): one pass over
        the rows, the first time."""
        return residual_diagnostics(self)

    @property
    def eigenvals(self) -> np.ndarray:
        """Eigenvalues of ``X'WX``, largest first (the squared singular values)."""
        sv = self.singular_values
        with np.errstate(over="ignore", under="ignore"):
            ev = sv**2
        bad = ~np.isfinite(ev) | ((ev == 0) & (sv != 0))
        if bad.any():
            raise DataError(
                f"an eigenvalue of X'WX ({float(sv[np.argmax(bad)])!r} squared) is beyond "
                f"float64; {self._fix()}"
            )
        return ev

    @property
    def condition_number(self) -> float:
        """``sqrt(largest / smallest eigenvalue)`` of ``X'WX`` (inf when singular), from
        the singular values (never squared, so it holds at any magnitude)."""
        sv = self.singular_values
        with np.errstate(over="ignore"):
            return float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")

    def update(
        self, data: pd.DataFrame | xr.Dataset, weights: Any = None, *, dim: str | None = None
    ) -> LstsqResult:
        """Fold in new rows without revisiting the old ones (biglm's ``update``).

        The new rows are built with the fitted formula state into a store of their own,
        reduced to R factors, and merged with this fit's; a new result is returned.
        """
        wspec = weights
        if wspec is None and self._weighted:
            wspec = None if self._weights_given else self._design.weights_column
            if wspec is None:
                raise ArgumentError(
                    "this fit used weights given as an array: pass weights= for the new rows"
                )
        if isinstance(data, xr.Dataset) and dim is None and self._design.sample_dim in data.dims:
            dim = self._design.sample_dim
        new = self._design.build(data, weights=wspec, dim=dim)
        w = True if wspec is not None else None
        graph = reduce.lstsq_stats_graph(new.path, new.blocks(), w, new.store_id)
        row_bytes = progress.design_row_bytes(new)
        stats = reduce.compute(graph, desc="lstsq: update", row_bytes=row_bytes)[0]
        merged = kernels.merge_lstsq_stats([self._stats, stats])
        out = LstsqResult(
            merged,
            self._design,
            weighted=self._weighted,
            extra=(*self._extra, new),
            kind=self._kind,
            rows_pass=self._main_pass,
        )
        if self.cov_type == "cluster":
            raise ArgumentError(
                "a cluster covariance needs the new rows' groups, which update() does not "
                "take: update the plain fit, then call get_robustcov_results('cluster', "
                "groups=<one value per fitted row>) on the result"
            )
        if self.cov_type != "nonrobust":  # the same covariance, over every row
            kwds = {"scale": self.scale} if self.cov_type == "fixed scale" else {}
            out = out.get_robustcov_results(self.cov_type, self.use_t, **kwds)
        return out

    def remove_data(self) -> None:
        """statsmodels' ``remove_data``: nothing to do, a result holds no row."""

    # -- display ------------------------------------------------------------------
    def summary(self, alpha: float = 0.05, slim: bool = False) -> Summary:
        """A statsmodels-style table of the fit (``print`` it, or display it in Jupyter);
        ``slim``: without the residual diagnostics (no pass over the rows). Their pass
        runs here: showing the Summary later reads no row."""
        return Summary(self, alpha, slim)

    #: __repr__ and _repr_html_ (reprs.py): stored numbers only, never the summary's pass
    _report = lstsq_report


def lstsq(
    data: pd.DataFrame | xr.Dataset,
    formula: str,
    weights: Any = None,
    *,
    dim: str | None = None,
    eval_env: Any = 0,
    cov_type: str = "nonrobust",
    cov_kwds: dict | None = None,
    use_t: bool | None = None,
    **design_kwargs: Any,
) -> LstsqResult:
    """Least squares of ``formula`` on ``data``, one pass over its blocks.

    Without ``path``, each block is built and folded into the R factor as it is built, and
    nothing is written: the design's temporary store (8 bytes per row and design column, in
    ``$OOC_ACCESSOR_TMPDIR`` or the system's temporary directory) is written only when
    ``fittedvalues`` or ``resid`` first need its rows, and checked against the digests the
    fit took, so data changed since the fit raises :class:`~ooc_accessor.errors.DataError`.
    The result keeps a reference to ``data``. With ``path``, the design is
    stored there first, kept, and fitted from the store. On a dask.distributed cluster with
    a dask-backed Dataset, the workers build the design where the data lives.

    Parameters
    ----------
    data : pandas.DataFrame or xarray.Dataset
    formula : str
        A patsy formula with a left side, e.g. ``"y ~ a + b + C(g)"``.
    weights : str or array-like, optional
        A column name or one weight per row: weighted least squares (statsmodels' WLS).
        A Series or DataArray is aligned by label (see
        :func:`~ooc_accessor.design.build_design`).
    dim : str, optional
        A Dataset's sample dimension (results are then xarray objects over it).
    eval_env : int or patsy.EvalEnvironment
        Where names in the formula that are not columns are looked up.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "fixed scale"}
        The covariance behind ``bse``, ``pvalues``, ``conf_int`` and the F test, as
        statsmodels' ``fit(cov_type=)``; a robust one costs one more pass over the rows.
    cov_kwds : dict, optional
        The covariance's keywords (the HC types take none; "cluster" takes ``groups``;
        "fixed scale" takes ``scale``, the residual variance to assume, default 1).
    use_t : bool, optional
        Student t distributions (True) or the normal; by default True for "nonrobust"
        and False for the robust types, as statsmodels.
    **design_kwargs
        ``chunksize``, ``path``, ``missing``, ``compression``: see
        :func:`~ooc_accessor.design.build_design`.

    Returns
    -------
    LstsqResult
    """
    check_keywords("lstsq", design_kwargs, LSTSQ_KEYWORDS)
    normalize_cov_type(cov_type)  # a misspelt type is refused before the pass
    env = capture_env(eval_env)
    if design_kwargs.get("path") is None:
        # nothing to keep: built and folded block by block, written only when asked for
        design = streamfit.streamed_design(
            data, formula, dim=dim, weights=weights, eval_env=env, **design_kwargs
        )
        if isinstance(design, streamfit.DeferredDesign):
            fit = _fit(design.stats, design, design.has_weights, design.gradient, design.rows_pass)
            return _robust(fit, cov_type, cov_kwds, use_t)
    else:
        design = build_design(
            data, formula, dim=dim, weights=weights, eval_env=env, **design_kwargs
        )
    return lstsq_design(design, cov_type=cov_type, cov_kwds=cov_kwds, use_t=use_t)


def _robust(
    fit: LstsqResult, cov_type: str, cov_kwds: dict | None, use_t: bool | None
) -> LstsqResult:
    """``fit`` with the covariance asked for (itself for the default)."""
    if cov_type == "nonrobust" and not cov_kwds and use_t in (None, True):
        return fit
    if cov_kwds is not None and not isinstance(cov_kwds, dict):
        raise ArgumentTypeError(f"cov_kwds must be a dict, not {type(cov_kwds).__name__}")
    if use_t is None:  # statsmodels' fit(cov_type=): the normal for a robust covariance
        use_t = normalize_cov_type(cov_type) == "nonrobust"
    return fit.get_robustcov_results(cov_type, use_t, **(cov_kwds or {}))
