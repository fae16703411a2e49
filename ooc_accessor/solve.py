"""Solving a least-squares fit from its sufficient statistics (:class:`LstsqStats`).

The rank test on the column-equilibrated R factor, the solution (back substitution, or
a minimum-norm one), the refinement pass's step, the dependent columns and the constant
test. Numpy arrays in, numpy arrays out; everything works in the power-of-two scaled units
of :class:`~ooc_accessor.kernels.LstsqStats`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg as sla

from .kernels import LstsqStats, square_r, sub_rows
from .scaling import ZERO_EXP, safe_norms

_EPS = np.finfo(np.float64).eps


def rank_tolerance(nobs: int, p: int) -> float:
    """Relative singular-value threshold for the rank of the column-equilibrated R.

    Rounding in a Householder TSQR grows like ``sqrt(n)`` and with the column count, so an
    exact linear dependence leaves a singular value near ``eps * p * sqrt(n)`` while a badly
    scaled but independent design (NIST Filip: ~2e-10 after equilibration) stays well above.
    """
    return 10.0 * _EPS * max(p, 1) * max(np.sqrt(max(nobs, 1)), 1.0)


class LstsqSolution(NamedTuple):
    """Coefficients and their unscaled covariance from an R factor."""

    params: np.ndarray
    normalized_cov: np.ndarray
    ssr: float
    rank: int
    singular_values: np.ndarray
    cond: float  # condition number of the column-equilibrated R


def _equilibrated_rank(rx: np.ndarray, nobs: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(rank, column norms, singular values of the equilibrated R)`` of an R factor.

    The rank is decided on the column-equilibrated R, which makes it invariant to column
    scaling; an all-zero column never counts.
    """
    p = rx.shape[1]
    d = safe_norms(rx)
    rs = rx / np.where(d > 0, d, 1.0)
    s_s = np.linalg.svd(rs, compute_uv=False)
    tol = rank_tolerance(nobs, p)
    rank = int(np.sum(s_s > tol * s_s[0])) if s_s.size and s_s[0] > 0 else 0
    rank = rank if np.all(d > 0) else min(rank, int(np.sum(d > 0)))
    return rank, d, s_s


