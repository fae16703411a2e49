"""The read_csv store: column kinds across chunks, the writer, and the lazy opener.

One 1-D variable per CSV column along the row dimension, written with h5py in netCDF4's
layout (dimension scales, ``_Netcdf4Dimid``), so xarray and netCDF readers open it too.
Everything here is linear in the number of columns: h5netcdf (and xarray's backend on it)
finds an unlimited dimension's length by asking every variable attached to it, once per
variable touched, which made a 1,000-column CSV take minutes. Rows are appended to
resizable variables; the row dimension is created at commit with its final, fixed length,
so any reader gets its size in one lookup.

Column names are kept as written: a name HDF5 cannot hold (``/``, ``.``, ``%``) is stored
under an escaped variable name and the ``columns`` attribute keeps the real names in order.
"""

from __future__ import annotations

import json
import os
import stat
import traceback
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from . import csvvalues, lazy, manifest, store
from .errors import ColumnTypeError, CSVError, StoreError

FORMAT = "ooc_accessor.csv"
_STR = h5py.string_dtype()
_NAT = np.iinfo(np.int64).min
_DATE_UNITS = "nanoseconds since 1970-01-01"
#: netCDF's mark of a dimension that is not also a variable (its length follows, 10 wide)
_NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable."

# -- column kinds ---------------------------------------------------------------------------------
# "empty" (all missing so far), "bool", "int", "float", "datetime", "str". A chunk's kind and the
# column's kind so far give the stored kind; only the changes a whole-file read would make are
# allowed, the rest name the column and say how to fix it.
_STORED = {
    "empty": np.float64,
    "bool": np.int8,
    "int": np.int64,
    "float": np.float64,
    "datetime": np.int64,
    "str": _STR,
}


def kind_of(col: pd.Series) -> str:
    """The kind of one parsed chunk's column."""
    dtype = col.dtype
    if col.isna().all():
        return "empty"
    if dtype.kind == "b" or isinstance(dtype, pd.BooleanDtype):
        return "bool"
    if dtype.kind in "iu" or (
        isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iu"
    ):
        return "int"
    if dtype.kind == "f":
        return "float"
    if dtype.kind == "M":
        if getattr(dtype, "tz", None) is not None:
            return "tzdatetime"
        return "datetime"
    return "str"


def merge_kinds(have: str, new: str, has_rows: bool) -> str | None:
    """The stored kind after a chunk of kind ``new`` (None: not a change we make).

    ``has_rows``: rows were written before this chunk (missing ones, if ``have`` is
    "empty"): ints with missing values are floats, as in a whole-file read.
    """
    if new == have:
        return have
    if new == "empty":
        if have == "int":
            return "float"
        return None if have == "bool" else have
    if have == "empty":
        if not has_rows or new in ("str", "datetime", "float"):
            return new
        return "float" if new == "int" else None
    pair = {have, new}
    if pair <= {"int", "float"}:
        return "float"
    if pair == {"bool", "int"} or pair == {"bool", "float"}:
        return None  # pandas would give object: refuse, and say how to fix it
    if have == "str" and new in ("int", "float", "bool"):
        return "str"  # numbers in a string column: stored as their text
    return None


def variable_name(column: str) -> str:
    """The HDF5 name a column is stored under: itself unless HDF5 cannot hold it.

    HDF5 names cannot contain ``/`` nor be ``.``; those characters (and ``%``, the escape)
    are percent-encoded, so every column name maps to one variable name and back.
    """
    if not column.strip("."):  # "", "." and "..": not names HDF5 takes as given
        return "".join(f"%{ord(c):02X}" for c in column) or "%"
    if any(c in column for c in "/%"):
        return quote(column, safe="")
    return column


def column_name(variable: str) -> str:
    """The column a variable name stores (the inverse of :func:`variable_name`)."""
    return "" if variable == "%" else unquote(variable) if "%" in variable else variable


@dataclass
class _Column:
    name: str
    var: str
    kind: str = "empty"
    #: the stored dtype of an int column (pandas' width) or a date column (pandas' unit)
    dtype: np.dtype | None = None
    negative: bool = False  # an int column held a negative value (uint64 then cannot)


