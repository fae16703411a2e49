"""A fitted GLM with statsmodels' ``GLMResults`` names and values.

Holds the IRLS fit's small factors (coefficients, their covariance, the sums of the last
pass); statistics that need the final means over all rows (``llf``, ``null_deviance``,
``llnull``) take one more pass the first time any of them is asked for. Row-length outputs
(``fittedvalues``, the residuals) are lazy, computed block by block from the stored design.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats as sps
from statsmodels.genmod import families as smf

from .. import labels, progress
from ..errors import ArgumentError, ConvergenceError, DataError, MissingColumnError
from ..fitstats import check_alpha
from ..plot import FitPlot, PlotAccessor
from ..reprs import glm_report
from ..reprs_html import Reported
from ..rowlabels import positions_in
from ..signatures import checked_methods
from .glm import Extras, IRLSFit, design_pass, iweights
from .glmnames import GLMNames
from .glmrobust import glm_cov_cluster, glm_cov_hc
from .glmsummary import GLMSummary
from .inference import HypothesisTests
from .prediction import prediction_blocks
from .robust import CLUSTER_KWDS, cluster_groups, normalize_cov_type
from .rowvalues import row_values, rows_digest

__all__ = ["GLMResults", "GLMSummary"]  # GLMSummary: re-exported from glmsummary

#: the progress bars' names of the passes after the iterations
_NULL, _FINAL = "GLM: null model", "GLM: final pass"


def _pass(desc: str, design: Any) -> dict[str, Any]:
    """``design_pass``'s bar arguments for a pass named ``desc`` over ``design``."""
    return {"desc": desc, "row_bytes": progress.design_row_bytes(design)}


def _null_block(
    path: str, a: int, b: int, version: str, extras: Extras, family: smf.Family, c: float
) -> np.ndarray:
    """Leaf: ``[sum w z, sum w, deviance]`` of the constant-only model at ``c``."""
    from ..store import read_block

    (y,) = read_block(path, a, b, ("y",), version)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    iw = iweights(extras, y.size)
    eta = c + (0.0 if extras.offset is None else extras.offset)
    vw = 1.0 if extras.var_weights is None else extras.var_weights
    fw = 1.0 if extras.freq_weights is None else extras.freq_weights
    with np.errstate(all="ignore"):
        mu = family.fitted(eta)
        w = iw * family.weights(mu)
        z = eta + family.link.deriv(mu) * (y - mu)
        dev = family.deviance(y, mu, vw, fw)
    if extras.offset is not None:
        z = z - extras.offset
    return np.array([np.sum(w * z), np.sum(w), dev])


