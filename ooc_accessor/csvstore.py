"""The read_csv store: column kinds across chunks, and the writer.

One 1-D variable per CSV column along the row dimension, written with h5py in netCDF4's
layout (dimension scales, ``_Netcdf4Dimid``), so xarray and netCDF readers open it too.
Everything here is linear in the number of columns: h5netcdf (and xarray's backend on it)
finds an unlimited dimension's length by asking every variable attached to it, once per
variable touched, which made a 1,000-column CSV take minutes. Rows are appended to
resizable variables; the row dimension is created at commit with its final, fixed length,
so any reader gets its size in one lookup.

A string column is stored as integer codes plus a level table (see
:mod:`~ooc_accessor.csvcodes`): a variable of codes (fletcher32-checked like the numbers)
and a string variable of the sorted levels, its own dimension; the opener is
:mod:`~ooc_accessor.csvopen`. The index column (``index_col``) stays variable-length text:
it is the row dimension's coordinate, read whole when the store is opened.

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

from . import csvcodes, csvvalues, store
from .digests import Digests
from .errors import ColumnTypeError, CSVError

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
    "str": np.int8,  # codes into the level table; widened as levels come
}


def kind_of(col: pd.Series) -> str:
    """The kind of one parsed chunk's column."""
    dtype = col.dtype
    # one value looked at first: a column with values (the common case) skips the full pass
    if not len(col) or (pd.isna(col.iat[0]) and col.isna().all()):
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
    levels: csvcodes.LevelTable | None = None  # a string column's levels, first seen first


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
        if col.dtype == np.float64:  # numpy's float64: NaN already missing, no copy
            return col.to_numpy()
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "int":
        return csvvalues.as_int(col, dtype or np.dtype(np.int64), where)
    if kind == "bool":
        return col.to_numpy(dtype=np.int8)
    if kind == "datetime":
        return csvvalues.as_dates(col, dtype or np.dtype("datetime64[ns]"), where)
    # text (the index column only: columns are codes): missing becomes "" under the
    # _FillValue "", which xarray decodes as NaN
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
        raise csvcodes.nul_error(col, int(np.argmax(has)), where)


