"""Block kernels: numpy arrays in, numpy arrays out.

These are the only numerical building blocks; :mod:`ooc_accessor.reduce` maps them over
stored blocks with dask. Nothing here knows about files, pandas or xarray.

The sufficient statistics of a (weighted) least-squares problem are kept in
:class:`LstsqStats`: the R factor of ``sqrt(w) * [X | y]``, plus a few O(p) sums used for
the intercept test and the total sum of squares. Two stats merge exactly
(:func:`merge_lstsq_stats`), whatever the order, so a fit is a tree reduction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import linalg as sla
from scipy.linalg.blas import dsyr, dsyrk
from scipy.linalg.lapack import dgeqrf, dgeqrf_lwork

_EPS = np.finfo(np.float64).eps


def qr_r(a: np.ndarray) -> np.ndarray:
    """Upper-triangular R factor of ``a`` (Householder QR), shape ``(min(m, n), n)``."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape[0] == 0:
        return np.zeros((0, a.shape[1]))
    return np.linalg.qr(a, mode="r")


def sub_rows(n_columns: int) -> int:
    """Rows per QR step inside a block: about 256 KiB, so the panel stays in L2 cache.

    Measured on 2.5M x 13: ~2000-row steps run the per-block QR ~2.5x faster than 50k-row
    ones, which spill the cache.
    """
    return max(2 * n_columns, 262144 // (8 * n_columns))


def fold_r(
    m: int, n: int, fill: Callable[[np.ndarray, int, int], None], r0: np.ndarray | None = None
) -> np.ndarray:
    """R factor (n x n) of an m x n matrix handed over panel by panel.

    ``fill(panel, a, b)`` writes rows ``a:b`` of the matrix, as float64, into ``panel``.
    With ``r0`` (the R factor of earlier rows) the result is the R of all of them: rows are
    folded into it directly, with no second factorization to merge.
    Each step factors ``[R; panel]`` in place with LAPACK's ``dgeqrf`` in one preallocated
    Fortran-order buffer: few calls, no copies, and the GIL held briefly, so two dask
    threads each folding a block run in parallel (about 2.6x faster than a loop of
    ``np.linalg.qr`` calls on two threads).
    """
    # a block shorter than the usual step gets a buffer its size: zero rows cost flops
    step = max(1, min(sub_rows(n), m))
    buf = np.zeros((n + step, n), order="F")
    if r0 is not None:
        buf[: r0.shape[0]] = r0[:n]
    # LAPACK's own optimal workspace: scipy's default (3n) forces a tiny block size, 4x
    # slower on wide panels (6003 x 2001: 3.98 s vs 0.97 s)
    work, info = dgeqrf_lwork(n + step, n)
    lwork = max(int(work), 1) if info == 0 else 3 * n
    for a in range(0, m, step):
        b = min(a + step, m)
        fill(buf[n : n + b - a], a, b)
        if b - a < step:  # zero rows do not change R
            buf[n + b - a :] = 0.0
        qr, _, _, info = dgeqrf(buf, lwork=lwork, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"dgeqrf failed with info={info}")
        if qr is not buf:  # f2py copies when it cannot overwrite; keep the factor either way
            buf[:] = qr
        buf[:n] = np.triu(buf[:n])
    return np.array(buf[:n], order="C")


def stack_r(rs: list[np.ndarray]) -> np.ndarray:
    """R factor of the row-stack of the matrices whose R factors are ``rs`` (TSQR merge)."""
    rs = [r for r in rs if r.shape[0]]
    if not rs:
        raise ValueError("no rows to merge")
    return qr_r(np.vstack(rs)) if len(rs) > 1 else rs[0]


def square_r(r: np.ndarray, n: int) -> np.ndarray:
    """Pad ``r`` with zero rows to ``(n, n)`` and make its diagonal non-negative.

    The sign convention makes R unique for a full-rank matrix, so the merged factor does
    not depend on how rows were split into blocks beyond rounding.
    """
    out = np.zeros((n, n))
    out[: r.shape[0]] = r[:n]
    signs = np.where(np.diag(out) < 0, -1.0, 1.0)
    return out * signs[:, None]


class LstsqStats(NamedTuple):
    """Mergeable sufficient statistics of a weighted least-squares fit.

    Attributes
    ----------
    nobs : int
        Rows seen.
    r : ndarray
        R factor of ``sqrt(w) * [X | y]``, at most ``(p + 1, p + 1)``.
    xw1 : ndarray
        ``X' w`` (length p): with R it decides whether a constant lies in span(X).
    sum_w : float
        Sum of the weights.
    mean_y : float
        Weighted mean of y.
    m2_y : float
        Weighted sum of squared deviations of y from ``mean_y`` (centred TSS).
    ss_y : float
        Weighted sum of y squared (uncentred TSS).
    sum_log_w : float
        Sum of the log weights (statsmodels' WLS log-likelihood needs it).
    """

    nobs: int
    r: np.ndarray
    xw1: np.ndarray
    sum_w: float
    mean_y: float
    m2_y: float
    ss_y: float
    sum_log_w: float


def lstsq_stats(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> LstsqStats:
    """Sufficient statistics of one block of rows.

    The R factor is folded over cache-sized steps (``R = qr([R; next rows])``), each step
    converting its rows to float64, so a block is never copied whole.

    Parameters
    ----------
    x : ndarray, shape (m, p)
    y : ndarray, shape (m,)
    w : ndarray, shape (m,), optional
        Non-negative weights; ``None`` means ones.
    """
    m, p = x.shape
    y = np.asarray(y).reshape(-1)
    wv = np.ones(m) if w is None else np.asarray(w, dtype=np.float64).reshape(-1)
    sw = None if w is None else np.sqrt(wv)
    xw1 = np.zeros(p)

    def fill(panel: np.ndarray, a: int, b: int) -> None:
        nonlocal xw1
        panel[:, :p] = x[a:b]  # converts this panel's rows only (a float16 block stays so)
        panel[:, p] = y[a:b]
        xw1 += wv[a:b] @ panel[:, :p]
        if sw is not None:
            panel *= sw[a:b, None]

    r = fold_r(m, p + 1, fill)
    yv = y.astype(np.float64, copy=False)
    sum_w = float(wv.sum())
    if m == 0 or sum_w == 0.0:
        mean_y, m2 = 0.0, 0.0
    else:
        mean_y = float(wv @ yv) / sum_w
        m2 = float(wv @ (yv - mean_y) ** 2)
    return LstsqStats(
        nobs=m,
        r=r,
        xw1=xw1,
        sum_w=sum_w,
        mean_y=mean_y,
        m2_y=m2,
        ss_y=float(wv @ (yv * yv)),
        sum_log_w=0.0 if w is None else _sum_log(wv),
    )


def merge_lstsq_stats(parts: list[LstsqStats]) -> LstsqStats:
    """Merge the statistics of disjoint row sets (exact; any order, any grouping)."""
    parts = [s for s in parts if s.nobs]
    if not parts:
        raise ValueError("no rows to merge")
    if len(parts) == 1:
        return parts[0]
    sum_w, mean, m2 = 0.0, 0.0, 0.0
    for s in parts:
        # Chan et al.'s pairwise update: no cancellation from sum(w y^2) - (sum w y)^2
        tot = sum_w + s.sum_w
        if tot > 0:
            delta = s.mean_y - mean
            m2 = m2 + s.m2_y + delta * delta * sum_w * s.sum_w / tot
            mean = mean + delta * s.sum_w / tot
        sum_w = tot
    return LstsqStats(
        nobs=sum(s.nobs for s in parts),
        r=stack_r([s.r for s in parts]),
        xw1=np.sum([s.xw1 for s in parts], axis=0),
        sum_w=sum_w,
        mean_y=mean,
        m2_y=m2,
        ss_y=float(sum(s.ss_y for s in parts)),
        sum_log_w=float(sum(s.sum_log_w for s in parts)),
    )


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


def solve_r(r: np.ndarray, p: int, nobs: int) -> LstsqSolution:
    """Least-squares solution from the R factor of ``[X | y]`` (never the normal equations).

    The rank is decided on the column-equilibrated R, which makes it invariant to column
    scaling. A full-rank problem is solved by back substitution on the equilibrated R; a
    rank-deficient one gets the minimum-norm solution (numpy's ``lstsq``), truncated to that
    rank.
    """
    rr = square_r(r, p + 1)
    rx, qty = rr[:p, :p], rr[:p, p]
    d = np.sqrt(np.einsum("ij,ij->j", rx, rx))
    d_safe = np.where(d > 0, d, 1.0)
    rs = rx / d_safe
    s_s = np.linalg.svd(rs, compute_uv=False)
    singular_values = np.linalg.svd(rx, compute_uv=False)
    tol = rank_tolerance(nobs, p)
    rank = int(np.sum(s_s > tol * s_s[0])) if s_s.size and s_s[0] > 0 else 0
    rank = rank if np.all(d > 0) else min(rank, int(np.sum(d > 0)))
    if rank == p:
        # back substitution, not inv(R) @ qty: a digit more on NIST's Wampler sets
        params = sla.solve_triangular(rs, qty, check_finite=False) / d_safe
        rs_inv = sla.solve_triangular(rs, np.eye(p), check_finite=False)
        normalized_cov = (rs_inv @ rs_inv.T) / np.outer(d_safe, d_safe)
    else:
        u, s, vt = np.linalg.svd(rx)
        ur, sr, vr = u[:, :rank], s[:rank], vt[:rank].T
        params = vr @ ((ur.T @ qty) / sr)
        normalized_cov = (vr / sr**2) @ vr.T
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
    fitted = np.linalg.norm(rr[:p, :p] @ sol.params)
    tan_theta = np.sqrt(sol.ssr) / fitted if fitted > 0 else np.inf
    err = _EPS * (sol.cond + sol.cond**2 * tan_theta)
    return bool(err > 10.0 ** (-REFINE_BELOW_DIGITS))


def residual_gradient(
    x: np.ndarray, y: np.ndarray, beta: np.ndarray, w: np.ndarray | None = None
) -> np.ndarray:
    """``X' W (y - X beta)`` of one block, accumulated in extended precision.

    The residual of an almost-right beta is mostly cancellation; long double (64-bit
    mantissa on x86) keeps the digits the refinement step needs.
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


#: passes of :func:`refine` at most; each is one more read of the data
MAX_REFINE_STEPS = 3


def refine(sol: LstsqSolution, r: np.ndarray, gradient: np.ndarray) -> tuple[LstsqSolution, bool]:
    """One step of corrected seminormal equations (Bjorck): ``R'R delta = X'W(y - X beta)``.

    ``R`` comes from the QR, never from ``X'X``; with the gradient summed in extended
    precision the step removes the ``kappa^2 tan(theta)`` part of the error.
    """
    p = sol.params.size
    rx = square_r(r, p + 1)[:p, :p]
    d = np.sqrt(np.einsum("ij,ij->j", rx, rx))
    rs = rx / d
    z = sla.solve_triangular(rs, np.asarray(gradient, dtype=np.float64) / d, trans="T")
    delta = sla.solve_triangular(rs, z) / d
    return sol._replace(params=sol.params + delta)


def dependencies(r: np.ndarray, p: int, rank: int, rtol: float = 1e-8) -> list[list[int]]:
    """Which columns are linearly dependent, one group per column beyond the rank.

    A column-pivoted QR of the equilibrated R keeps ``rank`` columns; each other column is
    written as a combination of the kept ones, and its group lists the kept columns with a
    coefficient above ``rtol`` (relative, in equilibrated units) and then itself. An
    all-zero column makes a group of one.
    """
    rx = square_r(r, p + 1)[:p, :p]
    d = np.sqrt(np.einsum("ij,ij->j", rx, rx))
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


def has_constant(stats: LstsqStats, rtol: float = 1e-8) -> bool:
    """Whether a constant column lies in span(X), as statsmodels' ``k_constant`` decides.

    With ``X = Q R``, the squared norm of the projection of ``sqrt(w)`` onto span(X) is
    ``||z||^2`` for the minimum-norm ``z`` with ``R' z = X' w``; a constant lies in the span
    when that leaves nothing of ``sum(w)``. An explicit intercept and an implicit one (full
    dummy coding of a factor) both qualify.
    """
    p = stats.xw1.size
    if stats.sum_w <= 0 or p == 0:
        return False
    rx = square_r(stats.r, p + 1)[:p, :p]
    z = np.linalg.lstsq(rx.T, stats.xw1, rcond=rank_tolerance(stats.nobs, p))[0]
    return stats.sum_w - float(z @ z) <= rtol * stats.sum_w


def _sum_log(w: np.ndarray) -> float:
    with np.errstate(divide="ignore"):  # a zero weight gives -inf, as statsmodels' llf
        return float(np.sum(np.log(w)))


# -- PCA and SVD ------------------------------------------------------------------------------


def centred_r(x: np.ndarray, r0: np.ndarray | None = None) -> np.ndarray:
    """R factor of ``[1 | x]`` for one block: its trailing block is the R of the centred rows.

    With ``[1 | X] = Q R``, ``R[0, 0] = sqrt(n)``, ``R[0, 1:] = sqrt(n) mean`` and
    ``R[1:, 1:]`` is the R factor of ``X - mean``: an exact PCA in one pass, with no
    cancellation, whatever the block sizes.
    """
    m, p = x.shape

    def fill(panel: np.ndarray, a: int, b: int) -> None:
        panel[:, 0] = 1.0
        panel[:, 1:] = x[a:b]

    return fold_r(m, p + 1, fill, r0)


def data_r(x: np.ndarray, shift: np.ndarray | None = None, basis: np.ndarray | None = None):
    """R factor of ``(x - shift) @ basis`` (either optional) for one block."""
    m = x.shape[0]
    n = basis.shape[1] if basis is not None else x.shape[1]

    def fill(panel: np.ndarray, a: int, b: int) -> None:
        rows = np.asarray(x[a:b], dtype=np.float64)
        if shift is not None:
            rows = rows - shift
        panel[:] = rows @ basis if basis is not None else rows

    return fold_r(m, n, fill)


def split_centred_r(r: np.ndarray, p: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n_hat, mean, R_c)`` from the R factor of ``[1 | X]`` (signs normalized)."""
    rr = square_r(r, p + 1)
    r11 = rr[0, 0]
    mean = rr[0, 1:] / r11 if r11 > 0 else np.zeros(p)
    return r11, mean, rr[1:, 1:]


class CovStats(NamedTuple):
    """Mergeable sums for a covariance PCA, about a fixed ``shift`` (near the mean).

    ``c = sum (x - shift)(x - shift)'`` and ``s = sum (x - shift)``: the centred scatter is
    ``c - s s' / n``, with cancellation only as large as ``mean - shift``, which is small
    when the shift is the first block's mean.
    """

    nobs: int
    shift: np.ndarray
    s: np.ndarray
    c: np.ndarray  # upper triangle valid, Fortran order for in-place BLAS updates


def cov_panel_rows(p: int) -> int:
    """Rows converted to float64 at a time for the covariance: about 32 MiB."""
    return int(max(64, min(4096, 32 * 2**20 // (8 * max(p, 1)))))


def cov_stats(x: np.ndarray, shift: np.ndarray, into: CovStats | None = None) -> CovStats:
    """Fold one block into (a copy-free update of) :class:`CovStats` with BLAS ``dsyrk``.

    Rows are converted to float64 one panel at a time, so a float16 block is never copied
    whole; ``into`` is updated in place (its ``c`` buffer) and returned renewed.
    """
    m, p = x.shape
    c = into.c if into is not None else np.zeros((p, p), order="F")
    s = into.s.copy() if into is not None else np.zeros(p)
    step = min(cov_panel_rows(p), max(m, 1))
    buf = np.empty((step, p))  # one panel buffer per block: no fresh pages per panel
    for a in range(0, m, step):
        panel = buf[: min(step, m - a)]
        # converted and shifted in one pass (the ufunc casts float16/32 as it reads)
        np.subtract(x[a : a + step], shift, out=panel)
        s += panel.sum(axis=0)
        # panel.T is Fortran-ordered: C += panel' panel without a copy
        c = dsyrk(1.0, panel.T, beta=1.0, c=c, trans=0, overwrite_c=1)
    nobs = m + (into.nobs if into is not None else 0)
    return CovStats(nobs=nobs, shift=shift, s=s, c=c)


def merge_cov_stats(parts: list[CovStats]) -> CovStats:
    """Sum the statistics of disjoint row sets taken about the same shift."""
    parts = [q for q in parts if q.nobs]
    if not parts:
        raise ValueError("no rows to merge")
    c = np.asfortranarray(np.sum([q.c for q in parts], axis=0))
    return CovStats(
        sum(q.nobs for q in parts), parts[0].shift, np.sum([q.s for q in parts], axis=0), c
    )


def cov_scatter(stats: CovStats) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, centred scatter)`` from :class:`CovStats`; only the UPPER triangle is valid.

    One copy of the p x p sums, corrected in place by a BLAS rank-1 update (``dsyr``):
    at p = 3504 each p x p temporary is 98 MB, so symmetrizing or forming an outer product
    would cost several of them. Use with ``eigh(..., lower=False)``.
    """
    n = stats.nobs
    d = stats.s / n
    c = np.array(stats.c, order="F", copy=True)
    c = dsyr(-float(n), d, a=c, lower=0, overwrite_a=1)
    return stats.shift + d, c


def svd_flip_rows(vt: np.ndarray) -> np.ndarray:
    """``vt`` with each row's sign set so its largest-magnitude entry is positive.

    The sign of a singular vector is arbitrary; fixing it this way makes components
    independent of the row order and blocking of the data.
    """
    idx = np.argmax(np.abs(vt), axis=1)
    signs = np.sign(vt[np.arange(vt.shape[0]), idx])
    signs[signs == 0] = 1.0
    return vt * signs[:, None]