def _final_block(
    path: str,
    a: int,
    b: int,
    version: str,
    extras: Extras,
    family: smf.Family,
    beta: np.ndarray,
    llf_scale: float,
    scale: float,
    null: float,
) -> np.ndarray:
    """Leaf: ``[llf, null deviance, llnull]`` sums of a block (statsmodels' functions)."""
    from ..store import read_block

    x, y = read_block(path, a, b, ("X", "y"), version)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    off = 0.0 if extras.offset is None else extras.offset
    vw = 1.0 if extras.var_weights is None else extras.var_weights
    fw = 1.0 if extras.freq_weights is None else extras.freq_weights
    with np.errstate(all="ignore"):
        mu = family.fitted(x @ beta + off)
        # the null model: a constant mean without an offset, else the constant c plus it
        mu0 = np.full(y.size, null) if extras.offset is None else family.fitted(null + off)
        return np.array(
            [
                family.loglike(y, mu, vw, fw, llf_scale),
                family.deviance(y, mu0, vw, fw),
                family.loglike(y, mu0, vw, fw, scale),
            ]
        )


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class GLMResults(Reported, GLMNames, HypothesisTests):
    """A generalized linear model fitted by IRLS out of core (statsmodels' ``GLMResults``).

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas.Series or xarray.DataArray
        By term (z statistics and normal p-values, as statsmodels' default ``use_t=False``).
    deviance, pearson_chi2, scale : float
        At the fitted means.
    null_deviance, llf, llnull, aic, bic, bic_llf, bic_deviance : float
        One more pass over the rows, the first time one is asked for.
    nobs : int
        Rows fitted.
    df_model, df_resid : float
        ``rank - 1`` and ``sum(freq_weights) - rank``, as statsmodels.
    converged : bool
    fit_history : dict
        ``params`` and (scaled) ``deviance`` of each iteration, and ``iteration``.
    family : statsmodels Family
        With its ``link``.
    plot : FitPlot
        ``glm.plot.coef()``, ``glm.plot.resid(kind=)`` (needs matplotlib).
    """

    plot = PlotAccessor(FitPlot)
    method = "IRLS"
    model_name = "GLM"

    def __init__(
        self,
        fit: IRLSFit,
        design: Any,
        family: smf.Family,
        extras: Extras,
        kind: str,
        *,
        use_t: bool = False,
    ) -> None:
        self._fit = fit
        self._design = design
        self._extras = extras
        self._kind = kind
        self.family = family
        self.terms: list[str] = list(design.terms)
        self.response: str = design.responses[0]
        self.cov_type = "nonrobust"
        self.use_t = bool(use_t)
        self.scaletype: str | float | None = None  # the fit's scale= (statsmodels' name)
        self._robust: np.ndarray | None = None
        #: the data the design was built from, its sample dim, a function giving the
        #: positions of the fitted rows in it (None: all) and the digest of its rows at the
        #: fit: cluster groups named by column
        self._data: tuple[Any, str | None, Any, tuple[int, int]] | None = None
        self.converged = fit.converged
        self.fit_history = fit.history
        self.scale = fit.scale
        self.deviance = fit.deviance
        self.pearson_chi2 = fit.pearson_chi2
        self.nobs = fit.nobs
        self.wnobs = fit.wnobs
        self.rank = fit.rank
        self.df_model = float(fit.rank - 1)
        self.df_resid = float(fit.wnobs - fit.rank)

    @property
    def n_dropped(self) -> int:
        """Rows left out of the fit for a missing value (the design's ``n_dropped``)."""
        return int(self._design.n_dropped)

    # -- coefficients ---------------------------------------------------------------------
    def _by_term(self, values: np.ndarray, name: str | None = None):
        return labels.by_term(values, self.terms, self._kind, name)

    @property
    def _df_inference(self) -> float:
        return getattr(self, "df_resid_inference", None) or self.df_resid

    def _rows_pass(self, fn: Any, *args: Any, per_row: Any = None, merge: Any = None) -> Any:
        """The merge (sum) over the fitted rows of ``fn(path, a, b, version, extras,
        [per_row_ab,] family, *args)``: one more pass over the store."""
        d = self._design
        kw = {} if merge is None else {"merge": merge}
        return design_pass(
            d.path,
            d.blocks(),
            d.store_id,
            self._extras,
            fn,
            (self.family, *args),
            per_row=per_row,
            row_bytes=progress.design_row_bytes(d),
            **kw,
        )

    def _groups(self, groups: Any) -> np.ndarray:
        """Cluster groups as one value (or two) per fitted row: column names of the data,
        a Series or DataFrame matched by label, or an array in the order of the rows."""
        groups = cluster_groups(groups, int(self.nobs))
        if isinstance(groups, list):
            if self._data is None:
                raise ArgumentError(
                    f"the groups {groups} name columns, but this GLM was fitted from a stored "
                    "design, which has none: pass one group value per fitted row"
                )
            data, dim, keep_of, digest = self._data
            names = list(data.columns) if isinstance(data, pd.DataFrame) else list(data.variables)
            absent = [g for g in groups if g not in names]
            if absent:
                raise MissingColumnError(
                    f"the groups {absent} are not columns of the data this GLM was fitted to"
                )
            if rows_digest(data, dim) != digest:
                raise DataError(
                    "the data this GLM was fitted to changed after the fit (rows reordered, "
                    "added or removed), and cluster groups named by column are read from its "
                    "rows: pass the groups as one value per fitted row or as a Series matched "
                    "by label, or fit again"
                )
            keep = keep_of()
            cols = [np.asarray(data[g]) for g in groups]
            cols = [c if keep is None else c[keep] for c in cols]
            return cols[0] if len(cols) == 1 else np.column_stack(cols).astype(object)
        if isinstance(groups, (pd.Series, pd.DataFrame)):
            pos = positions_in(groups.index, self._design.obs)
            values = groups.to_numpy()
            out = values[np.maximum(pos, 0)].astype(object)
            out[pos < 0] = None  # absent labels: refused as missing groups by the pass
            return out
        return groups

    def get_robustcov_results(
        self, cov_type: str = "HC1", use_t: bool | None = None, **kwds: Any
    ) -> GLMResults:
        """A copy whose inference uses ``cov_type``, as statsmodels' ``GLM.fit(cov_type=)``.

        Parameters
        ----------
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}
            statsmodels' GLM gives every HC type the same sandwich (inverse observed
            Hessian around the scores' outer products), and so does this. ``"cluster"``
            takes ``groups`` (a column name, two names, one value per fitted row, or a
            Series matched by label), ``use_correction`` and ``df_correction``.
        use_t : bool, optional
            Student t (True) or the normal (False, statsmodels' default for a GLM).
        """
        cov_type = normalize_cov_type(cov_type)
        out = copy.copy(self)
        out.cov_type = cov_type
        out.use_t = self.use_t if use_t is None else bool(use_t)
        out._robust = None
        out.__dict__.pop("df_resid_inference", None)
        out.__dict__.pop("n_groups", None)
        if cov_type == "cluster":
            unknown = sorted(set(kwds) - set(CLUSTER_KWDS))
            if unknown:
                raise ArgumentError(
                    f"cov_type='cluster' takes the keywords {sorted(CLUSTER_KWDS)}, not {unknown}"
                )
            opts = {**CLUSTER_KWDS, **kwds}
            groups = self._groups(opts["groups"])
            out._robust, out.n_groups = glm_cov_cluster(self, groups, bool(opts["use_correction"]))
            if opts["df_correction"] is not False:
                out.df_resid_inference = float(out.n_groups - 1)
        elif kwds:
            raise ArgumentError(f"cov_type={cov_type!r} takes no keywords, got {sorted(kwds)}")
        elif cov_type != "nonrobust":
            out._robust = glm_cov_hc(self)
        return out

    @property
    def params(self):
        """Coefficients by term."""
        return self._by_term(self._fit.params)

    @property
    def normalized_cov_params(self) -> np.ndarray:
        """``(X' W X)^+`` of the last IRLS step's weights, from its R factor."""
        return self._fit.normalized_cov

    @property
    def _cov(self) -> np.ndarray:
        """The covariance behind the inference: the robust one chosen, else ``scale *
        (X'WX)^+``."""
        return self._robust if self._robust is not None else self._fit.normalized_cov * self.scale

    def cov_params(self):
        """The coefficients' covariance (``scale * (X'WX)^+``, or the robust one the result
        was made with), term by term."""
        return labels.term_by_term(self._cov, self.terms, self._kind)

    @property
    def _bse(self) -> np.ndarray:
        return np.sqrt(np.diag(self._cov))

    @property
    def bse(self):
        """Standard errors of the coefficients."""
        return self._by_term(self._bse)

    @property
    def tvalues(self):
        """``params / bse`` (z statistics unless ``use_t``)."""
        return self._by_term(self._fit.params / self._bse)

    def _two_sided(self, t: np.ndarray) -> np.ndarray:
        if self.use_t:
            return 2 * sps.t.sf(np.abs(t), self._df_inference)
        return 2 * sps.norm.sf(np.abs(t))

    def _quantile(self, alpha: float) -> float:
        if self.use_t:
            return float(sps.t.ppf(1 - alpha / 2, self._df_inference))
        return float(sps.norm.ppf(1 - alpha / 2))

    @property
    def pvalues(self):
        """Two-sided p-values of ``tvalues`` (normal, or Student t with ``use_t``)."""
        return self._by_term(self._two_sided(self._fit.params / self._bse))

    def conf_int(self, alpha: float = 0.05):
        """Confidence intervals of the coefficients, columns ``0`` and ``1`` (lower, upper)."""
        check_alpha(alpha)
        q = self._quantile(alpha)
        b, se = self._fit.params, self._bse
        return labels.intervals(b - q * se, b + q * se, self.terms, self._kind)

    # -- the final pass -------------------------------------------------------------------
    @functools.cached_property
    def _null_constant(self) -> float:
        """The constant-only model's mean (no offset) or linear-predictor constant: its
        own IRLS over y alone, to convergence (statsmodels' ``null``), each step halved
        back while it raises the deviance (an offset far from the data's scale makes the
        plain Newton step overshoot)."""
        sum_iw, sum_iwy = self._fit.y_sums[2:4]
        if self._extras.offset is None:
            return float(sum_iwy / sum_iw)  # the weighted mean: WLS on a constant
        d, fam = self._design, self.family
        iw = iweights(self._extras, self._extras.offset.size)
        with np.errstate(all="ignore"):
            # the constant that puts the mean linear predictor on link(mean y)
            c = float(fam.link(sum_iwy / sum_iw) - np.average(self._extras.offset, weights=iw))
        if not np.isfinite(c):
            c = 0.0
        best_c, best_dev, halvings = None, np.inf, 0
        for _ in range(200):
            args = (self._extras, _null_block, (fam, c))
            swz, sw, dev = design_pass(d.path, d.blocks(), d.store_id, *args, **_pass(_NULL, d))
            if best_c is not None and not (np.isfinite(dev) and dev <= best_dev * (1 + 1e-13)):
                halvings += 1
                if halvings > 60:
                    break
                c = (c + best_c) / 2  # the step overshot: back toward the last good one
                continue
            best_c, best_dev, halvings = c, dev, 0
            new = float(swz / sw)
            if not np.isfinite(new):
                break
            if abs(new - c) <= 1e-13 * (1.0 + abs(c)):
                return new
            c = new
        raise ConvergenceError(
            f"the null model of the {type(fam).__name__} GLM (a constant with the offset), "
            f"behind null_deviance, llnull and the pseudo R-squared, did not converge (last "
            f"constant {best_c!r}, deviance {best_dev!r}): the offset may be far outside "
            "the data's scale; check it"
        )

    @functools.cached_property
    def _final(self) -> np.ndarray:
        d = self._design
        fam = self.family
        gaussian_identity = (
            isinstance(fam, smf.Gaussian)
            and isinstance(fam.link, smf.links.Power)
            and fam.link.power == 1.0
        )
        # statsmodels' llf: the concentrated (profile) likelihood for Gaussian-identity
        llf_scale = self.pearson_chi2 / self.wnobs if gaussian_identity else self.scale
        args = (fam, self._fit.params, llf_scale, self.scale, self._null_constant)
        return design_pass(
            d.path, d.blocks(), d.store_id, self._extras, _final_block, args, **_pass(_FINAL, d)
        )

    @property
    def llf(self) -> float:
        """Log-likelihood at the fitted means (statsmodels' ``llf``)."""
        return float(self._final[0])

    @property
    def null_deviance(self) -> float:
        """Deviance of the constant-only model (with the same offset and weights)."""
        return float(self._final[1])

    @property
    def llnull(self) -> float:
        """Log-likelihood of the constant-only model."""
        return float(self._final[2])

    def info_criteria(self, crit: str, scale: float | None = None, dk_params: int = 0) -> float:
        """``"aic"``, ``"bic"`` or ``"qaic"`` (with ``scale``), as statsmodels'."""
        k = self.df_model + 1 + dk_params
        crit = str(crit).lower()
        if crit == "aic":
            return -2 * self.llf + 2 * k
        if crit == "bic":
            return -2 * self.llf + k * np.log(self.df_model + self.df_resid + 1)
        if crit == "qaic":
            if scale is None:
                raise ArgumentError("qaic needs scale= (the largest model's, as statsmodels)")
            return -2 * self._llf_at(1.0) / scale + 2 * k
        raise ArgumentError(f"crit={crit!r} is not 'aic', 'bic' or 'qaic'")

    def _llf_at(self, scale: float) -> float:
        d = self._design
        args = (self.family, self._fit.params, scale, scale, self._null_constant)
        return float(
            design_pass(
                d.path, d.blocks(), d.store_id, self._extras, _final_block, args, **_pass(_FINAL, d)
            )[0]
        )

    @property
    def aic(self) -> float:
        """``-2 llf + 2 (df_model + 1)``."""
        return self.info_criteria("aic")

    @property
    def bic_llf(self) -> float:
        """``-2 llf + log(nobs) (df_model + 1)``."""
        return self.info_criteria("bic")

    @property
    def bic(self) -> float:
        """statsmodels' ``bic``: :attr:`bic_llf`."""
        return self.bic_llf

    @property
    def bic_deviance(self) -> float:
        """``deviance - df_resid log(nobs)`` (statsmodels' ``bic_deviance``)."""
        return self.deviance - (self.wnobs - self.df_model - 1) * np.log(self.wnobs)

    def pseudo_rsquared(self, kind: str = "cs") -> float:
        """Cox-Snell (``"cs"``) or McFadden (``"mcf"``) pseudo R-squared."""
        kind = str(kind).lower()
        if kind.startswith("mcf"):
            return 1 - self.llf / self.llnull
        if kind.startswith("cox") or kind in ("cs", "lr"):
            return float(1 - np.exp((self.llnull - self.llf) * (2 / self.nobs)))
        raise ArgumentError(f"kind={kind!r}: only 'cs' (Cox-Snell) and 'mcf' (McFadden)")

    # -- rows (lazy) ----------------------------------------------------------------------
    def _rowwise(self, values: np.ndarray | None) -> xr.DataArray | float:
        if values is None:
            return 0.0
        x = self._design.X
        dim = x.dims[0]
        arr = dsa.from_array(values, chunks=(x.chunks[0],))
        return xr.DataArray(arr, dims=(dim,), coords={dim: x[dim]})

    @property
    def _linear(self) -> xr.DataArray:
        beta = xr.DataArray(self._fit.params, dims=("term",), coords={"term": self.terms})
        return xr.dot(self._design.X, beta, dim="term") + self._rowwise(self._extras.offset)

    def _map(self, fn: Any, *arrays: Any, name: str) -> xr.DataArray:
        out = xr.apply_ufunc(fn, *arrays, dask="parallelized", output_dtypes=[np.float64])
        return out.rename(name)

    @property
    def fittedvalues(self) -> xr.DataArray:
        """Fitted means ``mu`` of the fitted rows, lazy (statsmodels' ``fittedvalues``)."""
        return self._map(self.family.fitted, self._linear, name="fittedvalues")

    @property
    def mu(self) -> xr.DataArray:
        """The fitted means (as :attr:`fittedvalues`)."""
        return self.fittedvalues.rename("mu")

    @property
    def resid_response(self) -> xr.DataArray:
        """``y - mu``, lazy."""
        return (self._design.y - self.fittedvalues).rename("resid_response")

    @property
    def resid_pearson(self) -> xr.DataArray:
        """``(y - mu) sqrt(var_weights) / sqrt(V(mu))``, lazy."""
        vw = self._rowwise(self._extras.var_weights)
        fam = self.family

        def f(y: np.ndarray, mu: np.ndarray, w: Any) -> np.ndarray:
            return (y - mu) * np.sqrt(w if np.ndim(w) else 1.0) / np.sqrt(fam.variance(mu))

        return self._map(f, self._design.y, self.fittedvalues, vw, name="resid_pearson")

    @property
    def resid_deviance(self) -> xr.DataArray:
        """Signed deviance residuals (statsmodels' ``resid_deviance``), lazy."""
        vw = self._rowwise(self._extras.var_weights)
        fam = self.family

        def f(y: np.ndarray, mu: np.ndarray, w: Any) -> np.ndarray:
            return fam.resid_dev(y, mu, var_weights=w if np.ndim(w) else 1.0, scale=1.0)

        return self._map(f, self._design.y, self.fittedvalues, vw, name="resid_deviance")

    @property
    def resid_working(self) -> xr.DataArray:
        """``(y - mu) g'(mu)``, lazy."""
        fam = self.family
        return self._map(
            lambda r, mu: r * fam.link.deriv(mu),
            self.resid_response,
            self.fittedvalues,
            name="resid_working",
        )

    def predict(
        self,
        data: pd.DataFrame | xr.Dataset | None = None,
        which: str = "mean",
        *,
        offset: Any = None,
        exposure: Any = None,
        chunksize: int | str = "auto",
        dim: str | None = None,
    ) -> pd.Series | xr.DataArray:
        """Predicted means (``which="mean"``) or linear predictors (``"linear"``) for
        ``data``, aligned to its rows (NaN where an input is missing).

        ``offset`` and ``exposure`` (a column name, or one value per row of ``data``) enter
        the linear predictor as in the fit; without them it has none, as statsmodels'
        ``predict(exog)``. ``which="var_unscaled"``: the family's variance function at the
        mean. Without ``data``: the fitted rows, lazy, with the fit's offset and exposure
        (statsmodels' ``predict()``; then ``offset``/``exposure`` are arrays of the rows).
        """
        if which not in ("mean", "linear", "var_unscaled"):
            raise ArgumentError(f"which={which!r}: 'mean', 'linear' or 'var_unscaled'")
        if data is None:
            return self.model.predict(self._fit.params, None, exposure, offset, which)
        n, dim, blocks = prediction_blocks(self, data, chunksize, dim)
        off = np.zeros(n)
        if offset is not None:
            off = off + row_values(offset, data, dim, "offset")
        if exposure is not None:
            exp = row_values(exposure, data, dim, "exposure")
            bad = ~(exp > 0) & ~np.isnan(exp)  # a missing exposure predicts NaN, as x does
            if bad.any():
                raise DataError(
                    f"exposure must be positive; row {int(np.argmax(bad))} of the data has "
                    f"{exp[np.argmax(bad)]!r}"
                )
            off = off + np.log(exp)
        eta = np.full(n, np.nan)
        for start, built in blocks:
            rows = start + built.pos
            eta[rows] = built.x @ self._fit.params + off[rows]
        with np.errstate(all="ignore"):
            out = eta if which == "linear" else self.family.fitted(eta)
            if which == "var_unscaled":
                out = self.family.variance(out)
        if isinstance(data, xr.Dataset):
            coords = {dim: data.indexes[dim]} if dim in data.indexes else {}
            return xr.DataArray(out, dims=(dim,), coords=coords, name="predicted")
        return labels.by_row(out, data.index, "predicted")

    # -- display --------------------------------------------------------------------------
    def summary(self, alpha: float = 0.05) -> GLMSummary:
        """statsmodels' GLM summary table (``print`` it, or display it in Jupyter)."""
        return GLMSummary(self, alpha)

    #: __repr__ and _repr_html_ (reprs.py): stored numbers only, never the llf's pass
    _report = glm_report
