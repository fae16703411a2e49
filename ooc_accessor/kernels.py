"""Block kernels: numpy arrays in, numpy arrays out.

These are the numerical building blocks; :mod:`ooc_accessor.reduce` maps them over
stored blocks with dask. Nothing here knows about files, pandas or xarray. Solving a fit
from its statistics is :mod:`ooc_accessor.solve`; the covariance PCA's sums are
:mod:`ooc_accessor.covariance` (re-exported here).

The sufficient statistics of a (weighted) least-squares problem are kept in
:class:`LstsqStats`: the R factor of ``sqrt(w) * [X | y | 1]``, plus a few O(1) sums for
the total sums of squares, all scaled by powers of two. Two stats merge exactly
(:func:`merge_lstsq_stats`), whatever the order, so a fit is a tree reduction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from scipy.linalg.lapack import dgeqrf, dgeqrf_lwork, dormqr

from .covariance import (  # noqa: F401 - re-exported: the covariance PCA's kernels
    CovStats,
    common_scale,
    cov_panel_rows,
    cov_scatter,
    cov_scatter_scaled,
    cov_stats,
    merge_cov_stats,
)
from .errors import DataError
from .scaling import ZERO_EXP, column_max_abs, safe_norms, scale_exponents


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
    m: int,
    n: int,
    fill: Callable[[np.ndarray, int, int], None],
    r0: np.ndarray | None = None,
    rows: int | None = None,
    extra: Callable[[np.ndarray, int, int], None] | None = None,
) -> Any:
    """R factor (n x n) of an m x n matrix handed over panel by panel.

    ``fill(panel, a, b)`` writes rows ``a:b`` of the matrix, as float64, into ``panel``.
    ``rows`` overrides the rows per step (:func:`sub_rows`). ``extra(column, a, b)``, if
    given, writes rows ``a:b`` of one more column, transformed by the same reflectors
    (``dormqr``) without taking part in them: the result is then ``(R, z, rho)``, with
    ``[[R, z], [0, rho]]`` the R factor of the matrix with that column appended and R
    exactly the one without it. With ``r0`` (the R factor of
    earlier rows) the result is the R of all of them: rows are
    folded into it directly, with no second factorization to merge.
    Each step factors ``[R; panel]`` in place with LAPACK's ``dgeqrf`` in one preallocated
    Fortran-order buffer: few calls, no copies, and the GIL held briefly, so two dask
    threads each folding a block run in parallel (about 2.6x faster than a loop of
    ``np.linalg.qr`` calls on two threads).
    """
    # a block shorter than the usual step gets a buffer its size: zero rows cost flops
    step = max(1, min(sub_rows(n) if rows is None else rows, m))
    buf = np.zeros((n + step, n), order="F")
    if r0 is not None:
        buf[: r0.shape[0]] = r0[:n]
    # LAPACK's own optimal workspace: scipy's default (3n) forces a tiny block size, 4x
    # slower on wide panels (6003 x 2001: 3.98 s vs 0.97 s)
    work, info = dgeqrf_lwork(n + step, n)
    lwork = max(int(work), 1) if info == 0 else 3 * n
    col = np.zeros((n + step, 1), order="F")
    rho = 0.0
    for a in range(0, m, step):
        b = min(a + step, m)
        fill(buf[n : n + b - a], a, b)
        if b - a < step:  # zero rows do not change R
            buf[n + b - a :] = 0.0
        qr, tau, _, info = dgeqrf(buf, lwork=lwork, overwrite_a=1)
        if info != 0:
            raise DataError(f"LAPACK dgeqrf failed with info={info}")
        if qr is not buf:  # f2py copies when it cannot overwrite; keep the factor either way
            buf[:] = qr
        if extra is not None:
            col[n:] = 0.0
            extra(col[n : n + b - a, 0], a, b)
            col, _, info = dormqr("L", "T", buf, tau, col, lwork=64, overwrite_c=1)
            if info != 0:
                raise DataError(f"LAPACK dormqr failed with info={info}")
            rest = col[n:, 0]
            rho = float(np.hypot(rho, np.sqrt(rest @ rest)))
        buf[:n] = np.triu(buf[:n])
    r = np.array(buf[:n], order="C")
    return r if extra is None else (r, col[:n, 0].copy(), rho)


def _stack_with_column(rs: list[np.ndarray]) -> np.ndarray:
    """:func:`stack_r` of R factors ``[[R, z], [0, rho]]`` whose last column rides along:
    the merged R of the leading columns is exactly :func:`stack_r`'s (same reflectors, the
    last column transformed by them), so a merge gives the digits it gave without it."""
    n = rs[0].shape[0] - 1
    if len(rs) == 1:
        return rs[0]
    h, tau = np.linalg.qr(np.vstack([r[:n, :n] for r in rs]), mode="raw")
    a = h.T  # LAPACK's layout: reflector j below the diagonal of column j
    c = np.concatenate([r[:n, n] for r in rs])
    for j in range(min(a.shape)):
        v = np.concatenate([[1.0], a[j + 1 :, j]])
        c[j:] -= tau[j] * v * (v @ c[j:])
    out = np.zeros((n + 1, n + 1))
    out[:n, :n] = np.triu(a[:n])
    out[:n, n] = c[:n]
    tail = np.concatenate([c[n:], [r[n, n] for r in rs]])
    out[n, n] = float(safe_norms(tail[:, None])[0])
    return out


def stack_r(rs: list[np.ndarray]) -> np.ndarray:
    """R factor of the row-stack of the matrices whose R factors are ``rs`` (TSQR merge)."""
    rs = [r for r in rs if r.shape[0]]
    if not rs:
        raise DataError("no rows to merge")
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
    """Mergeable sufficient statistics of a weighted least-squares fit, scaled.

    Every column of ``[X | y]`` is stored multiplied by ``2**-exp[j]`` and the weights by
    ``2**-w_exp``, with the exponents chosen so the largest magnitude is about 1: squares
    and sums of values near float64's limits (1e200, 1e-300, subnormals) then neither
    overflow nor underflow, and since the factors are powers of two the digits are those of
    the raw data. Results are solved on the scaled problem and scaled back at the end
    (:class:`~ooc_accessor.results.LstsqResult`), where a value float64 cannot hold raises.

    Attributes
    ----------
    nobs : int
        Rows seen.
    r : ndarray
        R factor of ``sqrt(w) * [X | y | 1]`` (scaled), ``(p + 2, p + 2)``: its leading
        block (:meth:`xy_r`) is the R factor of ``sqrt(w) [X | y]`` the fit uses, and
        :meth:`x1_r` gives that of ``sqrt(w) [X | 1]`` for the constant test
        (:func:`~ooc_accessor.solve.has_constant`).
    exp : ndarray of int
        Power-of-two exponents of the columns of ``[X | y]`` (length p + 1).
    w_exp : int
        Power-of-two exponent of the weights (even, so ``sqrt(w)`` scales exactly).
    sum_w : float
        Sum of the (scaled) weights.
    mean_y : float
        Weighted mean of the scaled y.
    m2_y : float
        Weighted sum of squared deviations of the scaled y from ``mean_y`` (centred TSS).
    ss_y : float
        Weighted sum of the scaled y squared (uncentred TSS).
    sum_log_w : float
        Sum of the log of the raw weights (statsmodels' WLS log-likelihood needs it).
    """

    nobs: int
    r: np.ndarray
    exp: np.ndarray
    w_exp: int
    sum_w: float
    mean_y: float
    m2_y: float
    ss_y: float
    sum_log_w: float

    def xy_r(self) -> np.ndarray:
        """R factor of ``sqrt(w) [X | y]`` (scaled): the leading block of :attr:`r`."""
        p = self.exp.size - 1
        return square_r(self.r, p + 2)[: p + 1, : p + 1]

    def x1_r(self) -> np.ndarray:
        """R factor of ``sqrt(w) [X | 1]`` (scaled), from that of ``sqrt(w) [X | y | 1]``.

        Dropping y's column leaves two nonzero rows under the constant's column; one
        rotation (their ``hypot``) makes it triangular again, exactly as a QR would.
        """
        p = self.exp.size - 1
        rr = square_r(self.r, p + 2)
        out = np.zeros((p + 1, p + 1))
        out[:p, :p] = rr[:p, :p]
        out[:p, p] = rr[:p, p + 1]
        out[p, p] = np.hypot(rr[p, p + 1], rr[p + 1, p + 1])
        return out


def _weight_exponent(w: np.ndarray) -> int:
    """An even power-of-two exponent for the weights: ``sqrt(w * 2**-e)`` stays exact."""
    e = int(scale_exponents(np.max(w, initial=0.0)))
    return e if e == ZERO_EXP or e % 2 == 0 else e + 1


def lstsq_stats(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> LstsqStats:
    """Sufficient statistics of one block of rows.

    The R factor is folded over cache-sized steps (``R = qr([R; next rows])``), each step
    converting its rows to float64 (and scaling them by powers of two), so a block is never
    copied whole.

    Parameters
    ----------
    x : ndarray, shape (m, p)
    y : ndarray, shape (m,)
    w : ndarray, shape (m,), optional
        Non-negative weights; ``None`` means ones.
    """
    m, p = x.shape
    y = np.asarray(y).reshape(-1)
    exp = scale_exponents(np.append(column_max_abs(x), column_max_abs(y[:, None])))
    shift = -np.where(exp == ZERO_EXP, 0, exp)
    # a column's scale factor; the constant's column (index p) is left as it is
    col = shift  # as exponents: 2.0**1030 itself would overflow
    if w is None:
        w_exp, ws = 0, np.ones(m)
    else:
        wv = np.asarray(w, dtype=np.float64).reshape(-1)
        w_exp = _weight_exponent(wv)
        ws = np.ldexp(wv, 0 if w_exp == ZERO_EXP else -w_exp)
    sw = None if w is None else np.sqrt(ws)

    def fill(panel: np.ndarray, a: int, b: int) -> None:
        panel[:, :p] = x[a:b]  # converts this panel's rows only (a float16 block stays so)
        panel[:, p] = y[a:b]
        if col.any():
            np.ldexp(panel, col, out=panel)
        if sw is not None:
            panel *= sw[a:b, None]

    def ones(column: np.ndarray, a: int, b: int) -> None:
        column[:] = 1.0 if sw is None else sw[a:b]

    # the constant's column rides along (same reflectors): R of [X | y] is bitwise the one
    # a fold of [X | y] alone gives, so NIST's digits do not move
    rxy, z, rho = fold_r(m, p + 1, fill, extra=ones)
    r = np.zeros((p + 2, p + 2))
    r[: p + 1, : p + 1], r[: p + 1, p + 1], r[p + 1, p + 1] = rxy, z, rho
    ys = np.ldexp(y.astype(np.float64, copy=False), shift[p])
    sum_w = float(ws.sum())
    if m == 0 or sum_w == 0.0:
        mean_y, m2 = 0.0, 0.0
    else:
        mean_y = float(ws @ ys) / sum_w
        m2 = float(ws @ (ys - mean_y) ** 2)
    return LstsqStats(
        nobs=m,
        r=r,
        exp=exp,
        w_exp=w_exp,
        sum_w=sum_w,
        mean_y=mean_y,
        m2_y=m2,
        ss_y=float(ws @ (ys * ys)),
        sum_log_w=0.0 if w is None else _sum_log(wv),
    )


def merge_lstsq_stats(parts: list[LstsqStats]) -> LstsqStats:
    """Merge the statistics of disjoint row sets (exact; any order, any grouping).

    Each part is rescaled (by powers of two, at most 1) to the largest exponent of any
    part, so the merged statistics are those a single block would have given.
    """
    parts = [s for s in parts if s.nobs]
    if not parts:
        raise DataError("no rows to merge")
    if len(parts) == 1:
        return parts[0]
    exp = np.max([s.exp for s in parts], axis=0)
    w_exp = max(s.w_exp for s in parts)
    p = exp.size - 1
    sum_w, mean, m2, ss, rs = 0.0, 0.0, 0.0, 0.0, []
    for s in parts:
        dx = s.exp - exp  # <= 0
        dw = s.w_exp - w_exp  # even, <= 0
        rs.append(np.ldexp(s.r, np.append(dx, 0) + dw // 2))
        sw_i = np.ldexp(s.sum_w, dw)
        mean_i = np.ldexp(s.mean_y, dx[p])
        m2_i = np.ldexp(s.m2_y, dw + 2 * dx[p])
        ss += np.ldexp(s.ss_y, dw + 2 * dx[p])
        # Chan et al.'s pairwise update: no cancellation from sum(w y^2) - (sum w y)^2
        tot = sum_w + sw_i
        if tot > 0:
            delta = mean_i - mean
            m2 = m2 + m2_i + delta * delta * sum_w * sw_i / tot
            mean = mean + delta * sw_i / tot
        sum_w = tot
    return LstsqStats(
        nobs=sum(s.nobs for s in parts),
        r=_stack_with_column(rs),
        exp=exp,
        w_exp=w_exp,
        sum_w=float(sum_w),
        mean_y=float(mean),
        m2_y=float(m2),
        ss_y=float(ss),
        sum_log_w=float(sum(s.sum_log_w for s in parts)),
    )


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
    _check_qr_range(x, r0, p + 1)

    def fill(panel: np.ndarray, a: int, b: int) -> None:
        panel[:, 0] = 1.0
        panel[:, 1:] = x[a:b]

    return fold_r(m, p + 1, fill, r0)


def _check_qr_range(x: np.ndarray, r0: np.ndarray | None, n: int) -> None:
    """Refuse a block whose Householder products would overflow (garbage, not inf, comes
    out of LAPACK then): they sum up to a panel's rows of |x| and R's rows."""
    amax = column_max_abs(x)
    big = float(np.max(amax, initial=0.0))
    if r0 is not None and r0.size:
        big = max(big, float(np.max(np.abs(r0))))
    rows = min(sub_rows(n), max(x.shape[0], 1)) + n + 1
    if big * rows > np.finfo(np.float64).max / 4:
        j = int(np.argmax(amax)) if amax.size else 0
        raise DataError(
            f"feature {j} (counting from 0) has values of about {big:.0e}: the full "
            f"solver's QR sums up to {rows} of them, beyond float64's 1.8e308; rescale the "
            "data (multiply it by a power of ten), or use svd_solver='covariance_eigh', "
            "which scales each feature"
        )


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


def scaled_data_r(x: np.ndarray) -> tuple[int, np.ndarray]:
    """``(e, R)`` with ``R`` the R factor of ``x * 2**-e`` for one block (the SVD's TSQR).

    One power of two for the whole block (so the singular vectors are those of ``x``),
    chosen from its largest magnitude when that is beyond 2**200 or below 2**-200: an R of
    data near float64's limits neither overflows nor loses digits to subnormals.
    """
    m, n = x.shape
    e = int(scale_exponents(np.max(column_max_abs(x), initial=0.0)))
    e = 0 if e == ZERO_EXP else e

    def fill(panel: np.ndarray, a: int, b: int) -> None:
        panel[:] = x[a:b]
        if e:
            np.ldexp(panel, -e, out=panel)

    return e, fold_r(m, n, fill)


def merge_scaled_r(parts: list[tuple[int, np.ndarray]]) -> tuple[int, np.ndarray]:
    """Merge :func:`scaled_data_r` results of disjoint row sets, at the largest scale."""
    parts = [(e, r) for e, r in parts if r.shape[0]]
    if not parts:
        raise DataError("no rows to merge")
    e = max(q for q, _ in parts)
    return e, stack_r([np.ldexp(r, q - e) for q, r in parts])


def split_centred_r(r: np.ndarray, p: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n_hat, mean, R_c)`` from the R factor of ``[1 | X]`` (signs normalized)."""
    rr = square_r(r, p + 1)
    r11 = rr[0, 0]
    mean = rr[0, 1:] / r11 if r11 > 0 else np.zeros(p)
    return r11, mean, rr[1:, 1:]


def svd_flip_rows(vt: np.ndarray) -> np.ndarray:
    """``vt`` with each row's sign set so its largest-magnitude entry is positive.

    The sign of a singular vector is arbitrary; fixing it this way makes components
    independent of the row order and blocking of the data.
    """
    idx = np.argmax(np.abs(vt), axis=1)
    signs = np.sign(vt[np.arange(vt.shape[0]), idx])
    signs[signs == 0] = 1.0
    return vt * signs[:, None]
