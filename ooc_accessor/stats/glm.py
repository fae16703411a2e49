"""Generalized linear models out of core: IRLS, one TSQR pass per iteration.

Each iteration reads the stored design once. Per block, the linear predictor and mean of
the current coefficients give the working weights and working response, and the block's
R factor of ``sqrt(w) [X | z]`` is folded as :func:`~ooc_accessor.kernels.lstsq_stats`
folds a weighted least-squares fit (never the normal equations). In the same pass the
block's deviance, Pearson chi2 and largest ``|mu - y|`` at the current coefficients are
summed, so convergence is decided as statsmodels decides it (the change of the scaled
deviance within ``tol``) without another pass. Memory is a few blocks plus O(p^2).

The iterations are statsmodels' ``GLM.fit(method="IRLS")`` step for step (starting mean,
working quantities, scale estimate, convergence test, the final covariance from the last
weighted fit), with statsmodels' own family functions, so the answers are its answers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from dask.delayed import delayed
from statsmodels.genmod import families as smf

from .. import kernels, progress, reduce, solve, store
from ..errors import (
    ArgumentError,
    ArgumentTypeError,
    ConvergenceError,
    DataError,
    PerfectSeparationError,
    PerfectSeparationWarning,
    RankWarning,
)
from ..scaling import ZERO_EXP
from .families import check_response

__all__ = [
    "Extras",
    "IRLSFit",
    "Tolerance",
    "check_scale",
    "check_start",
    "check_tolerance",
    "irls",
    "scale_of",
]

#: statsmodels' default convergence tolerance and iteration limit
TOL = 1e-8
MAXITER = 100
#: a fitted probability this close to 0 or 1 is "numerically 0 or 1" (R's 10 eps)
EDGE = 10 * np.finfo(float).eps


class Extras(NamedTuple):
    """Per-row inputs beside X and y, one float64 per stored row (or None)."""

    offset: np.ndarray | None = None  # offset + log(exposure)
    var_weights: np.ndarray | None = None
    freq_weights: np.ndarray | None = None

    def block(self, a: int, b: int) -> Extras:
        """The rows ``a:b`` of each."""
        return Extras(*(None if v is None else v[a:b] for v in self))


class IRLSFit(NamedTuple):
    """What the IRLS iterations leave: coefficients, covariance and fit statistics."""

    solution: solve.LstsqSolution  # scaled; see params / normalized_cov
    params: np.ndarray
    normalized_cov: np.ndarray
    stats: kernels.LstsqStats  # the last weighted fit's (its R factor)
    scale: float
    deviance: float
    pearson_chi2: float
    nobs: int
    wnobs: float
    rank: int
    converged: bool
    history: dict[str, Any]
    y_sums: np.ndarray  # n, sum y, sum iw, sum iw*y (see _y_block)


# -- block kernels (module level: they travel to dask workers) ----------------------------


def _y_block(
    path: str, a: int, b: int, version: str, extras: Extras, family: smf.Family, response: str
) -> np.ndarray:
    """Leaf: ``[rows, sum y, sum iw, sum iw y, sum freq_weights]`` of a block's y."""
    (y,) = store.read_block(path, a, b, ("y",), version)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    check_response(family, y, a, response)
    iw = iweights(extras, y.size)
    fw = extras.freq_weights
    return np.array([y.size, y.sum(), iw.sum(), (iw * y).sum(), y.size if fw is None else fw.sum()])


def iweights(extras: Extras, m: int) -> np.ndarray:
    """statsmodels' ``iweights`` of a block of ``m`` rows: var_weights times freq_weights."""
    vw, fw = extras.var_weights, extras.freq_weights
    if vw is None and fw is None:
        return np.ones(m)
    if vw is None:
        return fw
    return vw if fw is None else vw * fw


