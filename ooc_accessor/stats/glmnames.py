"""More of statsmodels' ``GLMResults`` names, mixed into :class:`GLMResults`.

``model`` (a :class:`~ooc_accessor.stats.glmmodel.GLMModel` over the stored design),
the Anscombe residuals (lazy), ``llf_scaled``, ``get_distribution``, ``cov_kwds``,
``mle_settings`` and ``summary2``: each with statsmodels' name, value and default.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from statsmodels.genmod import families as smf

from .glmmodel import GLMModel

__all__ = ["GLMNames"]

_DISCRETE = (smf.Binomial, smf.Poisson, smf.NegativeBinomial)
_NONROBUST = (
    "Standard Errors assume that the covariance matrix of the errors is correctly specified."
)


class GLMNames:
    """statsmodels' ``GLMResults`` names beyond the core ones (a mixin: needs the
    result's ``family``, ``scale``, ``fittedvalues``, ``_design``, ``_extras``...)."""

    @property
    def mle_settings(self) -> dict[str, str]:
        """statsmodels' record of the fit: the optimizer, and how each weighted least
        squares step was solved (the R factor of a tall-skinny QR, min-norm when rank
        deficient)."""
        return {"optimizer": "IRLS", "wls_method": "tsqr"}

    @functools.cached_property
    def model(self) -> GLMModel:
        """The model fitted, with statsmodels' ``GLM`` names (lazy rows)."""
        return GLMModel(self)

    @property
    def cov_kwds(self) -> dict[str, Any]:
        """statsmodels' ``cov_kwds``: the covariance's description (and, for clusters,
        the number of groups)."""
        if self.cov_type == "nonrobust":
            return {"description": _NONROBUST}
        out: dict[str, Any] = {
            "description": f"Standard Errors are robust to {self.cov_type} "
            + ("correlation within groups" if self.cov_type == "cluster" else "heteroscedasticity")
        }
        if getattr(self, "n_groups", None) is not None:
            out["n_groups"] = self.n_groups
        return out

    # -- Anscombe residuals (lazy) -------------------------------------------------------
    def _anscombe(self, scale: float, name: str) -> xr.DataArray:
        fam = self.family
        vw = self._rowwise(self._extras.var_weights)

        def f(y: np.ndarray, mu: np.ndarray, w: Any) -> np.ndarray:
            return fam.resid_anscombe(y, mu, var_weights=w if np.ndim(w) else 1.0, scale=scale)

        return self._map(f, self._design.y, self.fittedvalues, vw, name=name)

    @property
    def resid_anscombe_scaled(self) -> xr.DataArray:
        """The family's Anscombe residuals at the fitted scale, lazy."""
        return self._anscombe(float(self.scale), "resid_anscombe_scaled")

    @property
    def resid_anscombe_unscaled(self) -> xr.DataArray:
        """The family's Anscombe residuals at scale 1, lazy."""
        return self._anscombe(1.0, "resid_anscombe_unscaled")

    @property
    def resid_anscombe(self) -> xr.DataArray:
        """statsmodels' ``resid_anscombe``: :attr:`resid_anscombe_scaled`."""
        return self.resid_anscombe_scaled.rename("resid_anscombe")

    # -- likelihood, distribution --------------------------------------------------------
    def llf_scaled(self, scale: float | None = None) -> float:
        """The log-likelihood at ``scale``; at the fitted one (Gaussian-identity: the
        concentrated likelihood's) when None, i.e. :attr:`llf` (one more pass otherwise)."""
        if scale is None:
            return self.llf
        return self._llf_at(float(scale))

    def get_distribution(
        self,
        exog: Any = None,
        exposure: Any = None,
        offset: Any = None,
        var_weights: Any = 1.0,
        n_trials: Any = 1.0,
    ) -> Any:
        """statsmodels' ``GLMResults.get_distribution``: the family's scipy distribution
        at the fitted means (lazy arguments without ``exog``); scale 1 for the discrete
        families (with statsmodels' warning when the fitted scale is not 1)."""
        if isinstance(self.family, _DISCRETE):
            scale = 1.0
            if self.scale != 1.0:
                msg = "using scale=1, no exess dispersion in distribution"
                warnings.warn(msg, UserWarning, stacklevel=2)
        else:
            scale = self.scale
        mu = self.model.predict(self._fit.params, exog, exposure, offset, which="mean")
        kwds = {}
        if np.any(np.asarray(n_trials) != 1) and isinstance(self.family, smf.Binomial):
            kwds["n_trials"] = n_trials
        return self.family.get_distribution(mu, scale, var_weights=var_weights, **kwds)

    # -- display -------------------------------------------------------------------------
    def summary2(
        self,
        yname: str | None = None,
        xname: list[str] | None = None,
        title: str | None = None,
        alpha: float = 0.05,
        float_format: str = "%.4f",
    ) -> Any:
        """statsmodels' experimental ``summary2`` (a ``statsmodels.iolib.summary2.Summary``
        of the model information and the coefficient table)."""
        from statsmodels.iolib import summary2

        table = self.summary(alpha).table()
        if xname is not None:
            table.index = list(xname)
        info = {
            "Model:": "GLM",
            "Link Function:": type(self.family.link).__name__,
            "Dependent Variable:": yname or self.response,
            "Date:": pd.Timestamp.now().strftime("%Y-%m-%d %H:%M"),
            "No. Observations:": str(self.nobs),
            "Df Model:": f"{self.df_model:.0f}",
            "Df Residuals:": f"{self.df_resid:.0f}",
            "Converged:": f"{float(self.converged):.4f}",
            "No. Iterations:": f"{self.fit_history['iteration']:.4f}",
            "Scale:": float_format % self.scale,
            "Method:": "IRLS",
            "Family:": type(self.family).__name__,
            "AIC:": float_format % self.aic,
            "BIC:": float_format % self.bic,
            "Log-Likelihood:": f"{self.llf:.5g}",
            "Deviance:": f"{self.deviance:.5g}",
            "Pearson chi2:": f"{self.pearson_chi2:.3g}",
        }
        smry = summary2.Summary()
        smry.add_title(title or "Generalized linear model")
        smry.add_dict(info, ncols=2)
        smry.add_df(table, float_format=float_format)
        return smry
