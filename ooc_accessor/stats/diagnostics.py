"""Residual diagnostics of statsmodels' summary, out of core: Omnibus, Skew, Kurtosis,
Durbin-Watson and Jarque-Bera of the whitened residuals.

One pass over the fit's rows gives each block's count, mean and central moments 2-4 of its
residuals (merged exactly, Pébay's formulas, so no sum of fourth powers ever cancels), and
its first and last residual with the sum of squared successive differences inside it: the
Durbin-Watson numerator is completed across block boundaries as the blocks are merged, in
row order. Residuals are taken in the fit's scaled units (every statistic here is
scale-free), so magnitudes near float64's limits do not overflow their fourth powers.
The tests' formulas are scipy's (``skewtest``, ``kurtosistest``, ``normaltest``), applied to
the merged moments; ``tests/test_diagnostics.py`` checks them against statsmodels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from .robust import _whitened

__all__ = ["block_moments", "diagnostics", "merge_moments", "residual_diagnostics"]

# fields of a block's summary: count, mean, M2, M3, M4, first, last, sum of squared
# successive differences, sum of squares
_N, _MEAN, _M2, _M3, _M4, _FIRST, _LAST, _SSD, _SS = range(9)


def block_moments(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    ex: np.ndarray,
    ey: int,
    ew: int,
    beta: np.ndarray,
) -> np.ndarray:
    """One block's residual summary (9 numbers), in the fit's scaled units."""
    _, e = _whitened(x, y, w, 0, x.shape[0], ex, ey, ew, beta)
    n = e.size
    mean = float(e.mean())
    d = e - mean
    d2 = d * d
    return np.array(
        [
            n,
            mean,
            d2.sum(),
            (d2 * d).sum(),
            (d2 * d2).sum(),
            e[0],
            e[-1],
            float(np.sum(np.diff(e) ** 2)),
            float(e @ e),
        ]
    )


def _merge_two(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = a[_N], b[_N]
    n = na + nb
    d = b[_MEAN] - a[_MEAN]
    out = np.empty(9)
    out[_N] = n
    out[_MEAN] = a[_MEAN] + d * nb / n
    out[_M2] = a[_M2] + b[_M2] + d * d * na * nb / n
    out[_M3] = (
        a[_M3]
        + b[_M3]
        + d**3 * na * nb * (na - nb) / n**2
        + 3 * d * (na * b[_M2] - nb * a[_M2]) / n
    )
    out[_M4] = (
        a[_M4]
        + b[_M4]
        + d**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
        + 6 * d * d * (na * na * b[_M2] + nb * nb * a[_M2]) / n**2
        + 4 * d * (na * b[_M3] - nb * a[_M3]) / n
    )
    out[_FIRST], out[_LAST] = a[_FIRST], b[_LAST]
    out[_SSD] = a[_SSD] + b[_SSD] + (b[_FIRST] - a[_LAST]) ** 2
    out[_SS] = a[_SS] + b[_SS]
    return out


def merge_moments(parts: list[np.ndarray]) -> np.ndarray:
    """Blocks' summaries merged, in row order (the order they are given in)."""
    out = parts[0]
    for p in parts[1:]:
        out = _merge_two(out, p)
    return out


def _skewtest(b2: float, n: float) -> float:
    y = b2 * np.sqrt(((n + 1) * (n + 3)) / (6.0 * (n - 2)))
    beta2 = (
        3.0 * (n * n + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
    )
    w2 = -1 + np.sqrt(2 * (beta2 - 1))
    delta = 1 / np.sqrt(0.5 * np.log(w2))
    alpha = np.sqrt(2.0 / (w2 - 1))
    y = 1.0 if y == 0 else y
    return float(delta * np.log(y / alpha + np.sqrt((y / alpha) ** 2 + 1)))


def _kurtosistest(b2: float, n: float) -> float:
    e = 3.0 * (n - 1) / (n + 1)
    varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1.0) * (n + 3) * (n + 5))
    x = (b2 - e) / np.sqrt(varb2)
    sqrtbeta1 = (
        6.0
        * (n * n - 5 * n + 2)
        / ((n + 7) * (n + 9))
        * np.sqrt((6.0 * (n + 3) * (n + 5)) / (n * (n - 2) * (n - 3)))
    )
    a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + np.sqrt(1 + 4.0 / (sqrtbeta1**2)))
    term1 = 1 - 2 / (9.0 * a)
    denom = 1 + x * np.sqrt(2 / (a - 4.0))
    if denom == 0.0:
        return float("nan")
    term2 = np.sign(denom) * ((1 - 2.0 / a) / abs(denom)) ** (1 / 3.0)
    return float((term1 - term2) / np.sqrt(2 / (9.0 * a)))


def diagnostics(moments: np.ndarray) -> dict[str, Any]:
    """statsmodels' summary diagnostics from the merged residual summary."""
    n = float(moments[_N])
    m2 = moments[_M2] / n
    skew = float(moments[_M3] / n / m2**1.5) if m2 > 0 else float("nan")
    kurtosis = float(moments[_M4] / n / m2**2) if m2 > 0 else float("nan")
    jb = n / 6.0 * (skew**2 + 0.25 * (kurtosis - 3) ** 2)
    if n >= 8 and m2 > 0:  # statsmodels' omni_normtest: nan below 8 rows
        k2 = _skewtest(skew, n) ** 2 + _kurtosistest(kurtosis, n) ** 2
        omni, omnipv = float(k2), float(sps.chi2.sf(k2, 2))
    else:
        omni = omnipv = float("nan")
    ss = moments[_SS]
    return {
        "omni": omni,
        "omnipv": omnipv,
        "skew": skew,
        "kurtosis": kurtosis,
        "jb": float(jb),
        "jbpv": float(sps.chi2.sf(jb, 2)),
        "durbin_watson": float(moments[_SSD] / ss) if ss > 0 else float("nan"),
    }


def residual_diagnostics(result: Any) -> dict[str, Any]:
    """``result``'s diagnostics by one pass over its rows (kept on the result), with the
    condition number: statsmodels' ``diagn`` keys (but ``mineigval``) and
    ``durbin_watson``."""
    cached = getattr(result, "_diagn", None)
    if cached is None:
        sol = result._sol
        moments = result._rows_pass(
            block_moments, result._ex, result._ey, result._ew, sol.params, merge=merge_moments
        )
        cached = diagnostics(moments)
        cached["condno"] = result.condition_number
        result._diagn = cached
    return cached