def _mean(
    family: smf.Family, x: np.ndarray, y: np.ndarray, extras: Extras, state: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``(eta, mu)`` of a block: at the coefficients ``state``, or at statsmodels' start
    (``state`` the float mean of y, or None for a family with its own ``starting_mu``)."""
    if isinstance(state, np.ndarray):
        eta = x @ state
        if extras.offset is not None:
            eta = eta + extras.offset
        return eta, family.fitted(eta)
    # statsmodels' start: mu0 = (y + mean(y)) / 2 (the mean of all rows, not the block's),
    # Binomial's (y + 0.5) / 2; eta0 = link(mu0), without the offset
    mu = family.starting_mu(y) if state is None else (y + state) / 2.0
    return family.predict(mu), mu


def _irls_block(
    path: str,
    a: int,
    b: int,
    version: str,
    extras: Extras,
    family: smf.Family,
    state: Any,
) -> tuple[kernels.LstsqStats, np.ndarray]:
    """Leaf: the block's weighted-fit statistics for the next coefficients, and
    ``[deviance, pearson chi2, max |mu - y|, rows with a non-finite working value]`` at
    the current ones."""
    x, y = store.read_block(path, a, b, ("X", "y"), version)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    vw = 1.0 if extras.var_weights is None else extras.var_weights
    fw = 1.0 if extras.freq_weights is None else extras.freq_weights
    iw = iweights(extras, y.size)
    with np.errstate(all="ignore"):
        eta, mu = _mean(family, x, y, extras, state)
        dev = family.deviance(y, mu, vw, fw, 1.0)
        pearson = np.sum((y - mu) ** 2 * iw / family.variance(mu))
        w = iw * family.weights(mu)
        z = eta + family.link.deriv(mu) * (y - mu)
        if extras.offset is not None:
            z = z - extras.offset
        bad = ~(np.isfinite(w) & np.isfinite(z))
    first_bad = a + int(np.argmax(bad)) if bad.any() else -1
    if bad.any():  # reported by the driver, with the iteration; the block is left out
        w, z = np.where(bad, 0.0, w), np.where(bad, 0.0, z)
    gap = float(np.max(np.abs(mu - y), initial=0.0))
    # R's glm.fit warning: "fitted probabilities numerically 0 or 1 occurred"
    if isinstance(family, smf.Binomial):
        edge = np.sum((mu < EDGE) | (mu > 1 - EDGE))
    elif isinstance(family, (smf.Poisson, smf.NegativeBinomial)):  # R's "rates numerically 0"
        edge = np.sum(mu < EDGE)
    else:
        edge = 0
    # responses on the support's boundary (a 0/1 outcome, a zero count) met by their mean:
    # only those are separated (a mean can reach them only as a coefficient grows without
    # bound); a fit meeting responses inside the support is an exact, finite fit
    if isinstance(family, smf.Binomial):
        on_edge = (y == 0) | (y == 1)
    elif isinstance(family, (smf.Poisson, smf.NegativeBinomial)):
        on_edge = y == 0
    else:
        on_edge = np.zeros(y.shape, dtype=bool)
    met = float(np.sum(on_edge & (np.abs(mu - y) <= 1e-8)))
    stats = kernels.lstsq_stats(x, z, w)
    return stats, np.array([dev, pearson, gap, float(bad.sum()), first_bad, float(edge), met])


def _merge(parts: list[tuple[kernels.LstsqStats, np.ndarray]]) -> tuple:
    stats = kernels.merge_lstsq_stats([p[0] for p in parts])
    sums = np.array([p[1] for p in parts])
    bad_rows = sums[sums[:, 4] >= 0, 4]
    first = float(bad_rows.min()) if bad_rows.size else -1.0
    return stats, np.array(
        [
            sums[:, 0].sum(),
            sums[:, 1].sum(),
            sums[:, 2].max(),
            sums[:, 3].sum(),
            first,
            sums[:, 5].sum(),
            sums[:, 6].sum(),
        ]
    )


def _sum(parts: list[np.ndarray]) -> np.ndarray:
    return np.sum(parts, axis=0)


def design_pass(
    path: str,
    blocks: Sequence[tuple[int, int]],
    version: str,
    extras: Extras,
    fn: Callable,
    args: tuple,
    merge: Callable = _sum,
    per_row: np.ndarray | None = None,
    desc: str = "GLM: a pass after the fit",
    row_bytes: int = 0,
) -> Any:
    """The merge over a stored design's blocks of ``fn(path, a, b, version, extras_ab,
    *args)`` (one dask task per block; runs on a distributed client when one is active);
    with ``per_row`` (one value or row per stored row), ``fn(path, a, b, version,
    extras_ab, per_row_ab, *args)``. ``desc`` names the pass on its progress bar."""
    leaves = [
        progress.leaf(
            delayed(fn, pure=True)(
                path,
                a,
                b,
                version,
                extras.block(a, b),
                *(() if per_row is None else (per_row[a:b],)),
                *args,
            ),
            b - a,
        )
        for a, b in blocks
    ]
    graph = reduce.tree_reduce(leaves, merge)
    return reduce.compute(graph, desc=desc, row_bytes=row_bytes)[0]


# -- the iterations -------------------------------------------------------------------------


def _unscale(sol: solve.LstsqSolution, stats: kernels.LstsqStats) -> tuple[np.ndarray, ...]:
    """Raw coefficients and ``(X'WX)^+`` from a solution in the statistics' scaled units."""
    p = sol.params.size
    ex, ey, ew = stats.exp[:p], stats.exp[p], stats.w_exp
    ex = np.where(ex == ZERO_EXP, 0, ex)
    ey = 0 if ey == ZERO_EXP else ey
    ew = 0 if ew == ZERO_EXP else ew
    params = np.ldexp(sol.params, ey - ex)
    cov = np.ldexp(sol.normalized_cov, -ex[:, None] - ex[None, :] - ew)
    return params, cov


def check_scale(scale: Any) -> str | float | None:
    """statsmodels' ``fit(scale=)``: None, ``"X2"``, ``"dev"`` (any case) or a number."""
    if scale is None:
        return None
    if isinstance(scale, str):
        if scale.lower() not in ("x2", "dev"):
            raise ArgumentError(
                f"scale={scale!r} is not 'X2' (Pearson's chi2 / df_resid), 'dev' (deviance "
                "/ df_resid), a number, or None (the family's default)"
            )
        return scale.lower()
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"scale must be 'X2', 'dev', a number or None, not {scale!r}")
    return float(scale)


