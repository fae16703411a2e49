"""Fields: xarray variables along a sample dimension, read as a (samples x features) matrix.

Every dimension of a variable other than the sample dimension is stacked into features, as
xeofs does; several variables are laid side by side. Cells that are missing at every sample
(land in an ocean field) are dropped as features and come back as NaN when results are
unstacked; a cell missing at some samples only is an error, since a PCA cannot use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr

from .errors import (
    ArgumentError,
    ArgumentTypeError,
    ChunkingError,
    ColumnTypeError,
    DataError,
    MissingColumnError,
)
from .names import names_message
from .sources import MatrixSource, auto_rows

#: largest block of rows (all features, in the stored dtype) that one dask chunk along the
#: sample dimension may hold: a row block is computed a chunk at a time
CHUNK_LIMIT_BYTES = 512 * 2**20


@dataclass
class _Var:
    """One variable of a field: where its cells sit among the stacked features."""

    name: Any
    fdims: tuple
    shape: tuple
    coords: dict = field(default_factory=dict)
    start: int = 0

    @property
    def cells(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class FieldLayout:
    """How stacked features map back to the variables' own dimensions (and land NaNs).

    Parameters
    ----------
    variables : list of _Var
    sample_dim : str
    land : ndarray of bool
        One flag per stacked cell: missing at every sample, dropped as a feature.
    """

    kind = "xarray"

    def __init__(self, variables: list[_Var], sample_dim: str, land: np.ndarray) -> None:
        self.variables = variables
        self.sample_dim = sample_dim
        self.land = land
        self.valid = np.flatnonzero(~land)
        self.n_cells = int(land.size)
        self.all_valid = bool(self.valid.size == self.n_cells)
        # a table of 1-D variables: one feature per variable, labeled by name
        self.table = all(v.fdims == () for v in variables) and len(variables) > 1

    def same_as(self, other: FieldLayout) -> bool:
        """Whether ``other`` stacks the same variables, dims, shapes and land cells."""
        return [(v.name, v.fdims, v.shape) for v in self.variables] == [
            (v.name, v.fdims, v.shape) for v in other.variables
        ] and np.array_equal(self.land, other.land)

    def check_coords(self, obj: xr.DataArray | xr.Dataset) -> None:
        """Refuse data whose feature coordinates differ from the fitted ones.

        Features are matched by label, as scikit-learn matches ``feature_names_in_``: each
        variable's coordinates over its feature dims (the dims' own, like ``lat``/``lon``,
        and others, like a ``station_name`` along ``station`` or a 2-D ``lat(y, x)``) must
        hold the fitted values in the fitted order: a grid shifted, a station relabeled or
        a coordinate permuted would otherwise be decomposed by position, silently wrong.
        A coordinate on one side only is refused too (missing, renamed, or one the fit did
        not have): without it the data could only be taken by position. An extra
        coordinate is accepted only over dims whose fitted index already matches the
        features by label (a cell ``area(lat, lon)`` beside ``lat``/``lon``).
        """
        for v in self.variables:
            var = _pick(obj, v.name)
            name = "the DataArray" if v.name is None else f"variable {v.name!r}"
            # (var.coords.get would make up a range for a dim without a coordinate)
            here = {
                c: var.coords[c].variable
                for c in var.coords
                if var.coords[c].dims and set(var.coords[c].dims) <= set(v.fdims)
            }
            for c, fitted in v.coords.items():
                if c not in here:
                    raise ArgumentError(
                        f"{name} has no coordinate {c!r} {fitted.dims}, but the PCA was fitted "
                        f"with one: its features are matched by coordinate label, never by "
                        f"position; assign the fitted labels (.assign_coords({c}=...), e.g. "
                        f"from the data the PCA was fitted on) or rename the coordinate back"
                    )
                got = here[c]
                if set(got.dims) != set(fitted.dims) or got.size != fitted.size:
                    raise ArgumentError(
                        f"{name}: its coordinate {c!r} is over {got.dims} {got.shape}; the PCA "
                        f"was fitted with it over {fitted.dims} {fitted.shape}: pass data on "
                        "the grid it was fitted on"
                    )
                _same_coordinate(name, c, fitted, got.transpose(*fitted.dims))
            for c, got in here.items():
                if c in v.coords or all(d in v.coords for d in got.dims):
                    continue  # an extra coordinate over dims already matched by label
                raise ArgumentError(
                    f"{name} has a coordinate {c!r} {got.dims} the PCA was not fitted with: "
                    f"its {list(got.dims)} features were taken by position at fit, so they "
                    f"cannot be matched by label; drop it (.drop_vars({c!r})) to pass the "
                    "same positions, or fit again on data carrying it"
                )

    @property
    def feature_dim(self) -> str:
        """The feature dimension's name when there is a single one (else ``"feature"``)."""
        if self.table:
            return "variable"
        v = self.variables[0]
        return v.fdims[0] if len(self.variables) == 1 and len(v.fdims) == 1 else "feature"

    def feature_names(self) -> list | None:
        """Labels of the kept features when each is one label (table, or one 2-D variable)."""
        if self.table:
            return [v.name for v in self.variables]
        v = self.variables[0]
        if len(self.variables) == 1 and len(v.fdims) == 1:
            values = v.coords.get(v.fdims[0])
            if values is not None and getattr(values, "dims", None) == v.fdims:
                return list(np.asarray(values.values)[self.valid])
        return None

    def cell_label(self, j: int) -> str:
        """A stacked cell named for messages: ``sst at lat=10.5, lon=200.0``."""
        for v in self.variables:
            if v.start <= j < v.start + v.cells:
                name = "the array" if v.name is None else repr(v.name)
                if not v.fdims:
                    return name
                idx = np.unravel_index(j - v.start, v.shape)
                parts = []
                for d, i in zip(v.fdims, idx, strict=True):
                    c = v.coords.get(d)
                    lab = c.values[i] if c is not None and c.dims == (d,) else i
                    parts.append(f"{d}={lab.item() if isinstance(lab, np.generic) else lab!r}")
                return f"{name} at {', '.join(parts)}"
        return f"feature {j}"

    def feature_label(self, j: int) -> str:
        """The kept feature ``j`` named for messages."""
        return self.cell_label(int(self.valid[j]))

    # -- results back on the variables' own dims -----------------------------------------------
    def _full(self, values: np.ndarray) -> np.ndarray:
        if self.all_valid:
            return values
        full = np.full((*values.shape[:-1], self.n_cells), np.nan)
        full[..., self.valid] = values
        return full

    def matrix(
        self, values: np.ndarray, lead_dim: str, lead_index: Any
    ) -> xr.DataArray | xr.Dataset:
        """Rows of kept features, ``(m, n_features)``, unstacked: dims ``(lead_dim, *fdims)``."""
        return self._unstack(self._full(np.asarray(values)), (lead_dim,), {lead_dim: lead_index})

    def vector(self, values: np.ndarray) -> xr.DataArray | xr.Dataset:
        """One value per kept feature, unstacked onto the variables' dims."""
        return self._unstack(self._full(np.asarray(values)), (), {})

    def _unstack(self, full: np.ndarray, lead: tuple, lead_coords: dict):
        lead_shape = full.shape[:-1]
        if self.table:
            names = [v.name for v in self.variables]
            return xr.DataArray(
                full, dims=(*lead, "variable"), coords={**lead_coords, "variable": names}
            )
        out = {}
        for v in self.variables:
            part = full[..., v.start : v.start + v.cells].reshape((*lead_shape, *v.shape))
            coords = {**lead_coords, **v.coords}
            out[v.name] = xr.DataArray(part, dims=(*lead, *v.fdims), coords=coords, name=v.name)
        if len(out) == 1:
            return next(iter(out.values()))
        return xr.Dataset(out)

    # -- lazy stacking for transform --------------------------------------------------------------
    def stack(self, obj: xr.DataArray | xr.Dataset, rows: int) -> xr.DataArray:
        """``obj``'s kept features as a lazy (dask) DataArray ``(sample_dim, feature)``."""
        dim = self.sample_dim
        parts = []
        for v in self.variables:
            var = _pick(obj, v.name)
            if dim not in var.dims or set(var.dims) - {dim} != set(v.fdims):
                raise ArgumentError(
                    f"variable {v.name!r} has dims {var.dims}; the PCA was fitted on "
                    f"{(dim, *v.fdims)}: pass data with those dims (select or rename them)"
                )
            var = var.transpose(dim, *v.fdims)
            if tuple(var.shape[1:]) != v.shape:
                raise ArgumentError(
                    f"variable {v.name!r} has feature shape {var.shape[1:]}; the PCA was fitted "
                    f"on {v.shape}: pass data on the grid it was fitted on (select or regrid it)"
                )
            data = var.chunk({dim: rows}).data if var.chunks is None else var.data
            parts.append(data.reshape(data.shape[0], v.cells))
        self.check_coords(obj)  # the grid's shape first: a clearer message
        import dask.array as da

        stacked = parts[0] if len(parts) == 1 else da.concatenate(parts, axis=1)
        if not self.all_valid:
            stacked = stacked[:, self.valid]
        coords = {dim: obj.indexes[dim]} if dim in obj.indexes else {}
        return xr.DataArray(stacked, dims=(dim, "feature"), coords=coords)