def value_dtype(col: pd.Series, kind: str) -> np.dtype | None:
    """The dtype a chunk's int or date column has as pandas gave it (None: other kinds)."""
    if kind == "int":
        return csvvalues.int_dtype(col)
    if kind == "datetime":
        return csvvalues.date_dtype(col)
    return None


def encode(col: pd.Series, kind: str, where: str = "", dtype: np.dtype | None = None) -> np.ndarray:
    """A chunk's column as the stored dtype of ``kind`` (``dtype``: of an int or date
    column, its width or unit; int64 and nanoseconds when not given)."""
    if kind == "float" or kind == "empty":
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "int":
        return csvvalues.as_int(col, dtype or np.dtype(np.int64), where)
    if kind == "bool":
        return col.to_numpy(dtype=np.int8)
    if kind == "datetime":
        return csvvalues.as_dates(col, dtype or np.dtype("datetime64[ns]"), where)
    # strings: missing becomes "" under the _FillValue "", which xarray decodes as NaN
    if isinstance(col.dtype, pd.StringDtype):
        out = col.to_numpy(dtype=object, na_value="")  # one conversion, the common case
    else:
        text = col.astype(object).where(col.notna(), "")
        if col.dtype.kind == "f":
            text = text.map(lambda v: repr(v) if isinstance(v, float) else v)
        out = np.asarray(text.astype(str), dtype=object)
    _refuse_nul(out, col, where)
    return out


def _refuse_nul(values: np.ndarray, col: pd.Series, where: str) -> None:
    """HDF5 strings end at a NUL character: a value holding one cannot be stored whole."""
    if "\x00" not in "".join(values):  # one pass in C; the common case
        return
    has = np.fromiter(("\x00" in v for v in values), dtype=bool, count=len(values))
    if has.any():
        i = int(np.argmax(has))
        label = col.index[i]
        label = label.item() if isinstance(label, np.generic) else label
        row = (
            f"data row {col.index[i]} (counting from 0, the header not counted)"
            if isinstance(col.index, pd.RangeIndex)
            else f"the row labelled {label!r}"
        )
        raise CSVError(
            f"column {col.name!r} holds a NUL character (\\x00) at {row}, "
            f"{where.strip() or 'in the file'}; a store cannot hold it: remove it from the "
            "file, or pass converters={" + repr(col.name) + ": lambda s: "
            "s.replace('\\x00', '')} to read_csv"
        )


def empty_as(kind: str, m: int) -> np.ndarray:
    """``m`` missing values of ``kind`` (rows written before a column had a kind)."""
    if kind == "str":
        return np.full(m, "", dtype=object)
    if kind == "datetime":
        return np.full(m, _NAT, dtype=np.int64)
    if kind in ("float", "empty"):
        return np.full(m, np.nan)
    raise AssertionError(kind)  # int/bool columns that were empty become float by merge_kinds