class Tolerance(NamedTuple):
    """statsmodels' IRLS convergence test: converged when ``|new - old| <= atol + rtol
    |old|`` for the ``criterion`` (``"deviance"``, scaled, or ``"params"``)."""

    atol: float = TOL
    rtol: float = 0.0
    criterion: str = "deviance"


def check_tolerance(
    tol: float, atol: float | None = None, rtol: float = 0.0, tol_criterion: str = "deviance"
) -> Tolerance:
    """statsmodels' ``fit(tol=, atol=, rtol=, tol_criterion=)`` checked: ``atol``
    defaults to ``tol``."""
    atol = tol if atol is None else atol
    for name, v in (("atol", atol), ("rtol", rtol)):
        numeric = isinstance(v, (int, float, np.integer, np.floating))
        if isinstance(v, (bool, np.bool_)) or not numeric or not v >= 0:
            raise ArgumentError(f"{name} must be a non-negative number, not {v!r}")
    if tol_criterion not in ("deviance", "params"):
        raise ArgumentError(f"tol_criterion={tol_criterion!r}: 'deviance' or 'params'")
    if atol == 0 and rtol == 0:
        raise ArgumentError("atol and rtol are both 0: the iterations could never converge")
    return Tolerance(float(atol), float(rtol), tol_criterion)


