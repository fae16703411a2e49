"""Feature weights of a PCA (EOF area weighting), matched to the features by name.

A weighted PCA decomposes the centred data with each feature multiplied by its weight, as
xeofs does: for a field on a latitude grid, ``np.sqrt(np.cos(np.deg2rad(ds.lat)))`` makes
each cell count by its area. The weights are resolved once, when the fit starts, to one
float64 value per kept feature (:func:`feature_weights`), and then:

- every block of rows the solvers read is multiplied by them (:func:`weigh_rows`, called
  by :func:`ooc_accessor.pca_solvers.read_rows`), so ``components_``,
  ``explained_variance_(ratio_)``, ``singular_values_`` and ``noise_variance_`` are those
  of the weighted, centred field;
- ``mean_`` and ``var_`` are given back in data units (the plain mean and variance; NaN
  where a weight is 0, since such a feature is multiplied away);
- ``transform`` projects ``(X - mean_) * w`` (the same weights, applied by the fitted
  feature names, so the training data's scores equal ``fit_transform``'s), and
  ``inverse_transform`` divides by them again (NaN where a weight is 0).

xarray data takes a DataArray over some or all of the feature dims, matched by dimension
name and coordinate label (never by position), broadcast over the other feature dims. A
variable holding none of the weights' dims is left unweighted (weight 1): weights compare
cells of a grid, and such a variable is not on it. Weights must be finite and >= 0 at
every cell the PCA uses (land cells, dropped, may hold anything). pandas data (and a Design, and a
Dataset of 1-D variables) takes a Series indexed by feature name (a DataArray over
``variable`` too); unnamed (numpy) features a 1-D array, one per feature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .errors import ArgumentError, ArgumentTypeError

__all__ = ["check_unchanged", "feature_weights", "in_data_units", "unweigh", "weigh_rows"]

_EXAMPLE = "e.g. np.sqrt(np.cos(np.deg2rad(ds.lat)))"


def feature_weights(weights: Any, src: Any) -> np.ndarray | None:
    """``weights`` as one float64 per kept feature of ``src``, checked (None: unweighted)."""
    if weights is None:
        return None
    layout = getattr(src, "layout", None)
    if src.kind == "xarray" and layout is not None and layout.table:
        # a Dataset of 1-D variables: one feature per variable, weighted by its name
        if isinstance(weights, xr.DataArray) and weights.dims == ("variable",):
            weights = weights.to_series()
        w = _named_weights(weights, list(src.feature_names))
    elif src.kind == "xarray" and layout is not None:
        w = _field_weights(weights, layout)
    elif src.feature_names is not None:
        w = _named_weights(weights, list(src.feature_names))
    else:
        w = _positional_weights(weights, src.n_features)
    return w


def _check_values(values: np.ndarray, label: Any) -> None:
    """Refuse NaN, inf and negative weights, naming where the first one is."""
    for bad, what in (
        (np.isnan(values), "NaN"),
        (np.isinf(values), "inf"),
        (values < 0, "negative"),
    ):
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            raise ArgumentError(
                f"weights= holds {int(bad.sum())} {what} value(s) (the first, "
                f"{values.ravel()[i].item()!r}, for {label(i)}); weights must be finite and "
                f">= 0 ({_EXAMPLE}): fill or clip them"
            )


def _positional_weights(weights: Any, p: int) -> np.ndarray:
    if isinstance(weights, (pd.Series, xr.DataArray, xr.Dataset, pd.DataFrame)):
        raise ArgumentTypeError(
            f"weights= is a {type(weights).__name__}, but the data's features have no names "
            f"to match it by: pass a 1-D array of {p} weights, one per feature (column)"
        )
    w = _numbers(weights)
    if w.ndim != 1 or w.size != p:
        raise ArgumentError(
            f"weights= has shape {w.shape}; the data has {p} features: pass one weight per "
            "feature (a 1-D array)"
        )
    _check_values(w, lambda i: f"feature {i}")
    return w


def _numbers(weights: Any) -> np.ndarray:
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(
            f"weights= must hold numbers, not {type(weights).__name__} ({exc})"
        ) from exc
    return w


def _named_weights(weights: Any, names: list) -> np.ndarray:
    if not isinstance(weights, pd.Series):
        raise ArgumentTypeError(
            f"weights= for data with named features (columns {names[:5]}"
            f"{' ...' if len(names) > 5 else ''}) takes a pandas Series indexed by feature "
            f"name, not a {type(weights).__name__}: matched by name, never by position"
        )
    if not weights.index.is_unique:
        dup = weights.index[weights.index.duplicated()].unique().tolist()
        raise ArgumentError(f"weights= names features more than once: {dup[:5]}; name each once")
    missing = [n for n in names if n not in weights.index]
    if missing:
        raise ArgumentError(
            f"weights= has no weight for the feature(s) {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}; its index must name every feature of the "
            f"PCA ({len(names)}: {names[:5]}{' ...' if len(names) > 5 else ''})"
        )
    w = _numbers(weights.loc[names].to_numpy())
    _check_values(w, lambda i: f"feature {names[i]!r}")
    return w


def _field_weights(weights: Any, layout: Any) -> np.ndarray:
    """A DataArray of weights broadcast onto the field's stacked cells, then the kept ones."""
    if not isinstance(weights, xr.DataArray):
        raise ArgumentTypeError(
            f"weights= for xarray data takes a DataArray over feature dims ({_EXAMPLE}), "
            f"not a {type(weights).__name__}: it is matched by dimension name and coordinate "
            "label, never by position"
        )
    fdims = {d for v in layout.variables for d in v.fdims}
    for d in weights.dims:
        if d == layout.sample_dim:
            raise ArgumentError(
                f"weights= has the dim {d!r}, the sample dimension: weights weigh features "
                f"(cells), the same at every {d!r}; pass weights over feature dims only "
                f"({sorted(map(str, fdims))})"
            )
        if d not in fdims:
            raise ArgumentError(
                f"weights= has the dim {d!r}, which is not a feature dim of the data "
                f"(feature dims: {sorted(map(str, fdims))}); pass weights over those dims"
            )
    parts = [_variable_weights(weights, v) for v in layout.variables]
    cells = np.concatenate(parts) if len(parts) > 1 else parts[0]
    # checked where used: a land cell (dropped) may hold any weight, NaN included
    kept = np.ascontiguousarray(cells[layout.valid])
    _check_values(kept, lambda i: layout.feature_label(i))
    return kept


