"""Robust covariances of a GLM: statsmodels' sandwiches, from one more pass over the rows.

statsmodels' GLM takes ``cov_type="HC0"``... ``"HC3"`` to the same sandwich (it has no
leverage-corrected variants for GLMs): the inverse observed Hessian around the sum of the
score outer products, frequency weights counted once. ``"cluster"`` (one- or two-way) puts
per-group score sums in the middle, with statsmodels' small-sample correction and
``df_resid_inference``. One pass gives the Hessian and the meat (or the group sums) at the
fitted coefficients: O(p^2) memory, O(G p) for G clusters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from statsmodels.genmod import families as smf

from ..errors import ArgumentError, DataError
from ..store import read_block
from .glm import Extras, iweights
from .robust import _group_keys, cluster_cov, merge_cluster_sums

__all__ = ["HC_TYPES", "glm_cov_cluster", "glm_cov_hc"]

HC_TYPES = ("HC0", "HC1", "HC2", "HC3")


def _factors(
    path: str,
    a: int,
    b: int,
    version: str,
    extras: Extras,
    family: smf.Family,
    beta: np.ndarray,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A block's X, score factors and observed-Hessian factors (statsmodels' formulas)."""
    x, y = read_block(path, a, b, ("X", "y"), version)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    iw = iweights(extras, y.size)
    eta = x @ beta + (0.0 if extras.offset is None else extras.offset)
    with np.errstate(all="ignore"):
        mu = family.fitted(eta)
        d1, var = family.link.deriv(mu), family.variance(mu)
        score1 = (y - mu) / (d1 * var) * iw  # the score factor at scale 1
        eim = iw / (d1**2 * var)
        tmp = (var * family.link.deriv2(mu) + family.variance.deriv(mu) * d1) * score1 / iw
        oim = eim * (1 + tmp)
    return x, score1 / scale, oim / scale


def _hc_block(
    path: str,
    a: int,
    b: int,
    version: str,
    extras: Extras,
    family: smf.Family,
    beta: np.ndarray,
    scale: float,
) -> np.ndarray:
    """Leaf: ``[meat, Hessian]`` (2, p, p) of a block."""
    x, score, oim = _factors(path, a, b, version, extras, family, beta, scale)
    # statsmodels divides the scores by sqrt(freq_weights): a row counted f times adds f
    # (not f^2) times its outer product
    fw = 1.0 if extras.freq_weights is None else extras.freq_weights
    xu = x * (score / np.sqrt(fw))[:, None]
    return np.stack([xu.T @ xu, -(x.T * oim) @ x])


def _cluster_block(
    path: str,
    a: int,
    b: int,
    version: str,
    extras: Extras,
    groups: Any,
    family: smf.Family,
    beta: np.ndarray,
    scale: float,
) -> tuple[np.ndarray, list[pd.DataFrame]]:
    """Leaf: the block's Hessian and per-group score sums (one frame per grouping)."""
    x, score, oim = _factors(path, a, b, version, extras, family, beta, scale)
    scores = pd.DataFrame(x * score[:, None])
    keys = _group_keys(groups, x.shape[0])
    by = [keys[0]] if len(keys) == 1 else [keys[0], keys[1], keys]
    return -(x.T * oim) @ x, [scores.groupby(k, sort=False).sum() for k in by]


def _merge_cluster(parts: list[tuple[np.ndarray, list[pd.DataFrame]]]) -> tuple:
    return np.sum([p[0] for p in parts], axis=0), merge_cluster_sums([p[1] for p in parts])


def _inverse(hessian: np.ndarray, terms: list[str]) -> np.ndarray:
    try:
        return np.linalg.inv(hessian)
    except np.linalg.LinAlgError as exc:
        raise DataError(
            f"the GLM's Hessian is singular ({exc}), so no robust covariance exists: the "
            f"design of {len(terms)} columns is rank deficient; drop a dependent column"
        ) from exc


def glm_cov_hc(result: Any) -> np.ndarray:
    """statsmodels' GLM sandwich (every HC type): ``H^-1 (sum u u') H^-1``."""
    meat, hessian = result._rows_pass(_hc_block, result._fit.params, result.scale)
    h_inv = _inverse(hessian, result.terms)
    return h_inv @ meat @ h_inv


def glm_cov_cluster(result: Any, groups: Any, use_correction: bool) -> tuple[np.ndarray, int]:
    """statsmodels' one- or two-way cluster covariance of a GLM, and the groups its degrees
    of freedom use."""
    if groups is None:
        raise ArgumentError("cov_type='cluster' needs cov_kwds={'groups': ...}")
    hessian, sums = result._rows_pass(
        _cluster_block, result._fit.params, result.scale, per_row=groups, merge=_merge_cluster
    )
    h_inv = _inverse(hessian, result.terms)
    return cluster_cov(("pinv", h_inv), sums, float(result.nobs), use_correction)