class CSVWriter:
    """The temporary store: one resizable 1-D variable per column (see the module)."""

    def __init__(
        self,
        final: str,
        dim: str,
        chunk_rows: int,
        compression: str | None,
        *,
        indexed: bool = False,
    ) -> None:
        self.final = store.check_target(final, CSVError)
        store.remove_stale_temps(self.final)
        store.ensure_space(self.final)
        self.tmp = store.temp_path(self.final)
        self.dim = dim
        self.chunk_rows = chunk_rows
        self.compression = compression
        self.n = 0
        self.columns: dict[str, _Column] = {}
        self.order: list[str] = []
        self.index_kind: str | None = None
        self.index_dtype: np.dtype | None = None
        self.indexed = indexed  # index_col given: its values become the dim's coordinate
        self._index: Any = None
        self._f: h5py.File | None = None
        try:
            # no chunk cache: each block's chunks are written when the block is (a full disk
            # then fails that write, not a later flush of cached chunks at close, which h5py
            # cannot recover from); rows are appended whole chunks at a time anyway
            self._f = store.open_temp(self.tmp, "hdf5", rdcc_nbytes=0, rdcc_nslots=1)
        except (OSError, RuntimeError) as exc:
            self.abort()
            raise store.write_error(exc, self.final) from exc

    # variables -------------------------------------------------------------------------------
    def _create(
        self, var: str, kind: str, n: int = 0, dtype: np.dtype | None = None
    ) -> h5py.Dataset:
        opts: dict[str, Any] = {}
        if self.compression:
            opts["compression"] = self.compression
        if kind == "datetime":
            opts["fillvalue"] = _NAT
        if kind != "str":  # HDF5 filters cannot take variable-length strings
            opts.update(fletcher32=True)
        ds = self._f.create_dataset(
            var,
            shape=(n,),
            maxshape=(None,),
            chunks=(self.chunk_rows,),
            dtype=dtype if kind == "int" and dtype is not None else _STORED[kind],
            **opts,
        )
        _attrs(ds, kind, dtype)
        return ds

    def _rewrite(self, col: _Column, kind: str, dtype: np.dtype | None = None) -> None:
        """Convert the rows already written of a column to ``kind`` (once per change), or
        an int column's rows to a wider ``dtype`` (uint64 once a value needs it)."""
        old = self._f[col.var]
        tmp = f"{col.var}.__ooc_new__"
        new = self._create(tmp, kind, self.n, dtype)
        for a in range(0, self.n, self.chunk_rows):
            b = min(a + self.chunk_rows, self.n)
            # the only changes merge_kinds makes after rows are written: a column missing so
            # far takes its first kind, and int becomes float
            if col.kind == "empty":
                new[a:b] = empty_as(kind, b - a)
            elif kind == "int":  # a wider int: every value fits (merge_int_dtypes)
                new[a:b] = old[a:b].astype(dtype)
            else:
                new[a:b] = old[a:b].astype(np.float64)
        del self._f[col.var]
        self._f.move(tmp, col.var)

    # rows ------------------------------------------------------------------------------------
    def append(self, frame: pd.DataFrame, where: str) -> None:
        """Write one parsed chunk after the rows already written."""
        # strings: HDF5 keeps a 16-byte heap reference a value, plus the text
        row = 16 * (len(frame.columns) + 1)
        store.ensure_space(self.final, len(frame) * row, self.n * row)
        try:
            self._append(frame, where)
        except (OSError, RuntimeError) as exc:  # HDF5 failing to write: the disk
            _drop_hdf5_objects(exc)
            raise store.write_error(exc, self.final) from exc
        except BaseException as exc:
            _drop_hdf5_objects(exc)
            raise

    def _append(self, frame: pd.DataFrame, where: str) -> None:
        m = len(frame)
        if m == 0:
            return
        if not self.columns:
            self._start(frame)
        # positional: pandas' names may repeat (they do not here) or not be strings
        frame = frame.set_axis(self.order, axis=1)
        frame.index = pd.RangeIndex(self.n, self.n + m) if not self.indexed else frame.index
        kinds = {}
        for name in self.order:
            col = self.columns[name]
            new = kind_of(frame[name])
            if new == "tzdatetime":
                raise ColumnTypeError(
                    f"column {name!r} holds time-zone-aware dates ({where}); convert them to "
                    "UTC (e.g. date_format / a converter) or read them as text"
                )
            if new == "str":
                csvvalues.refuse_big_ints(frame[name], where)
            merged = merge_kinds(col.kind, new, self.n > 0)
            if merged is None:
                raise ColumnTypeError(
                    f"column {name!r} was read as {col.kind} until row {self.n} but holds "
                    f"{new} values {where}; pass dtype={{{name!r}: str}} (or float) to "
                    "read_csv so every chunk is read alike"
                )
            dtype = self._dtype(col, merged, frame[name], where)
            if merged != col.kind and self.n and not (col.kind == "empty" and merged == "float"):
                self._rewrite(col, merged, dtype)  # (empty so far and now float: NaNs already)
            elif merged == "int" and col.dtype is not None and dtype != col.dtype and self.n:
                self._rewrite(col, merged, dtype)
            col.kind, col.dtype = merged, dtype
            kinds[name] = merged
        a, b = self.n, self.n + m
        for name in self.order:
            values = encode(frame[name], kinds[name], where, self.columns[name].dtype)
            ds = self._f[self.columns[name].var]
            ds.resize((b,))
            ds[a:b] = values
        if self.index_kind is not None:
            index = frame.index.to_series()
            kind = kind_of(index)
            if kind not in (self.index_kind, "empty") and {kind, self.index_kind} != {
                "int",
                "float",
            }:
                raise ColumnTypeError(
                    f"the index column {self.dim!r} was read as {self.index_kind} but holds "
                    f"{kind} values {where}; pass dtype={{{self.dim!r}: str}} (or float) so "
                    "every chunk is read alike"
                )
            self._index.resize((b,))
            self._index[a:b] = encode(
                index.rename(self.dim), self.index_kind, where, self.index_dtype
            )
        self.n = b

    def _dtype(self, col: _Column, kind: str, values: pd.Series, where: str) -> np.dtype | None:
        """The stored dtype of an int or date column after this chunk (None: other kinds).

        Ints take the width a whole-file read would (uint64 when needed, see
        :func:`~ooc_accessor.csvvalues.merge_int_dtypes`); dates keep the first chunk's unit.
        """
        if kind == "datetime":
            return col.dtype if col.kind == "datetime" else value_dtype(values, kind)
        if kind != "int":
            return None
        new = csvvalues.int_dtype(values)
        have = col.dtype if col.kind == "int" else None
        negative = bool(values.lt(0).any())
        dtype = csvvalues.merge_int_dtypes(col.name, have, new, col.negative or negative, where)
        col.negative = col.negative or negative
        return dtype

    def _start(self, frame: pd.DataFrame) -> None:
        names = [str(c) for c in frame.columns]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise CSVError(f"column name(s) {dup} appear more than once; rename them")
        if self.dim in names:
            raise CSVError(f"a column is named {self.dim!r}, the row dimension; pass another dim=")
        bad = next((n for n in names if "\x00" in n), None)
        if bad is not None:
            raise CSVError(
                f"column name {bad!r} holds a NUL character (\\x00), which a store cannot hold; "
                "rename the column (names=[...] with header=0)"
            )
        self.order = names
        taken: set[str] = {variable_name(self.dim)}
        for name, (_, values) in zip(names, frame.items(), strict=True):
            kind = kind_of(values)
            if kind == "tzdatetime":
                kind = "str"  # refused by append with the column named
            var = variable_name(name)
            if var in taken:  # cannot happen for distinct names; kept as a guard
                raise CSVError(f"column {name!r} cannot be stored under a name of its own")
            taken.add(var)
            col = self.columns[name] = _Column(name, var, kind)
            col.dtype = value_dtype(values, kind)
            self._create(var, kind, dtype=col.dtype)
        if self.indexed:
            if isinstance(frame.index, pd.MultiIndex):
                raise CSVError("index_col with several columns is not supported: pass one")
            kind = kind_of(frame.index.to_series())
            self.index_kind = "str" if kind in ("empty", "tzdatetime") else kind
            # the labels' width or unit is the first chunk's (a later one must fit it)
            self.index_dtype = value_dtype(frame.index.to_series(), self.index_kind)
            self._index = self._create(
                f"{variable_name(self.dim)}.__ooc_index__", self.index_kind, dtype=self.index_dtype
            )

    def commit(self, sources: list[str]) -> str:
        """The row dimension, attributes, manifest, fsync, rename to the final path."""
        f = self._f
        try:
            self._make_dimension()
            f.attrs["_NCProperties"] = np.bytes_(
                f"version=2,ooc_accessor,hdf5={h5py.version.hdf5_version},h5py={h5py.__version__}"
            )
            f.attrs["format"] = FORMAT
            f.attrs["sources"] = json.dumps([str(s) for s in sources])
            # JSON, one attribute: an array of thousands of names passes HDF5's 64 KiB limit
            f.attrs["columns"] = json.dumps(self.order)
            f.attrs["n_rows"] = self.n
            f.attrs["chunk_rows"] = self.chunk_rows
            f.attrs["store_id"] = uuid.uuid4().hex
            f.attrs["complete"] = 1
            f.close()
            store.seal(self.tmp)
        except (OSError, RuntimeError) as exc:
            _drop_hdf5_objects(exc)
            raise store.write_error(exc, self.final) from exc
        store.replace(self.tmp, self.final, _sources_mode(sources))
        return self.final

    def _make_dimension(self) -> None:
        """The row dimension, fixed at its final length, attached to every column once."""
        f, n, dim = self._f, self.n, variable_name(self.dim)
        if self._index is not None:  # index_col: the dimension holds the labels
            f.move(self._index.name, dim)
            self._index = None  # no h5py object outlives its file (see _layout)
            scale = f[dim]
            scale.make_scale(self.dim)
            scale.attrs["_Netcdf4Coordinates"] = np.array([0], dtype=np.int32)
        else:
            scale = f.create_dataset(dim, shape=(n,), dtype=">f4")
            scale.make_scale(f"{_NOT_A_VARIABLE}{n:10}")
        scale.attrs["_Netcdf4Dimid"] = np.int32(0)
        for name in self.order:
            ds = f[self.columns[name].var]
            ds.attrs["_Netcdf4Coordinates"] = np.array([0], dtype=np.int32)
            ds.dims[0].attach_scale(scale)

    def abort(self) -> None:
        """Close and remove the temporary file; the target is untouched."""
        store.discard(self._f, self.tmp)


