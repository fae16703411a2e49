"""Heteroscedasticity-robust (sandwich) covariances, HC0-HC3, out of core.

statsmodels' ``cov_HCk`` is ``(X'WX)^+ X'W diag(s) W X (X'WX)^+`` with ``s`` the squared
(whitened) residuals, scaled by ``n / df_resid`` (HC1), divided by ``1 - h`` (HC2) or by
``(1 - h)^2`` (HC3), ``h`` the leverages. Here the three meats ``sum_i u_i u_i' / (1 -
h_i)^k`` (``u_i`` a row's whitened regressors times its whitened residual; k = 0, 1, 2)
come from one more pass over the fit's rows, each block reduced to three p x p sums:
O(p^2) memory whatever the rows. The leverages need ``(X'WX)^+``, which the fit already
holds (from R, never formed as X'X).

Everything is computed in the fit's scaled units (each column, y and the weights divided
by a power of two: :class:`~ooc_accessor.kernels.LstsqStats`), where the sandwich is the
raw one up to ``2**(2 ey - ex_i - ex_j)``: the weights' scale cancels between bread and
meat.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats as sps
from scipy.linalg import solve_triangular

from ..errors import ArgumentError, ArgumentTypeError, DataError
from ..kernels import square_r, sub_rows

__all__ = ["HC_TYPES", "RobustCovariance", "meat_blocks"]

#: the heteroscedasticity-robust covariances, by statsmodels' names
HC_TYPES = ("HC0", "HC1", "HC2", "HC3")


def _coordinates(xs: np.ndarray, basis: tuple[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows in the coordinates the sandwich is formed in, and their leverages.

    ``("r", R)``: ``z = R^-T x`` (rows of Q; leverage ``|z|^2``), by triangular solves, so
    the sandwich ``R^-1 M R^-T`` loses digits as cond(X), not cond(X)^2 as
    ``(X'X)^-1 M (X'X)^-1`` does (a column of 1e6 + noise beside an intercept: 7e-4
    relative error in HC0 that way, 1e-10 this way). ``("pinv", C)`` for a rank-deficient
    fit: ``z = x`` and the leverage ``x C x'``, C the pseudo-inverse of ``X'WX``.
    """
    kind, m = basis
    if kind == "r":
        z = solve_triangular(m, xs.T, trans="T", lower=False, check_finite=False).T
        return z, np.einsum("ij,ij->i", z, z)
    return xs, np.einsum("ij,jk,ik->i", xs, m, xs)


def meat_blocks(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    ex: np.ndarray,
    ey: int,
    ew: int,
    beta: np.ndarray,
    basis: tuple[str, np.ndarray],
) -> np.ndarray:
    """The three meats of one block, shape ``(3, p, p)``, in the fit's scaled units and
    ``basis``'s coordinates (:func:`_coordinates`).

    ``ex``, ``ey``, ``ew``: the fit's power-of-two exponents of the columns, y and the
    weights; ``beta`` in the scaled units. Rows go in cache-sized steps, so a block is
    never copied whole. A row of leverage 1 (a level seen once) has a zero residual: it
    adds nothing to HC2 and HC3 (rather than 0 / 0).
    """
    m, p = x.shape
    out = np.zeros((3, p, p))
    step = sub_rows(p + 1)
    for a in range(0, m, step):
        xs, e = _whitened(x, y, w, a, a + step, ex, ey, ew, beta)
        z, h = _coordinates(xs, basis)
        u = z * e[:, None]
        out[0] += u.T @ u
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(h < 1.0, 1.0 / (1.0 - h), 0.0)
        v = u * np.sqrt(d)[:, None]
        out[1] += v.T @ v
        v = u * d[:, None]
        out[2] += v.T @ v
    return out


