"""``glm``: a GLM of a formula on a DataFrame or Dataset, or of a stored design.

The design is stored (a temporary store unless ``path=``), then fitted by IRLS over the
store (:mod:`~ooc_accessor.stats.glm`). ``offset``, ``exposure``, ``var_weights`` and
``freq_weights`` are taken for the data's rows (a column's name, a number, or one value
per row, matched by label when labeled) and follow the design's rows: a row the design
dropped for a missing value is dropped from them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from statsmodels.genmod import families as smf

from ..arguments import check_keywords
from ..errors import ArgumentError, ArgumentTypeError, DataError, FormulaError
from ..rowlabels import positions_in
from ..rowweights import row_weights
from ..translate import label
from .families import resolve_family
from .glm import MAXITER, TOL, Extras, check_scale, check_tolerance, irls
from .glmresults import GLMResults
from .robust import normalize_cov_type
from .rowvalues import row_index, row_values, rows_digest

__all__ = ["glm", "glm_design"]

#: the design's keywords a GLM passes on
GLM_DESIGN_KEYWORDS = ("chunksize", "path", "missing", "compression")
_ROW_INPUTS = ("offset", "exposure", "var_weights", "freq_weights")


def _check_values(name: str, values: np.ndarray, obs_of: Callable[[], pd.Index]) -> None:
    """Refuse values a GLM cannot use, naming the first offending row (``obs_of()``: the
    rows' labels, read only then)."""
    if name in ("offset",):
        bad, need = ~np.isfinite(values), "finite"
    elif name in ("exposure", "var_weights"):
        bad, need = ~(np.isfinite(values) & (values > 0)), "finite and positive"
    else:
        bad, need = ~(np.isfinite(values) & (values >= 0)), "finite and non-negative"
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{name} must be {need}; the row labeled {label(obs_of()[i])!r} has {values[i]!r}: fix "
            f"it, or drop that row from the data"
        )


def _kept_rows(data: Any, dim: str | None, design: Any) -> np.ndarray | None:
    """Positions in ``data`` of the design's rows (None: all of them, in order)."""
    if design.n_dropped == 0:
        return None
    index = row_index(data, dim)
    obs = design.obs
    if index is None:  # a dimension without a coordinate: the labels are positions
        return np.asarray(obs, dtype=np.int64)
    if not index.is_unique:
        raise ArgumentError(
            f"{design.n_dropped} rows were dropped for missing values and the data's row "
            "labels repeat, so offset/exposure/weights cannot follow the rows kept: give the "
            "data unique labels (reset_index()) or drop the missing rows first"
        )
    # compared as the store holds them: a MultiIndex's or a stacked dimension's tuples
    # come back from the store as text
    pos = positions_in(index, obs)
    if (pos < 0).any():  # pragma: no cover - the design's rows come from these labels
        raise DataError("the design's row labels are not all in the data's: fit again")
    return pos


def _extras(
    inputs: dict[str, Any],
    family: smf.Family,
    values_of: Any,
    obs_of: Any,
) -> Extras:
    """The per-row inputs as an :class:`Extras` of the design's rows.

    ``values_of(value, name)`` gives one float64 per design row; ``obs_of()`` the design's
    row labels (for messages, read only when one is refused).
    """
    got = {k: None if v is None else values_of(v, k) for k, v in inputs.items()}
    for k, v in got.items():
        if v is not None:
            _check_values(k, v, obs_of)
    if got["exposure"] is not None and not isinstance(family.link, smf.links.Log):
        raise ArgumentError(
            f"exposure= needs the log link (it enters as log(exposure)); the "
            f"{type(family).__name__} family here has the {type(family.link).__name__} link: "
            "pass log(exposure) as offset= instead"
        )
    offset = got["offset"]
    if got["exposure"] is not None:
        logged = np.log(got["exposure"])
        offset = logged if offset is None else offset + logged
    return Extras(offset, got["var_weights"], got["freq_weights"])


def _one_response(design: Any) -> None:
    if len(design.responses) != 1:
        raise FormulaError(
            f"the GLM of {design.formula!r} has {len(design.responses)} response columns "
            f"{design.responses[:4]}: a GLM needs one numeric response. A text or boolean "
            "response is coded into a column per level: give 0/1 numbers instead (e.g. "
            "df['y'].astype(int)); a binomial count is a proportion with var_weights= the "
            "number of trials"
        )


