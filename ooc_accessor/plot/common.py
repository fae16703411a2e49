"""What every plot shares: matplotlib imported on demand, and the Axes to draw on."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, PlotError


def pyplot() -> Any:
    """``matplotlib.pyplot``, imported now (never at ``import ooc_accessor``)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotError(
            f"plotting needs matplotlib, which cannot be imported ({exc}): "
            "pip install ooc_accessor[plot]"
        ) from exc
    return plt


def axes(ax: Any) -> Any:
    """``ax``, or the current figure's new Axes when it is None (pandas' behaviour)."""
    if ax is None:
        return pyplot().subplots()[1]
    pyplot()  # the same message as above when matplotlib is missing
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise ArgumentTypeError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}")
    return ax


def axes_grid(ax: Any, rows: int, cols: int, size: tuple[float, float]) -> np.ndarray:
    """A ``(rows, cols)`` array of Axes: ``ax``'s (that many Axes) or a new figure's."""
    plt = pyplot()
    if ax is None:
        _, grid = plt.subplots(
            rows,
            cols,
            squeeze=False,
            figsize=(size[0] * cols, size[1] * rows),
            layout="constrained",
        )
        return grid
    from matplotlib.axes import Axes

    flat = np.array([ax], dtype=object) if isinstance(ax, Axes) else np.asarray(ax, dtype=object)
    flat = flat.reshape(-1)
    if flat.size != rows * cols or not all(isinstance(a, Axes) for a in flat):
        raise ArgumentError(
            f"ax must hold {rows * cols} matplotlib Axes ({rows} components x {cols} "
            f"variables), got {flat.size} object(s): pass that many, or ax=None for a new "
            "figure"
        )
    return flat.reshape(rows, cols)


def text(value: Any) -> str:
    """A user's name (column, term, variable, dim) as matplotlib text shown verbatim: its
    dollar signs escaped, so a name holding two is not parsed as mathtext (which would show
    it mangled or fail to draw)."""
    return str(value).replace("$", r"\$")


def check_count(value: Any, name: str, most: int | None = None) -> int:
    """A positive int (at most ``most``), or an ArgumentError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(f"{name} must be a positive int, not {type(value).__name__}")
    if value < 1 or (most is not None and value > most):
        upto = "" if most is None else f" and at most {most}"
        raise ArgumentError(f"{name}={value} must be at least 1{upto}")
    return int(value)
