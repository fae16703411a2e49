"""The PCA solvers' block math: rows folded into a state, and the spectrum from a state.

Kept apart from :mod:`ooc_accessor.pca` (the estimator: parameters, inputs, labels) so the
numerics can be read and changed alone. Every function takes a
:class:`~ooc_accessor.sources.MatrixSource` and row ranges, or a folded state, and returns
numpy values; the row folds are module-level so a dask worker can run them on a pickled source.

States: ``"full"`` folds the R factor of ``[1 | X]``, ``"covariance_eigh"`` a
:class:`~ooc_accessor.kernels.CovStats` about a fixed shift, ``"randomized"`` ends as the
tuple ``("randomized", mean, sq, s, vt)`` after its passes over the data.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import xarray as xr
from scipy import linalg as sla

from . import kernels, lazy, progress, reduce, scaling, store
from .design import open_rows
from .errors import DataError, PrecisionWarning
from .pca_weights import weigh_rows
from .sources import DesignMatrix, MatrixSource

__all__ = [
    "NO_ROWS",
    "check_finite",
    "cluster_groups",
    "covariance",
    "field_scores",
    "first_mean",
    "fit_randomized",
    "fold_rows",
    "merge_states",
    "precision",
    "read_rows",
    "spectrum",
    "state_rows",
    "stored_scores",
    "whiten_scale",
]

#: relative error of an explained variance above which covariance_eigh warns
COVARIANCE_RTOL = 1e-9


def warn_covariance_precision(s2: np.ndarray, p: int, k: int) -> None:
    """Warn when eigh of the scatter matrix cannot give a kept variance to ~9 digits.

    Its eigenvalues carry an absolute error of about ``p eps lambda_max``: a component
    whose variance is below ~1e-5 of the largest (for p ~ 1000) loses relative digits,
    where the QR solver keeps them. The warning names every kept component that does.
    """
    if s2.size == 0 or s2[0] <= 0:
        return
    kept = np.asarray(s2[:k], dtype=np.float64)
    res = p * np.finfo(float).eps  # eigh's resolution, as a share of the largest
    share = kept / s2[0]
    with np.errstate(divide="ignore"):
        rel = np.where(kept > 0, res / np.where(kept > 0, share, 1.0), np.inf)
    lost = np.flatnonzero(rel > COVARIANCE_RTOL)
    if not lost.size:
        return
    fix = "; pass svd_solver='full' (QR of the data, exact) for those components"
    j = int(lost[0])
    if lost.size == 1 and kept[j] > 0:
        msg = (
            f"component {j}'s variance is {share[j]:.2g} of the largest, so the covariance "
            f"solver gives it to a relative error of about {rel[j]:.1g}"
        )
    else:
        each = [
            f"{i} ({share[i]:.2g} of the largest: relative error about {rel[i]:.1g})"
            if kept[i] > 0
            else f"{i} (below {res:.1g} of the largest: every digit lost)"
            for i in lost.tolist()
        ]
        msg = (
            f"the covariance solver cannot give the variance of component(s) "
            f"{', '.join(each)} to 9 digits"
        )
    warnings.warn(msg + fix, PrecisionWarning, stacklevel=4)


def check_finite(block: np.ndarray, src: MatrixSource, a: int, nan_ok: bool = False) -> None:
    """Raise, naming the feature and row, on inf (always) and on NaN (unless ``nan_ok``)."""
    inf = np.isinf(block)
    bad, what, fix = inf, "inf", "inf is not missing: fix or drop those rows"
    if not inf.any():
        if nan_ok:
            return
        bad, what = np.isnan(block), "NaN"
        fix = "fill them, or pass missing='drop' to leave the rows holding NaN out"
        if not bad.any():
            return
    counts = bad.sum(axis=0)
    j = int(np.argmax(counts))
    row = a + int(np.argmax(bad[:, j]))
    raise DataError(
        f"feature {src.feature_label(j)!r} holds {int(counts[j])} {what} value(s) in rows "
        f"{a}-{a + len(block) - 1} (the first at row {row}); {fix}"
    )


def read_rows(src: MatrixSource, a: int, b: int) -> np.ndarray:
    """Rows ``a:b`` of ``src``, checked: NaN raises, or (``src.missing == "drop"``) the
    rows holding one are left out. inf always raises. Weighted features (``src.weights``,
    set by the estimator) come multiplied by their weights."""
    block = src.block(a, b)
    weights = getattr(src, "weights", None)
    if block.dtype.kind == "f":
        drop = src.missing == "drop"
        check_finite(block, src, a, nan_ok=drop)
        if drop:
            nan = np.isnan(block).any(axis=1)
            if nan.any():
                block = block[~nan]
    # every PCA pass reads here: a block counts once checked (an error stops the bar before it)
    progress.advance(b - a, getattr(block, "nbytes", None))
    return weigh_rows(block, weights)


def state_rows(state: Any) -> int:
    """Rows folded into a state: CovStats counts them; R of [1 | X] has sqrt(n) at [0, 0]."""
    if state is None:
        return 0
    if isinstance(state, kernels.CovStats):
        return int(state.nobs)
    return round(float(state[0, 0]) ** 2)


def first_mean(src: MatrixSource, ranges: list[tuple[int, int]]) -> np.ndarray:
    """The covariance solver's shift: the mean of the first block with rows (keeps the
    sums small)."""
    for a, b in ranges:
        block = read_rows(src, a, b)
        if len(block):
            return block_mean(block)
    raise DataError(NO_ROWS)


NO_ROWS = (
    "every row holds a missing value (missing='drop' left none): nothing to decompose; "
    "fill the missing values, or leave the features that are always missing out"
)


def fold_rows(
    src: MatrixSource,
    ranges: list[tuple[int, int]],
    solver: str,
    shift: np.ndarray | None,
    state: Any = None,
) -> Any:
    """Fold the rows ``ranges`` of ``src`` into ``state`` (an R factor or CovStats).

    A module-level function so a dask worker can run it on a pickled source (whose reads
    run where they are called: see ``FieldMatrix._raw``).
    """
    for a, b in ranges:
        block = read_rows(src, a, b)
        if not len(block):  # every row dropped for a missing value
            continue
        if solver == "full":
            state = kernels.centred_r(block, r0=state)
        else:
            if shift is None:
                shift = state.shift if state is not None else block_mean(block)
            state = kernels.cov_stats(block, shift, into=state)
    return state


def cluster_groups(src: MatrixSource, ranges: list) -> list | None:
    """Runs of blocks for the workers of an active cluster, when they can read ``src``."""
    return reduce.worker_groups(ranges) if getattr(src, "remote", False) else None


def sum_rows(src: MatrixSource, ranges: list) -> np.ndarray:
    """Column sums of the rows ``ranges`` (checked), then the rows kept: randomized pass 1."""
    total = np.zeros(src.n_features + 1)
    for a, b in ranges:
        block = read_rows(src, a, b)
        total[:-1] += np.asarray(block, dtype=np.float64).sum(axis=0)
        total[-1] += len(block)
    return total


def sq_rows(src: MatrixSource, ranges: list, mean: np.ndarray) -> np.ndarray:
    """Column sums of squares about ``mean``."""
    sq = np.zeros(src.n_features)
    for a, b in ranges:
        blk = np.asarray(read_rows(src, a, b), dtype=np.float64) - mean
        sq += np.einsum("ij,ij->j", blk, blk)
    return sq


def gram_rows(src: MatrixSource, ranges: list, mean: np.ndarray, basis: np.ndarray):
    """``A' A basis`` over the rows ``ranges`` of the centred data A."""
    z = np.zeros((src.n_features, basis.shape[1]))
    for a, b in ranges:
        blk = np.asarray(read_rows(src, a, b), dtype=np.float64) - mean
        z += blk.T @ (blk @ basis)
    return z