def _pick(obj: xr.DataArray | xr.Dataset, name: Any) -> xr.DataArray:
    """The fitted variable ``name`` of new data (a DataArray is taken as it is)."""
    if isinstance(obj, xr.Dataset):
        if name not in obj.data_vars:
            raise ArgumentError(
                "The feature names should match those that were passed during fit.\n"
                f"Feature names seen at fit time, yet now missing:\n- {name}\n"
                f"variable {name!r} is not in the Dataset (data variables: "
                f"{list(obj.data_vars)}); pass a Dataset holding every variable the PCA was "
                "fitted on"
            )
        return obj[name]
    return obj


def sample_dim(obj: xr.DataArray | xr.Dataset, dim: str | None) -> str:
    """The sample dimension: ``dim``, or the only dimension of a one-dimensional Dataset."""
    dims = list(obj.dims)
    kind = type(obj).__name__
    if dim is None:
        if isinstance(obj, xr.Dataset) and len(dims) == 1:
            return dims[0]
        raise ArgumentError(
            f"pass dim= naming the sample dimension of the {kind} (dims {dims}); the other "
            "dims become features"
        )
    if dim not in dims:
        raise ArgumentError(
            f"dim={dim!r} is not a dimension of the {kind} (dims {tuple(dims)}); pass one of "
            f"{dims} (or rename the dimension)"
        )
    return dim


