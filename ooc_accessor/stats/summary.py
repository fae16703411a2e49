"""A least-squares fit's summary table, laid out like statsmodels'."""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any

import numpy as np
import pandas as pd

from ..fitstats import check_alpha
from ..signatures import checked_methods
from .diagnostics import residual_diagnostics

__all__ = ["Summary", "fmt"]


def fmt(v: float) -> str:
    """A number as the summary shows it (4 decimals, or 3 digits in e-notation)."""
    if not np.isfinite(v):
        return str(v)
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e6):
        return f"{v:.3e}"
    return f"{v:.4f}"


def _html_rows(rows: list[tuple[str, str, str, str]]) -> str:
    """Label/value pairs, two to a row, as HTML table rows."""
    return "".join(
        f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td>"
        f"<th>{html.escape(c)}</th><td>{html.escape(d)}</td></tr>"
        for a, b, c, d in rows
    )


def _pairs_frame(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """Label/value pairs, two to a row, as a frame of strings."""
    return pd.DataFrame(rows, columns=["label", "value", "label2", "value2"])


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class Summary:
    """Printable summary of an :class:`~ooc_accessor.results.LstsqResult`, laid out like
    statsmodels'.

    Everything it shows is computed when it is made (by ``summary()``, with the residual
    diagnostics' one pass unless ``slim``), so printing or displaying it reads no row.
    """

    def __init__(self, result: Any, alpha: float = 0.05, slim: bool = False) -> None:
        check_alpha(alpha)
        self.result = result
        self.alpha = alpha
        self.slim = slim
        # everything shown is computed now, as statsmodels' summary() does (the diagnostics'
        # one pass included): printing or displaying it later never reads a row, so it
        # neither runs a pass in a notebook nor fails once the store is gone
        self._shown_title = self._title()
        self._shown_header = self._header()
        self._shown_table = self._coefficients()
        self._shown_bottom = [] if slim else self._diagnostics()
        self._shown_notes = [] if slim else self._notes()

    @property
    def tables(self) -> list[pd.DataFrame]:
        """The summary's tables, as statsmodels' ``Summary.tables``: the header, the
        coefficients and (unless ``slim``) the residual diagnostics."""
        out = [_pairs_frame(self._shown_header), self.table()]
        if self._shown_bottom:
            out.append(_pairs_frame(self._shown_bottom))
        return out

    @staticmethod
    def _now() -> tuple[str, str]:
        """Today's date and the time, as statsmodels prints them."""
        now = _dt.datetime.now()
        return now.strftime("%a, %d %b %Y"), now.strftime("%H:%M:%S")

    def _title(self) -> str:
        return f"{self.result.model_name} Regression Results"

    def _header(self) -> list[tuple[str, str, str, str]]:
        r = self.result
        if self.slim:  # statsmodels' summary(slim=True): the fit's size and F only
            return [
                ("Dep. Variable:", r.response, "R-squared:", fmt(r.rsquared)),
                ("Model:", r.model_name, "Adj. R-squared:", fmt(r.rsquared_adj)),
                ("No. Observations:", str(r._stats.nobs), "F-statistic:", fmt(r.fvalue)),
                ("Covariance Type:", r.cov_type, "Prob (F-statistic):", fmt(r.f_pvalue)),
            ]
        day, clock = self._now()
        return [
            ("Dep. Variable:", r.response, "R-squared:", fmt(r.rsquared)),
            ("Model:", r.model_name, "Adj. R-squared:", fmt(r.rsquared_adj)),
            ("Method:", "Least Squares (TSQR)", "F-statistic:", fmt(r.fvalue)),
            ("Date:", day, "Prob (F-statistic):", fmt(r.f_pvalue)),
            ("Time:", clock, "Log-Likelihood:", fmt(r.llf)),
            ("No. Observations:", str(r._stats.nobs), "AIC:", fmt(r.aic)),
            ("Df Residuals:", f"{r.df_resid:.0f}", "BIC:", fmt(r.bic)),
            ("Df Model:", f"{r.df_model:.0f}", "Rank:", str(r.rank)),
            ("Covariance Type:", r.cov_type, "", ""),
        ]

    def _diagnostics(self) -> list[tuple[str, str, str, str]]:
        """statsmodels' bottom block (one pass over the rows, kept on the result)."""
        d = residual_diagnostics(self.result)
        return [
            ("Omnibus:", f"{d['omni']:#6.3f}", "Durbin-Watson:", f"{d['durbin_watson']:#8.3f}"),
            ("Prob(Omnibus):", f"{d['omnipv']:#6.3f}", "Jarque-Bera (JB):", f"{d['jb']:#8.3f}"),
            ("Skew:", f"{d['skew']:#6.3f}", "Prob(JB):", f"{d['jbpv']:#8.3g}"),
            ("Kurtosis:", f"{d['kurtosis']:#6.3f}", "Cond. No.", f"{d['condno']:#8.3g}"),
        ]

    def table(self) -> pd.DataFrame:
        """The coefficient table: coef, std err, t, P>|t| (z and P>|z| when the normal is
        used, as statsmodels labels them) and the interval bounds."""
        return self._shown_table.copy()

    def _coefficients(self) -> pd.DataFrame:
        r = self.result
        ci = r.conf_int(self.alpha)
        lo, hi = f"[{self.alpha / 2:g}", f"{1 - self.alpha / 2:g}]"
        stat = "t" if r.use_t else "z"
        return pd.DataFrame(
            {
                "coef": np.asarray(r.params),
                "std err": np.asarray(r.bse),
                stat: np.asarray(r.tvalues),
                f"P>|{stat}|": np.asarray(r.pvalues),
                lo: np.asarray(ci)[:, 0],
                hi: np.asarray(ci)[:, 1],
            },
            index=r.terms,
        )

    def as_text(self) -> str:
        """The summary as plain text."""
        tab = self.table()
        w0 = max(12, max(len(t) for t in tab.index) + 1)
        cells = {
            col: [f"{v:.3f}" if col.startswith("P>|") else fmt(v) for v in tab[col]]
            for col in tab.columns
        }
        # every column at least one space wider than its longest entry: never run together
        widths = {c: max(11, len(c) + 1, *(len(v) + 1 for v in cells[c])) for c in tab.columns}
        width = w0 + sum(widths.values())
        title = self._shown_title.center(width)
        half = width // 2
        lines = [title, "=" * width]

        def pairs(rows: list[tuple[str, str, str, str]]) -> None:
            for a, b, c, d in rows:
                left = a + " " * max(1, half - 1 - len(a) - len(b)) + b + " "
                right = c + " " * max(1, width - half - len(c) - len(d)) + d
                lines.append(left + right)

        pairs(self._shown_header)
        lines.append("=" * width)
        lines.append(" " * w0 + "".join(f"{c:>{widths[c]}}" for c in tab.columns))
        lines.append("-" * width)
        for i, term in enumerate(tab.index):
            row = "".join(f"{cells[c][i]:>{widths[c]}}" for c in tab.columns)
            lines.append(f"{term:<{w0}}" + row)
        lines.append("=" * width)
        if self.slim:  # statsmodels' slim summary: no diagnostics, no notes
            return "\n".join(lines)
        if self._shown_bottom:
            pairs(self._shown_bottom)
            lines.append("=" * width)
        lines.extend(f"[{i + 1}] {n}" for i, n in enumerate(self._shown_notes))
        return "\n".join(lines)

    def _notes(self) -> list[str]:
        """The numbered notes under the table."""
        notes = []
        if not self.result.k_constant:  # statsmodels' note, word for word
            notes.append(
                "R² is computed without centering (uncentered) since the model does not "
                "contain a constant."
            )
        notes.append(self.result.cov_kwds["description"])
        if self.result.rank < len(self.result.terms):
            notes.append(
                f"The design is rank deficient (rank {self.result.rank}); minimum-norm fit."
            )
        sv = self.result.singular_values
        with np.errstate(over="ignore", divide="ignore"):  # columns 1e200 and 1e-200 apart
            cond = np.float64(sv[0]) / sv[-1] if sv[-1] > 0 else np.inf
        notes.append(f"Smallest singular value {sv[-1]:.3g}, condition number {cond:.3g}.")
        return notes

    def as_html(self) -> str:
        """The summary as HTML tables."""
        head = _html_rows(self._shown_header)
        caption = f"<caption>{html.escape(self._shown_title)}</caption>"
        rows = self._shown_bottom
        bottom = f"<table class='simpletable'>{_html_rows(rows)}</table>" if rows else ""
        return (
            f"<table class='simpletable'>{caption}{head}</table>"
            + self.table().to_html(float_format=fmt)
            + bottom
        )

    def __str__(self) -> str:
        return self.as_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.as_html()