def r_rows(src: MatrixSource, ranges: list, mean: np.ndarray, basis: np.ndarray):
    """The R factor of ``A basis`` over the rows ``ranges``."""
    r = None
    for a, b in ranges:
        block = read_rows(src, a, b)
        if not len(block):
            continue
        part = kernels.data_r(block, mean, basis)
        r = part if r is None else kernels.stack_r([r, part])
    return r


def block_mean(block: np.ndarray) -> np.ndarray:
    """A block's column means in float64 (the covariance solver's shift)."""
    return np.asarray(block, dtype=np.float64).mean(axis=0)


def merge_states(parts: list) -> Any:
    """Merge folded states of disjoint row sets (R factors, or CovStats about one shift)."""
    if isinstance(parts[0], kernels.CovStats):
        return kernels.merge_cov_stats(parts)
    return kernels.stack_r(parts)


def fit_randomized(
    src: MatrixSource,
    ranges: list[tuple[int, int]],
    k: int,
    n_components: int | None,
    n_oversamples: int,
    power: int,
    rng: np.random.Generator,
) -> tuple[Any, int]:
    """The randomized solver's passes over ``src``: its state and the rows kept."""
    p = src.n_features
    groups = cluster_groups(src, ranges)

    def over(fn: Any, *args: Any, merge: Any = reduce.sum_parts, desc: str) -> Any:
        return reduce.over_groups(fn, src, ranges, groups, args, merge, desc=desc)

    with np.errstate(over="ignore", invalid="ignore"):  # checked below, by name
        # pass 1: the rows kept, the mean, then the variances
        sums = over(sum_rows, desc="PCA randomized: mean")
    n = round(float(sums[-1]))
    if n == 0:
        raise DataError(NO_ROWS)
    k = min(k, n) if n_components is None else k
    width = min(p, k + int(n_oversamples))
    mean = sums[:-1] / n
    with np.errstate(over="ignore", invalid="ignore"):
        sq = over(sq_rows, mean, desc="PCA randomized: variances")
    scaling.check_gram_range(sq, n, [src.feature_label(j) for j in range(p)])
    basis = np.linalg.qr(rng.standard_normal((p, width)))[0]
    # one pass each: Z = A'A basis, orthonormalized. The first pass is the range finder
    # itself (scikit-learn's n_iter=0 also multiplies by the data once): power + 1 passes
    for i in range(int(power) + 1):
        desc = f"PCA randomized: pass {i + 1} of {int(power) + 1}"
        basis = np.linalg.qr(over(gram_rows, mean, basis, desc=desc))[0]
    # last pass: R of A basis, whose SVD gives s and V
    r = over(r_rows, mean, basis, merge=kernels.stack_r, desc="PCA randomized: final pass")
    _, s, wt = np.linalg.svd(kernels.square_r(r, width))
    return ("randomized", mean, sq, s, wt @ basis.T), n


