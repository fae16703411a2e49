"""Plots of fitted results, reached as ``fit.plot`` and ``pca.plot`` (the ``[plot]`` extra).

Like pandas' ``df.plot`` and xarray's ``da.plot``: an attribute of the result gives an
object whose methods draw it (``fit.plot.coef()``, ``fit.plot.resid()``,
``pca.plot.scree()``, ``pca.plot.components()``) and return the matplotlib Axes.
matplotlib is imported only when something is drawn, so ``import ooc_accessor`` never
needs it; without it a plot raises :class:`~ooc_accessor.errors.PlotError`.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from .fits import FitPlot
from .pca import PCAPlot

__all__ = ["FitPlot", "PCAPlot", "PlotAccessor"]

P = TypeVar("P")


class PlotAccessor(Generic[P]):
    """A class attribute giving ``plot_class(instance)`` on each access (not cached).

    A descriptor rather than a property body in each result class: one line there, and
    never an instance attribute, so scikit-learn's parameter and ``vars`` checks do not see
    it. Not cached, since an estimator refitted in place must plot its new state. On the
    class it gives ``plot_class`` itself, as pandas' accessors do (for documentation).
    """

    def __init__(self, plot_class: type[P]) -> None:
        self._plot_class = plot_class

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self._plot_class
        return self._plot_class(obj)