def _fit_options(
    maxiter: Any,
    tol: Any,
    scale: Any,
    atol: Any,
    rtol: Any,
    tol_criterion: Any,
    start_params: Any,
) -> dict[str, Any]:
    """statsmodels' ``GLM.fit`` options, checked, as :func:`irls`' keywords."""
    if not isinstance(maxiter, (int, np.integer)) or isinstance(maxiter, bool) or maxiter < 1:
        raise ArgumentError(f"maxiter must be a positive integer, not {maxiter!r}")
    numeric = isinstance(tol, (int, float, np.integer, np.floating)) and not isinstance(tol, bool)
    if not (numeric and tol > 0):
        raise ArgumentError(f"tol must be a positive number, not {tol!r}")
    return {
        "maxiter": int(maxiter),
        "scale": check_scale(scale),
        "tolerance": check_tolerance(float(tol), atol, rtol, tol_criterion),
        "start_params": start_params,
    }


def glm_design(
    design: Any,
    family: Any = "gaussian",
    link: Any = None,
    var_weights: Any = None,
    freq_weights: Any = None,
    offset: Any = None,
    exposure: Any = None,
    *,
    maxiter: int = MAXITER,
    tol: float = TOL,
    scale: str | float | None = None,
    atol: float | None = None,
    rtol: float = 0.0,
    tol_criterion: str = "deviance",
    start_params: Any = None,
    cov_type: str = "nonrobust",
    cov_kwds: dict | None = None,
    use_t: bool | None = None,
    _data: tuple[Any, str | None] | None = None,
) -> GLMResults:
    """A GLM of a stored design's y on its X (see :meth:`Design.glm`).

    Without ``_data`` the per-row inputs are one value per stored row (a Series or
    DataArray aligned on ``design.obs``); with ``_data = (data, dim)`` they are columns or
    values of the data the design was built from.
    """
    fam = resolve_family(family, link)
    _one_response(design)
    if design.has_weights and var_weights is None and freq_weights is None:
        raise ArgumentError(
            "this design was built with weights=, which a GLM does not take: pass them as "
            "var_weights= (statsmodels' analytic weights) or freq_weights= (counts), e.g. "
            "var_weights=design.weights.values"
        )
    options = _fit_options(maxiter, tol, scale, atol, rtol, tol_criterion, start_params)
    inputs = {"offset": offset, "exposure": exposure}
    inputs |= {"var_weights": var_weights, "freq_weights": freq_weights}
    if _data is None:
        n = design.n_obs

        def values_of(v: Any, name: str) -> np.ndarray:
            if isinstance(v, str):
                raise ArgumentTypeError(
                    f"{name}={v!r} names a column, but a stored design has no columns: pass "
                    f"one value per stored row ({n}), or fit from the data (df.ooc.glm)"
                )
            labeled = isinstance(v, (pd.Series, xr.DataArray))
            index = design.obs if labeled else None
            return row_weights(v, index, n, "design's stored", f"{n} stored rows", None, name)

    else:
        data, dim = _data
        kept: list[np.ndarray | None] = []

        def keep_of() -> np.ndarray | None:
            if not kept:
                kept.append(_kept_rows(data, dim, design))
            return kept[0]

        def values_of(v: Any, name: str) -> np.ndarray:
            out = row_values(v, data, dim, name)
            keep = keep_of()
            return out if keep is None else out[keep]

    normalize_cov_type(cov_type)  # a misspelt type is refused before the passes
    if cov_kwds is not None and not isinstance(cov_kwds, dict):
        raise ArgumentTypeError(f"cov_kwds must be a dict, not {type(cov_kwds).__name__}")
    extras = _extras(inputs, fam, values_of, lambda: design.obs)
    fit = irls(design, fam, extras, **options)
    result = GLMResults(fit, design, fam, extras, design.source_kind)
    result.scaletype = options["scale"]
    if _data is not None:
        result._data = (_data[0], _data[1], keep_of, rows_digest(_data[0], _data[1]))
    if cov_type == "nonrobust" and not cov_kwds and not use_t:
        return result
    return result.get_robustcov_results(cov_type, bool(use_t), **(cov_kwds or {}))