def check_start(start_params: Any, terms: Sequence[str]) -> np.ndarray:
    """statsmodels' ``fit(start_params=)``: one finite number per design column."""
    try:
        start = np.asarray(start_params, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"start_params must be numbers, not {start_params!r}") from exc
    if start.size != len(terms) or not np.all(np.isfinite(start)):
        raise ArgumentError(
            f"start_params must be {len(terms)} finite numbers, one per term "
            f"{list(terms)[:8]}, not {start_params!r}"
        )
    return start


def _why_not_finite(family: smf.Family) -> str:
    """Why working weights can be non-finite, and what to do, for this family and link."""
    name, link = type(family).__name__, type(family.link).__name__
    if isinstance(family, (smf.Binomial, smf.Poisson, smf.NegativeBinomial)) and type(
        family.link
    ) is type(type(family)().link):  # a canonical link: the means can only meet the edge
        return (
            f"the means sit on the edge of the {name} family's support there (e.g. every "
            "response of a group 0, so its mean must be 0): check those rows' responses, or "
            "drop the term that isolates them"
        )
    return (
        f"the {link} link gives means outside the {name} family's support there (its linear "
        "predictor left the range the link maps into the support); use the log link, or "
        "start_params whose means stay inside it"
    )


def scale_of(
    family: smf.Family, scaletype: str | float | None, pearson: float, dev: float, df: float
) -> float:
    """statsmodels' ``estimate_scale``: by default 1 for the discrete families, else
    Pearson's chi2 / df_resid; ``"x2"``, ``"dev"`` (the deviance at scale 1 / df_resid)
    or a fixed number when asked."""
    if scaletype is None:
        if isinstance(family, (smf.Binomial, smf.Poisson, smf.NegativeBinomial)):
            return 1.0
        return pearson / df
    if isinstance(scaletype, float):
        return scaletype
    return pearson / df if scaletype == "x2" else dev / df