def _variable_weights(weights: xr.DataArray, v: Any) -> np.ndarray:
    """One variable's cells' weights: aligned by label on each weights dim, broadcast."""
    name = "the DataArray" if v.name is None else f"variable {v.name!r}"
    have = [d for d in weights.dims if d in v.fdims]
    if not have:  # not on the weights' grid: left as it is
        return np.ones(v.cells)
    if len(have) < weights.ndim:
        lack = [d for d in weights.dims if d not in v.fdims]
        raise ArgumentError(
            f"weights= has dims {weights.dims} but {name} lacks {lack} (it has "
            f"{v.fdims}): pass weights over dims every weighted variable has, or leave that "
            "variable out (variables=)"
        )
    values = np.asarray(weights.values, dtype=np.float64)
    for axis, d in enumerate(weights.dims):
        values = np.take(values, _positions(weights, d, v, name), axis=axis)
    # onto the variable's dim order, with length-1 axes for the dims the weights lack
    order = sorted(range(len(have)), key=lambda i: v.fdims.index(have[i]))
    values = np.transpose(values, order)
    shape = [v.shape[i] if d in have else 1 for i, d in enumerate(v.fdims)]
    return np.broadcast_to(values.reshape(shape), v.shape).ravel()


def _positions(weights: xr.DataArray, d: Any, v: Any, name: str) -> np.ndarray:
    """Where each of the variable's labels along ``d`` sits in the weights."""
    mine = v.coords.get(d)
    mine = mine if mine is not None and mine.dims == (d,) else None
    theirs = weights.indexes.get(d)
    n = v.shape[v.fdims.index(d)]
    if mine is None and theirs is None:  # no labels on either side: positions are the names
        if weights.sizes[d] != n:
            raise ArgumentError(
                f"weights= has {weights.sizes[d]} values along {d!r}, {name} has {n}: pass "
                "one weight per cell"
            )
        return np.arange(n)
    if mine is None or theirs is None:
        side, other = ("weights=", name) if theirs is None else (name, "weights=")
        raise ArgumentError(
            f"{side} has no coordinate {d!r} but {other} has one: weights are matched by "
            f"coordinate label, never by position; give both the same {d!r} coordinate "
            f"(.assign_coords({d}=...))"
        )
    labels = pd.Index(np.asarray(mine.values))
    if not theirs.is_unique:
        raise ArgumentError(
            f"weights= repeats labels of its coordinate {d!r}; each label must appear once"
        )
    where = theirs.get_indexer(labels)
    if (where < 0).any():
        lost = [x.item() if isinstance(x, np.generic) else x for x in labels[where < 0]]
        raise ArgumentError(
            f"weights= has no value at {d}={lost[:5]}{' ...' if len(lost) > 5 else ''} "
            f"({len(lost)} of the {n} {d!r} labels of {name}); weights are matched by "
            f"label: pass weights covering every {d!r} of the data (computed from the "
            f"data's own coordinate, {_EXAMPLE})"
        )
    return where


def weigh_rows(block: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """A block of rows with each feature multiplied by its weight (float64)."""
    if w is None:
        return block
    return np.asarray(block, dtype=np.float64) * w


def unweigh(values: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Rows in the weighted units back in data units: divided by ``w`` (NaN where 0)."""
    if w is None:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        out = values / w
    out[..., w == 0] = np.nan
    return out


def in_data_units(sol: dict[str, Any], w: np.ndarray | None) -> dict[str, Any]:
    """A spectrum of the weighted field with ``mean``/``var`` in data units, plus the
    projection transform uses: ``axes`` (components times ``w``) and ``center`` (the mean,
    0 where a weight is 0, where it is multiplied away)."""
    if w is None:
        return {**sol, "axes": sol["components"], "center": sol["mean"]}
    mean = unweigh(sol["mean"], w)
    var = unweigh(unweigh(sol["var"], w), w)
    return {
        **sol,
        "mean": mean,
        "var": var,
        "axes": sol["components"] * w,
        "center": np.where(w == 0, 0.0, mean),
    }


def check_unchanged(weights: Any, src: Any, fitted: np.ndarray | None) -> None:
    """Refuse ``weights`` that differ from those of the first ``partial_fit`` call."""
    now = feature_weights(weights, src)
    same = (now is None and fitted is None) or (
        now is not None and fitted is not None and np.array_equal(now, fitted)
    )
    if not same:
        raise ArgumentError(
            "weights= changed since the first partial_fit call (every call must weigh the "
            "features alike); set it back, or call fit to start again"
        )
