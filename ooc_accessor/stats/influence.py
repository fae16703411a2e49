"""Observation influence and outlier tests of an OLS fit, lazy and out of core.

statsmodels' ``OLSInfluence`` holds the design in memory and loops over leave-one-out
fits. Every one of its per-row measures has a closed form in the row's leverage ``h_i``
(``x_i' (X'X)^+ x_i``), its residual and the fit's O(p^2) numbers, so here each is a lazy
DataArray computed block by block from the stored design: no n x n matrix, no loop of
refits. The leverages come from the fit's R factor (``|R^-T x_i|^2``, triangular solves in
the fit's power-of-two scaled units), not from ``(X'X)^-1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats as sps

from ..errors import ArgumentError
from ..signatures import checked_methods
from .robust import _coordinates

if TYPE_CHECKING:
    from ..results import LstsqResult

__all__ = ["InfluenceMixin", "OLSInfluence", "het_scale", "leverages", "outlier_test"]

#: one-step corrections that need no sort of the n p-values (done row by row, lazily)
_ONE_STEP = {"bonf": "bonf", "bonferroni": "bonf", "b": "bonf", "sidak": "sidak", "s": "sidak"}


def _leverage_block(
    x: np.ndarray,
    w: np.ndarray | None,
    ex: np.ndarray,
    ew: int,
    basis: tuple[str, np.ndarray],
) -> np.ndarray:
    """Leverages of one block's (whitened) rows, from the rows in the fit's scaled units."""
    xs = np.ldexp(np.asarray(x, dtype=np.float64), -ex)
    if w is not None:
        xs *= np.sqrt(np.ldexp(np.asarray(w, dtype=np.float64).reshape(-1), -ew))[:, None]
    return _coordinates(xs, basis)[1]


def leverages(result: LstsqResult) -> xr.DataArray:
    """The diagonal of the (whitened) hat matrix, lazy, dims ``obs``: ``h_i = w_i x_i'
    (X'WX)^+ x_i``, by triangular solves with the fit's R, block by block."""
    x = result.model.exog
    data = x.data.rechunk({1: -1})
    basis, ex, ew = result._basis(), result._ex, result._ew
    if result._weighted:
        w = result.model.weights.data.rechunk((data.chunks[0],))
        h = da.map_blocks(
            lambda xb, wb: _leverage_block(xb, wb, ex, ew, basis),
            data,
            w[:, None],
            drop_axis=1,
            dtype=np.float64,
        )
    else:
        h = da.map_blocks(_leverage_block, data, None, ex, 0, basis, drop_axis=1, dtype=np.float64)
    dim = x.dims[0]
    return xr.DataArray(h, dims=(dim,), coords={dim: x[dim]}, name="hat_diag")


def het_scale(result: LstsqResult) -> xr.DataArray:
    """statsmodels' ``het_scale`` of an HC covariance: the squared whitened residuals,
    times ``n / df_resid`` (HC1), over ``1 - h`` (HC2) or ``(1 - h)^2`` (HC3); lazy."""
    cov_type = result.cov_type
    if cov_type not in ("HC0", "HC1", "HC2", "HC3"):
        raise AttributeError(
            f"het_scale belongs to a heteroscedasticity-robust result, and this one's "
            f"cov_type is {cov_type!r}: use get_robustcov_results('HC1').het_scale"
        )
    e2 = result.wresid**2
    if cov_type == "HC1":
        e2 = e2 * (result.nobs / result.df_resid)
    elif cov_type != "HC0":
        h = leverages(result)
        e2 = e2 / (1 - h) ** (1 if cov_type == "HC2" else 2)
    return e2.rename("het_scale")


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class OLSInfluence:
    """statsmodels' ``OLSInfluence`` measures of an unweighted fit, lazy (dims ``obs``).

    Made by :meth:`LstsqResult.get_influence`; making it reads no row. The leave-one-out
    quantities use their exact closed forms (``sigma2_not_obsi = (ssr - e_i^2 / (1 -
    h_i)) / (df_resid - 1)``, ``dfbeta_i = (X'X)^+ x_i e_i / (1 - h_i)``), equal to
    statsmodels' refits.

    Attributes
    ----------
    nobs : float
    k_vars : int
        The number of design columns.
    scale : float
        The fit's ``mse_resid``.
    """

    def __init__(self, results: LstsqResult) -> None:
        if results._weighted:
            raise ArgumentError(
                "get_influence() is offered for unweighted (OLS) fits: statsmodels' "
                "OLSInfluence of a WLS fit mixes raw residuals with whitened leverages; "
                "fit without weights, or with sqrt(w)-scaled columns, to study influence"
            )
        self.results = results
        self.nobs = results.nobs
        self.k_vars = len(results.terms)
        self.scale = results.mse_resid

    @property
    def exog(self) -> xr.DataArray:
        """The design matrix, lazy (the fit's ``model.exog``)."""
        return self.results.model.exog

    @property
    def resid(self) -> xr.DataArray:
        """The fit's residuals, lazy."""
        return self.results.resid

    @property
    def hat_matrix_diag(self) -> xr.DataArray:
        """The leverages ``h_i``: the diagonal of the hat matrix, never formed."""
        return leverages(self.results)

    def _named(self, values: xr.DataArray, name: str) -> xr.DataArray:
        return values.rename(name)

    @property
    def resid_var(self) -> xr.DataArray:
        """The residuals' variances, ``scale * (1 - h_i)``."""
        return self._named(self.scale * (1 - self.hat_matrix_diag), "resid_var")

    @property
    def resid_std(self) -> xr.DataArray:
        """The residuals' standard deviations."""
        return self._named(np.sqrt(self.resid_var), "resid_std")

    def get_resid_studentized_external(self, sigma: Any = None) -> xr.DataArray:
        """``resid / sigma / sqrt(1 - h_i)``; ``sigma`` by default ``sqrt(scale)``."""
        if sigma is None:
            sigma = np.sqrt(self.scale)
        return self.resid / sigma / np.sqrt(1 - self.hat_matrix_diag)

    @property
    def resid_studentized_internal(self) -> xr.DataArray:
        """Residuals studentized with the fit's own sigma."""
        return self._named(self.get_resid_studentized_external(), "standard_resid")

    resid_studentized = resid_studentized_internal

    @property
    def sigma2_not_obsi(self) -> xr.DataArray:
        """The residual variance of each leave-one-out fit (closed form)."""
        r = self.results
        h = self.hat_matrix_diag
        out = (r.ssr - self.resid**2 / (1 - h)) / (r.df_resid - 1)
        return self._named(out, "sigma2_not_obsi")

    @property
    def resid_studentized_external(self) -> xr.DataArray:
        """Residuals studentized with each leave-one-out sigma."""
        out = self.get_resid_studentized_external(np.sqrt(self.sigma2_not_obsi))
        return self._named(out, "student_resid")

    @property
    def cooks_distance(self) -> tuple[xr.DataArray, xr.DataArray]:
        """Cook's distances and their F(k_vars, df_resid) p-values."""
        h = self.hat_matrix_diag
        d = self.resid_studentized**2 / self.k_vars * h / (1 - h)
        df = self.results.df_resid
        p = xr.apply_ufunc(sps.f.sf, d, self.k_vars, df, dask="parallelized")
        return self._named(d, "cooks_d"), self._named(p, "cooks_d_pvalue")

    def _dffits(self, student: xr.DataArray) -> tuple[xr.DataArray, float]:
        h = self.hat_matrix_diag
        return student * np.sqrt(h / (1 - h)), 2 * np.sqrt(self.k_vars / self.nobs)

    @property
    def dffits(self) -> tuple[xr.DataArray, float]:
        """DFFITS (externally studentized) and the threshold ``2 sqrt(k / n)``."""
        d, t = self._dffits(self.resid_studentized_external)
        return self._named(d, "dffits"), t

    @property
    def dffits_internal(self) -> tuple[xr.DataArray, float]:
        """DFFITS from the internally studentized residuals, and the threshold."""
        d, t = self._dffits(self.resid_studentized_internal)
        return self._named(d, "dffits_internal"), t

    @property
    def dfbeta(self) -> xr.DataArray:
        """``params - params_not_obsi`` (closed form), lazy, dims ``(obs, term)``."""
        r = self.results
        cov = xr.DataArray(
            r.normalized_cov_params,
            dims=("term", "term2"),
            coords={"term": r.terms, "term2": r.terms},
        )
        xc = xr.dot(self.exog.rename(term="term2"), cov, dim="term2")
        return (xc * (self.resid / (1 - self.hat_matrix_diag))).rename("dfbeta")

    @property
    def dfbetas(self) -> xr.DataArray:
        """:attr:`dfbeta` over ``sqrt(sigma2_not_obsi * diag((X'X)^+))``."""
        sd = np.sqrt(np.diag(self.results.normalized_cov_params))
        sd = xr.DataArray(sd, dims=("term",), coords={"term": self.results.terms})
        return (self.dfbeta / np.sqrt(self.sigma2_not_obsi) / sd).rename("dfbetas")

    @property
    def params_not_obsi(self) -> xr.DataArray:
        """The coefficients of each leave-one-out fit, ``params - dfbeta``, lazy."""
        params = xr.DataArray(
            np.asarray(self.results.params, dtype=np.float64),
            dims=("term",),
            coords={"term": self.results.terms},
        )
        dfbeta = self.dfbeta
        return (params - dfbeta).transpose(*dfbeta.dims).rename("params_not_obsi")

    @property
    def hat_diag_factor(self) -> xr.DataArray:
        """``h / (1 - h)``."""
        h = self.hat_matrix_diag
        return self._named(h / (1 - h), "hat_diag_factor")

    @property
    def cov_ratio(self) -> xr.DataArray:
        """det(leave-one-out covariance) / det(covariance): ``(sigma2_not_obsi /
        scale)^k / (1 - h)`` (the closed form of statsmodels' refits' ratio)."""
        ratio = (self.sigma2_not_obsi / self.scale) ** self.k_vars
        return self._named(ratio / (1 - self.hat_matrix_diag), "cov_ratio")

    @property
    def det_cov_params_not_obsi(self) -> xr.DataArray:
        """The determinant of each leave-one-out fit's coefficient covariance."""
        det = float(np.linalg.det(np.asarray(self.results.cov_params(), dtype=np.float64)))
        return self._named(self.cov_ratio * det, "det_cov_params_not_obsi")

    @property
    def influence(self) -> xr.DataArray:
        """gretl's influence, ``resid * h / (1 - h)``."""
        h = self.hat_matrix_diag
        return self._named(self.resid * h / (1 - h), "influence")

    @property
    def resid_press(self) -> xr.DataArray:
        """PRESS residuals, ``resid / (1 - h)``."""
        return self._named(self.resid / (1 - self.hat_matrix_diag), "resid_press")

    @property
    def ess_press(self) -> float:
        """The PRESS statistic (one pass over the rows)."""
        return float((self.resid_press**2).sum().compute())

    def summary_frame(self) -> xr.Dataset:
        """statsmodels' ``summary_frame`` as a lazy Dataset over ``obs``: ``dfb_<term>``,
        ``cooks_d``, ``standard_resid``, ``hat_diag``, ``dffits_internal``,
        ``student_resid``, ``dffits``."""
        dfbetas = self.dfbetas
        out = {f"dfb_{t}": dfbetas.sel(term=t, drop=True) for t in self.results.terms}
        out.update(
            cooks_d=self.cooks_distance[0],
            standard_resid=self.resid_studentized_internal,
            hat_diag=self.hat_matrix_diag,
            dffits_internal=self.dffits_internal[0],
            student_resid=self.resid_studentized_external,
            dffits=self.dffits[0],
        )
        return xr.Dataset({k: v.rename(None) for k, v in out.items()})


def outlier_test(
    results: LstsqResult,
    method: str = "bonf",
    alpha: float = 0.05,
    labels: Any = None,
    order: bool = False,
    cutoff: float | None = None,
) -> xr.Dataset | pd.DataFrame:
    """statsmodels' ``outlier_test``: externally studentized residuals, their two-sided
    t(df_resid - 1) p-values and the corrected ones (``"bonf"`` or ``"sidak"``, one-step
    corrections done row by row).

    Without ``cutoff`` a lazy Dataset over ``obs``; with one, the rows whose corrected
    p-value is below it, as a DataFrame indexed by row label (one pass).
    """
    if method not in _ONE_STEP:
        raise ArgumentError(
            f"method={method!r}: out of core, outlier_test offers the one-step corrections "
            "'bonf' and 'sidak' (the step-down and FDR ones sort all n p-values)"
        )
    if order or labels is not None:
        raise ArgumentError(
            "outlier_test(order=, labels=) sorts or relabels all n rows in memory: the "
            "result is labeled by the source's rows; sort the (cutoff=) candidates instead"
        )
    student = results.get_influence().resid_studentized_external
    n, df = results.nobs, results.df_resid - 1
    unadj = xr.apply_ufunc(lambda r: 2 * sps.t.sf(np.abs(r), df), student, dask="parallelized")
    if _ONE_STEP[method] == "bonf":
        adj = np.minimum(unadj * n, 1.0)
    else:
        adj = -np.expm1(n * np.log1p(-unadj))
    name = f"{method}(p)"
    ds = xr.Dataset({"student_resid": student.rename(None), "unadj_p": unadj, name: adj})
    if cutoff is None:
        return ds
    picked = ds.where((ds[name] < cutoff).compute(), drop=True)
    return picked.to_dataframe()[["student_resid", "unadj_p", name]].rename_axis(None)


class InfluenceMixin:
    """``get_influence`` and ``outlier_test`` of a result (mixed into LstsqResult)."""

    @property
    def het_scale(self) -> xr.DataArray:
        """The HC covariance's per-row scale (statsmodels'), lazy (see :func:`het_scale`)."""
        return het_scale(self)  # type: ignore[arg-type]

    def get_influence(self) -> OLSInfluence:
        """statsmodels' influence measures, lazy (see :class:`OLSInfluence`)."""
        return OLSInfluence(self)  # type: ignore[arg-type]

    def outlier_test(
        self,
        method: str = "bonf",
        alpha: float = 0.05,
        labels: Any = None,
        order: bool = False,
        cutoff: float | None = None,
    ) -> xr.Dataset | pd.DataFrame:
        """statsmodels' outlier test (see :func:`outlier_test`)."""
        return outlier_test(self, method, alpha, labels, order, cutoff)  # type: ignore[arg-type]
