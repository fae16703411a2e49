"""The model behind a fitted GLM, with statsmodels' ``GLM`` names (``result.model``).

statsmodels' results carry their model (``res.model.endog``, ``res.model.family``,
``res.model.score_obs(params)``...). Here the model is a view on the stored design: its
row-length values (``endog``, ``exog``, the weights, ``score_obs``, ``score_factor``) are
lazy dask-backed DataArrays read block by block from the store, and its reductions
(``score``, ``hessian``, ``loglike``, ``estimate_scale``) are sums over those blocks, so
nothing loads every row.
"""

from __future__ import annotations

from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from statsmodels.genmod import families as smf

from ..errors import ArgumentError
from .glm import scale_of

__all__ = ["GLMModel"]

_DISCRETE = (smf.Binomial, smf.Poisson, smf.NegativeBinomial)


def _value(x: Any) -> float:
    """A (lazy) 0-d sum as a float."""
    return float(x.compute()) if hasattr(x, "compute") else float(x)


class GLMModel:
    """A fitted GLM's model: statsmodels' ``GLM`` names over the stored design.

    Attributes
    ----------
    family : statsmodels Family
    endog, exog : xarray.DataArray
        The stored y (``("obs",)``) and X (``("obs", "term")``), lazy.
    var_weights, freq_weights, iweights : xarray.DataArray
        One value per fitted row, lazy (ones where none were given); ``iweights`` is
        their product.
    offset_exposure : xarray.DataArray or float
        ``offset + log(exposure)`` per row (0.0 without either).
    nobs, wnobs, df_model, df_resid : float
        As the result's.
    exog_names, endog_names : list of str, str
    scaletype : {None, "x2", "dev"} or float
        The ``scale=`` the fit was made with.
    """

    def __init__(self, result: Any) -> None:
        self._result = result
        self.family: smf.Family = result.family
        self.exog_names: list[str] = list(result.terms)
        self.endog_names: str = result.response
        self.nobs = result.nobs
        self.wnobs = result.wnobs
        self.df_model = result.df_model
        self.df_resid = result.df_resid
        self.scaletype = getattr(result, "scaletype", None)
        self.formula: str = result._design.formula

    def __repr__(self) -> str:
        return (
            f"<ooc.GLMModel {type(self.family).__name__}({type(self.family.link).__name__}) "
            f"{self.formula!r}: nobs={self.nobs}>"
        )

    # -- the stored rows (lazy) -----------------------------------------------------------
    @property
    def endog(self) -> xr.DataArray:
        """The response of the fitted rows, lazy."""
        return self._result._design.y

    @property
    def exog(self) -> xr.DataArray:
        """The design matrix of the fitted rows, lazy, dims ``("obs", "term")``."""
        return self._result._design.X

    def _per_row(self, values: np.ndarray | None, name: str) -> xr.DataArray:
        x = self.exog
        dim = x.dims[0]
        if values is None:
            arr = dsa.ones(x.shape[0], chunks=(x.chunks[0],))
        else:
            arr = dsa.from_array(values, chunks=(x.chunks[0],))
        return xr.DataArray(arr, dims=(dim,), coords={dim: x[dim]}, name=name)

    @property
    def var_weights(self) -> xr.DataArray:
        """Variance (analytic) weights per row (ones if none were given), lazy."""
        return self._per_row(self._result._extras.var_weights, "var_weights")

    @property
    def freq_weights(self) -> xr.DataArray:
        """Frequency weights per row (ones if none were given), lazy."""
        return self._per_row(self._result._extras.freq_weights, "freq_weights")

    @property
    def iweights(self) -> xr.DataArray:
        """``var_weights * freq_weights``, lazy."""
        return (self.var_weights * self.freq_weights).rename("iweights")

    @property
    def offset_exposure(self) -> xr.DataArray | float:
        """``offset + log(exposure)`` per row, lazy (0.0 without either)."""
        off = self._result._extras.offset
        return 0.0 if off is None else self._per_row(off, "offset_exposure")

    # -- functions of the coefficients ----------------------------------------------------
    def _params(self, params: Any) -> xr.DataArray:
        p = np.asarray(params, dtype=np.float64).reshape(-1)
        if p.size != len(self.exog_names):
            raise ArgumentError(
                f"params has {p.size} values, but the model has {len(self.exog_names)} "
                f"terms {self.exog_names[:8]}"
            )
        return xr.DataArray(p, dims=("term",), coords={"term": self.exog_names})

    def _map(self, fn: Any, *arrays: Any, name: str) -> xr.DataArray:
        out = xr.apply_ufunc(fn, *arrays, dask="parallelized", output_dtypes=[np.float64])
        return out.rename(name)

    def predict(
        self,
        params: Any,
        exog: Any = None,
        exposure: Any = None,
        offset: Any = None,
        which: str = "mean",
    ) -> xr.DataArray | np.ndarray:
        """statsmodels' ``GLM.predict``: ``"mean"``, ``"linear"`` or ``"var_unscaled"``
        (the family's variance function at the mean).

        Without ``exog``: the fitted rows, lazy, with the fit's offset and exposure unless
        others are given. With ``exog`` (an in-memory array of new rows): a numpy array,
        with the ``offset``/``exposure`` given (none by default).
        """
        if which not in ("mean", "linear", "var_unscaled"):
            raise ArgumentError(f"which={which!r}: 'mean', 'linear' or 'var_unscaled'")
        if exposure is not None and not isinstance(self.family.link, smf.links.Log):
            raise ArgumentError("exposure can only be used with the log link")
        beta = self._params(params)
        if exog is None:
            eta = xr.dot(self.exog, beta, dim="term")
            if offset is None and exposure is None:
                eta = eta + self.offset_exposure
        else:
            eta = np.asarray(exog, dtype=np.float64) @ beta.values
        if offset is not None:
            eta = eta + np.asarray(offset, dtype=np.float64)
        if exposure is not None:
            eta = eta + np.log(np.asarray(exposure, dtype=np.float64))
        fam = self.family
        funcs = {
            "linear": lambda e: e,
            "mean": fam.fitted,
            "var_unscaled": lambda e: fam.variance(fam.fitted(e)),
        }
        if isinstance(eta, np.ndarray):
            with np.errstate(all="ignore"):
                return funcs[which](eta)
        return self._map(funcs[which], eta, name="predicted")

    def estimate_scale(self, mu: Any) -> float:
        """statsmodels' ``estimate_scale`` at the means ``mu`` (one pass over the rows)."""
        if self.scaletype is None and isinstance(self.family, _DISCRETE):
            return 1.0
        if isinstance(self.scaletype, float):
            return self.scaletype
        fam = self.family

        def pearson(y: Any, m: Any, iw: Any) -> Any:
            return (y - m) ** 2 * iw / fam.variance(m)

        x2 = _value(self._map(pearson, self.endog, mu, self.iweights, name="x2").sum())
        dev = 0.0
        if self.scaletype == "dev":

            def unit(y: Any, m: Any, vw: Any, fw: Any) -> Any:
                return fam._resid_dev(y, m) * vw * fw  # statsmodels' deviance, by row

            args = (self.endog, mu, self.var_weights, self.freq_weights)
            dev = _value(self._map(unit, *args, name="dev").sum())
        return scale_of(fam, self.scaletype, x2, dev, self.df_resid)

    def _scale(self, scale: Any, mu: Any) -> float:
        return self.estimate_scale(mu) if scale is None else float(scale)

    def score_factor(self, params: Any, scale: float | None = None) -> xr.DataArray:
        """Per-row score weights (``score_obs = score_factor * exog``), lazy."""
        mu = self.predict(params)
        s = self._scale(scale, mu)
        fam = self.family

        def f(y: Any, m: Any, iw: Any) -> Any:
            return (y - m) / fam.link.deriv(m) / fam.variance(m) * iw / s

        return self._map(f, self.endog, mu, self.iweights, name="score_factor")

    def score_obs(self, params: Any, scale: float | None = None) -> xr.DataArray:
        """The log-likelihood's gradient per row, lazy, dims ``("obs", "term")``."""
        return (self.score_factor(params, scale) * self.exog).rename("score_obs")

    def score(self, params: Any, scale: float | None = None) -> np.ndarray:
        """The log-likelihood's gradient (one pass over the rows)."""
        return np.asarray(xr.dot(self.score_factor(params, scale), self.exog).values)

    def hessian_factor(
        self, params: Any, scale: float | None = None, observed: bool = True
    ) -> xr.DataArray:
        """Per-row Hessian weights (``hessian = -(exog' diag(factor) exog)``), lazy:
        observed, or the expected information's with ``observed=False``."""
        mu = self.predict(params)
        s = self._scale(scale, mu)
        fam = self.family

        def f(y: Any, m: Any, iw: Any) -> Any:
            d1, var = fam.link.deriv(m), fam.variance(m)
            eim = iw / (d1**2 * var)
            if not observed:
                return eim / s
            tmp = (var * fam.link.deriv2(m) + fam.variance.deriv(m) * d1) * (y - m) / (d1 * var)
            return eim * (1 + tmp) / s

        return self._map(f, self.endog, mu, self.iweights, name="hessian_factor")

    def hessian(
        self, params: Any, scale: float | None = None, observed: bool | None = None
    ) -> np.ndarray:
        """The log-likelihood's Hessian (observed by default; one pass over the rows)."""
        factor = self.hessian_factor(params, scale, observed is not False)
        x = self.exog
        xt = x.rename(term="term_")
        return -np.asarray(xr.dot(x * factor, xt, dim=x.dims[0]).values)

    def information(self, params: Any, scale: float | None = None) -> np.ndarray:
        """Fisher information: minus the expected Hessian."""
        return self.hessian(params, scale, observed=False)

    def loglike(self, params: Any, scale: float | None = None) -> float:
        """The log-likelihood at ``params`` (the scale estimated there unless given)."""
        mu = self.predict(params)
        s = self._scale(scale, mu)
        fam = self.family

        def f(y: Any, m: Any, vw: Any, fw: Any) -> Any:
            return fam.loglike_obs(y, m, vw, s) * fw

        llf = self._map(f, self.endog, mu, self.var_weights, self.freq_weights, name="llf")
        return _value(llf.sum())

    def get_distribution(
        self,
        params: Any,
        scale: float | None = None,
        exog: Any = None,
        exposure: Any = None,
        offset: Any = None,
        var_weights: Any = 1.0,
        n_trials: Any = 1.0,
    ) -> Any:
        """statsmodels' ``GLM.get_distribution``: the family's scipy distribution at the
        predicted means (scale 1 for the discrete families)."""
        if isinstance(self.family, _DISCRETE):
            scale = 1.0
        mu = self.predict(params, exog, exposure, offset, which="mean")
        kwds = {}
        if np.any(np.asarray(n_trials) != 1) and isinstance(self.family, smf.Binomial):
            kwds["n_trials"] = n_trials
        return self.family.get_distribution(mu, scale, var_weights=var_weights, **kwds)