def irls(
    design: Any,
    family: smf.Family,
    extras: Extras,
    *,
    maxiter: int = MAXITER,
    tol: float = TOL,
    scale: str | float | None = None,
    tolerance: Tolerance | None = None,
    start_params: Any = None,
) -> IRLSFit:
    """Fit a GLM to a stored design by IRLS (statsmodels' iterations; see the module).

    ``scale`` is statsmodels' ``fit(scale=)`` (see :func:`check_scale`); ``tolerance``
    its ``atol``/``rtol``/``tol_criterion`` (by default ``atol=tol`` on the deviance);
    ``start_params`` its starting coefficients (by default the family's starting mean).

    Raises
    ------
    PerfectSeparationError
        A Binomial, Poisson or negative binomial fit whose means meet every response
        (statsmodels' perfect separation or prediction test).
    ConvergenceError
        No convergence within ``maxiter`` iterations (the deviances are in the message).
    """
    scaletype = check_scale(scale)
    tolerance = tolerance or Tolerance(tol)
    path, blocks, version = design.path, design.blocks(), design.store_id
    response = design.responses[0]
    p = len(design.terms)
    row_bytes = progress.design_row_bytes(design)
    start_pass = {"desc": "GLM: start", "row_bytes": row_bytes}
    y_sums = design_pass(path, blocks, version, extras, _y_block, (family, response), **start_pass)
    nobs, wnobs = int(y_sums[0]), float(y_sums[4])
    if wnobs <= 0:
        raise DataError(
            f"every freq_weight of the {nobs} rows is 0: the GLM has no observations to fit; "
            "give some rows a positive frequency"
        )
    own_start = type(family).starting_mu is not smf.Family.starting_mu
    state: Any = None if own_start else float(y_sums[1] / y_sums[0])
    start = np.zeros(p)
    if start_params is not None:  # statsmodels: mu0 = fitted(X start + offset)
        state = start = check_start(start_params, design.terms)
    history: dict[str, Any] = {"params": [np.inf, start], "deviance": [np.inf]}
    previous: tuple | None = None  # the weighted fit that gave the current coefficients
    rank = None
    last_scale = 1.0
    for iteration in range(maxiter + 1):
        stats, sums = design_pass(
            path,
            blocks,
            version,
            extras,
            _irls_block,
            (family, state),
            _merge,
            desc=f"IRLS iteration {iteration}",
            row_bytes=row_bytes,
        )
        dev_raw, pearson, gap, n_bad, first_bad, n_edge, n_met = sums
        if n_bad:
            where = "the starting values" if previous is None else f"iteration {iteration}"
            raise DataError(
                f"the {type(family).__name__} GLM's working weights are not finite at "
                f"{where} for {int(n_bad)} rows (the first: stored row {int(first_bad)}): "
                f"{_why_not_finite(family)}"
            )
        sol = solve.solve_r(stats.xy_r(), p, stats.nobs, stats.exp[:p])
        if rank is None:
            rank = sol.rank
            if rank < p:
                msg = solve.rank_message(stats.xy_r(), design.terms, rank)
                warnings.warn(msg, RankWarning, stacklevel=4)
        df_resid = wnobs - rank
        scale = scale_of(family, scaletype, pearson, dev_raw, df_resid)
        # statsmodels scales an iteration's deviance by the scale of the iteration before
        # (it updates the scale after the history); the start's by its own
        history["deviance"].append(dev_raw / (scale if previous is None else last_scale))
        last_scale = scale
        if previous is not None:
            # statsmodels' np.allclose(mu - endog, 0), on responses a finite fit cannot meet
            if gap <= 1e-8 and n_met:
                raise PerfectSeparationError(
                    f"perfect separation or prediction in the {type(family).__name__} GLM "
                    f"of {design.formula!r}: after {iteration} iterations every fitted mean "
                    "equals its response (largest gap "
                    f"{gap:.3g}), so the coefficients are not identified (they grow without "
                    "bound). Drop or merge the term that separates the outcomes, or use a "
                    "penalized fit"
                )
            crit = history[tolerance.criterion]
            if np.allclose(crit[-2], crit[-1], atol=tolerance.atol, rtol=tolerance.rtol):
                if n_edge:
                    warnings.warn(
                        f"fitted means numerically on the edge of the support (a probability "
                        f"0 or 1, a rate 0) occurred for {int(n_edge)} of {nobs} rows of the "
                        f"{type(family).__name__} GLM of {design.formula!r}: the data "
                        "may be quasi-separated (a term predicts some outcomes exactly), and "
                        "the coefficients of such a term are not identified; their standard "
                        "errors are then meaninglessly large",
                        PerfectSeparationWarning,
                        stacklevel=4,
                    )
                p_sol, p_stats = previous
                params, cov = _unscale(p_sol, p_stats)
                return IRLSFit(
                    p_sol,
                    params,
                    cov,
                    p_stats,
                    float(scale),
                    float(dev_raw),
                    float(pearson),
                    nobs,
                    wnobs,
                    rank,
                    True,
                    {**history, "iteration": iteration},
                    y_sums,
                )
        if iteration == maxiter:
            break
        previous = (sol, stats)
        state = _unscale(sol, stats)[0]
        history["params"].append(state)
    devs = ", ".join(f"{d:.10g}" for d in history["deviance"][-6:])
    raise ConvergenceError(
        f"the {type(family).__name__} GLM of {design.formula!r} did not converge in {maxiter} "
        f"IRLS iterations (scaled deviance, last {min(6, len(history['deviance']) - 1)}: "
        f"{devs}; tolerance on the {tolerance.criterion}: atol {tolerance.atol:g}, rtol "
        f"{tolerance.rtol:g}). Raise maxiter=, check the model (a separating term, a "
        "link outside the family's support), or rescale the terms"
    )
