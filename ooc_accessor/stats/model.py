"""statsmodels-model-like access to a fit's formula and design: ``fit.model``.

statsmodels' results carry their model (``res.model.exog_names``, ``res.model.df_resid``,
``res.model.weights``...), and code written against statsmodels reads them there.
:class:`LinearModel` answers those names for an ooc fit from what the result already
holds (its formula, labels and merged statistics): making one reads no row. The row-length
arrays (``exog``, ``endog``, ``weights``) are the design's lazy, stored DataArrays, read
only when computed. Its class is :class:`OLS` or :class:`WLS`, as statsmodels' is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import xarray as xr

from ..errors import ArgumentError

if TYPE_CHECKING:
    from patsy.design_info import DesignInfo

    from ..designbase import DesignBase
    from ..results import LstsqResult

__all__ = ["OLS", "WLS", "LinearModel", "ModelData", "model_of"]


class ModelData:
    """The names statsmodels keeps on ``model.data``.

    Attributes
    ----------
    xnames, param_names, cov_names : list of str
        The design's column (term) names, in the fit's order.
    ynames : str
        The response's name.
    k_constant : int
        1 when a constant lies in the span of the columns.
    const_idx : int or None
        The position of a column that is constant (the intercept, or a column of one
        value by any name), if there is one.
    design_info, model_spec : patsy.DesignInfo
        The columns' patsy description (terms, slices, factor levels), rebuilt from the
        design's stored state (no row read).
    """

    def __init__(
        self,
        terms: list[str],
        response: str,
        k_constant: int,
        design: DesignBase | None = None,
        const_idx: int | None = None,
    ) -> None:
        self._design = design
        self.xnames = list(terms)
        self.param_names = list(terms)
        self.cov_names = list(terms)
        self.ynames = response
        self.k_constant = k_constant
        self.const_idx = const_idx

    @property
    def design_info(self) -> DesignInfo | None:
        """patsy's description of the design's columns (statsmodels' ``design_info``)."""
        return None if self._design is None else self._design.design_infos[1]

    @property
    def model_spec(self) -> DesignInfo | None:
        """statsmodels 0.15's name of :attr:`design_info`."""
        return self.design_info

    def __repr__(self) -> str:
        return f"<ModelData ynames={self.ynames!r}, xnames={self.xnames}>"


class LinearModel:
    """A fit's model, with statsmodels' ``RegressionModel`` names; reads no row.

    Parameters
    ----------
    result : LstsqResult
        The fit whose model this is.

    Attributes
    ----------
    formula : str
        The formula, as given.
    exog_names : list of str
        The design's columns (terms).
    endog_names : str
        The response.
    nobs, df_model, df_resid : float
        As statsmodels' model holds them after a fit (``df_model`` = rank less the
        constant, ``df_resid`` = nobs less the rank).
    k_constant, rank : int
    data : ModelData
        ``xnames``, ``ynames``, ``param_names``.
    model_name : {"OLS", "WLS"}
        The class's name, as ``type(model).__name__``.
    """

    model_name = "OLS"

    def __init__(self, result: LstsqResult) -> None:
        self._result = result
        self.formula: str = result._design.formula
        self.exog_names: list[str] = list(result.terms)
        self.endog_names: str = result.response
        self.nobs: float = result.nobs
        self.df_model: float = result.df_model
        self.df_resid: float = result.df_resid
        self.k_constant: int = result.k_constant
        self.rank: int = result.rank
        self.data = ModelData(
            self.exog_names,
            self.endog_names,
            self.k_constant,
            result._design,
            result._constant_column(),
        )

    @property
    def design(self) -> DesignBase:
        """The ooc design (:class:`~ooc_accessor.design.Design`) the fit was made on (the
        first one's, after :meth:`~ooc_accessor.results.LstsqResult.update`)."""
        return self._result._design

    @property
    def k_exog(self) -> int:
        """Number of design columns (terms)."""
        return len(self.exog_names)

    def _rows(self, name: str) -> list[Any]:
        return [getattr(d, name) for d in self._result._designs()]

    def _joined(self, parts: list[xr.DataArray]) -> xr.DataArray:
        if len(parts) == 1:
            return parts[0]
        return xr.concat(parts, dim=self._result._design.sample_dim)

    @property
    def exog(self) -> xr.DataArray:
        """The design matrix, lazy, dims ``("obs", "term")``: every fitted row (those of
        ``update()`` too). A fit made without ``path=`` writes its store first."""
        return self._joined(self._rows("X"))

    @property
    def endog(self) -> xr.DataArray:
        """The response, lazy, dims ``("obs",)``."""
        return self._joined(self._rows("y"))

    @property
    def weights(self) -> xr.DataArray | None:
        """The weights, lazy, dims ``("obs",)``; None for OLS (statsmodels' OLS has
        ``weights`` 1.0: multiply by nothing)."""
        if not self._result._weighted:
            return None
        parts = self._rows("weights")
        if any(w is None for w in parts):
            raise ArgumentError(
                "this fit's weights were given as an array to design.lstsq(weights=) and are "
                "not stored with the design: they are the array you passed"
            )
        return self._joined(parts)

    def fit(
        self, cov_type: str = "nonrobust", cov_kwds: dict | None = None, use_t: bool | None = None
    ):
        """The fit itself, or with another covariance (statsmodels' ``model.fit(cov_type=)``);
        the robust types cost one more pass over the rows."""
        from ..results import _robust  # the result module imports this one

        return _robust(self._result, cov_type, cov_kwds, use_t)

    def __repr__(self) -> str:
        return (
            f"<ooc {self.model_name} model {self.formula!r}: nobs={self.nobs:g}, "
            f"{len(self.exog_names)} terms>"
        )


class OLS(LinearModel):
    """The model of an unweighted fit (statsmodels' ``OLS``)."""

    model_name = "OLS"


class WLS(LinearModel):
    """The model of a weighted fit (statsmodels' ``WLS``)."""

    model_name = "WLS"


def model_of(result: LstsqResult) -> LinearModel:
    """``result``'s model: :class:`WLS` with weights, else :class:`OLS`."""
    return (WLS if result._weighted else OLS)(result)
