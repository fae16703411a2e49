"""``pca.plot``: the scree plot and the components of a fitted IncrementalPCA.

Components are drawn by what they are laid over: a field's 2-D feature dims (``lat`` x
``lon``) as maps, one per component, on one symmetric colour scale; 1-D features (pandas
columns, a single feature dim, a table of variables, a plain array) as bars per feature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ArgumentError, ArgumentTypeError, NotFittedError
from ..signatures import checked_methods
from .common import axes, axes_grid, check_count, text

__all__ = ["PCAPlot"]

#: most features whose names label the bars one by one (beyond, the ticks are positions)
MAX_NAMED_BARS = 60


@checked_methods  # a bad call: ArgumentTypeError naming the accepted keywords
class PCAPlot:
    """Plots of a fitted :class:`~ooc_accessor.IncrementalPCA`, reached as ``pca.plot``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> import ooc_accessor as ooc
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.normal(size=(100, 4)), columns=["a", "b", "c", "d"])
    >>> pca = df.ooc.pca(n_components=3)
    >>> len(pca.plot.scree().patches)
    3
    >>> axs = pca.plot.components(n=2)
    >>> axs.shape, [t.get_text() for t in axs[0].get_xticklabels()]
    ((2,), ['a', 'b', 'c', 'd'])
    """

    def __init__(self, pca: Any) -> None:
        self._pca = pca

    def _fitted(self, what: str) -> Any:
        pca = self._pca
        if not pca.__sklearn_is_fitted__():
            raise NotFittedError(
                f"this {type(pca).__name__} is not fitted yet: call fit or partial_fit before "
                f"pca.plot.{what}()"
            )
        return pca

    def scree(self, ax: Any = None, cumulative: bool = True) -> Any:
        """Bars of the explained variance ratio per component, and its running sum.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure's Axes when None.
        cumulative : bool
            Also draw the cumulative ratio as a line.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, pandas as pd
        >>> import ooc_accessor as ooc
        >>> x = np.random.default_rng(0).normal(size=(200, 5)) * [5, 3, 2, 1, 1]
        >>> pca = pd.DataFrame(x).ooc.pca(n_components=4)
        >>> ax = pca.plot.scree()
        >>> len(ax.patches), ax.get_ylabel()
        (4, 'explained variance ratio')
        """
        ratio = np.asarray(self._fitted("scree").explained_variance_ratio_, dtype=np.float64)
        ax = axes(ax)
        x = np.arange(ratio.size)
        ax.bar(x, ratio, color="C0", label="explained variance ratio")
        if cumulative:
            ax.plot(x, np.cumsum(ratio), "o-", color="C1", label="cumulative")
            ax.legend()
        if ratio.size <= MAX_NAMED_BARS:
            ax.set_xticks(x)
        ax.set_xlabel("component")
        ax.set_ylabel("explained variance ratio")
        ax.set_title(f"scree: {ratio.size} components, {np.sum(ratio):.1%} of the variance")
        return ax

    def components(self, n: int | None = None, ax: Any = None, **kwargs: Any) -> np.ndarray:
        """The first ``n`` components: maps over a field's 2-D dims, else bars per feature.

        A field's components (xarray input with two feature dims, such as ``lat`` x
        ``lon``) are drawn with ``pcolormesh`` over the feature coordinates (a curvilinear
        grid's 2-D longitudes and latitudes when it has them), one map per
        component, on one colour scale symmetric about 0 with a colorbar; cells missing at
        every sample (land) are left blank. Other components (pandas columns, one feature
        dim, a plain array) are bars of the loadings per feature, named by the features.
        Several variables give one column of plots per variable. Each plot's title names
        the component and its explained variance ratio.

        Parameters
        ----------
        n : int, optional
            Components to draw, the first ones (default: all kept).
        ax : matplotlib Axes or array of Axes, optional
            As many Axes as plots (components x variables); a new figure when None.
        **kwargs
            Passed to ``pcolormesh`` when there are maps (e.g. ``cmap``, ``vmin``/``vmax``,
            ``norm``: then the scale is yours), else to ``bar`` (e.g. ``color``).

        Returns
        -------
        numpy.ndarray of matplotlib Axes
            Shape ``(n,)``, or ``(n, variables)`` for several variables.

        Examples
        --------
        An EOF analysis of a field (time x lat x lon): one map per component.

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, xarray as xr
        >>> import ooc_accessor as ooc
        >>> rng = np.random.default_rng(0)
        >>> sst = xr.DataArray(
        ...     rng.normal(size=(120, 6, 12)),
        ...     dims=("time", "lat", "lon"),
        ...     coords={"lat": np.linspace(-50, 50, 6), "lon": np.arange(0, 360, 30)},
        ...     name="sst",
        ... ).chunk(time=40)
        >>> pca = sst.ooc.pca(n_components=3, dim="time")
        >>> axs = pca.plot.components(n=2, cmap="RdBu_r")
        >>> axs.shape, axs[0].get_xlabel(), axs[0].get_ylabel()
        ((2,), 'lon', 'lat')
        """
        pca = self._fitted("components")
        k = int(pca.n_components_)
        n = k if n is None else check_count(n, "n", k)
        ratio = np.asarray(pca.explained_variance_ratio_, dtype=np.float64)
        panels = _panels(pca.components_, pca)
        grid = axes_grid(ax, n, len(panels), (4.5, 3.2))
        maps = [j for j, (_, v) in enumerate(panels) if v.ndim == 3]
        map_kw = dict(kwargs)
        if maps and not {"vmin", "vmax", "norm"} & set(kwargs):
            values = [panels[j][1].values[:n] for j in maps]
            top = max(float(np.nanmax(np.abs(v), initial=0.0)) for v in values)
            top = top if top > 0 else 1.0  # all zero: any symmetric scale
            map_kw = {"vmin": -top, "vmax": top, **kwargs}
        mesh = None
        for j, (name, values) in enumerate(panels):
            for i in range(n):
                ax_ = grid[i, j]
                title = f"component {i} ({ratio[i]:.1%})"
                ax_.set_title(title if name is None else f"{text(name)}: {title}")
                if values.ndim == 3:
                    mesh = _map(ax_, values[i], map_kw)
                else:
                    _bars(ax_, values[i], name, {} if maps else kwargs)
        if mesh is not None:
            cells = [grid[i, j] for i in range(n) for j in maps]
            mesh.figure.colorbar(mesh, ax=cells, label="loading")
        return grid[:, 0] if len(panels) == 1 else grid


def _panels(comps: Any, pca: Any) -> list[tuple[Any, xr.DataArray]]:
    """``(variable name or None, components as (component, *feature dims))`` to draw."""
    if isinstance(comps, xr.Dataset):
        return [(name, _check_dims(comps[name], name)) for name in comps.data_vars]
    if isinstance(comps, xr.DataArray):
        return [(None, _check_dims(comps, comps.name))]
    if isinstance(comps, pd.DataFrame):
        names = list(comps.columns)
        values = comps.to_numpy(dtype=np.float64)
    else:  # a plain scikit-learn fit: the input's names, or positions
        values = np.asarray(comps, dtype=np.float64)
        given = getattr(pca, "feature_names_in_", None)
        names = list(given) if given is not None else list(range(values.shape[1]))
    da = xr.DataArray(values, dims=("component", "feature"), coords={"feature": names})
    return [(None, da)]


def _check_dims(da: xr.DataArray, name: Any) -> xr.DataArray:
    fdims = [d for d in da.dims if d != "component"]
    if len(fdims) > 2:
        what = "the components" if name is None else f"the components of {name!r}"
        raise ArgumentError(
            f"{what} lie over {len(fdims)} feature dims {fdims}: maps need 2; select the "
            f"others first, e.g. pca.components_.isel({fdims[0]}=0).plot(col='component')"
        )
    return da.transpose("component", *fdims)


def _axis(da: xr.DataArray, dim: Any) -> np.ndarray:
    """Where a dim's cells sit: its numeric 1-D coordinate, else positions."""
    if dim in da.coords and da.coords[dim].dims == (dim,):
        values = np.asarray(da.coords[dim].values)
        if np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.datetime64):
            return values
    return np.arange(da.sizes[dim])