def _min_norm(
    rx: np.ndarray, qty: np.ndarray, rank: int, d: np.ndarray, exp: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-norm solution of a rank-deficient ``rx b = qty`` and its ``(X'X)^+``.

    Without ``exp``, or when the columns' raw sizes are within 2**SPREAD of each other, the
    truncated SVD of ``rx`` at those raw relative sizes (numpy's and statsmodels' pinv).
    Beyond that spread an SVD cannot resolve the small kept directions (its error is
    relative to the largest), so a complete orthogonal decomposition is used instead: a
    basic solution from the column-pivoted QR of the equilibrated factor (which decided the
    rank), plus the null-space combination that minimizes the norm of the raw
    coefficients. Both return the solution and covariance in the units of ``rx``.
    """
    p = rx.shape[1]
    e = np.zeros(p, dtype=np.int64)
    if exp is not None and p:
        e = np.where(exp == ZERO_EXP, np.max(exp), exp)
    if int(np.max(e) - np.min(e)) <= _SPREAD:
        c = np.ldexp(1.0, e - np.max(e))
        u, s, vt = np.linalg.svd(rx * c)
        m = (vt[:rank].T * c[:, None]) / s[:rank]
        return m @ (u[:, :rank].T @ qty), m @ m.T
    # rx = (rx / d) d, with the equilibrated rs P = Q [R11 R12; 0 ~0]
    q, rp, piv = sla.qr(rx / d, pivoting=True)
    kept, dropped = piv[:rank], piv[rank:]
    r11 = rp[:rank, :rank]
    basic = np.zeros((p, rank))  # z = basic @ (Q1' qty): the basic solution, equilibrated
    basic[kept] = sla.solve_triangular(r11, np.eye(rank), check_finite=False)
    null = np.zeros((p, p - rank))
    null[kept] = -sla.solve_triangular(r11, rp[:rank, rank:], check_finite=False)
    null[dropped, np.arange(p - rank)] = 1.0
    # a null vector's rounding-level entries (exact zeros, in exact arithmetic) would
    # dominate a norm whose weights differ by 2**64 and more: drop them, as dependencies()
    # does when it names the columns of a dependency
    null[np.abs(null) <= 1e-8 * np.max(np.abs(null), axis=0, initial=0.0)] = 0.0
    # raw coefficient j is z_j / d_j * 2**-e_j (times one constant): weights for the norm,
    # at one common power of two (entries far below the largest underflow: they hardly
    # count in the norm)
    with np.errstate(under="ignore"):
        w = np.ldexp(1.0 / d, -(e - np.min(e))) if p else np.ones(0)
        w = w / np.max(w)
    # z = (I - N (W N)^+ W) basic: the raw-norm-minimizing point of the solution set
    a = w[:, None] * null
    scale = np.max(np.abs(a), axis=0, initial=0.0)  # columns of ~1e-200 to about 1
    scale = np.where(scale > 0, scale, 1.0)
    # the null vectors are independent (one per dropped column): a plain QR solves it
    qn, rn = np.linalg.qr(a / scale)
    t = sla.solve_triangular(rn, qn.T @ (w[:, None] * basic), check_finite=False)
    t = t / scale[:, None]
    m = (basic - null @ t) / d[:, None]
    return m @ (q[:, :rank].T @ qty), m @ m.T


#: column scales (powers of two) further apart than this take the QR route of _min_norm
_SPREAD = 64


def solve_r(r: np.ndarray, p: int, nobs: int, exp: np.ndarray | None = None) -> LstsqSolution:
    """Least-squares solution from the R factor of ``[X | y]`` (never the normal equations).

    The rank is decided on the column-equilibrated R, which makes it invariant to column
    scaling. A full-rank problem is solved by back substitution on the equilibrated R; a
    rank-deficient one gets the minimum-norm solution (numpy's ``lstsq``), truncated to that
    rank. ``exp`` (the power-of-two exponents of X's columns in :class:`LstsqStats`) makes
    that minimum norm the one of the raw coefficients, as numpy's and statsmodels' pinv;
    the solution returned is in the scaled coordinates of ``r``.
    """
    rr = square_r(r, p + 1)
    rx, qty = rr[:p, :p], rr[:p, p]
    rank, d, s_s = _equilibrated_rank(rx, nobs)
    d_safe = np.where(d > 0, d, 1.0)
    rs = rx / d_safe
    singular_values = np.linalg.svd(rx, compute_uv=False)
    if rank == p:
        # back substitution, not inv(R) @ qty: a digit more on NIST's Wampler sets
        params = sla.solve_triangular(rs, qty, check_finite=False) / d_safe
        rs_inv = sla.solve_triangular(rs, np.eye(p), check_finite=False)
        normalized_cov = (rs_inv @ rs_inv.T) / np.outer(d_safe, d_safe)
    else:
        params, normalized_cov = _min_norm(rx, qty, rank, d_safe, exp)
    # ||y - X b||^2 = ||qty - Rx b||^2 + r_pp^2: the first term is rounding for a full-rank
    # fit, but a truncated (rank-deficient) solution leaves part of qty unexplained
    ssr = (
        float(np.sum((qty - rx @ params) ** 2) + rr[p, p] ** 2)
        if rank < p
        else float(rr[p, p] ** 2)
    )
    cond = float(s_s[0] / s_s[-1]) if s_s.size and s_s[-1] > 0 else np.inf
    return LstsqSolution(params, normalized_cov, ssr, rank, singular_values, cond)


#: refine when the one-pass solution may have fewer correct digits than this
REFINE_BELOW_DIGITS = 13.0


def needs_refinement(sol: LstsqSolution, r: np.ndarray) -> bool:
    """Whether a refinement pass (:func:`refine`) is worth its pass over the data.

    A backward-stable QR solution has a relative error up to about
    ``eps (kappa + kappa^2 tan(theta))`` (kappa of the equilibrated R, theta the angle
    between y and span(X)): large-residual, ill-conditioned fits (NIST Wampler 3-5) lose
    digits there. The seminormal correction converges only while ``kappa^2 eps`` is small,
    so beyond that (Filip) the one-pass answer is kept.
    """
    p = sol.params.size
    if sol.rank < p or not np.isfinite(sol.cond) or sol.cond**2 * _EPS > 1e-3:
        return False
    rr = square_r(r, p + 1)
    fitted = float(safe_norms((rr[:p, :p] @ sol.params)[:, None])[0])
    tan_theta = abs(rr[p, p]) / fitted if fitted > 0 else np.inf
    err = _EPS * (sol.cond + sol.cond**2 * tan_theta)
    return bool(err > 10.0 ** (-REFINE_BELOW_DIGITS))


def residual_gradient(
    x: np.ndarray, y: np.ndarray, beta: np.ndarray, w: np.ndarray | None = None
) -> np.ndarray:
    """``X' W (y - X beta)`` of one block, accumulated in extended precision.

    The residual of an almost-right beta is mostly cancellation; long double (64-bit
    mantissa on x86, and an exponent range to 1e4932, so products of values near float64's
    limits neither overflow nor underflow) keeps the digits the refinement step needs.
    """
    m, p = x.shape
    beta_l = np.asarray(beta, dtype=np.longdouble)
    g = np.zeros(p, dtype=np.longdouble)
    step = sub_rows(p + 1)
    for a in range(0, m, step):
        xl = np.asarray(x[a : a + step], dtype=np.longdouble)
        res = np.asarray(y[a : a + step], dtype=np.longdouble).reshape(-1) - xl @ beta_l
        if w is not None:
            res *= np.asarray(w[a : a + step], dtype=np.longdouble).reshape(-1)
        g += res @ xl
    return g


def scaled_gradient(stats: LstsqStats, gradient: np.ndarray) -> np.ndarray:
    """The raw ``X' W (y - X beta)`` in the scaled units of ``stats`` (see :func:`refine`).

    Scaling happens in extended precision, before the float64 conversion, so a raw
    gradient of 1e400 arrives as a float64 of about 1.
    """
    p = stats.exp.size - 1
    e = np.where(stats.exp == ZERO_EXP, 0, stats.exp)
    w_e = 0 if stats.w_exp == ZERO_EXP else stats.w_exp
    g = np.asarray(gradient, dtype=np.longdouble)
    return np.asarray(np.ldexp(g, -(e[:p] + e[p] + w_e)), dtype=np.float64)


#: passes of :func:`refine` at most; each is one more read of the data
MAX_REFINE_STEPS = 3


def refine(sol: LstsqSolution, r: np.ndarray, gradient: np.ndarray) -> LstsqSolution:
    """One step of corrected seminormal equations (Bjorck): ``R'R delta = X'W(y - X beta)``.

    ``R`` comes from the QR, never from ``X'X``; with the gradient summed in extended
    precision the step removes the ``kappa^2 tan(theta)`` part of the error. ``r`` and
    ``gradient`` are in the same (scaled) units (:func:`scaled_gradient`).
    """
    p = sol.params.size
    rx = square_r(r, p + 1)[:p, :p]
    d = safe_norms(rx)
    rs = rx / d
    z = sla.solve_triangular(rs, np.asarray(gradient, dtype=np.float64) / d, trans="T")
    delta = sla.solve_triangular(rs, z) / d
    return sol._replace(params=sol.params + delta)


def rank_message(r: np.ndarray, terms: list[str], rank: int) -> str:
    """The rank-deficiency warning's text: which columns depend on which (from ``r``, the
    R factor of ``[X | y]``)."""
    p = len(terms)
    parts = []
    for group in dependencies(r, p, rank):
        *others, col = [terms[i] for i in group]
        if others:
            parts.append(f"{col!r} is a linear combination of {', '.join(map(repr, others))}")
        else:
            parts.append(f"{col!r} is all zeros")
    return (
        f"the design is rank deficient: rank {rank} for {p} columns: {'; '.join(parts)}. The "
        "fit is the minimum-norm least-squares solution; drop a column to identify the model."
    )


def dependencies(r: np.ndarray, p: int, rank: int, rtol: float = 1e-8) -> list[list[int]]:
    """Which columns are linearly dependent, one group per column beyond the rank.

    A column-pivoted QR of the equilibrated R keeps ``rank`` columns; each other column is
    written as a combination of the kept ones, and its group lists the kept columns with a
    coefficient above ``rtol`` (relative, in equilibrated units) and then itself. An
    all-zero column makes a group of one.
    """
    rx = square_r(r, p + 1)[:p, :p]
    d = safe_norms(rx)
    rs = rx / np.where(d > 0, d, 1.0)
    _, rp, piv = sla.qr(rs, pivoting=True)
    kept, dropped = piv[:rank], piv[rank:]
    coef = sla.solve_triangular(rp[:rank, :rank], rp[:rank, rank:], check_finite=False)
    groups = []
    for j, col in enumerate(dropped):
        c = np.abs(coef[:, j])
        big = c > rtol * max(1.0, c.max(initial=0.0))
        groups.append([*sorted(int(k) for k in kept[big]), int(col)])
    return groups


def has_constant(stats: LstsqStats) -> bool:
    """Whether a constant column lies in span(X), as statsmodels' ``k_constant`` decides.

    statsmodels compares the rank of ``[1 | X]`` with that of ``X`` (an explicit intercept,
    or an implicit one such as full dummy coding, leaves it unchanged). The same comparison
    is made here on the R factor of ``sqrt(w) [X | 1]`` (:meth:`LstsqStats.x1_r`, where
    the constant's residual after X is computed by the QR itself, not by a cancelling
    difference of sums), with both ranks decided on the column-equilibrated
    factor by :func:`rank_tolerance`: so the answer does not change when a column is
    rescaled, whereas a near-constant column (Longley's YEAR, through the origin) is not
    taken for a constant.
    """
    p = stats.exp.size - 1
    if stats.sum_w <= 0 or p == 0:
        return False
    rr = stats.x1_r()
    rank_x = _equilibrated_rank(rr[:p, :p], stats.nobs)[0]
    rank_x1 = _equilibrated_rank(rr, stats.nobs)[0]
    return rank_x1 == rank_x