def _whitened(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    a: int,
    b: int,
    ex: np.ndarray,
    ey: int,
    ew: int,
    beta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``a:b``'s whitened regressors and residuals, in the fit's scaled units."""
    xs = np.ldexp(np.asarray(x[a:b], dtype=np.float64), -ex)
    e = np.ldexp(np.asarray(y[a:b], dtype=np.float64).reshape(-1), -ey) - xs @ beta
    if w is not None:
        sw = np.sqrt(np.ldexp(np.asarray(w[a:b], dtype=np.float64), -ew))
        xs *= sw[:, None]
        e *= sw
    return xs, e


def _group_keys(groups: Any, m: int) -> list[np.ndarray]:
    """One block's group columns (one or two) as arrays of ``m`` values."""
    if isinstance(groups, pd.DataFrame):
        keys = [groups.iloc[:, i].to_numpy() for i in range(groups.shape[1])]
    else:
        g = np.asarray(groups)
        keys = [g] if g.ndim == 1 else [g[:, i] for i in range(g.shape[1])]
    for k in keys:
        missing = pd.isna(k)
        if len(k) != m or missing.any():
            where = f"fitted row {int(np.argmax(missing))} of a block" if len(k) == m else ""
            # an argument's problem, not the data's: a later pass must not blame a change
            raise ArgumentError(
                f"a cluster group is missing ({where}): every fitted row needs a group (a "
                "Series is matched by label: every fitted row's label must be in it); fill "
                "it, or drop those rows before fitting"
            )
    return keys


def cluster_sums(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    groups: Any,
    ex: np.ndarray,
    ey: int,
    ew: int,
    beta: np.ndarray,
    basis: tuple[str, np.ndarray],
) -> list[pd.DataFrame]:
    """Each group's sum of the scores ``u_i`` in one block, a frame per grouping: the
    groups (one-way), or each of two and their pairs (two-way)."""
    xs, e = _whitened(x, y, w, 0, x.shape[0], ex, ey, ew, beta)
    z, _ = _coordinates(xs, basis)
    scores = pd.DataFrame(z * e[:, None])
    keys = _group_keys(groups, x.shape[0])
    by = [keys[0]] if len(keys) == 1 else [keys[0], keys[1], keys]
    return [scores.groupby(k, sort=False).sum() for k in by]


def merge_cluster_sums(parts: list[list[pd.DataFrame]]) -> list[pd.DataFrame]:
    """Per-group sums of disjoint rows merged (groups spanning blocks added up)."""
    out = []
    for i in range(len(parts[0])):
        frame = pd.concat([p[i] for p in parts])
        out.append(frame.groupby(level=list(range(frame.index.nlevels)), sort=False).sum())
    return out


def cluster_cov(
    basis: tuple[str, np.ndarray], sums: list[pd.DataFrame], nobs: float, correct: bool
) -> tuple[np.ndarray, int]:
    """statsmodels' one- or two-way cluster covariance (scaled units) and the number of
    groups its degrees of freedom use (the smaller of two)."""

    def one(frame: pd.DataFrame) -> tuple[np.ndarray, int]:
        s = frame.to_numpy()
        g, p = s.shape
        if g < 2:
            raise DataError(
                f"the cluster groups hold {g} distinct value(s): a cluster covariance needs at "
                "least two groups"
            )
        cov = outer(basis, s.T @ s)
        return (cov * (g / (g - 1.0)) * ((nobs - 1.0) / (nobs - p)) if correct else cov), g

    if len(sums) == 1:
        return one(sums[0])
    (c0, g0), (c1, g1), (c01, _) = (one(f) for f in sums)
    return c0 + c1 - c01, min(g0, g1)


def outer(basis: tuple[str, np.ndarray], meat: np.ndarray) -> np.ndarray:
    """The sandwich around ``meat`` (in ``basis``'s coordinates), in the scaled units."""
    kind, m = basis
    if kind == "r":  # R^-1 M R^-T
        left = solve_triangular(m, meat, lower=False, check_finite=False)
        return solve_triangular(m, left.T, lower=False, check_finite=False).T
    return m @ meat @ m


def sandwich(
    basis: tuple[str, np.ndarray], meats: np.ndarray, cov_type: str, nobs: float, df_resid: float
) -> np.ndarray:
    """``cov_type``'s covariance (scaled units) from the three meats."""
    k = {"HC0": 0, "HC1": 0, "HC2": 1, "HC3": 2}[cov_type]
    cov = outer(basis, meats[k])
    if cov_type == "HC1":  # statsmodels' n / df_resid (nan without residual df)
        return cov * (nobs / df_resid) if df_resid > 0 else np.full_like(cov, np.nan)
    return cov


def normalize_cov_type(cov_type: Any) -> str:
    """statsmodels' spelling of a supported ``cov_type`` (case as statsmodels accepts)."""
    if isinstance(cov_type, str):
        if cov_type in ("nonrobust", "cluster", "fixed scale"):
            return cov_type
        if cov_type.lower() == "cluster":
            return "cluster"
        if cov_type.lower() in ("fixed scale", "fixed_scale"):
            return "fixed scale"
        if cov_type.upper() in HC_TYPES:
            return cov_type.upper()
    raise ArgumentError(
        f"cov_type={cov_type!r} is not one this fit offers: 'nonrobust', one of "
        f"{', '.join(map(repr, HC_TYPES))} (heteroscedasticity-robust), 'cluster' "
        "(cov_kwds={'groups': ...}) or 'fixed scale' (cov_kwds={'scale': ...}), statsmodels' "
        "names"
    )


#: cov_kwds a cluster covariance takes, as statsmodels' (with their defaults)
CLUSTER_KWDS = {"groups": None, "use_correction": True, "df_correction": True}

#: cov_kwds a fixed-scale covariance takes, as statsmodels' (with its default)
FIXED_SCALE_KWDS = {"scale": 1.0}


def fixed_scale(scale: Any) -> float:
    """A fixed-scale covariance's residual variance: a positive finite number."""
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.number)):
        raise ArgumentTypeError(
            f"cov_kwds={{'scale': ...}} must be a number (the residual variance to assume), "
            f"not {type(scale).__name__}"
        )
    if not (np.isfinite(scale) and scale > 0):
        raise ArgumentError(
            f"scale={scale!r}: a fixed scale is a residual variance, positive and finite"
        )
    return float(scale)