def spectrum(
    solver: str, state: Any, n: int, p: int, k: int, names: list | None = None
) -> dict[str, Any]:
    """Axes, variances and means of the ``k`` leading components from a folded state.

    The spectrum is finished in a scaled domain (:func:`~ooc_accessor.scaling.pca_spectrum`),
    so data near float64's limits gives its variances or a DataError naming the feature
    (``names``, when known) whose variance float64 cannot hold.
    """
    exp = root_exp = 0  # s, roots in units of 2**exp, 2**root_exp (scaling.pca_spectrum)
    if solver == "full":
        _, mean, rc = kernels.split_centred_r(state, p)
        _, s, vt = np.linalg.svd(rc)
        roots, total_roots = scaling.safe_norms(rc), s
    elif solver == "covariance_eigh":
        mean, scatter, root_exp = kernels.cov_scatter_scaled(state)
        roots = np.sqrt(np.clip(np.diag(scatter), 0.0, None))
        scaling.check_finite_state(mean, roots, roots, names, solver)
        scatter, exp = kernels.common_scale(scatter, root_exp)
        w, v = sla.eigh(scatter, lower=False, subset_by_index=[p - k, p - 1], overwrite_a=True)
        s2 = np.clip(w[::-1], 0.0, None)
        s, vt, total_roots = np.sqrt(s2), v[:, ::-1].T, np.ldexp(roots, root_exp - exp)
        warn_covariance_precision(s2, p, k)
    else:
        _, mean, sq, s, vt = state
        roots = total_roots = np.sqrt(sq)
    scaling.check_finite_state(mean, roots, s, names, solver)
    vt = kernels.svd_flip_rows(vt[:k])
    spec = scaling.pca_spectrum(s, roots, total_roots, (exp, root_exp), n, k, vt, names)
    return {
        "components": vt,
        "ev": spec["ev"],
        "ratio": spec["ratio"],
        "sv": spec["sv"],
        "mean": mean,
        "var": spec["var"],
        "noise": spec["noise"],
        "k": k,
    }