def _variables(obj: xr.DataArray | xr.Dataset, dim: str, variables: list | None) -> list:
    if isinstance(obj, xr.DataArray):
        if variables is not None:
            raise ArgumentError(
                f"variables= selects variables of a Dataset; a DataArray is one: drop "
                f"variables={variables!r}"
            )
        return [obj]
    if variables is None:
        names = [n for n, v in obj.data_vars.items() if dim in v.dims]
        if not names:
            raise ArgumentError(
                f"no data variable of the Dataset has the dimension {dim!r}; pass dim= naming "
                "the sample dimension of its data variables "
                f"({ {n: v.dims for n, v in obj.data_vars.items()} })"
            )
    else:
        names = _names(obj, variables)
        absent = [n for n in names if n not in obj.data_vars]
        if absent:
            raise MissingColumnError(
                f"variable(s) {absent} are not in the Dataset "
                f"(data variables: {list(obj.data_vars)}); pick variables= from those"
            )
        for n in names:
            if dim not in obj[n].dims:
                raise ArgumentError(
                    f"variable {n!r} has dims {obj[n].dims}, without the sample dim {dim!r}; "
                    "leave it out of variables="
                )
    return [obj[n] for n in names]


def _names(obj: xr.Dataset, variables: Any) -> list:
    """``variables=`` as a list: a list-like, or one variable's name (any hashable)."""
    if isinstance(variables, (str, bytes)) or (
        not isinstance(variables, Iterable) and variables in obj.data_vars
    ):
        return [variables]
    if not isinstance(variables, Iterable):
        raise ArgumentTypeError(
            f"variables= takes a list of the Dataset's variable names, not {variables!r} "
            f"(data variables: {list(obj.data_vars)})"
        )
    return list(variables)