#: statsmodels' descriptions of the covariances (``cov_kwds["description"]``)
_DESCRIPTIONS = {
    "nonrobust": "Standard Errors assume that the covariance matrix of the errors is "
    "correctly specified.",
    **{hc: f"Standard Errors are heteroscedasticity robust ({hc})" for hc in HC_TYPES},
    "cluster": "Standard Errors are robust to cluster correlation (CRV1)",
    "fixed scale": "Standard Errors are based on fixed scale",
}


def cov_description(cov_type: str, use_t: bool, kwds: dict[str, Any]) -> dict[str, Any]:
    """statsmodels' ``cov_kwds`` of a result made by ``get_robustcov_results``."""
    if cov_type == "nonrobust":
        return {"description": _DESCRIPTIONS["nonrobust"]}
    out: dict[str, Any] = {"use_t": use_t, "adjust_df": False}
    if cov_type == "cluster":
        out.update(
            adjust_df=kwds["df_correction"] is not False,
            groups=kwds["groups"],
            use_correction=kwds["use_correction"],
        )
    out["description"] = _DESCRIPTIONS[cov_type]
    if cov_type == "fixed scale":
        out["scale"] = kwds["scale"]
    return out


def cluster_groups(groups: Any, nobs: int) -> Any:
    """``groups`` as the rows pass takes them: column names (a list of one or two), an
    array of one value (or two) per fitted row, or a Series aligned by label."""
    if groups is None:
        raise ArgumentError(
            "cov_type='cluster' needs cov_kwds={'groups': ...}: a column name, two names for "
            "two-way clustering, or one group value per fitted row"
        )
    if isinstance(groups, str):
        return [groups]
    if isinstance(groups, (list, tuple)) and groups and all(isinstance(g, str) for g in groups):
        if len(groups) > 2:
            raise ArgumentError(f"at most two groupings are supported, not {len(groups)}")
        return list(groups)
    if isinstance(groups, xr.DataArray):
        if groups.ndim == 1 and groups.dims[0] in groups.indexes:  # a coordinate: labels
            dim = groups.dims[0]
            return pd.Series(groups.values, index=groups.indexes[dim])
        groups = groups.values  # no labels: positions, as xarray
    if isinstance(groups, pd.DataFrame) and groups.shape[1] == 1:
        groups = groups.iloc[:, 0]
    if isinstance(groups, (pd.Series, pd.DataFrame)):  # matched to the fit's rows by label
        if isinstance(groups, pd.DataFrame) and groups.shape[1] != 2:
            raise ArgumentError(
                f"a DataFrame of groups needs one or two columns, not {groups.shape[1]}"
            )
        if not groups.index.is_unique:
            raise ArgumentError(
                "the groups have repeated row labels, so they cannot be matched to the fit's "
                "rows by label; pass an array in the order of the fitted rows"
            )
        return groups
    if isinstance(groups, tuple):  # statsmodels' two-way form: a pair of arrays
        groups = np.column_stack([np.asarray(g) for g in groups])
    g = np.asarray(groups)
    if g.ndim == 0 or g.ndim > 2 or (g.ndim == 2 and g.shape[1] not in (1, 2)):
        raise ArgumentTypeError(
            "groups must be a column name, two names, or an array of one or two group values "
            f"per fitted row, not an array of shape {g.shape}"
        )
    if g.shape[0] != nobs:
        raise ArgumentError(
            f"groups has {g.shape[0]} values for the fit's {nobs} rows: give one per fitted "
            "row (rows dropped for missing values are not fitted), or name a column"
        )
    return g[:, 0] if g.ndim == 2 and g.shape[1] == 1 else g


