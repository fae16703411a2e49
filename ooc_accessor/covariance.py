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
from .scaling import ZERO_EXP, column_max_abs, scale_exponents

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


def _feature_exponents(x: np.ndarray) -> np.ndarray:
    e = scale_exponents(column_max_abs(x))
    return np.where(e == ZERO_EXP, 0, e)


def cov_stats(x: np.ndarray, shift: np.ndarray, into: CovStats | None = None) -> CovStats:
    """Fold one block into (a copy-free update of) :class:`CovStats` with BLAS ``dsyrk``.

    Rows are converted to float64 one panel at a time, so a float16 block is never copied
    whole; ``into`` is updated in place (its ``c`` buffer) and returned renewed. A first
    block sets the features' power-of-two scales from its largest magnitudes.
    """
    m, p = x.shape
    c = into.c if into is not None else np.zeros((p, p), order="F")
    s = into.s.copy() if into is not None else np.zeros(p)
    exp = np.broadcast_to(into.exp, (p,)) if into is not None else _feature_exponents(x)
    scaled = bool(np.any(exp))
    step = min(cov_panel_rows(p), max(m, 1))
    buf = np.empty((step, p))  # one panel buffer per block: no fresh pages per panel
    for a in range(0, m, step):
        panel = buf[: min(step, m - a)]
        # converted and shifted in one pass (the ufunc casts float16/32 as it reads)
        np.subtract(x[a : a + step], shift, out=panel)
        if scaled:
            np.ldexp(panel, -exp, out=panel)
        s += panel.sum(axis=0)
        # panel.T is Fortran-ordered: C += panel' panel without a copy
        c = dsyrk(1.0, panel.T, beta=1.0, c=c, trans=0, overwrite_c=1)
    nobs = m + (into.nobs if into is not None else 0)
    return CovStats(nobs=nobs, shift=shift, s=s, c=c, exp=np.array(exp))


def merge_cov_stats(parts: list[CovStats]) -> CovStats:
    """Sum the statistics of disjoint row sets taken about the same shift (rescaled, by
    powers of two, to the largest scale of any part, feature by feature)."""
    parts = [q for q in parts if q.nobs]
    if not parts:
        raise DataError("no rows to merge")
    p = parts[0].s.size
    exps = [np.broadcast_to(q.exp, (p,)) for q in parts]
    exp = np.max(exps, axis=0)
    c = np.asfortranarray(
        np.sum(
            [
                np.ldexp(q.c, (e - exp)[:, None] + (e - exp)[None, :])
                for q, e in zip(parts, exps, strict=True)
            ],
            axis=0,
        )
    )
    s = np.sum([np.ldexp(q.s, e - exp) for q, e in zip(parts, exps, strict=True)], axis=0)
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
    return stats.shift + np.ldexp(d, exp), c, np.array(exp)


def common_scale(c: np.ndarray, exp: np.ndarray) -> tuple[np.ndarray, int]:
    """``(c * 2**(exp[i] + exp[j] - 2 top), top)``: a per-feature-scaled scatter at one
    scale (``top``, the largest exponent), in place when no rescaling is needed. Entries
    far below the largest underflow, within the absolute accuracy of an eigensolver."""
    top = int(np.max(exp, initial=0))
    d = np.asarray(exp) - top
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
