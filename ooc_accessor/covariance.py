"""Covariance kernels of the PCA's ``covariance_eigh`` solver: mergeable sums, the scatter.

Numpy arrays in, numpy arrays out (re-exported by :mod:`ooc_accessor.kernels`). Each
feature is scaled by a power of two when its magnitude is beyond 2**200 or below 2**-200,
so the sums of squares of data near float64's limits neither overflow nor underflow.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg.blas import dsyr, dsyrk

from .errors import DataError
from .scaling import ZERO_EXP, scale_exponents

__all__ = [
    "CovStats",
    "common_scale",
    "cov_panel_rows",
    "cov_scatter",
    "cov_scatter_scaled",
    "cov_stats",
    "merge_cov_stats",
]


class CovStats(NamedTuple):
    """Mergeable sums for a covariance PCA, about a fixed ``shift`` (near the mean).

    ``c = sum (x - shift)(x - shift)'`` and ``s = sum (x - shift)``: the centred scatter is
    ``c - s s' / n``, with cancellation only as large as ``mean - shift``, which is small
    when the shift is the first block's mean. Both are kept for ``(x - shift) * 2**-exp``
    (``exp`` per feature, 0 unless the feature's magnitude is beyond 2**200 or below
    2**-200), so squares of data near float64's limits neither overflow nor underflow.
    """

    nobs: int
    shift: np.ndarray
    s: np.ndarray
    c: np.ndarray  # upper triangle valid, Fortran order for in-place BLAS updates
    exp: np.ndarray | int = 0


def cov_panel_rows(p: int) -> int:
    """Rows converted to float64 at a time for the covariance: about 32 MiB."""
    return int(max(64, min(4096, 32 * 2**20 // (8 * max(p, 1)))))


def _spread_exponents(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Per feature, the power-of-two scale of ``max |x - shift|`` in this block (0 within
    2**+-200, ``ZERO_EXP`` for no spread), from the column max and min: no copy of ``x``."""
    if x.shape[0] == 0:
        return np.full(x.shape[1], ZERO_EXP)
    hi = np.asarray(x.max(axis=0), dtype=np.float64)
    lo = np.asarray(x.min(axis=0), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.maximum(hi - shift, shift - lo)
    return scale_exponents(np.where(np.isfinite(spread), spread, np.finfo(np.float64).max))


def _rescaled(c: np.ndarray, s: np.ndarray, old: np.ndarray, new: np.ndarray):
    """``c`` and ``s`` taken from scales ``old`` to ``new`` (``new >= old``: exact, or a
    harmless underflow of contributions far below the new ones)."""
    d = old - new
    if not np.any(d):
        return c, s
    d = np.maximum(d, ZERO_EXP)  # an unset scale (ZERO_EXP) held only zeros
    with np.errstate(under="ignore"):
        return np.asfortranarray(np.ldexp(c, d[:, None] + d[None, :])), np.ldexp(s, d)


def cov_stats(x: np.ndarray, shift: np.ndarray, into: CovStats | None = None) -> CovStats:
    """Fold one block into (a copy-free update of) :class:`CovStats` with BLAS ``dsyrk``.

    Rows are converted to float64 one panel at a time, so a float16 block is never copied
    whole; ``into`` is updated in place (its ``c`` buffer) and returned renewed. Each
    feature's power-of-two scale follows the largest ``|x - shift|`` seen so far (the
    spread, not the magnitude: data of 1e307 varying by 1e140 has a representable
    variance); a block that raises it rescales the sums so far first.
    """
    m, p = x.shape
    c = into.c if into is not None else np.zeros((p, p), order="F")
    s = into.s.copy() if into is not None else np.zeros(p)
    old = np.broadcast_to(into.exp, (p,)) if into is not None else np.full(p, ZERO_EXP)
    exp = np.maximum(old, _spread_exponents(x, shift))
    c, s = _rescaled(c, s, old, exp)
    use = np.where(exp == ZERO_EXP, 0, exp)  # no spread: the panel's column is all zeros
    scaled = bool(np.any(use))
    step = min(cov_panel_rows(p), max(m, 1))
    buf = np.empty((step, p))  # one panel buffer per block: no fresh pages per panel
    with np.errstate(over="ignore", invalid="ignore"):  # data beyond 1.8e308 - shift: inf,
        for a in range(0, m, step):  # which the PCA's checks name
            panel = buf[: min(step, m - a)]
            # converted and shifted in one pass (the ufunc casts float16/32 as it reads)
            np.subtract(x[a : a + step], shift, out=panel)
            if scaled:
                np.ldexp(panel, -use, out=panel)
            s += panel.sum(axis=0)
            # panel.T is Fortran-ordered: C += panel' panel without a copy
            c = dsyrk(1.0, panel.T, beta=1.0, c=c, trans=0, overwrite_c=1)
    nobs = m + (into.nobs if into is not None else 0)
    return CovStats(nobs=nobs, shift=shift, s=s, c=c, exp=exp)


def merge_cov_stats(parts: list[CovStats]) -> CovStats:
    """Sum the statistics of disjoint row sets taken about the same shift (rescaled, by
    powers of two, to the largest scale of any part, feature by feature)."""
    parts = [q for q in parts if q.nobs]
    if not parts:
        raise DataError("no rows to merge")
    p = parts[0].s.size
    exps = [np.broadcast_to(q.exp, (p,)) for q in parts]
    exp = np.max(exps, axis=0)
    scaled = [_rescaled(q.c, q.s, e, exp) for q, e in zip(parts, exps, strict=True)]
    c = np.asfortranarray(np.sum([q[0] for q in scaled], axis=0))
    s = np.sum([q[1] for q in scaled], axis=0)
    return CovStats(sum(q.nobs for q in parts), parts[0].shift, s, c, exp)


def cov_scatter_scaled(stats: CovStats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, scaled centred scatter, exp)`` from :class:`CovStats`: entry ``(i, j)`` of
    the scatter is the returned one times ``2**(exp[i] + exp[j])``. Only the UPPER triangle
    is valid.

    One copy of the p x p sums, corrected in place by a BLAS rank-1 update (``dsyr``):
    at p = 3504 each p x p temporary is 98 MB, so symmetrizing or forming an outer product
    would cost several of them. Use with ``eigh(..., lower=False)``.
    """
    n = stats.nobs
    exp = np.broadcast_to(stats.exp, stats.s.shape)
    d = stats.s / n
    c = np.array(stats.c, order="F", copy=True)
    c = dsyr(-float(n), d, a=c, lower=0, overwrite_a=1)
    return stats.shift + np.ldexp(d, np.where(exp == ZERO_EXP, 0, exp)), c, np.array(exp)


def common_scale(c: np.ndarray, exp: np.ndarray) -> tuple[np.ndarray, int]:
    """``(c * 2**(exp[i] + exp[j] - 2 top), top)``: a per-feature-scaled scatter at one
    scale (``top``, the largest exponent), in place when no rescaling is needed. Entries
    far below the largest underflow, within the absolute accuracy of an eigensolver."""
    exp = np.asarray(exp)
    set_ = exp[exp != ZERO_EXP]
    top = int(np.max(set_)) if set_.size else 0
    d = np.maximum(exp - top, ZERO_EXP)
    if np.any(d):
        with np.errstate(under="ignore"):
            c = np.asfortranarray(np.ldexp(c, d[:, None] + d[None, :]))
    return c, top


def cov_scatter(stats: CovStats) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, centred scatter)`` from :class:`CovStats` (upper triangle; it overflows
    where the scatter does: :func:`cov_scatter_scaled` keeps the scales apart)."""
    mean, c, exp = cov_scatter_scaled(stats)
    c, top = common_scale(c, exp)
    return mean, np.ldexp(c, 2 * top) if top else c