def empty_as(kind: str, m: int, dtype: np.dtype | None = None) -> np.ndarray:
    """``m`` missing values of ``kind`` (rows written before a column had a kind)."""
    if kind == "str":
        return np.full(m, -1, dtype=dtype or np.int8)  # no level: the missing code
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
        #: SHA-256 of each column's values, fed as they are written (the manifest's
        #: digests, without reading the store back at commit)
        self._digests = Digests()
        self.store_id = ""  # set at commit
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
        self,
        var: str,
        kind: str,
        n: int = 0,
        dtype: np.dtype | None = None,
        *,
        text: bool = False,
    ) -> h5py.Dataset:
        """A resizable variable of ``kind`` (``text``: variable-length strings, the index)."""
        opts: dict[str, Any] = {}
        if self.compression:
            opts["compression"] = self.compression
        if kind == "datetime":
            opts["fillvalue"] = _NAT
        if kind == "str" and not text:
            opts["fillvalue"] = -1
        if not text:  # HDF5 filters cannot take variable-length strings
            opts.update(fletcher32=True)
        stored = _STR if text else _STORED[kind]
        ds = self._f.create_dataset(
            var,
            shape=(n,),
            maxshape=(None,),
            chunks=(self.chunk_rows,),
            dtype=dtype if kind in ("int", "str") and dtype is not None and not text else stored,
            **opts,
        )
        _attrs(ds, kind, dtype, text)
        return ds

    def _rewrite(self, col: _Column, kind: str, dtype: np.dtype | None = None) -> None:
        """Convert the rows already written of a column to ``kind`` (once per change), or
        an int column's rows to a wider ``dtype`` (uint64 once a value needs it)."""
        old = self._f[col.var]
        tmp = f"{col.var}.__ooc_new__"
        new = self._create(tmp, kind, self.n, dtype)
        self._digests.restart(col.var)
        for a in range(0, self.n, self.chunk_rows):
            b = min(a + self.chunk_rows, self.n)
            # the only changes merge_kinds makes after rows are written: a column missing so
            # far takes its first kind, int becomes float, and ints or codes widen
            if col.kind == "empty":
                values = empty_as(kind, b - a, dtype)
            elif kind in ("int", "str"):  # wider: every value fits (merge_int_dtypes)
                values = old[a:b].astype(dtype)
            else:
                values = old[a:b].astype(np.float64)
            new[a:b] = values
            self._digests.feed(col.var, values, new.dtype)
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
        kinds, coded = {}, {}
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
            if merged == "str":
                coded[name] = self._codes(col, frame[name], where)
                dtype = csvcodes.code_dtype(col.levels.n)
                if merged != col.kind or dtype != col.dtype:  # (no rows yet: a new variable)
                    self._rewrite(col, merged, dtype)
                col.kind, col.dtype = merged, dtype
                kinds[name] = merged
                continue
            dtype = self._dtype(col, merged, frame[name], where)
            if merged != col.kind and self.n and not (col.kind == "empty" and merged == "float"):
                self._rewrite(col, merged, dtype)  # (empty so far and now float: NaNs already)
            elif merged == "int" and col.dtype is not None and dtype != col.dtype and self.n:
                self._rewrite(col, merged, dtype)
            col.kind, col.dtype = merged, dtype
            kinds[name] = merged
        a, b = self.n, self.n + m
        for name in self.order:
            col = self.columns[name]
            if name in coded:
                values = coded[name].astype(col.dtype, copy=False)
            else:
                values = encode(frame[name], kinds[name], where, col.dtype)
            ds = self._f[col.var]
            ds.resize((b,))
            ds[a:b] = values
            self._digests.feed(col.var, values, ds.dtype)
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

    def _codes(self, col: _Column, values: pd.Series, where: str) -> np.ndarray:
        """A chunk's strings as codes into the column's level table (new levels added)."""
        if col.levels is None:
            col.levels = csvcodes.LevelTable()
        if values.dtype == object:
            # an object column (a converter's, or dtype=object) of values that are not all
            # text: its levels would be text ('10' < '9') where pandas' are the values
            kind = pd.api.types.infer_dtype(values, skipna=True)
            if kind not in ("string", "empty"):
                raise ColumnTypeError(
                    f"column {col.name!r} holds values that are not text ({kind}, {where}); "
                    "the store keeps a column of one type: make its converter return str "
                    f"(or numbers only), or pass dtype={{{col.name!r}: str}}"
                )
        first = col.levels.n
        codes, new = col.levels.codes(csvcodes.text_of(values))
        csvcodes.refuse_nul(new, codes, first, values, where)
        return codes

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
            col.dtype = np.dtype(np.int8) if kind == "str" else value_dtype(values, kind)
            self._create(var, kind, dtype=col.dtype)
        if self.indexed:
            if isinstance(frame.index, pd.MultiIndex):
                raise CSVError("index_col with several columns is not supported: pass one")
            kind = kind_of(frame.index.to_series())
            self.index_kind = "str" if kind in ("empty", "tzdatetime") else kind
            # the labels' width or unit is the first chunk's (a later one must fit it)
            self.index_dtype = value_dtype(frame.index.to_series(), self.index_kind)
            self._index = self._create(
                f"{variable_name(self.dim)}.__ooc_index__",
                self.index_kind,
                dtype=self.index_dtype,
                text=self.index_kind == "str",
            )

    def commit(self, sources: list[str]) -> str:
        """The row dimension, attributes, manifest, fsync, rename to the final path."""
        f = self._f
        try:
            tables = self._finish_codes()
            self._make_dimension(tables)
            f.attrs["_NCProperties"] = np.bytes_(
                f"version=2,ooc_accessor,hdf5={h5py.version.hdf5_version},h5py={h5py.__version__}"
            )
            f.attrs["format"] = FORMAT
            f.attrs["sources"] = json.dumps([str(s) for s in sources])
            # JSON, one attribute: an array of thousands of names passes HDF5's 64 KiB limit
            f.attrs["columns"] = json.dumps(self.order)
            f.attrs["n_rows"] = self.n
            f.attrs["chunk_rows"] = self.chunk_rows
            f.attrs["store_id"] = self.store_id = uuid.uuid4().hex
            f.attrs["complete"] = 1
            f.close()
            known = self._digests.result()
            store.seal(self.tmp, known)
        except (OSError, RuntimeError) as exc:
            _drop_hdf5_objects(exc)
            raise store.write_error(exc, self.final) from exc
        store.replace(self.tmp, self.final, _sources_mode(sources))
        return self.final

    def _finish_codes(self) -> list[str]:
        """Each string column's level table written sorted (its codes remapped once if the
        order first seen was not sorted); the tables' variable names."""
        f = self._f
        taken = {c.var for c in self.columns.values()} | {variable_name(self.dim)}
        tables = []
        for name in self.order:
            col = self.columns[name]
            if col.kind != "str":
                continue
            levels = col.levels if col.levels is not None else csvcodes.LevelTable()
            table, rank = levels.sorted()
            tname = f"{col.var}.levels"
            while tname in taken:  # a column may have that name: never clash with it
                tname += "_"
            taken.add(tname)
            f.create_dataset(tname, data=table, dtype=_STR)
            ds = f[col.var]
            if rank is not None:
                lookup = np.append(rank, -1).astype(col.dtype)  # code -1 stays -1
                self._digests.restart(col.var)
                for a in range(0, self.n, self.chunk_rows):
                    values = lookup[ds[a : a + self.chunk_rows]]
                    ds[a : a + len(values)] = values
                    self._digests.feed(col.var, values, ds.dtype)
            ds.attrs[csvcodes.LEVELS_ATTR] = tname
            ds.attrs[csvcodes.LEVELS_SHA_ATTR] = csvcodes.table_digest(table)
            tables.append(tname)
        return tables

    def _make_dimension(self, tables: list[str]) -> None:
        """The row dimension, fixed at its final length, attached to every column once;
        each level table is a coordinate of its own dimension."""
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
        for i, tname in enumerate(tables, start=1):
            table = f[tname]
            table.make_scale(tname)
            table.attrs["_Netcdf4Dimid"] = np.int32(i)

    def abort(self) -> None:
        """Close and remove the temporary file; the target is untouched."""
        self._digests.close()
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


def _attrs(ds: h5py.Dataset, kind: str, dtype: np.dtype | None = None, text: bool = False) -> None:
    """The attributes xarray decodes ``kind`` from (dates: in ``dtype``'s unit; strings:
    codes, missing as -1, or ``text``)."""
    if kind == "bool":
        ds.attrs["dtype"] = "bool"  # xarray's convention: decoded back to bool
    elif kind == "datetime":
        ds.attrs["_FillValue"] = np.array([_NAT])
        ds.attrs["units"] = csvvalues.date_units(dtype) if dtype is not None else _DATE_UNITS
        ds.attrs["calendar"] = "proleptic_gregorian"
    elif kind == "str" and text:
        ds.attrs.create("_FillValue", "", dtype=_STR)  # decoded as missing
    elif kind == "str":
        ds.attrs["_FillValue"] = np.array([-1], dtype=dtype or np.int8)