def _weights(ev: np.ndarray, noise: float, whiten: bool) -> tuple[np.ndarray, int, float, int]:
    """The model's weights in units of powers of two: ``d = dm 2**g``, ``noise = nm 2**e``.

    ``d`` is each component's variance beyond the noise (times its variance when
    ``whiten``, scikit-learn's definition), so covariance = ``V' diag(d) V + noise I``.
    Factoring out ``2**e`` (the exponent of the largest of ``ev`` and ``noise``) keeps
    every intermediate near 1: ``ev**2`` of data at 1e150 or 1e-150 neither overflows
    nor underflows.
    """
    top = max(float(ev.max()) if ev.size else 0.0, float(noise))
    e = int(np.frexp(top)[1]) if top > 0 else 0
    m, nm = np.ldexp(ev, -e), float(np.ldexp(noise, -e))
    dm = np.where(m > nm, m - nm, 0.0)
    if whiten:
        return dm * m, 2 * e, nm, e
    return dm, e, nm, e


def _scaled_out(inner: np.ndarray, exp: int, what: str, fix: str) -> np.ndarray:
    """``inner * 2**exp``, or a DataError when float64 cannot hold its diagonal."""
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(inner, exp)
    diag, inner_diag = np.abs(np.diag(out)), np.abs(np.diag(inner))
    tiny = np.finfo(np.float64).tiny
    if not np.isfinite(out).all() or ((inner_diag > 0) & (diag < tiny)).any():
        big = np.abs(inner_diag).max() if inner_diag.size else 0.0
        mant, e10 = _decimal(big, exp)
        raise DataError(
            f"the {what} of this fit has entries of about {mant:.2g}e{e10}, beyond float64 "
            f"(1e-308 to 1e308); {fix}"
        )
    return out


def _decimal(m: float, exp: int) -> tuple[float, int]:
    """``m * 2**exp`` as a decimal mantissa and exponent (for messages)."""
    if m <= 0:
        return 0.0, 0
    lg = scaling.log10_scaled(m, exp)
    e10 = int(np.floor(lg))
    return float(10 ** (lg - e10)), e10


_RESCALE = "rescale the data (e.g. to other units) so its variances are nearer 1"


def covariance(vt: np.ndarray, ev: np.ndarray, noise: float, whiten: bool) -> np.ndarray:
    """Probabilistic PCA's covariance, scikit-learn's definition:
    ``C' diag(ev - noise) C + noise I`` with ``C`` the axes ``vt`` (times ``sqrt(ev)``
    when whitened, so then ``V' diag(ev (ev - noise)) V + noise I``), a difference
    ``ev - noise`` below 0 taken as 0.

    Computed in units of a power of two of the largest variance, so it is right wherever
    float64 holds it, else a DataError.
    """
    dm, g, nm, e = _weights(ev, noise, whiten)
    what = "covariance (whiten=True: explained_variance_ squared)" if whiten else "covariance"
    part = _scaled_out((vt.T * dm) @ vt, g, what, _RESCALE)
    with np.errstate(under="ignore"):
        part[np.diag_indices_from(part)] += np.ldexp(nm, e)
    if not np.isfinite(part).all():
        raise DataError(f"the {what} of this fit overflows float64; {_RESCALE}")
    return part