class RobustCovariance:
    """statsmodels' robust-covariance surface of a least-squares result (a mixin).

    The meats are computed on first use by one pass over the fit's rows (``_rows_pass``,
    which the result provides) and kept: every ``cov_HCk`` and ``HCk_se`` and
    :meth:`get_robustcov_results` share that one pass.
    """

    _meats: np.ndarray | None = None
    _robust_s: np.ndarray | None = None

    def _rows_pass(self, fn: Any, *args: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _basis(self) -> tuple[str, np.ndarray]:
        """R of the (scaled, whitened) design for a full-rank fit, else ``(X'WX)^+``."""
        p = len(self.terms)
        if self._sol.rank == p:
            r = square_r(self._stats.xy_r(), p + 1)[:p, :p]
            if np.all(np.diag(r) != 0):
                return ("r", np.ascontiguousarray(r))
        return ("pinv", self._sol.normalized_cov)

    def _robust_meats(self) -> np.ndarray:
        if self._meats is None:
            sol = self._sol
            args = (self._ex, self._ey, self._ew, sol.params, self._basis())
            self._meats = self._rows_pass(meat_blocks, *args)
        return self._meats

    def _hc_s(self, cov_type: str) -> np.ndarray:
        """``cov_type``'s covariance in the scaled units."""
        meats = self._robust_meats()
        return sandwich(self._basis(), meats, cov_type, self.nobs, self.df_resid)

    def _hc(self, cov_type: str):
        return self._raw_cov(self._hc_s(cov_type))

    def _hc_se(self, cov_type: str):
        return self._by_term(self._raw_se(self._hc_s(cov_type)))

    @property
    def cov_HC0(self):  # noqa: N802 - statsmodels' name
        """White's heteroscedasticity-robust covariance (statsmodels' ``cov_HC0``)."""
        return self._hc("HC0")

    @property
    def cov_HC1(self):  # noqa: N802 - statsmodels' name
        """HC0 scaled by ``nobs / df_resid`` (statsmodels' ``cov_HC1``)."""
        return self._hc("HC1")

    @property
    def cov_HC2(self):  # noqa: N802 - statsmodels' name
        """Squared residuals over ``1 - h``, h the leverages (statsmodels' ``cov_HC2``)."""
        return self._hc("HC2")

    @property
    def cov_HC3(self):  # noqa: N802 - statsmodels' name
        """Squared residuals over ``(1 - h)^2`` (statsmodels' ``cov_HC3``)."""
        return self._hc("HC3")

    @property
    def HC0_se(self):  # noqa: N802 - statsmodels' name
        """Standard errors from :attr:`cov_HC0`."""
        return self._hc_se("HC0")

    @property
    def HC1_se(self):  # noqa: N802 - statsmodels' name
        """Standard errors from :attr:`cov_HC1`."""
        return self._hc_se("HC1")

    @property
    def HC2_se(self):  # noqa: N802 - statsmodels' name
        """Standard errors from :attr:`cov_HC2`."""
        return self._hc_se("HC2")

    @property
    def HC3_se(self):  # noqa: N802 - statsmodels' name
        """Standard errors from :attr:`cov_HC3`."""
        return self._hc_se("HC3")

    def _with_cov(self, cov_type: str, use_t: bool | None) -> Any:  # pragma: no cover
        raise NotImplementedError

    @property
    def cov_kwds(self) -> dict[str, Any]:
        """The covariance's options and description, as statsmodels' ``cov_kwds``."""
        kwds = getattr(self, "_cov_kwds", None)
        return dict(kwds) if kwds is not None else {"description": _DESCRIPTIONS["nonrobust"]}

    def get_robustcov_results(self, cov_type: str = "HC1", use_t: bool | None = None, **kwds):
        """A copy of this result whose inference uses ``cov_type`` (statsmodels' method).

        Parameters
        ----------
        cov_type : {"HC0", "HC1", "HC2", "HC3", "nonrobust"}
            The covariance behind ``bse``, ``tvalues``, ``pvalues``, ``conf_int`` and the
            F test.
        use_t : bool, optional
            Student t distributions when True, the normal when False; by default this
            result's own ``use_t``, as statsmodels (a fit made with ``cov_type=`` has
            False, a plain fit True).
        """
        cov_type = normalize_cov_type(cov_type)
        allowed = {"cluster": CLUSTER_KWDS, "fixed scale": FIXED_SCALE_KWDS}.get(cov_type, {})
        if kwds and not allowed:
            raise ArgumentError(
                f"cov_type={cov_type!r} takes no keywords, but got {sorted(kwds)}: "
                "heteroscedasticity-robust covariances use none"
            )
        unknown = sorted(set(kwds) - set(allowed))
        if unknown:
            raise ArgumentError(
                f"cov_type={cov_type!r} takes the keywords {sorted(allowed)}, not {unknown}"
            )
        if use_t is None:
            use_t = self.use_t
        out = self._with_cov(cov_type, bool(use_t))
        opts = {**allowed, **kwds}
        out._cov_kwds = cov_description(cov_type, bool(use_t), opts)
        if cov_type == "fixed scale":
            out._fixed_scale = fixed_scale(opts["scale"])
            e = 2 * self._ey + self._ew  # the residual variance's power of two
            out._robust_s = self._sol.normalized_cov * np.ldexp(out._fixed_scale, -e)
            return out
        if cov_type == "cluster":
            opts = {**CLUSTER_KWDS, **kwds}
            per_row = cluster_groups(opts["groups"], int(self.nobs))
            sol = self._sol
            basis = self._basis()
            sums = self._rows_pass(
                cluster_sums,
                self._ex,
                self._ey,
                self._ew,
                sol.params,
                basis,
                per_row=per_row,
                merge=merge_cluster_sums,
            )
            cov, n_groups = cluster_cov(basis, sums, self.nobs, bool(opts["use_correction"]))
            out._robust_s = cov
            out.n_groups = n_groups
            if opts["df_correction"] is not False:
                out.df_resid_inference = float(n_groups - 1)
        elif cov_type != "nonrobust":
            out._robust_s = self._hc_s(cov_type)
        return out

    def _robust_f(self) -> tuple[float, float]:
        """statsmodels' F test that every coefficient but the constant is zero, under the
        robust covariance: ``(fvalue, f_pvalue)``; its degrees of freedom are the rank of
        the coefficients' covariance (a rank-deficient design has fewer)."""
        p = len(self.terms)
        keep = list(range(p))
        if self.k_constant == 1:
            const = self._constant_column()
            if const is None:  # an implicit constant: statsmodels says nan
                return float("nan"), float("nan")
            keep.remove(const)
            if not keep:
                return float("nan"), float("nan")
        from .inference import wald_statistic

        cov = self._cov_s
        # a coefficient the design cannot estimate (a column of zeros, a level whose rows
        # all weigh 0) has no variance: statsmodels' pseudo-inverse leaves it out, so here
        sd = np.sqrt(np.abs(np.diag(cov)))  # in the scaled units: comparable sizes
        keep = [i for i in keep if sd[i] > 1e-10 * sd.max()]
        if not keep:
            return float("nan"), float("nan")
        b = self._sol.params[keep]
        v = cov[np.ix_(keep, keep)]
        stat, j = wald_statistic(b, v, "every coefficient but the constant = 0")
        stat /= j
        return stat, float(sps.f.sf(stat, j, self._df_inference))

    def _constant_column(self) -> int | None:
        """The column that is a constant (statsmodels' ``const_idx``): the intercept, or a
        column parallel to the constant (its cosine with it 1 to 1e-12, from the R factor
        of ``[X | 1]``, so a near-constant column such as Longley's YEAR is not one)."""
        if "Intercept" in self.terms:
            return self.terms.index("Intercept")
        rr = self._stats.x1_r()
        p = len(self.terms)
        ones = rr[:, p]
        n1 = float(ones @ ones)
        for j in range(p):
            col = rr[:, j]
            nj = float(col @ col)
            if nj > 0 and n1 > 0 and (float(col @ ones) ** 2) / (nj * n1) > 1 - 1e-12:
                return j
        return None
