"""A read_csv store opened as a lazy Dataset: every column read a chunk at a time.

String columns are stored as integer codes plus a level table
(:mod:`~ooc_accessor.csvcodes`); here they read back as the strings (``table[codes]``, a
missing value as NaN), decoded per chunk. A store written before codes (variable-length
strings) reads as it always did.

What a foreign reader sees (``xarray.open_dataset(path)``, netCDF tools): a string column
is its integer codes (``_FillValue`` -1, so xarray shows a missing value as NaN) with the
attribute ``ooc_levels`` naming its level table, a string coordinate variable of its own
dimension (``"<column>.levels"``): ``table[codes]`` gives the strings. CF's
``flag_values``/``flag_meanings`` were not used: ``flag_meanings`` is one string of
blank-separated words, which cannot hold levels with blanks, empty levels or thousands of
them.
"""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np
import xarray as xr

from . import csvcodes, csvvalues, lazy, manifest
from .csvstore import column_name, variable_name
from .errors import StoreError


def _decoder(ds: h5py.Dataset) -> tuple[Any, Any]:
    """How a stored column reads back: (decode function or None, dtype after decoding)."""
    if h5py.check_string_dtype(ds.dtype) is not None:
        return _decode_text, np.dtype(object)
    if manifest.plain_attr(ds.attrs.get("dtype", "")) == "bool":
        return _decode_bool, np.dtype(bool)
    if "units" in ds.attrs and ds.dtype == np.int64:
        dates = csvvalues.units_dtype(manifest.plain_attr(ds.attrs["units"]))
        if dates is not None:
            return (lambda values: values.view(dates)), dates
    return None, ds.dtype


def _decode_text(values: np.ndarray) -> np.ndarray:
    """Variable-length strings (stores before codes; index labels): "" was missing."""
    out = np.asarray([v.decode() if isinstance(v, bytes) else v for v in values], dtype=object)
    out[out == ""] = np.nan  # stored missing values
    return out


def _decode_bool(values: np.ndarray) -> np.ndarray:
    return values.astype(bool)


def stored_columns(attrs: dict[str, Any]) -> list[str]:
    """The column names of a store, in file order (a JSON list; stores before it: an array)."""
    cols = attrs["columns"]
    if isinstance(cols, str):
        return list(json.loads(cols))
    return [c.decode() if isinstance(c, bytes) else str(c) for c in np.atleast_1d(cols)]


def _layout(
    f: h5py.File, path: str, columns: list[str], store_id: str
) -> tuple[str, int, Any, list]:
    """What the opener needs from the file, as plain values: the row dimension, its
    length, its labels (index_col) or None, and each column's (name, variable, dtype,
    decoder, codes).

    No h5py object outlives this call: every one is closed before the file is (an object
    closed by the file's own close, then freed, is closed twice; after an earlier failed
    write in the process, HDF5 may have reused its id, and that crashes).
    """
    tables = set()
    for name in columns:
        ds = f.get(variable_name(name))
        if not isinstance(ds, h5py.Dataset):
            raise StoreError(f"{path!r} lacks column {name!r}; read the CSV files again")
        table = manifest.plain_attr(ds.attrs.get(csvcodes.LEVELS_ATTR, ""))
        if table:
            tables.add(str(table))
    scales = [
        n
        for n, o in f.items()
        if manifest.plain_attr(o.attrs.get("CLASS", "")) == "DIMENSION_SCALE" and n not in tables
    ]
    if len(scales) != 1:
        raise StoreError(f"{path!r} has {len(scales)} row dimensions, not one; read the CSV again")
    scale = f[scales[0]]
    dim = column_name(scales[0])
    n = int(scale.shape[0])
    index = None
    if manifest.plain_attr(scale.attrs.get("NAME", "")) == dim:  # index_col: labels
        decode, _ = _decoder(scale)
        values = scale[:]
        index = decode(values) if decode is not None else values
    layout = []
    for name in columns:
        ds = f[variable_name(name)]
        coded = csvcodes.coded_column(path, name, ds, store_id, n)
        if coded is not None:
            decode, dtype = csvcodes.CodesDecoder(coded), np.dtype(object)
        else:
            decode, dtype = _decoder(ds)
        if ds.shape != (n,):
            raise StoreError(
                f"{path!r}: column {name!r} has shape {ds.shape}, not ({n},) as its row "
                "dimension; read the CSV files again"
            )
        layout.append((name, ds.name.lstrip("/"), dtype, decode, coded))
    return dim, n, index, layout


def open_store(path: str, attrs: dict[str, Any], *, temporary: bool = False) -> xr.Dataset:
    """A checked read_csv store as a lazy Dataset, every chunk read bound to the store.

    Each column is a dask array whose chunk reads open the file, check its ``store_id``
    and decode the values (see :mod:`~ooc_accessor.lazy`): a store replaced or removed
    since raises a StoreError naming it. ``temporary``: the file goes with the last
    array read from it. A string column's variable carries its codes' whereabouts in
    ``encoding["ooc_codes"]``, so a design reads the codes, not the strings.
    """
    rows = int(attrs["chunk_rows"])
    store_id = str(attrs.get("store_id", ""))
    keep = lazy.TemporaryFile(path) if temporary else None
    columns = stored_columns(attrs)
    data: dict[str, Any] = {}
    coords: dict[str, Any] = {}
    with lazy.open_checked(path, store_id, "read_csv store") as f:
        dim, n, index, layout = _layout(f, path, columns, store_id)
    if index is not None:
        coords[dim] = index
    for name, var_name, dtype, decode, coded in layout:
        array = lazy.StoreArray(
            path, var_name, store_id, (n,), dtype, decode, "read_csv store", keep
        )
        values = lazy.lazy_variable(array, (max(1, min(rows, n)),))
        var = xr.Variable((dim,), values)
        var.encoding["source"] = path
        # the stored rows, so a design reads a block of every column in one open of the
        # file (lazy.read_many), not one open per column through dask
        var.encoding[lazy.ARRAY_KEY] = (array, values.name)
        if coded is not None:
            coded.dask_name = values.name
            var.encoding[csvcodes.ENCODING_KEY] = coded
        data[name] = var
    ds = xr.Dataset(data, coords=coords)
    ds.encoding["source"] = path
    # only what a user reads: where the rows came from (the rest is the store's bookkeeping)
    ds.attrs = {"sources": _sources(attrs.get("sources", []))}
    return ds


def _sources(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            return list(json.loads(value))
        except ValueError:
            return [value]
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(value)]