def _geographic(comp: xr.DataArray, which: str) -> Any:
    """A numeric 2-D coordinate over both map dims holding longitudes (``which="lon"``)
    or latitudes: by CF ``standard_name``, ``units`` (``degrees_east``) or name."""
    cf = {"lon": ("longitude", "degrees_e"), "lat": ("latitude", "degrees_n")}[which]
    for name, c in comp.coords.items():
        if set(c.dims) != set(comp.dims) or not np.issubdtype(c.dtype, np.number):
            continue
        units = str(c.attrs.get("units", "")).lower()
        if (
            c.attrs.get("standard_name") == cf[0]
            or units.startswith(cf[1])
            or str(name).lower().startswith(which)
        ):
            return name
    return None


def _map(ax: Any, comp: xr.DataArray, kwargs: dict) -> Any:
    ydim, xdim = comp.dims
    kw = {"cmap": "RdBu_r", "shading": "auto", **kwargs}
    lon, lat = _geographic(comp, "lon"), _geographic(comp, "lat")
    if lon is not None and lat is not None and lon != lat:
        # a curvilinear grid (lat(y, x), lon(y, x)): cells where they lie on the globe
        x = comp.coords[lon].transpose(ydim, xdim).values
        y = comp.coords[lat].transpose(ydim, xdim).values
        xname, yname = lon, lat
    else:
        x, y, xname, yname = _axis(comp, xdim), _axis(comp, ydim), xdim, ydim
    mesh = _draw(ax.pcolormesh, kwargs, x, y, comp.values, **kw)
    ax.set_xlabel(text(xname))
    ax.set_ylabel(text(yname))
    return mesh


def _draw(fn: Any, given: dict, *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)``; matplotlib refusing the user's keywords (``given``) is an
    ``ArgumentTypeError`` naming them, not matplotlib's own AttributeError or TypeError."""
    try:
        return fn(*args, **kw)
    except (AttributeError, TypeError, ValueError) as exc:
        if not given:
            raise
        raise ArgumentTypeError(
            f"components(): matplotlib's {fn.__name__} refused the keywords "
            f"{sorted(given)} passed on to it ({exc}); pass keywords {fn.__name__} takes"
        ) from exc


def _bars(ax: Any, comp: xr.DataArray, name: Any, kwargs: dict) -> None:
    if comp.ndim == 0:  # a variable along the sample dim only: one loading, one bar
        comp = comp.expand_dims(variable=[name])
    (dim,) = comp.dims
    x = np.arange(comp.sizes[dim])
    _draw(ax.bar, kwargs, x, comp.values, **{"color": "C0", **kwargs})
    ax.axhline(0.0, color="0.4", linewidth=1)
    if x.size <= MAX_NAMED_BARS:
        labels = comp.coords[dim].values if dim in comp.coords else x
        ax.set_xticks(x, labels=[text(v) for v in labels], rotation=90 if x.size > 8 else 0)
    ax.set_xlabel(text(dim))
    ax.set_ylabel("loading")
