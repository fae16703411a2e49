"""Heteroscedasticity-robust (sandwich) covariances, HC0-HC3, out of core.

statsmodels' ``cov_HCk`` is ``(X'WX)^+ X'W diag(s) W X (X'WX)^+`` with ``s`` the squared
(whitened) residuals, scaled by ``n / df_resid`` (HC1), divided by ``1 - h`` (HC2) or by
``(1 - h)^2`` (HC3), ``h`` the leverages. Here the three meats ``sum_i u_i u_i' / (1 -
h_i)^k`` (``u_i`` a row's whitened regressors times its whitened residual; k = 0, 1, 2)
come from one more pass over the fit's rows, each block reduced to three p x p sums:
O(p^2) memory whatever the rows. The leverages need ``(X'WX)^+``, which the fit already
holds (from R, never formed as X'X).

Everything is computed in the fit's scaled units (each column, y and the weights divided
by a power of two: :class:`~ooc_accessor.kernels.LstsqStats`), where the sandwich is the
raw one up to ``2**(2 ey - ex_i - ex_j)``: the weights' scale cancels between bread and
meat.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from ..errors import ArgumentError
from ..kernels import sub_rows

__all__ = ["HC_TYPES", "RobustCovariance", "meat_blocks"]

#: the heteroscedasticity-robust covariances, by statsmodels' names
HC_TYPES = ("HC0", "HC1", "HC2", "HC3")


def meat_blocks(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    ex: np.ndarray,
    ey: int,
    ew: int,
    beta: np.ndarray,
    bread: np.ndarray,
) -> np.ndarray:
    """The three meats of one block, shape ``(3, p, p)``, in the fit's scaled units.

    ``ex``, ``ey``, ``ew``: the fit's power-of-two exponents of the columns, y and the
    weights; ``beta`` and ``bread`` (``(X'WX)^+``) in the scaled units. Rows go in
    cache-sized steps, so a block is never copied whole.
    """
    m, p = x.shape
    out = np.zeros((3, p, p))
    step = sub_rows(p + 1)
    for a in range(0, m, step):
        xs = np.ldexp(np.asarray(x[a : a + step], dtype=np.float64), -ex)
        e = np.ldexp(np.asarray(y[a : a + step], dtype=np.float64).reshape(-1), -ey) - xs @ beta
        if w is not None:
            sw = np.sqrt(np.ldexp(np.asarray(w[a : a + step], dtype=np.float64), -ew))
            xs *= sw[:, None]
            e *= sw
        h = np.einsum("ij,jk,ik->i", xs, bread, xs)
        u = xs * e[:, None]
        out[0] += u.T @ u
        with np.errstate(divide="ignore", invalid="ignore"):
            d = 1.0 / (1.0 - h)  # a leverage of 1 gives inf, as in statsmodels
        v = u * np.sqrt(d)[:, None]
        out[1] += v.T @ v
        v = u * d[:, None]
        out[2] += v.T @ v
    return out


def sandwich(bread: np.ndarray, meats: np.ndarray, cov_type: str, nobs: float, df_resid: float):
    """``cov_type``'s covariance (scaled units) from the bread and the three meats."""
    k = {"HC0": 0, "HC1": 0, "HC2": 1, "HC3": 2}[cov_type]
    cov = bread @ meats[k] @ bread
    return cov * (nobs / df_resid) if cov_type == "HC1" else cov


def normalize_cov_type(cov_type: Any) -> str:
    """statsmodels' spelling of a supported ``cov_type`` (case as statsmodels accepts)."""
    if isinstance(cov_type, str):
        if cov_type == "nonrobust":
            return cov_type
        if cov_type.upper() in HC_TYPES:
            return cov_type.upper()
    raise ArgumentError(
        f"cov_type={cov_type!r} is not one this fit offers: 'nonrobust' or one of "
        f"{', '.join(map(repr, HC_TYPES))} (heteroscedasticity-robust, statsmodels' names)"
    )


class RobustCovariance:
    """statsmodels' robust-covariance surface of a least-squares result (a mixin).

    The meats are computed on first use by one pass over the fit's rows (``_rows_pass``,
    which the result provides) and kept: every ``cov_HCk`` and ``HCk_se`` and
    :meth:`get_robustcov_results` share that one pass.
    """

    cov_type: str = "nonrobust"
    use_t: bool = True
    _meats: np.ndarray | None = None
    _robust_s: np.ndarray | None = None

    def _rows_pass(self, fn: Any, *args: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _robust_meats(self) -> np.ndarray:
        if self._meats is None:
            sol = self._sol
            args = (self._ex, self._ey, self._ew, sol.params, sol.normalized_cov)
            self._meats = self._rows_pass(meat_blocks, *args)
        return self._meats

    def _hc_s(self, cov_type: str) -> np.ndarray:
        """``cov_type``'s covariance in the scaled units."""
        meats = self._robust_meats()
        return sandwich(self._sol.normalized_cov, meats, cov_type, self.nobs, self.df_resid)

    def _hc(self, cov_type: str):
        return self._raw_cov(self._hc_s(cov_type))

    def _hc_se(self, cov_type: str):
        return self._by_term(self._raw_se(self._hc_s(cov_type)))

    @property
    def cov_HC0(self):  # noqa: N802 - statsmodels' name
        """White's heteroscedasticity-robust covariance (statsmodels' ``cov_HC0``)."""
        return self._hc("HC0")

    @property
    def cov_HC1(self):  # noqa: N802 - statsmodels' name
        """HC0 scaled by ``nobs / df_resid`` (statsmodels' ``cov_HC1``)."""
        return self._hc("HC1")

    @property
    def cov_HC2(self):  # noqa: N802 - statsmodels' name
        """Squared residuals over ``1 - h``, h the leverages (statsmodels' ``cov_HC2``)."""
        return self._hc("HC2")

    @property
    def cov_HC3(self):  # noqa: N802 - statsmodels' name
        """Squared residuals over ``(1 - h)^2`` (statsmodels' ``cov_HC3``)."""
        return self._hc("HC3")

    @property
    def HC0_se(self):  # noqa: N802 - statsmodels' name
        """Standard errors from :attr:`cov_HC0`."""
        return self._hc_se("HC0")

    @property
    def HC1_se(self):  # noqa: N802 - statsmodels' name
        """Standard errors from :attr:`cov_HC1`."""
        return self._hc_se("HC1")

    @property
    def HC2_se(self):  # noqa: N802 - statsmodels' name
        """Standard errors from :attr:`cov_HC2`."""
        return self._hc_se("HC2")

    @property
    def HC3_se(self):  # noqa: N802 - statsmodels' name
        """Standard errors from :attr:`cov_HC3`."""
        return self._hc_se("HC3")

    def _with_cov(self, cov_type: str, use_t: bool | None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def get_robustcov_results(self, cov_type: str = "HC1", use_t: bool | None = None, **kwds):
        """A copy of this result whose inference uses ``cov_type`` (statsmodels' method).

        Parameters
        ----------
        cov_type : {"HC0", "HC1", "HC2", "HC3", "nonrobust"}
            The covariance behind ``bse``, ``tvalues``, ``pvalues``, ``conf_int`` and the
            F test.
        use_t : bool, optional
            Student t distributions when True, the normal when False; by default this
            result's own ``use_t``, as statsmodels (a fit made with ``cov_type=`` has
            False, a plain fit True).
        """
        if kwds:
            raise ArgumentError(
                f"cov_type={cov_type!r} takes no keywords, but got {sorted(kwds)}: "
                "heteroscedasticity-robust covariances use none"
            )
        cov_type = normalize_cov_type(cov_type)
        if use_t is None:
            use_t = self.use_t
        out = self._with_cov(cov_type, bool(use_t))
        if cov_type != "nonrobust":
            out._robust_s = self._hc_s(cov_type)
        return out

    # -- inference under the result's covariance -------------------------------------------
    def _quantile(self, alpha: float) -> float:
        if self.use_t:
            return float(sps.t.ppf(1 - alpha / 2, self.df_resid))
        return float(sps.norm.ppf(1 - alpha / 2))

    def _two_sided(self, t: np.ndarray) -> np.ndarray:
        if self.use_t:
            return 2 * sps.t.sf(np.abs(t), self.df_resid)
        return 2 * sps.norm.sf(np.abs(t))

    def _robust_f(self) -> tuple[float, float]:
        """statsmodels' F test that every coefficient but the constant is zero, under the
        robust covariance: ``(fvalue, f_pvalue)``."""
        p = len(self.terms)
        keep = list(range(p))
        if self.k_constant == 1:
            if "Intercept" not in self.terms:  # an implicit constant: statsmodels says nan
                return float("nan"), float("nan")
            keep.remove(self.terms.index("Intercept"))
            if not keep:
                return float("nan"), float("nan")
        b = self._sol.params[keep]
        v = self._cov_s[np.ix_(keep, keep)]
        stat = float(b @ np.linalg.pinv(v) @ b) / len(keep)
        return stat, float(sps.f.sf(stat, len(keep), self.df_resid))
