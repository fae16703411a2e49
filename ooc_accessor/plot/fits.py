"""``fit.plot``: coefficient intervals and residuals of least-squares and GLM fits."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError
from ..signatures import checked_methods
from .common import axes, check_count, text
from .sample import generator, sample_rows, take_rows

__all__ = ["FitPlot"]

#: the residuals each kind= names, by result type: (GLM attribute, least-squares attribute)
_RESIDUALS = {
    "response": ("resid_response", "resid"),
    "pearson": ("resid_pearson", "resid_pearson"),
    "deviance": ("resid_deviance", None),
}


@checked_methods  # a bad call: ArgumentTypeError naming the accepted keywords
class FitPlot:
    """Plots of a fitted :class:`~ooc_accessor.LstsqResult` or
    :class:`~ooc_accessor.GLMResults`, reached as ``fit.plot``.

    Each method draws on ``ax`` (a new figure's Axes when None) and returns it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> import ooc_accessor as ooc
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    >>> df["y"] = 1 + 2 * df.a - df.b + rng.normal(size=200)
    >>> fit = df.ooc.lstsq("y ~ a + b")
    >>> ax = fit.plot.coef()
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['a', 'b']
    >>> ax = fit.plot.resid(n=50)
    >>> ax.get_title()
    'residuals of y: 50 of 200 rows (a uniform sample)'
    """

    def __init__(self, fit: Any) -> None:
        self._fit = fit

    @property
    def _is_glm(self) -> bool:
        return hasattr(self._fit, "family")

    def coef(
        self,
        ax: Any = None,
        alpha: float = 0.05,
        names: Any = None,
        intercept: bool = False,
    ) -> Any:
        """Point estimates with their confidence intervals, one row per coefficient.

        The intervals are the fit's ``conf_int(alpha)``, so under its covariance
        (``cov_type``) and distribution (``use_t``); a vertical line marks 0. A coefficient
        whose interval is undefined (a rank-deficient fit's NaN) shows its point only.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure's Axes when None.
        alpha : float
            The intervals' level is ``1 - alpha``.
        names : str or list of str, optional
            The coefficients to show, in that order (default: all, in the fit's order).
        intercept : bool
            Show the ``Intercept`` too when ``names`` is not given (its scale often dwarfs
            the others').

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, pandas as pd
        >>> import ooc_accessor as ooc
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
        >>> df["y"] = 1 + 2 * df.a - df.b + rng.normal(size=300)
        >>> fit = df.ooc.lstsq("y ~ a + b", cov_type="HC1")
        >>> ax = fit.plot.coef(alpha=0.1, intercept=True)
        >>> ax.get_xlabel()
        'coefficient (90% interval, HC1 covariance)'
        """
        fit = self._fit
        bounds = np.asarray(fit.conf_int(alpha), dtype=np.float64)  # checks alpha
        params = np.asarray(fit.params, dtype=np.float64)
        terms = list(fit.terms)
        shown = self._names(terms, names, intercept)
        pos = [terms.index(t) for t in shown]
        ax = axes(ax)
        y = np.arange(len(shown))
        ax.hlines(y, bounds[pos, 0], bounds[pos, 1], color="C0", linewidth=2)
        ax.plot(params[pos], y, "o", color="C0")
        ax.axvline(0.0, color="0.4", linestyle="--", linewidth=1)
        ax.set_yticks(y, labels=[text(t) for t in shown])
        ax.set_ylim(len(shown) - 0.5, -0.5)  # the first coefficient on top
        cov = getattr(fit, "cov_type", "nonrobust")
        ax.set_xlabel(f"coefficient ({100 * (1 - alpha):.4g}% interval, {cov} covariance)")
        ax.set_title(f"{fit.model_name} coefficients of {text(fit.response)}")
        return ax

    @staticmethod
    def _names(terms: list, names: Any, intercept: bool) -> list:
        if names is None:
            shown = [t for t in terms if intercept or t != "Intercept"]
            if not shown:
                raise ArgumentError(
                    "the fit has no coefficient but the intercept: pass intercept=True to plot it"
                )
            return shown
        if isinstance(names, str):
            names = [names]
        try:
            names = list(names)
        except TypeError:
            raise ArgumentTypeError(
                f"names must be a coefficient name or a list of them, not {type(names).__name__}"
            ) from None
        unknown = [n for n in names if n not in terms]
        if unknown:
            raise ArgumentError(
                f"names={unknown} are not coefficients of this fit; its coefficients are {terms}"
            )
        if not names:
            raise ArgumentError("names is empty: name at least one coefficient, or pass None")
        return names

    def resid(
        self,
        ax: Any = None,
        n: int = 10_000,
        kind: str = "response",
        random_state: Any = 0,
    ) -> Any:
        """Residuals against fitted values, for at most ``n`` rows drawn uniformly.

        The fit's lazy, stored ``fittedvalues`` and residuals are indexed at the sampled
        rows before anything is computed, so only the blocks holding a sampled row are
        read, a block at a time, and memory holds the sample, never every row. A fit whose
        design was not kept (``lstsq`` without ``path``) writes its design store first, as
        ``fit.resid`` does. A horizontal line marks 0; the title says how many of how many
        rows are shown.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure's Axes when None.
        n : int
            Most points to draw (all rows when there are no more).
        kind : {"response", "pearson", "deviance"}
            ``"response"``: ``y - fitted`` (``resid``, a GLM's ``resid_response``);
            ``"pearson"``: ``resid_pearson``; ``"deviance"`` (GLMs): ``resid_deviance``.
        random_state : int, numpy Generator or None
            Seed of the sample (the same rows for the same seed).

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, pandas as pd
        >>> import ooc_accessor as ooc
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
        >>> df["n"] = rng.poisson(np.exp(0.5 * df.a))
        >>> glm = df.ooc.glm("n ~ a + b", family="poisson")
        >>> ax = glm.plot.resid(n=100, kind="deviance")
        >>> ax.get_title(), len(ax.collections[0].get_offsets())
        ('residuals of n: 100 of 300 rows (a uniform sample)', 100)
        """
        # every argument checked before the rows are touched (which may write a store)
        n = check_count(n, "n")
        name = self._residual_name(kind)
        rng = generator(random_state)
        ax = axes(ax)
        resid, fitted = getattr(self._fit, name), self._fit.fittedvalues
        total = int(resid.shape[0])
        rows = sample_rows(total, n, rng)
        r, f = take_rows([resid, fitted], rows)
        ax.scatter(f, r, s=6, alpha=0.5, linewidths=0, color="C0")
        ax.axhline(0.0, color="0.4", linestyle="--", linewidth=1)
        ax.set_xlabel("fitted values")
        ax.set_ylabel("residuals" if kind == "response" else f"{kind} residuals")
        what = "all" if rows is None else "a uniform sample"
        response = text(self._fit.response)
        ax.set_title(f"residuals of {response}: {r.size:,} of {total:,} rows ({what})")
        return ax

    def _residual_name(self, kind: str) -> str:
        """The fit's attribute holding the residuals ``kind`` names."""
        if not isinstance(kind, str) or kind not in _RESIDUALS:
            raise ArgumentError(f"kind={kind!r}: use one of {list(_RESIDUALS)}")
        name = _RESIDUALS[kind][0 if self._is_glm else 1]
        if name is None:
            raise ArgumentError(
                f"kind={kind!r} is for GLM fits; a least-squares fit has 'response' and "
                "'pearson' residuals"
            )
        return name