def glm(
    data: pd.DataFrame | xr.Dataset,
    formula: str,
    family: Any = "gaussian",
    link: Any = None,
    var_weights: Any = None,
    freq_weights: Any = None,
    offset: Any = None,
    exposure: Any = None,
    *,
    dim: str | None = None,
    eval_env: Any = 0,
    maxiter: int = MAXITER,
    tol: float = TOL,
    scale: str | float | None = None,
    atol: float | None = None,
    rtol: float = 0.0,
    tol_criterion: str = "deviance",
    start_params: Any = None,
    cov_type: str = "nonrobust",
    cov_kwds: dict | None = None,
    use_t: bool | None = None,
    **design_kwargs: Any,
) -> GLMResults:
    """A generalized linear model of ``formula`` on ``data`` (statsmodels' GLM, by IRLS).

    The design is stored first (8 bytes per row and design column, in a temporary store
    removed with the result, or kept at ``path=``); each IRLS iteration is then one pass
    over the store, so memory stays a few blocks plus O(p^2) whatever the rows.

    Parameters
    ----------
    data : pandas.DataFrame or xarray.Dataset
    formula : str
        A patsy formula with one numeric response, e.g. ``"hit ~ x + C(g)"``.
    family : str or statsmodels family
        ``"binomial"``, ``"poisson"``, ``"gamma"``, ``"gaussian"``,
        ``"inverse_gaussian"``, ``"negativebinomial"`` (alpha 1) or ``"tweedie"``
        (var_power 1), or an instance such as ``sm.families.Tweedie(var_power=1.5)``,
        kept with its link.
    link : str or statsmodels link, optional
        With a family name: e.g. ``"log"``, ``"probit"``; the canonical link by default.
    var_weights, freq_weights, offset, exposure : str, number or array-like, optional
        A column's name, one number for all rows, or one value per row of ``data`` (a
        Series or DataArray by label), as statsmodels' GLM takes them; ``exposure`` enters
        as ``log(exposure)`` and needs the log link. A missing value there is an error.
    dim : str, optional
        A Dataset's sample dimension.
    eval_env : int or patsy.EvalEnvironment
        Where names in the formula that are not columns are looked up.
    maxiter, tol : int, float
        statsmodels' IRLS limits: at most ``maxiter`` iterations, converged when the
        scaled deviance changes by at most ``tol``.
    scale : {"X2", "dev"} or float, optional
        statsmodels' ``fit(scale=)``: the dispersion is Pearson's chi2 / ``df_resid``
        (``"X2"``), the deviance / ``df_resid`` (``"dev"``) or the number given; by
        default 1 for the binomial, Poisson and negative binomial families and ``"X2"``
        for the others.
    atol, rtol, tol_criterion : float, float, {"deviance", "params"}
        statsmodels' IRLS convergence test in full: converged when the criterion (the
        scaled deviance, or the coefficients) changes by at most ``atol + rtol * |old|``;
        ``atol`` defaults to ``tol``, ``rtol`` to 0.
    start_params : array-like, optional
        Starting coefficients, one per design column (statsmodels' ``start_params``: the
        first means are ``fitted(X start_params + offset)``); by default the family's
        starting mean.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}
        As statsmodels' ``GLM.fit(cov_type=)`` (every HC type is its one GLM sandwich);
        a robust type costs one more pass. ``cov_kwds={"groups": ...}`` for "cluster".
    use_t : bool, optional
        Student t instead of the normal (statsmodels' GLM default: False).
    **design_kwargs
        ``chunksize``, ``path``, ``missing``, ``compression``: see
        :func:`~ooc_accessor.design.build_design`.

    Returns
    -------
    GLMResults

    Raises
    ------
    PerfectSeparationError
        A binomial, Poisson or negative binomial fit whose means meet every response.
    ConvergenceError
        No convergence in ``maxiter`` iterations (the deviance history is in the message).
    """
    from ..design import build_design, capture_env

    named = ("family", "link", "maxiter", "tol", "scale", "atol", "rtol", "tol_criterion")
    named += ("start_params", "cov_type", "cov_kwds", "use_t", "dim", "eval_env")
    check_keywords("glm", design_kwargs, (*_ROW_INPUTS, *named, *GLM_DESIGN_KEYWORDS))
    fam = resolve_family(family, link)  # a misspelt family is refused before the build
    _fit_options(maxiter, tol, scale, atol, rtol, tol_criterion, None)  # before the build
    env = capture_env(eval_env)
    design = build_design(data, formula, dim=dim, eval_env=env, **design_kwargs)
    dim = design.sample_dim if isinstance(data, xr.Dataset) else None
    return glm_design(
        design,
        fam,
        None,
        var_weights,
        freq_weights,
        offset,
        exposure,
        maxiter=maxiter,
        tol=tol,
        scale=scale,
        atol=atol,
        rtol=rtol,
        tol_criterion=tol_criterion,
        start_params=start_params,
        cov_type=cov_type,
        cov_kwds=cov_kwds,
        use_t=use_t,
        _data=(data, dim),
    )
