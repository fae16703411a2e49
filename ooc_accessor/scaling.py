"""Scaling by powers of two, so values near float64's limits can be squared and summed.

Multiplying by a power of two is exact, so a column scaled by ``2**-e`` has the digits of
the raw one but squares and sums of it neither overflow nor underflow: the scaling
LAPACK's safe norms (``dnrm2``) do. Results are scaled back at the end, where
:func:`exact_scale` refuses, with a :class:`~ooc_accessor.errors.DataError` naming the
value, what float64 cannot hold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DataError

#: exponent standing for an all-zero column or weight: below every float64 (2**-1074), so
#: rescaling by it leaves zeros and it never wins a merge's maximum
ZERO_EXP = -1100


def pow2_exponents(amax: np.ndarray) -> np.ndarray:
    """Per-entry ``e`` with ``amax * 2**-e`` in [0.5, 1) (``ZERO_EXP`` for zeros).

    Multiplying by a power of two is exact, so a column scaled by ``2**-e`` gives the same
    digits as the raw one but can be squared and summed without overflow or underflow:
    the scaling LAPACK's safe norms (``dnrm2``) do, once per column instead of per sum.
    """
    amax = np.asarray(amax, dtype=np.float64)
    e = np.frexp(np.where(np.isfinite(amax), amax, 0.0))[1].astype(np.int64)
    return np.where(amax > 0, e, ZERO_EXP)


#: columns (and weights) whose largest magnitude lies within 2**-SAFE_EXP .. 2**SAFE_EXP are
#: left unscaled: weighted squares and sums of them stay far from float64's limits, and
#: ordinary data keeps exactly the arithmetic (and digits) it had before scaling existed
SAFE_EXP = 200


def scale_exponents(amax: np.ndarray) -> np.ndarray:
    """The exponents :class:`LstsqStats` scales by: 0 in the safe range, else
    :func:`pow2_exponents`."""
    e = pow2_exponents(amax)
    return np.where((e != ZERO_EXP) & (np.abs(e) <= SAFE_EXP), 0, e)


def column_max_abs(x: np.ndarray) -> np.ndarray:
    """Largest magnitude per column, without a copy of ``x`` (max and min, not ``abs``)."""
    if x.shape[0] == 0:
        return np.zeros(x.shape[1])
    hi = np.asarray(x.max(axis=0), dtype=np.float64)
    lo = np.asarray(x.min(axis=0), dtype=np.float64)
    return np.maximum(hi, -lo)


def safe_norms(a: np.ndarray) -> np.ndarray:
    """Euclidean norm of each column of ``a``: scaled before squaring, so a norm that is
    representable comes out right (``np.linalg.norm`` squares raw values: 1e200 overflows,
    1e-200 underflows to zero)."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape[0] == 0:
        return np.zeros(a.shape[1])
    e = pow2_exponents(np.max(np.abs(a), axis=0))
    s = np.ldexp(a, -np.where(e == ZERO_EXP, 0, e))
    with np.errstate(over="ignore"):
        return np.ldexp(np.sqrt(np.einsum("ij,ij->j", s, s)), np.where(e == ZERO_EXP, 0, e))


_TINY = np.finfo(np.float64).tiny
_LOG10_2 = float(np.log10(2.0))


def log10_scaled(value: float, exp: int) -> float:
    """``log10(|value| * 2**exp)``, computed without forming the product (for messages)."""
    return float(np.log10(abs(float(value))) + exp * _LOG10_2)


def _magnitude(value: float, exp: int) -> str:
    """``value * 2**exp`` as a power of ten, computed without forming it."""
    return f"1e{log10_scaled(value, exp):+.0f}" if abs(float(value)) > 0 else "0"


def exact_scale(values: Any, exps: Any, what: str, names: Any, fix: str) -> np.ndarray:
    """``values * 2**exps``, exactly, or a :class:`DataError` where float64 cannot hold it.

    Parameters
    ----------
    values, exps : array-like
        Scaled values and their power-of-two exponents (broadcast together).
    what : str
        What the values are, for the message ("the coefficient").
    names : array-like
        One name per value (broadcast), for the message.
    fix : str
        What the user can do.
    """
    v = np.asarray(values, dtype=np.float64)
    e = np.broadcast_to(np.asarray(exps), v.shape)
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(v, e)
    bad = (v != 0) & np.isfinite(v) & (~np.isfinite(out) | (np.abs(out) < _TINY))
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), v.shape)
        name = np.broadcast_to(np.asarray(names, dtype=object), v.shape)[i]
        raise DataError(
            f"{what} of {name} is about {_magnitude(v[i], int(e[i]))}, outside the range "
            f"float64 can hold (about 2.2e-308 to 1.8e308): {fix}"
        )
    return out