def _sources_mode(sources: list[str]) -> int | None:
    """The permission bits every source file shares (a new store gets no more than these);
    None when no source is a file on disk (a buffer, a URL)."""
    mode = None
    for src in sources:
        try:
            st = os.stat(src) if isinstance(src, (str, os.PathLike)) else None
        except (OSError, ValueError):
            st = None
        if st is not None:
            mode = stat.S_IMODE(st.st_mode) if mode is None else mode & st.st_mode
    return mode


def _drop_hdf5_objects(exc: BaseException) -> None:
    """Let go of the HDF5 objects a failed write's traceback holds (its frames' locals).

    After a failed write the file is discarded (:func:`~ooc_accessor.files.discard` closes
    it directly); an h5py Dataset still referenced from the traceback would be freed only
    later, against a closed, broken file, which can crash the process.
    """
    traceback.clear_frames(exc.__traceback__)


def _attrs(ds: h5py.Dataset, kind: str, dtype: np.dtype | None = None) -> None:
    """The attributes xarray decodes ``kind`` from (dates: in ``dtype``'s unit)."""
    if kind == "bool":
        ds.attrs["dtype"] = "bool"  # xarray's convention: decoded back to bool
    elif kind == "datetime":
        ds.attrs["_FillValue"] = np.array([_NAT])
        ds.attrs["units"] = csvvalues.date_units(dtype) if dtype is not None else _DATE_UNITS
        ds.attrs["calendar"] = "proleptic_gregorian"
    elif kind == "str":
        ds.attrs.create("_FillValue", "", dtype=_STR)  # decoded as missing


