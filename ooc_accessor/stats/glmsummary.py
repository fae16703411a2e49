"""A GLM's summary table, laid out like statsmodels' ``GLMResults.summary()``."""

from __future__ import annotations

from .summary import Summary

__all__ = ["GLMSummary"]


class GLMSummary(Summary):
    """statsmodels' ``GLMResults.summary()`` layout."""

    def _title(self) -> str:
        return "Generalized Linear Model Regression Results"

    def _header(self) -> list[tuple[str, str, str, str]]:
        r = self.result
        day, clock = self._now()
        # statsmodels' GLMResults.summary() entries and number formats
        return [
            ("Dep. Variable:", r.response, "No. Observations:", str(r.nobs)),
            ("Model:", "GLM", "Df Residuals:", f"{r.df_resid:.0f}"),
            ("Model Family:", type(r.family).__name__, "Df Model:", f"{r.df_model:.0f}"),
            ("Link Function:", type(r.family.link).__name__, "Scale:", f"{r.scale:#8.5g}"),
            ("Method:", r.method, "Log-Likelihood:", f"{r.llf:#8.5g}"),
            ("Date:", day, "Deviance:", f"{r.deviance:#8.5g}"),
            ("Time:", clock, "Pearson chi2:", f"{r.pearson_chi2:#6.3g}"),
            (
                "No. Iterations:",
                f"{r.fit_history['iteration']:d}",
                "Pseudo R-squ. (CS):",
                f"{r.pseudo_rsquared('cs'):#6.4g}",
            ),
            ("Covariance Type:", r.cov_type, "", ""),
        ]

    def _diagnostics(self) -> list[tuple[str, str, str, str]]:
        return []

    def _notes(self) -> list[str]:
        r = self.result
        if r.rank < len(r.terms):
            return [f"The design is rank deficient (rank {r.rank}); minimum-norm fit."]
        return []
