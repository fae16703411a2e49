"""statsmodels' Lagrange-multiplier comparison of nested fits, out of core.

``compare_lm_test`` needs the restricted fit's residuals times the full fit's regressors,
row by row. Out of core the two fits' rows are not read side by side: a restricted fit
whose terms are a subset of the full fit's (by name) has residuals ``y - X[:, kept] b_r``
computable from the full fit's own rows, so one pass over them gives every sum the test
needs (p-vectors and p x p matrices).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats as sps

from ..errors import ArgumentError

__all__ = ["CompareLRTestResult", "compare_lm_test", "lm_sums"]


try:  # statsmodels' own class (0.15+), so isinstance checks written for it hold
    from statsmodels.regression.linear_model import CompareLRTestResult
except ImportError:  # statsmodels 0.14: a named tuple with its fields

    class CompareLRTestResult(NamedTuple):  # type: ignore[no-redef]
        """A likelihood-ratio comparison (statsmodels' ``CompareLRTestResult`` fields)."""

        statistic: float
        pvalue: float
        df_diff: float


def lm_sums(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    kept: np.ndarray,
    beta_r: np.ndarray,
    beta: np.ndarray,
) -> np.ndarray:
    """One block's sums: ``[e_r'e_r, sum(x e_r), sum (x e_r)(x e_r)', sum (x e)(x e)',
    X'X]`` (whitened rows; ``e_r`` the restricted residuals, ``e`` the full ones),
    flattened."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    er = y - x[:, kept] @ beta_r
    e = y - x @ beta
    if w is not None:
        sw = np.sqrt(np.asarray(w, dtype=np.float64))
        x, er, e = x * sw[:, None], er * sw, e * sw
    ur, u = x * er[:, None], x * e[:, None]
    return np.concatenate(
        [[er @ er], ur.sum(0), (ur.T @ ur).ravel(), (u.T @ u).ravel(), (x.T @ x).ravel()]
    )


def _kept_columns(full: Any, restricted: Any) -> np.ndarray:
    """Positions in ``full``'s terms of ``restricted``'s (refused when not nested)."""
    missing = [t for t in restricted.terms if t not in full.terms]
    if missing or restricted.df_resid <= full.df_resid:
        why = (
            f"its terms {missing} are not terms of the full fit"
            if missing
            else "it has no more residual degrees of freedom"
        )
        raise ArgumentError(
            f"Restricted model is not nested by full model: {why}; pass the smaller "
            "model's fit (its terms a subset of this fit's, by name) as restricted"
        )
    return np.array([full.terms.index(t) for t in restricted.terms], dtype=np.intp)


def compare_lm_test(
    full: Any, restricted: Any, demean: bool = True, use_lr: bool = False
) -> tuple[float, float, float]:
    """statsmodels' ``compare_lm_test``: ``(lm_value, p_value, df_diff)`` by one pass
    over the full fit's rows; the score covariance follows the full fit's ``cov_type``
    (nonrobust or HC; a cluster one is refused)."""
    # the same response, rows and weighting (the LM test is made for robust covariances)
    full._comparison(restricted, warn_robust=False)
    kept = _kept_columns(full, restricted)
    cov_type = full.cov_type
    if cov_type not in ("nonrobust", "HC0", "HC1", "HC2", "HC3"):
        raise ArgumentError(
            f"compare_lm_test with cov_type={cov_type!r}: offered for 'nonrobust' and the "
            "HC types; compare the plain fits"
        )
    p = len(full.terms)
    sums = full._rows_pass(
        lm_sums,
        kept,
        np.asarray(restricted.params, dtype=np.float64),
        np.asarray(full.params, dtype=np.float64),
    )
    n = full.nobs
    ee_r, s = sums[0], sums[1 : 1 + p] / n
    mats = sums[1 + p :].reshape(3, p, p)
    if cov_type == "nonrobust":
        s_mat = (ee_r / n) * mats[2] / n
    else:
        scores = mats[1] if use_lr else mats[0]
        sum_scores = sums[1 : 1 + p]
        if demean and not use_lr:
            scores = scores - np.outer(sum_scores, sum_scores) / n
        s_mat = scores / n
    lm = float(n * (s @ np.linalg.inv(s_mat) @ s))
    df_diff = float(restricted.df_resid - full.df_resid)
    return lm, float(sps.chi2.sf(lm, df_diff)), df_diff