def squares(values: Any, divisor: float, what: str, names: Any, fix: str) -> np.ndarray:
    """``values**2 / divisor`` computed without overflow or underflow on the way, or a
    :class:`DataError` (see :func:`exact_scale`) where the result itself is out of range."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    e = pow2_exponents(v)
    e = np.where(e == ZERO_EXP, 0, e)
    m = np.ldexp(v, -e)
    return exact_scale(m * m / divisor, 2 * e, what, names, fix)


# -- PCA ------------------------------------------------------------------------------------

_PCA_FIX = "rescale the data (multiply or divide it by a power of ten) and fit again"


def _feature(names: Any, j: int) -> str:
    return f"feature {names[j]!r}" if names is not None and j < len(names) else f"feature {j}"


def _order(v: float) -> str:
    return f"1e{np.log10(v):+.0f}" if np.isfinite(v) and v > 0 else "beyond 1.8e308"


def check_finite_state(
    mean: np.ndarray, roots: np.ndarray, s: np.ndarray, names: Any, solver: str
) -> None:
    """A :class:`DataError` naming the feature when a PCA's sums overflowed float64.

    ``roots`` are per-feature roots of the centred sums of squares; they, the singular
    values ``s`` and the ``mean`` are finite whenever the data's sums fit in float64.
    """
    if np.all(np.isfinite(mean)) and np.all(np.isfinite(roots)) and np.all(np.isfinite(s)):
        return
    bad = ~np.isfinite(mean) | ~np.isfinite(roots)
    j = int(np.argmax(bad)) if bad.any() else int(np.argmax(np.abs(mean)))
    size = np.abs(mean[j]) if np.isfinite(mean[j]) else np.inf
    raise DataError(
        f"{_feature(names, j)} has values (mean about {_order(size)}) whose sums of squares "
        f"overflow float64 (beyond 1.8e308) in the {solver!r} solver: {_PCA_FIX}"
    )


def check_gram_range(sq: np.ndarray, n: int, names: Any) -> None:
    """The randomized solver multiplies by ``A'A``: refuse data whose sums of squares
    (``sq``, per feature, about the mean) overflow, or are so small that ``A'A`` would
    underflow, naming the feature."""
    fix = "use svd_solver='full' (a QR of the data, safe at any magnitude) or " + _PCA_FIX
    bad = ~np.isfinite(sq)
    if bad.any():
        j = int(np.argmax(bad))
        raise DataError(
            f"the sums of {_feature(names, j)} overflow float64 (beyond 1.8e308), and the "
            f"randomized solver's products A'A need its sum of squares: {fix}"
        )
    total = float(np.sum(sq))
    if total > np.finfo(np.float64).max / max(len(sq), 1):
        j = int(np.argmax(sq))
        raise DataError(
            f"the sum of squares of {_feature(names, j)} is about {_order(float(sq[j]))}: the "
            f"randomized solver's products A'A would overflow float64: {fix}"
        )
    if 0 < total < _TINY * 2.0**10:
        j = int(np.argmax(sq))
        var = _order(float(sq[j]) / max(n, 1))
        raise DataError(
            f"the variance of {_feature(names, j)} is about {var}: the "
            f"randomized solver's products A'A would underflow float64: {fix}"
        )


def pca_spectrum(
    s: np.ndarray,
    roots: np.ndarray,
    total_roots: np.ndarray,
    exps: tuple[int, Any],
    n: int,
    k: int,
    components: np.ndarray,
    names: Any,
) -> dict[str, Any]:
    """Explained variances, their ratios, per-feature variances and the noise variance.

    ``s`` (singular values of the centred data, largest first) and ``total_roots`` (whose
    squares sum to the total) are in units of ``2**exps[0]``; ``roots`` (per-feature roots
    of the centred sums of squares) in units of ``2**exps[1]`` (one exponent per feature).
    Ratios and the noise variance are computed in a scaled domain; a variance float64
    cannot hold (data times 1e200: about 1e400) raises a :class:`DataError` naming the
    feature (for a component, its largest loading).
    """
    exp, root_exp = exps
    kmax = min(n, len(roots))
    sv = exact_scale(
        s[:k], exp, "the singular value", [f"component {i}" for i in range(k)], _PCA_FIX
    )

    def comp(i: int) -> str:
        j = int(np.argmax(np.abs(components[i]))) if len(components) > i else 0
        return f"component {i} (mostly {_feature(names, j)})"

    ev = squares(sv, max(n - 1, 1), "the explained variance", [comp(i) for i in range(k)], _PCA_FIX)
    raw_roots = exact_scale(
        roots,
        root_exp,
        "the sum of squares",
        [_feature(names, j) for j in range(len(roots))],
        _PCA_FIX,
    )
    var = squares(
        raw_roots,
        max(n, 1),
        "the variance",
        [_feature(names, j) for j in range(len(roots))],
        _PCA_FIX,
    )
    # ratios and the noise in one common scale (0 in the safe range: the usual arithmetic)
    top = int(scale_exponents(np.max(np.abs(total_roots), initial=0.0)))
    top = 0 if top == ZERO_EXP else top
    t = np.ldexp(np.asarray(total_roots, dtype=np.float64), -top)
    e = np.ldexp(np.asarray(s[:k], dtype=np.float64), -top)
    total_ev = float(np.sum(t * t)) / max(n - 1, 1)
    ev_s = e * e / max(n - 1, 1)
    noise = (total_ev - ev_s.sum()) / (kmax - k) if k < kmax else 0.0
    with np.errstate(over="ignore", under="ignore"):
        noise = float(np.ldexp(max(float(noise), 0.0), 2 * (top + exp)))
    if not np.isfinite(noise):
        raise DataError(f"the noise variance is beyond float64's 1.8e308: {_PCA_FIX}")
    return {
        "ev": ev,
        "ratio": ev_s / total_ev if total_ev > 0 else np.zeros(k),
        "sv": sv,
        "var": var,
        "noise": noise,
    }
