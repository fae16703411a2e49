"""Hypothesis tests of a fit: statsmodels' t_test, f_test, wald_test and model comparisons.

They need no pass over the rows: the coefficients and their covariance (the plain one, or
the robust one the result was made with) are all there is to it. Constraints are patsy's
language (``"a = b"``, ``"a = 0, b = 0"``, ``"2 * a + b = 1"``), a matrix ``R`` (``R b =
0``) or a pair ``(R, q)``, matched to the terms by name as statsmodels does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from patsy import PatsyError
from patsy.design_info import DesignInfo
from scipy import stats as sps

from ..errors import ArgumentError, ArgumentTypeError, FormulaError
from ..fitstats import check_alpha
from ..signatures import checked_methods
from .lmtest import CompareLRTestResult, compare_lm_test

__all__ = ["CompareLRTestResult", "ContrastResults", "HypothesisTests", "WaldTestResults"]


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class ContrastResults:
    """The outcome of a test, with statsmodels' ``ContrastResults`` names.

    Attributes
    ----------
    effect : ndarray or None
        ``R b`` of a t (or z) test; None for an F or chi2 test.
    sd : ndarray or None
        Its standard errors.
    statistic : ndarray or float
        ``tvalue`` (t or z tests), ``fvalue`` (F) or the chi2 statistic.
    pvalue : ndarray or float
    df_denom, df_num : float
        Degrees of freedom (``df_num`` for F tests only; a chi2 test's ``df_denom`` is
        its number of constraints, as statsmodels').
    distribution : {"t", "norm", "F", "chi2"}
    """

    def __init__(
        self,
        distribution: str,
        statistic: Any,
        df_denom: float,
        *,
        effect: np.ndarray | None = None,
        sd: np.ndarray | None = None,
        df_num: float | None = None,
    ) -> None:
        self.distribution = distribution
        self.statistic = statistic
        self.effect = effect
        self.sd = sd
        self.df_denom = df_denom
        if distribution == "F":
            self.fvalue = statistic
            self.df_num = df_num
            self.dist_args: tuple = (df_num, df_denom)
            self.pvalue = np.squeeze(sps.f.sf(statistic, df_num, df_denom))
        elif distribution == "chi2":
            self.dist_args = (df_denom,)
            self.pvalue = np.squeeze(sps.chi2.sf(statistic, df_denom))
        else:
            self.tvalue = statistic
            self.dist_args = (df_denom,) if distribution == "t" else ()
            dist = sps.t if distribution == "t" else sps.norm
            self.pvalue = np.squeeze(2 * dist.sf(np.abs(statistic), *self.dist_args))

    @property
    def _dist(self) -> Any:
        return {"t": sps.t, "norm": sps.norm, "F": sps.f, "chi2": sps.chi2}[self.distribution]

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """Intervals for ``effect`` at level ``1 - alpha`` (t and z tests only)."""
        check_alpha(alpha)
        if self.effect is None:
            raise ArgumentError(
                f"a {self.distribution} test has no effect to give an interval for; "
                "t_test gives one per constraint"
            )
        q = self._dist.ppf(1 - alpha / 2, *self.dist_args)
        return np.column_stack((self.effect - q * self.sd, self.effect + q * self.sd))

    def summary_frame(self, xname: list[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
        """One row per constraint: coef, std err, t (or z), P>|t|, and the interval;
        ``xname``: the rows' names (by default ``c0``, ``c1``...), as statsmodels'."""
        ci = self.conf_int(alpha)
        stat = "t" if self.distribution == "t" else "z"
        return pd.DataFrame(
            {
                "coef": self.effect,
                "std err": self.sd,
                stat: np.atleast_1d(self.statistic),
                f"P>|{stat}|": np.atleast_1d(self.pvalue),
                "Conf. Int. Low": ci[:, 0],
                "Conf. Int. Upp.": ci[:, 1],
            },
            index=list(xname) if xname is not None else [f"c{i}" for i in range(len(self.effect))],
        )

    def __repr__(self) -> str:
        if self.distribution == "F":
            return (
                f"<F test: F={float(self.fvalue)!r}, p={float(self.pvalue)!r}, "
                f"df_denom={self.df_denom:.3g}, df_num={self.df_num:.3g}>"
            )
        if self.distribution == "chi2":
            return (
                f"<Wald test (chi2): statistic={float(self.statistic)!r}, "
                f"p-value={float(self.pvalue)!r}, df_denom={self.df_denom:.3g}>"
            )
        return f"<{self.distribution} test>\n{self.summary_frame()}"


@checked_methods
class WaldTestResults:
    """Per-term Wald tests (statsmodels' ``WaldTestResults``): ``table``, ``statistic``,
    ``pvalues``, ``df_constraints``, ``df_denom`` (F tests) and ``summary_frame()``."""

    def __init__(self, table: pd.DataFrame, distribution: str) -> None:
        self.table = table
        self.distribution = distribution
        self.statistic = table["statistic"].to_numpy()
        self.pvalues = table["pvalue"].to_numpy()
        self.df_constraints = table["df_constraint"].to_numpy()
        if "df_denom" in table:
            self.df_denom = table["df_denom"].to_numpy()

    def summary_frame(self) -> pd.DataFrame:
        """The table with statsmodels' display names (``F``/``chi2``, ``P>F``...)."""
        d = self.distribution
        names = {"statistic": d, "pvalue": f"P>{d}", "df_constraint": "df constraint"}
        return self.table.rename(columns={**names, "df_denom": "df denom"})

    def __repr__(self) -> str:
        return f"<Wald tests by term ({self.distribution})>\n{self.summary_frame()}"


def wald_statistic(d: np.ndarray, v: np.ndarray, what: Any) -> tuple[float, int]:
    """``d' V^+ d`` and the rank of ``V`` (the constraints' count when of full rank).

    Both are taken on ``V`` scaled to a unit diagonal, so that neither depends on the
    columns' units (statsmodels decides the rank on the raw covariance: a column in other
    units can change its answer). A constraint that constrains nothing (a zero row) is
    refused by name.
    """
    sd = np.sqrt(np.diag(v))
    if np.isnan(v).any():
        raise ArgumentError(f"the constraints {what!r} have no finite covariance")
    if np.any(sd == 0):
        i = int(np.argmax(sd == 0))
        raise ArgumentError(
            f"constraint {i} of {what!r} has zero variance (a row of zeros, or terms that "
            "are not estimated): it tests nothing; leave it out"
        )
    vn = v / sd[:, None] / sd[None, :]
    dn = d / sd
    rank = int(np.linalg.matrix_rank(vn))
    if rank < len(d):
        warnings.warn(
            f"covariance of constraints does not have full rank. The number of "
            f"constraints is {len(d)}, but rank is {rank}",
            stacklevel=3,
        )
    return float(dn @ np.linalg.pinv(vn) @ dn), rank


def _labelled(spec: Any, terms: list[str]) -> Any:
    """A DataFrame (or Series) of constraint coefficients matched to the terms by name."""
    frame = spec.to_frame().T if isinstance(spec, pd.Series) else spec
    names = [str(c) for c in frame.columns]
    unknown = [c for c in names if c not in terms]
    if unknown:
        raise FormulaError(
            f"the constraint matrix names {unknown}, which are not terms of this fit "
            f"(terms: {terms})"
        )
    return (
        frame.set_axis(names, axis=1)
        .reindex(columns=terms, fill_value=0.0)
        .to_numpy(dtype=np.float64)
    )


def constraints(spec: Any, terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(R, q)`` of a constraint specification, matched to ``terms`` by name (a labelled
    matrix, a DataFrame or Series, by its column labels)."""
    if isinstance(spec, (pd.DataFrame, pd.Series)):
        spec = _labelled(spec, terms)
    if isinstance(spec, str) and not spec.strip():
        raise ArgumentError("the constraint is empty: write one like 'a = b' or 'a = 0, b = 0'")
    try:
        lc = DesignInfo(list(terms)).linear_constraint(spec)
    except PatsyError as exc:
        raise FormulaError(
            f"cannot read the constraint {spec!r} against the terms {terms}: {exc}"
        ) from exc
    except (ValueError, TypeError, IndexError) as exc:
        raise ArgumentError(
            f"the constraint {spec!r} is not a string like 'a = b', a matrix with "
            f"{len(terms)} columns (one per term), or a pair (R, q): {exc}"
        ) from exc
    return np.asarray(lc.coefs, dtype=np.float64), np.asarray(lc.constants, dtype=np.float64)


class HypothesisTests:
    """statsmodels' tests on a fitted model (a mixin of the result).

    Needs ``terms``, ``params``, ``cov_params()``, ``use_t``, ``df_resid``, ``ssr``,
    ``llf`` and ``cov_type``.
    """

    def _raw(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.params, dtype=np.float64), np.asarray(
            self.cov_params(), dtype=np.float64
        )

    def t_test(self, r_matrix: Any, use_t: bool | None = None) -> ContrastResults:
        """A t test (z test without ``use_t``) of each row of ``R b = q``.

        Parameters
        ----------
        r_matrix : str, list of str, array or (R, q)
            E.g. ``"a = b"``, ``"a = 0, b = 0"`` (one test each), or ``R`` by term.
        use_t : bool, optional
            Default: the result's ``use_t``.
        """
        r, q = constraints(r_matrix, self.terms)
        b, cov = self._raw()
        effect = r @ b
        sd = np.sqrt(np.diag(r @ cov @ r.T))
        t = (effect - q.reshape(-1)) / sd
        use_t = self.use_t if use_t is None else use_t
        df = self._df_inference
        return ContrastResults("t" if use_t else "norm", t, df, effect=effect, sd=sd)

    def wald_test(self, r_matrix: Any, use_f: bool | None = None) -> ContrastResults:
        """The joint test of ``R b = q``: F (``use_f``, by default the result's
        ``use_t``) or chi2, as statsmodels' ``wald_test(scalar=True)``."""
        r, q = constraints(r_matrix, self.terms)
        b, cov = self._raw()
        stat, j = wald_statistic(r @ b - q.reshape(-1), r @ cov @ r.T, r_matrix)
        if use_f if use_f is not None else self.use_t:
            return ContrastResults("F", stat / j, self._df_inference, df_num=float(j))
        return ContrastResults("chi2", stat, float(j))

    def wald_test_terms(
        self,
        skip_single: bool = False,
        extra_constraints: list | None = None,
        combine_terms: list[str] | None = None,
    ) -> WaldTestResults:
        """A joint Wald test of each formula term's columns being zero (statsmodels').

        Parameters
        ----------
        skip_single : bool
            Leave out terms of one column.
        extra_constraints : list of (name, constraint), optional
            More tests, each a name and anything :meth:`wald_test` takes.
        combine_terms : list of str, optional
            Also test together every term whose name contains each string.

        Returns
        -------
        WaldTestResults
            ``table``: ``statistic``, ``pvalue``, ``df_constraint`` (and ``df_denom`` for F
            tests, under ``use_t``) by term.
        """
        identity = np.eye(len(self.terms))
        tests: list[tuple[str, Any]] = []
        combined: dict[str, list[np.ndarray]] = {c: [] for c in combine_terms or []}
        for term, cols in self._design.design_infos[1].term_slices.items():
            name, r = term.name(), identity[cols]
            for c in combined:
                if c in name:
                    combined[c].append(r)
            if not (skip_single and r.shape[0] == 1):
                tests.append((name, r))
        tests += [(c, np.vstack(rs)) for c, rs in combined.items() if rs]
        tests += list(extra_constraints or [])
        rows, index = [], []
        for name, constraint in tests:
            wt = self.wald_test(constraint)
            if self.use_t:
                rows.append([wt.statistic, float(wt.pvalue), int(wt.df_num), wt.df_denom])
            else:
                rows.append([wt.statistic, float(wt.pvalue), int(wt.df_denom)])
            index.append(name)
        columns = ["statistic", "pvalue", "df_constraint"] + (["df_denom"] if self.use_t else [])
        return WaldTestResults(
            pd.DataFrame(rows, index=index, columns=columns), "F" if self.use_t else "chi2"
        )

    def t_test_pairwise(
        self,
        term_name: str,
        method: str | list[str] = "hs",
        alpha: float = 0.05,
        factor_labels: list | None = None,
        ignore: bool = False,
    ) -> Any:
        """t tests of every pair of a categorical term's levels, with a multiple-testing
        correction: statsmodels' own ``t_test_pairwise`` (its ``MultiCompResult``, with
        ``result_frame``), run on this fit's coefficients and covariance."""
        try:
            from statsmodels.stats.contrast import t_test_pairwise
        except ImportError as exc:  # statsmodels is optional: only this method uses it
            raise ImportError(
                "t_test_pairwise runs statsmodels' own implementation on this fit: "
                "pip install statsmodels"
            ) from exc

        return t_test_pairwise(
            self, term_name, method=method, alpha=alpha, factor_labels=factor_labels, ignore=ignore
        )

    def f_test(self, r_matrix: Any) -> ContrastResults:
        """The joint F test of ``R b = q`` (:meth:`wald_test` with ``use_f=True``)."""
        return self.wald_test(r_matrix, use_f=True)

    def _comparison(self, restricted: Any, warn_robust: bool = True) -> tuple[float, float]:
        if not isinstance(restricted, HypothesisTests):
            raise ArgumentTypeError(
                f"restricted must be another fit (an LstsqResult), not {type(restricted).__name__}"
            )
        mismatch = [
            what
            for what, a, b in (
                ("response", self.response, restricted.response),
                ("number of rows", self.nobs, restricted.nobs),
                ("weighting (OLS/WLS)", self.model_name, restricted.model_name),
            )
            if a != b
        ]
        if mismatch:
            raise ArgumentError(
                f"the restricted fit differs in its {', '.join(mismatch)}: a comparison needs "
                "the same response on the same rows with the same weights, fewer terms"
            )
        for r in (self, restricted) if warn_robust else ():
            if getattr(r, "cov_type", "nonrobust") != "nonrobust":
                warnings.warn(
                    "F test for comparison is likely invalid with robust covariance, "
                    "proceeding anyway",
                    stacklevel=3,
                )
                break
        df_diff = float(restricted.df_resid - self.df_resid)
        if df_diff <= 0:
            raise ArgumentError(
                f"the restricted model has {restricted.df_resid:g} residual degrees of "
                f"freedom, not more than this one's {self.df_resid:g}: pass the smaller "
                "(nested) model as restricted"
            )
        return float(self.df_resid), df_diff

    def compare_f_test(self, restricted: Any) -> tuple[float, float, float]:
        """F test that the nested ``restricted`` fit is as good: ``(f_value, p_value,
        df_diff)``, as statsmodels'."""
        df_full, df_diff = self._comparison(restricted)
        f = (restricted.ssr - self.ssr) / df_diff / self.ssr * df_full
        return float(f), float(sps.f.sf(f, df_diff, df_full)), df_diff

    def compare_lr_test(self, restricted: Any, large_sample: bool = False) -> CompareLRTestResult:
        """Likelihood-ratio test against the nested ``restricted`` fit: ``(statistic,
        pvalue, df_diff)`` as statsmodels' named tuple; ``large_sample``: the robust form,
        :meth:`compare_lm_test` with ``use_lr=True`` (one pass over the rows)."""
        if large_sample:
            return CompareLRTestResult(*self.compare_lm_test(restricted, use_lr=True))
        _, df_diff = self._comparison(restricted)
        lr = -2.0 * (restricted.llf - self.llf)
        return CompareLRTestResult(float(lr), float(sps.chi2.sf(lr, df_diff)), df_diff)

    def compare_lm_test(
        self, restricted: Any, demean: bool = True, use_lr: bool = False
    ) -> tuple[float, float, float]:
        """Lagrange-multiplier test against the nested ``restricted`` fit (its terms a
        subset of this fit's, by name): ``(lm_value, p_value, df_diff)``, as statsmodels',
        by one pass over this fit's rows."""
        return compare_lm_test(self, restricted, demean, use_lr)
