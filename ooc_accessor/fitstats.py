"""The statistics of a least-squares fit, from its scaled sufficient statistics.

:class:`~ooc_accessor.kernels.LstsqStats` holds every column of ``[X | y]`` and the weights
multiplied by powers of two, so that squares and sums of values near float64's limits
neither overflow nor underflow. :class:`FitStatistics` computes statsmodels' statistics on
that scaled problem, where ratios (R-squared, F, t) are the same as on the raw one, and
scales back only the quantities that carry units (coefficients, standard errors, sums of
squares). A value float64 cannot hold is refused with a :class:`DataError` naming it,
never returned as ``inf`` or ``0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from . import kernels, labels, solve
from .errors import ArgumentError, ArgumentTypeError
from .scaling import ZERO_EXP, exact_scale

__all__ = ["FitStatistics"]


def _exp(e: Any) -> np.ndarray:
    """Exponents with the all-zero marker read as 0 (a zero scales to zero anyway)."""
    e = np.asarray(e)
    return np.where(e == ZERO_EXP, 0, e)


class FitStatistics:
    """statsmodels' statistics of a fit (mixed into :class:`~ooc_accessor.results.LstsqResult`).

    Needs ``_stats`` (:class:`~ooc_accessor.kernels.LstsqStats`), ``_sol`` (the solution in
    the scaled units), ``terms``, ``response``, ``k_constant`` and ``_kind``.
    """

    _stats: kernels.LstsqStats
    _sol: solve.LstsqSolution
    #: the covariance behind bse and the tests, and their distributions (statsmodels')
    cov_type: str = "nonrobust"
    use_t: bool = True
    terms: list[str]
    response: str
    k_constant: int
    _kind: str

    # -- scaling ------------------------------------------------------------------------
    @property
    def _ex(self) -> np.ndarray:
        return _exp(self._stats.exp[:-1])

    @property
    def _ey(self) -> int:
        return int(_exp(self._stats.exp[-1]))

    @property
    def _ew(self) -> int:
        return int(_exp(self._stats.w_exp))

    def _fix(self, columns: str = "both") -> str:
        y = repr(self.response)
        if columns == "y":
            return f"rescale {y} (multiply or divide it by a power of ten) and fit again"
        return f"rescale {y} or the terms (multiply or divide them by a power of ten) and fit again"

    def _squares(self, value: float, what: str) -> float:
        """A (weighted) sum of squares of y, from its scaled value."""
        fix = self._fix("y") + (" (or the weights)" if self._stats.w_exp else "")
        return float(exact_scale(value, 2 * self._ey + self._ew, what, repr(self.response), fix))

    def _by_term(self, values: np.ndarray, name: str | None = None):
        return labels.by_term(values, self.terms, self._kind, name)

    @property
    def _params(self) -> np.ndarray:
        """Coefficients in raw units (checked)."""
        return exact_scale(
            self._sol.params,
            self._ey - self._ex,
            "the coefficient",
            [repr(t) for t in self.terms],
            self._fix(),
        )

    @property
    def _cov_s(self) -> np.ndarray:
        """The coefficients' covariance in the scaled units (a robust one if chosen)."""
        robust = getattr(self, "_robust_s", None)
        return robust if robust is not None else self._sol.normalized_cov * self._scale_s

    def _raw_cov(self, cov_s: np.ndarray):
        """A covariance of the coefficients from the scaled units, term by term."""
        e = 2 * self._ey - self._ex[:, None] - self._ex[None, :]
        names = [[f"{a!r} and {b!r}" for b in self.terms] for a in self.terms]
        cov = exact_scale(cov_s, e, "the covariance", names, self._fix())
        return labels.term_by_term(cov, self.terms, self._kind)

    def _raw_se(self, cov_s: np.ndarray) -> np.ndarray:
        """Standard errors (raw units) from a covariance in the scaled units."""
        return exact_scale(
            np.sqrt(np.diag(cov_s)),
            self._ey - self._ex,
            "the standard error",
            [repr(t) for t in self.terms],
            self._fix(),
        )

    @property
    def _df_inference(self) -> float:
        """Degrees of freedom of t and F: ``df_resid``, or a cluster covariance's
        ``groups - 1`` (statsmodels' ``df_resid_inference``)."""
        return getattr(self, "df_resid_inference", None) or self.df_resid

    def _quantile(self, alpha: float) -> float:
        """The two-sided critical value: Student t (``use_t``) or the normal."""
        if self.use_t:
            return float(sps.t.ppf(1 - alpha / 2, self._df_inference))
        return float(sps.norm.ppf(1 - alpha / 2))

    def _two_sided(self, t: np.ndarray) -> np.ndarray:
        """Two-sided p-values of statistics ``t``: Student t (``use_t``) or the normal."""
        if self.use_t:
            return 2 * sps.t.sf(np.abs(t), self._df_inference)
        return 2 * sps.norm.sf(np.abs(t))

    # -- degrees of freedom ---------------------------------------------------------------
    @property
    def nobs(self) -> float:
        """Number of observations (rows) in the fit."""
        return float(self._stats.nobs)

    @property
    def rank(self) -> int:
        """Numerical rank of the design, decided on the column-equilibrated R."""
        return self._sol.rank

    @property
    def df_model(self) -> float:
        """Model degrees of freedom: rank less the constant."""
        return float(self.rank - self.k_constant)

    @property
    def df_resid(self) -> float:
        """Residual degrees of freedom: nobs less the rank."""
        return float(self._stats.nobs - self.rank)

    # -- sums of squares (scaled, then raw) -----------------------------------------------
    @property
    def _scale_s(self) -> float:
        return self._sol.ssr / self.df_resid if self.df_resid > 0 else np.nan

    @property
    def _tss_s(self) -> float:
        return self._stats.m2_y if self.k_constant else self._stats.ss_y

    @property
    def ssr(self) -> float:
        """(Weighted) sum of squared residuals."""
        return self._squares(self._sol.ssr, "the sum of squared residuals")

    @property
    def scale(self) -> float:
        """Residual variance estimate, ``ssr / df_resid`` (or the fixed one of a
        ``cov_type="fixed scale"`` result)."""
        fixed = getattr(self, "_fixed_scale", None)
        if fixed is not None:
            return fixed
        return self._squares(self._scale_s, "the residual variance")

    @property
    def mse_resid(self) -> float:
        """Mean squared error of the residuals, ``ssr / df_resid``."""
        return self._squares(self._scale_s, "the residual variance")

    @property
    def centered_tss(self) -> float:
        """(Weighted) total sum of squares about the (weighted) mean."""
        return self._squares(self._stats.m2_y, "the centred total sum of squares")

    @property
    def uncentered_tss(self) -> float:
        """(Weighted) sum of squares of y."""
        return self._squares(self._stats.ss_y, "the uncentred total sum of squares")

    @property
    def ess(self) -> float:
        """Explained sum of squares (centred when the model has a constant)."""
        return self._squares(self._tss_s - self._sol.ssr, "the explained sum of squares")

    @property
    def mse_model(self) -> float:
        """Mean squared error of the model, ``ess / df_model`` (NaN when df_model is 0)."""
        if self.df_model == 0:
            return np.nan
        return self._squares((self._tss_s - self._sol.ssr) / self.df_model, "the model MSE")

    @property
    def mse_total(self) -> float:
        """Total mean squared error: the (centred with a constant) TSS over df_resid + df_model."""
        dof = self.df_resid + self.df_model
        if dof == 0:
            return np.nan
        return self._squares(self._tss_s / dof, "the total MSE")

    # -- ratios (the same on the scaled problem) ------------------------------------------
    @property
    def rsquared(self) -> float:
        """R-squared; uncentred for a model without a constant, as statsmodels."""
        tss = self._tss_s
        return 1.0 - self._sol.ssr / tss if tss > 0 else np.nan

    @property
    def rsquared_adj(self) -> float:
        """Adjusted R-squared."""
        if self.df_resid <= 0:
            return np.nan
        return 1.0 - (self.nobs - self.k_constant) / self.df_resid * (1.0 - self.rsquared)

    @property
    def fvalue(self) -> float:
        """F-statistic of the model against the constant-only (or empty) model."""
        if self.cov_type != "nonrobust":
            return self._robust_f()[0]
        if self.df_model <= 0 or self.df_resid <= 0:
            return np.nan
        return ((self._tss_s - self._sol.ssr) / self.df_model) / self._scale_s

    @property
    def f_pvalue(self) -> float:
        """p-value of :attr:`fvalue`."""
        if self.cov_type != "nonrobust":
            return self._robust_f()[1]
        return float(sps.f.sf(self.fvalue, self.df_model, self.df_resid))

    def _robust_f(self) -> tuple[float, float]:  # pragma: no cover - a robust result's
        raise NotImplementedError

    @property
    def llf(self) -> float:
        """Gaussian log-likelihood (with statsmodels' WLS weight term)."""
        n = self.nobs
        # log(ssr) from the scaled ssr: the raw one may be beyond float64 while its log is not
        log_ssr = np.log(self._sol.ssr) + (2 * self._ey + self._ew) * np.log(2.0)
        return -n / 2 * (np.log(2 * np.pi / n) + log_ssr + 1) + 0.5 * self._stats.sum_log_w

    @property
    def aic(self) -> float:
        """Akaike information criterion."""
        return -2 * self.llf + 2 * (self.df_model + self.k_constant)

    @property
    def bic(self) -> float:
        """Bayesian information criterion."""
        return -2 * self.llf + np.log(self.nobs) * (self.df_model + self.k_constant)

    def info_criteria(self, crit: str, dk_params: int = 0) -> float:
        """statsmodels' information criteria: ``"aic"``, ``"bic"``, ``"aicc"`` or
        ``"hqic"``, with ``dk_params`` more parameters counted."""
        k = self.df_model + self.k_constant + dk_params
        n, llf = self.nobs, self.llf
        penalty = {
            "aic": 2.0 * k,
            "bic": np.log(n) * k,
            "aicc": 2.0 * k * n / (n - k - 1.0),
            "hqic": 2.0 * np.log(np.log(n)) * k,
        }
        key = crit.lower() if isinstance(crit, str) else crit
        if key not in penalty:
            raise ArgumentError(
                f"crit={crit!r} is not one of 'aic', 'bic', 'aicc', 'hqic' (statsmodels' names)"
            )
        return float(-2.0 * llf + penalty[key])

    # -- coefficient table ----------------------------------------------------------------
    @property
    def params(self):
        """Coefficients by term."""
        return self._by_term(self._params)

    def cov_params(self):
        """Covariance matrix of the coefficients (``scale * (R'R)^+``, or the robust one
        the result was made with), term by term."""
        return self._raw_cov(self._cov_s)

    @property
    def normalized_cov_params(self) -> np.ndarray:
        """``(X'WX)^+``, from R (never formed as X'X)."""
        e = -self._ex[:, None] - self._ex[None, :] - self._ew
        names = [[f"{a!r} and {b!r}" for b in self.terms] for a in self.terms]
        return exact_scale(
            self._sol.normalized_cov, e, "the entry of (X'WX)^-1", names, self._fix()
        )

    @property
    def _bse(self) -> np.ndarray:
        return self._raw_se(self._cov_s)

    @property
    def bse(self):
        """Standard errors of the coefficients."""
        return self._by_term(self._bse)

    @property
    def _t(self) -> np.ndarray:
        return self._sol.params / np.sqrt(np.diag(self._cov_s))

    @property
    def tvalues(self):
        """t statistics, ``params / bse``."""
        return self._by_term(self._t)

    @property
    def pvalues(self):
        """Two-sided p-values of the t statistics (Student t on ``df_resid``; the normal
        for a robust covariance unless ``use_t``, as statsmodels)."""
        return self._by_term(self._two_sided(self._t))

    def conf_int(self, alpha: float = 0.05):
        """Confidence intervals at level ``1 - alpha``: a frame with columns 0 and 1."""
        check_alpha(alpha)
        q = self._quantile(alpha)
        params, half = self._params, q * self._bse
        return labels.intervals(params - half, params + half, self.terms, self._kind)

    @property
    def singular_values(self) -> np.ndarray:
        """Singular values of the (weighted) design matrix, largest first."""
        p = len(self.terms)
        if p == 0:
            return np.zeros(0)
        rx = kernels.square_r(self._stats.xy_r(), p + 1)[:p, :p]
        top = int(np.max(self._ex))
        # columns to their raw relative sizes under one common power of two
        s = np.linalg.svd(np.ldexp(rx, self._ex - top), compute_uv=False)
        return exact_scale(
            s,
            top + self._ew // 2,
            "the singular value",
            [f"component {i} of the design" for i in range(s.size)],
            self._fix(),
        )


def check_alpha(alpha: Any) -> None:
    """``alpha`` is a fraction strictly between 0 and 1 (0.05 for 95% intervals)."""
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.number)):
        raise ArgumentTypeError(
            f"alpha must be a number between 0 and 1 (0.05 for 95% intervals), not "
            f"{type(alpha).__name__}"
        )
    if not 0 < alpha < 1:
        hint = f" (a percentage? pass alpha={alpha / 100:g})" if 1 <= alpha < 100 else ""
        raise ArgumentError(
            f"alpha={alpha!r} is not between 0 and 1{hint}: the intervals' level is 1 - alpha, "
            "e.g. alpha=0.05 for 95% intervals"
        )