# -- opening ------------------------------------------------------------------------------------
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


def _layout(f: h5py.File, path: str, columns: list[str]) -> tuple[str, int, Any, list]:
    """What the opener needs from the file, as plain values: the row dimension, its
    length, its labels (index_col) or None, and each column's (name, variable, dtype,
    decoder).

    No h5py object outlives this call: every one is closed before the file is (an object
    closed by the file's own close, then freed, is closed twice; after an earlier failed
    write in the process, HDF5 may have reused its id, and that crashes).
    """
    scales = [
        n
        for n, o in f.items()
        if manifest.plain_attr(o.attrs.get("CLASS", "")) == "DIMENSION_SCALE"
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
        decode, dtype = _decoder(ds)
        layout.append((name, ds.name.lstrip("/"), dtype, decode))
    return dim, n, index, layout


def open_store(path: str, attrs: dict[str, Any], *, temporary: bool = False) -> xr.Dataset:
    """A checked read_csv store as a lazy Dataset, every chunk read bound to the store.

    Each column is a dask array whose chunk reads open the file, check its ``store_id``
    and decode the values (see :mod:`~ooc_accessor.lazy`): a store replaced or removed
    since raises a StoreError naming it. ``temporary``: the file goes with the last
    array read from it.
    """
    rows = int(attrs["chunk_rows"])
    store_id = str(attrs.get("store_id", ""))
    keep = lazy.TemporaryFile(path) if temporary else None
    columns = stored_columns(attrs)
    data: dict[str, Any] = {}
    coords: dict[str, Any] = {}
    with lazy.open_checked(path, store_id, "read_csv store") as f:
        dim, n, index, layout = _layout(f, path, columns)
    if index is not None:
        coords[dim] = index
    for name, var_name, dtype, decode in layout:
        array = lazy.StoreArray(
            path, var_name, store_id, (n,), dtype, decode, "read_csv store", keep
        )
        var = xr.Variable((dim,), lazy.lazy_variable(array, (max(1, min(rows, n)),)))
        var.encoding["source"] = path
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