def precision(vt: np.ndarray, ev: np.ndarray, noise: float, whiten: bool) -> np.ndarray:
    """The inverse of :func:`covariance`, from the orthonormal axes ``vt`` directly.

    With ``noise > 0``: ``(I + V' diag(q - 1) V) / noise``, ``q = noise / (d + noise)``
    in [0, 1] (no k x k inverse, every intermediate near 1, scaled by a power of two).
    With ``noise == 0`` the covariance is ``V' diag(d) V``: invertible only when the
    components span every feature with ``d > 0``, else a DataError.
    """
    dm, g, nm, e = _weights(ev, noise, whiten)
    p = vt.shape[1]
    if nm > 0:
        with np.errstate(over="ignore", under="ignore"):
            q = nm / (np.ldexp(dm, g - e) + nm)  # an overflow is q = 0: right
        inner = (vt.T * (q - 1.0)) @ vt
        inner[np.diag_indices(p)] += 1.0
        return _scaled_out(inner / nm, -e, "precision", _RESCALE)
    if vt.shape[0] < p or not (dm > 0).all():
        raise DataError(
            "the covariance of this fit is singular (noise_variance_ is 0 and a direction "
            "has no variance), so it has no precision; keep fewer components "
            "(n_components below the data's rank) or remove the constant or dependent features"
        )
    with np.errstate(over="ignore"):
        inner = (vt.T / dm) @ vt
    return _scaled_out(inner, -g, "precision", _RESCALE)


def whiten_scale(ev: np.ndarray) -> np.ndarray:
    """What whitening divides each component's scores by.

    ``max(sqrt(ev), eps * sqrt(ev[0]))`` (``eps`` when every variance is 0): a component
    of (near) zero variance is divided by eps times the largest component's standard
    deviation, not by zero (NaN or inf scores). Relative, so data of any magnitude whitens
    to unit variance; scikit-learn's absolute ``eps`` does not below ~1e-16, and at scale
    ~1 the two agree.
    """
    sd = np.sqrt(ev)
    top = sd[0] if sd.size and sd[0] > 0 else 1.0
    return np.maximum(sd, np.finfo(np.float64).eps * top)


def field_scores(stacked: xr.DataArray, mean: np.ndarray, comps: np.ndarray) -> xr.DataArray:
    """Lazy scores of a stacked (dask) field ``(sample, feature)``: dims (sample, component)."""
    centred = stacked - xr.DataArray(mean, dims=("feature",))
    basis = xr.DataArray(comps, dims=("component", "feature"))
    scores = xr.dot(centred, basis, dim="feature").rename("scores")
    return scores.assign_coords(component=np.arange(comps.shape[0]))


def array_scores(
    src: MatrixSource, rows: int, mean: np.ndarray, comps: np.ndarray, nan_ok: bool
) -> np.ndarray:
    """Scores of every row of ``src`` in memory, ``rows`` per block (on a "PCA scores" bar)."""
    out = np.empty((src.n_rows, comps.shape[0]))
    with progress.task("PCA scores", src.n_rows, 8 * src.n_features):
        for a, b in src.ranges(rows):
            block = src.block(a, b)
            check_finite(block, src, a, nan_ok=nan_ok)
            out[a:b] = (np.asarray(block, dtype=np.float64) - mean) @ comps.T
            progress.advance(b - a, getattr(block, "nbytes", None))
    return out


def stored_scores(src: DesignMatrix, mean: np.ndarray, comps: np.ndarray) -> xr.DataArray:
    """Scores of a stored design, written beside it block by block, opened lazily.

    The file lives as long as the returned DataArray (it is removed when that is collected).
    """
    design = src.design
    blocks = reduce.stream_blocks(
        reduce.project_block, design.path, design.blocks(), comps.T, mean, design.store_id
    )
    path = store.temporary_store_path(os.path.dirname(design.path))
    k = comps.shape[0]
    with progress.task("PCA scores", design.n_obs, 8 * src.n_features):
        store.write_row_matrix(
            path, design.path, "scores", list(range(k)), "component", blocks, design.chunk_rows
        )
    owner = lazy.TemporaryFile(path)  # held by every output computed from the scores
    return open_rows(path, design.chunk_rows, design.sample_dim, keep=owner)["scores"]