def _describe(chunks: dict) -> str:
    """Dask chunks for a message, long tuples shortened."""
    parts = []
    for d, c in chunks.items():
        shown = f"({', '.join(map(str, c[:3]))}, ... {len(c)} chunks)" if len(c) > 4 else str(c)
        parts.append(f"{d!r}: {shown}")
    return "{" + ", ".join(parts) + "}"


def check_chunks(var: xr.DataArray, dim: str, *, limit: int | None = None) -> None:
    """Refuse dask chunks along ``dim`` whose row blocks (all features) exceed ``limit``."""
    if var.chunks is None:
        return
    limit = CHUNK_LIMIT_BYTES if limit is None else limit
    chunks = dict(var.chunksizes)
    rows = max(chunks[dim])
    cells = int(np.prod([var.sizes[d] for d in var.dims if d != dim], dtype=np.int64))
    nbytes = rows * cells * var.dtype.itemsize
    if nbytes <= limit:
        return
    fit_rows = max(1, limit // max(cells * var.dtype.itemsize, 1) // 2)
    split = [d for d in var.dims if d != dim and len(chunks[d]) > 1]
    along = f", and split along {split}" if split else ""
    name = "the DataArray" if var.name is None else repr(var.name)
    others = ", ".join(f"{d!r}: -1" for d in var.dims if d != dim)
    raise ChunkingError(
        f"{name} is chunked {_describe(chunks)}: chunks of up to {rows} along {dim!r}{along}. "
        "A PCA reads blocks of rows with every feature, and one such chunk holds "
        f"{nbytes / 2**20:.0f} MiB (limit "
        f"{limit / 2**20:.0f} MiB). Chunk along {dim!r} instead: when opening a file, "
        f"chunks={{{dim!r}: {fit_rows}, {others}}} (free: only the read pattern changes); for "
        f"an array already in dask, .chunk({{{dim!r}: {fit_rows}, {others}}}) (dask copies "
        "each chunk once through memory)."
    )


class FieldMatrix(MatrixSource):
    """Variables along ``dim`` (a DataArray, or a Dataset's ``variables``) as a matrix.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        numpy-, memmap- or dask-backed, or lazily read from a file.
    dim : str, optional
        The sample dimension (optional for a one-dimensional Dataset).
    variables : list of str, optional
        Dataset variables to use (default: every data variable along ``dim``).
    layout : FieldLayout, optional
        The land cells of a fitted PCA: new data must have the same (``partial_fit``).
    missing : {"raise", "drop"}
        A cell missing at some steps only raises, naming it; with ``"drop"`` the PCA drops
        those steps instead. Land, a cell missing at every step, is decided from every
        row of ``obj`` (never from the first block alone, so the chunking cannot change
        it); new data of a fitted PCA (``layout``) holding values in a fitted land cell
        raises either way.
    """

    kind = "xarray"

    def __init__(
        self,
        obj: xr.DataArray | xr.Dataset,
        dim: str | None,
        variables: list | None = None,
        layout: FieldLayout | None = None,
        missing: str = "raise",
    ) -> None:
        self.missing = missing
        dim = sample_dim(obj, dim)
        if layout is not None:
            if isinstance(obj, xr.Dataset) and variables is None:
                # new data of a fitted PCA: its variables, picked by name
                variables = [_pick(obj, v.name).name for v in layout.variables]
        arrays = _variables(obj, dim, variables)
        specs, start = [], 0
        self._arrays = []
        for var in arrays:
            if var.dtype.kind not in "biuf":
                name = "the DataArray" if var.name is None else f"variable {var.name!r}"
                raise ColumnTypeError(
                    f"{name} has dtype {var.dtype}; PCA needs numbers (convert it first)"
                )
            check_chunks(var, dim)
            fdims = tuple(d for d in var.dims if d != dim)
            var = var.transpose(dim, *fdims)
            coords = {
                n: c.variable.copy(deep=False)
                for n, c in var.coords.items()
                if dim not in c.dims and set(c.dims) <= set(fdims) and c.dims
            }
            spec = _Var(var.name, fdims, tuple(var.shape[1:]), coords, start)
            start += spec.cells
            specs.append(spec)
            self._arrays.append(var)
        self.sample_dim = dim
        # dask-backed variables can be read by a dask worker (the graph travels, not the
        # data); numpy- or memmap-backed ones are folded where they are
        self.remote = all(var.chunks is not None for var in self._arrays)
        self.n_rows = int(obj.sizes[dim])
        self.index = obj.indexes.get(dim)
        self.n_cells = start
        self._dtype = np.result_type(*(a.dtype for a in self._arrays))
        self._chunk_bounds = _chunk_bounds(self._arrays, dim, self.n_rows)
        if layout is None:
            land = self._probe(specs)
            layout = FieldLayout(specs, dim, land)
        elif not layout.same_as(FieldLayout(specs, dim, layout.land)):
            fitted = [(v.name, (dim, *v.fdims), v.shape) for v in layout.variables]
            got = [(v.name, (dim, *v.fdims), v.shape) for v in specs]
            raise ArgumentError(
                f"the data has variables {got}; the PCA was fitted on {fitted}: pass data "
                "with the same variables, dims and shapes (or start again with fit)"
            )
        else:
            layout.check_coords(obj)
        self.layout = layout
        self.n_features = int(layout.valid.size)
        if self.n_features == 0 and self.n_rows:
            raise DataError(
                f"each of the {self.n_cells} cells of {[a.name for a in self._arrays]} is "
                f"missing at every {dim!r} step: nothing to decompose; pass data holding "
                "values"
            )
        self.feature_dim = layout.feature_dim
        self.feature_names = layout.feature_names()

    def _probe(self, specs: list[_Var]) -> np.ndarray:
        """Land cells: those missing in every row (of every block, so chunking cannot
        change which cells are land).

        The first block names the candidates (cells missing in all its rows); only when
        there are some are the later blocks read, each testing just the candidates still
        dry, stopping as soon as none is left.
        """
        land = np.zeros(self.n_cells, dtype=bool)
        if self.n_rows == 0 or self._dtype.kind != "f":
            return land
        cand = None
        for a, b in self.ranges(auto_rows(self.n_cells)):
            raw = self._raw(a, b)
            if cand is None:
                cand = np.flatnonzero(np.isnan(raw).all(axis=0))
            else:
                cand = cand[np.isnan(raw[:, cand]).all(axis=0)]
            if not cand.size:
                break
        land[cand] = True
        return land

    def _raw(self, a: int, b: int) -> np.ndarray:
        # read where this runs (the client's fold, or a worker's task), never a round trip
        # through the cluster per block
        with dask.config.set(scheduler="sync"):
            parts = [
                np.asarray(var.isel({self.sample_dim: slice(a, b)}).values).reshape(b - a, -1)
                for var in self._arrays
            ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def ranges(self, rows: int) -> list[tuple[int, int]]:
        """Row ranges of at most ``rows`` rows that never straddle a dask chunk."""
        out = []
        for lo, hi in self._chunk_bounds:
            out.extend((a, min(a + rows, hi)) for a in range(lo, hi, rows))
        return out

    def block(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` of the kept features, in their stored dtype."""
        raw = self._raw(a, b)
        if raw.dtype.kind == "f":
            self._check_missing(raw, a)
        return raw if self.layout.all_valid else raw[:, self.layout.valid]

    def _check_missing(self, raw: np.ndarray, a: int) -> None:
        nan = np.isnan(raw)
        land = self.layout.land
        if not land.any():
            if not nan.any() or self.missing == "drop":
                return
            counts = nan.sum(axis=0)
        else:
            counts = np.where(land, 0, nan.sum(axis=0))
            wet = ~nan[:, land].all(axis=0)
            if wet.any():
                j = int(np.flatnonzero(land)[np.argmax(wet)])
                raise DataError(
                    f"{self.layout.cell_label(j)} is land in the fitted PCA (missing at every "
                    f"{self.sample_dim!r} of the data it was first fitted on) but has values in "
                    f"rows {a}-{a + len(raw) - 1}; pass data with the same land cells, or fit "
                    "again on all the data (fit decides land from every row)"
                )
            if not counts.any():
                return
        if self.missing == "drop":  # the PCA drops the steps holding them
            return
        j = int(np.argmax(counts))
        dim = self.sample_dim
        raise DataError(
            f"{self.layout.cell_label(j)} is missing at {int(counts[j])} of the "
            f"{len(raw)} {dim!r} steps in rows {a}-{a + len(raw) - 1} but present elsewhere; "
            f"a feature must be present at every {dim!r} or missing at every one (like land): "
            "fill those values, or pass missing='drop' to leave those steps out"
        )

    def feature_label(self, j: int) -> Any:
        """The kept feature ``j`` named for messages."""
        names = self.feature_names
        return names[j] if names is not None else self.layout.feature_label(j)


def _chunk_bounds(arrays: list[xr.DataArray], dim: str, n: int) -> list[tuple[int, int]]:
    """Row ranges of the dask chunks along ``dim`` (common refinement over variables)."""
    edges = {0, n}
    for var in arrays:
        if var.chunks is not None:
            edges.update(np.cumsum((0, *var.chunksizes[dim])).tolist())
    cuts = sorted(edges)
    return [(lo, hi) for lo, hi in itertools.pairwise(cuts) if hi > lo]


def _preview(labels: list, k: int = 6) -> str:
    shown = ", ".join(repr(x.item() if isinstance(x, np.generic) else x) for x in labels[:k])
    return f"[{shown}{', ...' if len(labels) > k else ''}]"


def _same_coordinate(name: str, c: Any, fitted: xr.Variable, got: xr.Variable) -> None:
    """Raise when a feature coordinate holds other values (or order) than at fit."""
    if fitted.ndim == 1:
        old, new = pd.Index(fitted.values), pd.Index(got.values)
        if old.equals(new):
            return
        d = fitted.dims[0]
        sel = f".sel({c}=fitted)" if c == d else f".sortby / .isel along {d!r}"
        fix = (
            f"Select the fitted labels, in order: {sel} (or .reindex); a shifted or relabeled "
            f"{c!r} is other features (fitted {c!r}: {_preview(list(old))})."
        )
        msg = names_message(list(old), list(new), fix=fix)
        raise ArgumentError(f"{name}: its coordinate {c!r} differs from the fit's. {msg}")
    same = np.asarray(fitted.values) == np.asarray(got.values)
    if same.all():
        return
    first = tuple(int(i) for i in np.argwhere(~same)[0])
    raise ArgumentError(
        f"{name}: its coordinate {c!r} {fitted.dims} differs from the fit's at "
        f"{int((~same).sum())} of {same.size} cells (the first at index {first}: "
        f"{fitted.values[first]!r} at fit, {got.values[first]!r} now); the features are "
        "matched by coordinate: pass data on the grid the PCA was fitted on"
    )
