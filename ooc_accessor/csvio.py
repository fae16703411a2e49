"""CSV files streamed into a chunked NetCDF4 store, one chunk of rows at a time.

pandas parses each chunk; a column's dtype is decided across all chunks, as a whole-file
``pandas.read_csv`` would decide it: an int column that gains a NaN or a float later becomes
float64 (the rows already written are converted in place, once), a column empty so far takes
the type of its first values, strings stay strings (every level kept, so patsy sees them all
when it learns levels from the store), parsed dates stay dates. The store is written under
a temporary name beside the target and renamed only when complete.
"""

from __future__ import annotations

import glob
import os
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import h5netcdf
import h5py
import numpy as np
import pandas as pd
import xarray as xr

from . import store
from .errors import ColumnTypeError, CSVError
from .store import temporary_store_path

__all__ = ["read_csv"]

FORMAT = "ooc_accessor.csv"
#: CSV text per chunk when ``chunksize="auto"``: the parsed frame (a few times the text for
#: string columns) plus the write buffers stay near 100 MB
AUTO_CHUNK_BYTES = 32 * 2**20
_STR = h5py.string_dtype()
_NAT = np.iinfo(np.int64).min
_DATE_UNITS = "nanoseconds since 1970-01-01"
_OWN = ("chunksize", "iterator", "nrows")
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}


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


def _kind(col: pd.Series) -> str:
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


def _merge(have: str, new: str, has_rows: bool) -> str | None:
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


@dataclass
class _Column:
    name: str
    kind: str = "empty"
    missing_so_far: bool = True


def _encode(col: pd.Series, kind: str) -> np.ndarray:
    """A chunk's column as the stored dtype of ``kind``."""
    if kind == "float" or kind == "empty":
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "int":
        return col.to_numpy(dtype=np.int64)
    if kind == "bool":
        return col.to_numpy(dtype=np.int8)
    if kind == "datetime":
        values = col.to_numpy(dtype="datetime64[ns]")
        return values.view(np.int64)
    # strings: missing becomes "" under the _FillValue "", which xarray decodes as NaN
    if isinstance(col.dtype, pd.StringDtype):
        return col.to_numpy(dtype=object, na_value="")  # one conversion, the common case
    out = col.astype(object).where(col.notna(), "")
    if col.dtype.kind == "f":
        out = out.map(lambda v: repr(v) if isinstance(v, float) else v)
    return np.asarray(out.astype(str), dtype=object)


class _Writer:
    """The temporary NetCDF file: one 1-D variable per column along ``dim``."""

    def __init__(
        self,
        final: str,
        dim: str,
        chunk_rows: int,
        compression: str | None,
        *,
        indexed: bool = False,
    ) -> None:
        self.final = os.path.abspath(final)
        directory = os.path.dirname(self.final)
        if not os.path.isdir(directory):
            raise CSVError(
                f"cannot write {final!r}: directory {directory!r} does not exist; create it "
                "first or pass another path="
            )
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
        self.indexed = indexed  # index_col given: its values become the dim's coordinate
        try:
            self._f = h5netcdf.File(self.tmp, "w")
            self._f.dimensions = {dim: None}
        except (OSError, RuntimeError) as exc:
            self.abort()
            raise store.write_error(exc, self.final) from exc

    # variables -------------------------------------------------------------------------------
    def _create(self, name: str, kind: str) -> Any:
        opts: dict[str, Any] = {"chunks": (self.chunk_rows,)}
        if self.compression:
            opts["compression"] = self.compression
        if kind == "datetime":
            opts["fillvalue"] = _NAT
        if kind != "str":  # HDF5 filters cannot take variable-length strings
            opts.update(store.CHECKSUM)
        var = self._f.create_variable(name, (self.dim,), _STORED[kind], **opts)
        self._attrs(var, kind)
        return var

    def _rewrite(self, name: str, kind: str) -> None:
        """Convert the rows already written of ``name`` to ``kind`` (once per change)."""
        old_kind = self.columns[name].kind
        self._f.close()
        with h5py.File(self.tmp, "a") as h5:
            old = h5[name]
            scale = h5[self.dim]
            tmp = f"{name}.__ooc_new__"
            fill = {"datetime": _NAT, "str": b""}.get(kind)
            kwargs: dict[str, Any] = {"fillvalue": fill} if fill is not None else {}
            if self.compression:
                kwargs["compression"] = self.compression
            if kind != "str":
                kwargs.update(store.CHECKSUM)
            new = h5.create_dataset(
                tmp,
                shape=old.shape,
                maxshape=(None,),
                chunks=(self.chunk_rows,),
                dtype=_STORED[kind],
                **kwargs,
            )
            for a in range(0, self.n, self.chunk_rows):
                b = min(a + self.chunk_rows, self.n)
                # the only changes _merge makes after rows are written: a column missing so
                # far takes its first kind, and int becomes float
                if old_kind == "empty":
                    new[a:b] = _empty_as(kind, b - a)
                else:
                    new[a:b] = old[a:b].astype(np.float64)
            old.dims[0].detach_scale(scale)
            new.dims[0].attach_scale(scale)
            del h5[name]
            h5.move(tmp, name)
        self._f = h5netcdf.File(self.tmp, "a")
        self._attrs(self._f.variables[name], kind)

    @staticmethod
    def _attrs(var: Any, kind: str) -> None:
        """The attributes xarray decodes ``kind`` from."""
        if kind == "bool":
            var.attrs["dtype"] = "bool"  # xarray's convention: decoded back to bool
        elif kind == "datetime":
            var.attrs["units"] = _DATE_UNITS
            var.attrs["calendar"] = "proleptic_gregorian"
        elif kind == "str":
            var.attrs["_FillValue"] = ""  # decoded as missing

    # rows ------------------------------------------------------------------------------------
    def append(self, frame: pd.DataFrame, where: str) -> None:
        """Write one parsed chunk after the rows already written."""
        # strings: HDF5 keeps a 16-byte heap reference a value, plus the text
        row = 16 * (len(frame.columns) + 1)
        store.ensure_space(self.final, len(frame) * row, self.n * row)
        try:
            self._append(frame, where)
        except (OSError, RuntimeError) as exc:  # HDF5 failing to write: the disk
            raise store.write_error(exc, self.final) from exc

    def _append(self, frame: pd.DataFrame, where: str) -> None:
        m = len(frame)
        if m == 0:
            return
        if not self.columns:
            self._start(frame)
        kinds = {}
        for name in self.order:
            col = self.columns[name]
            new = _kind(frame[name])
            if new == "tzdatetime":
                raise ColumnTypeError(
                    f"column {name!r} holds time-zone-aware dates ({where}); convert them to "
                    "UTC (e.g. date_format / a converter) or read them as text"
                )
            merged = _merge(col.kind, new, self.n > 0)
            if merged is None:
                raise ColumnTypeError(
                    f"column {name!r} was read as {col.kind} until row {self.n} but holds "
                    f"{new} values {where}; pass dtype={{{name!r}: str}} (or float) to "
                    "read_csv so every chunk is read alike"
                )
            if merged != col.kind and self.n:
                if col.kind == "empty" and merged == "float":
                    pass  # already float64 NaNs: nothing to convert
                else:
                    self._rewrite(name, merged)
            col.kind = merged
            kinds[name] = merged
        a, b = self.n, self.n + m
        self._f.resize_dimension(self.dim, b)
        for name in self.order:
            self._f.variables[name][a:b] = _encode(frame[name], kinds[name])
        if self.index_kind is not None:
            index = frame.index.to_series()
            kind = _kind(index)
            if kind not in (self.index_kind, "empty") and {kind, self.index_kind} != {
                "int",
                "float",
            }:
                raise ColumnTypeError(
                    f"the index column {self.dim!r} was read as {self.index_kind} but holds "
                    f"{kind} values {where}; pass dtype={{{self.dim!r}: str}} (or float) so "
                    "every chunk is read alike"
                )
            self._f.variables[self.dim][a:b] = _encode(index, self.index_kind)
        self.n = b

    def _start(self, frame: pd.DataFrame) -> None:
        names = [str(c) for c in frame.columns]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise CSVError(f"column name(s) {dup} appear more than once; rename them")
        if self.dim in names:
            raise CSVError(f"a column is named {self.dim!r}, the row dimension; pass another dim=")
        self.order = names
        for name in names:
            kind = _kind(frame[name])
            if kind == "tzdatetime":
                kind = "str"  # refused by append with the column named
            self.columns[name] = _Column(name, "empty" if kind == "empty" else kind)
            self._create(name, self.columns[name].kind)
        if self.indexed:
            if isinstance(frame.index, pd.MultiIndex):
                raise CSVError("index_col with several columns is not supported: pass one")
            kind = _kind(frame.index.to_series())
            self.index_kind = "str" if kind in ("empty", "tzdatetime") else kind
            self._create(self.dim, self.index_kind)

    def commit(self, sources: list[str]) -> str:
        """Attributes, close, fsync, rename to the final path."""
        f = self._f
        f.attrs["format"] = FORMAT
        f.attrs["sources"] = np.asarray(sources, dtype=object).astype(str).tolist()
        f.attrs["columns"] = self.order
        f.attrs["n_rows"] = self.n
        f.attrs["chunk_rows"] = self.chunk_rows
        f.attrs["complete"] = 1
        try:
            f.close()  # HDF5 writes its cached chunks here: a full disk may show only now
            store.seal(self.tmp)
        except (OSError, RuntimeError) as exc:
            raise store.write_error(exc, self.final) from exc
        os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        """Close and remove the temporary file; the target is untouched."""
        store.discard(getattr(self, "_f", None), self.tmp)


def _empty_as(kind: str, m: int) -> np.ndarray:
    if kind == "str":
        return np.full(m, "", dtype=object)
    if kind == "datetime":
        return np.full(m, _NAT, dtype=np.int64)
    if kind in ("float", "empty"):
        return np.full(m, np.nan)
    raise AssertionError(kind)  # int/bool columns that were empty become float by _merge


# -- reading ------------------------------------------------------------------------------------
def _paths(path_or_paths: Any) -> list[str]:
    if isinstance(path_or_paths, (str, os.PathLike)):
        p = os.fspath(path_or_paths)
        if glob.has_magic(p):
            found = sorted(glob.glob(p))
            if not found:
                raise FileNotFoundError(
                    f"no CSV file matches {p!r}; check the pattern (files are matched with glob)"
                )
            return found
        items = [p]
    else:
        items = [os.fspath(p) for p in path_or_paths]
        if not items:
            raise ValueError("no CSV files given (an empty list); pass at least one CSV file")
    for p in items:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"no CSV file at {p!r}; check the path (or pass a glob)")
    return items


def _auto_rows(path: str, target: int = AUTO_CHUNK_BYTES) -> int:
    """Rows per chunk so a chunk holds about ``target`` bytes of the file's text."""
    with open(path, "rb") as fh:
        head = fh.read(2**20)
    lines = max(head.count(b"\n"), 1)
    per_line = max(len(head) / lines, 1.0)
    return max(1000, int(target / per_line))


class _Progress:
    """Bytes read over all files, on a tqdm bar shown only when the read takes a while."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, unit="B", unit_scale=True, desc="read_csv", delay=2.0, leave=False
            )

    def update(self, n: int) -> None:
        if self.bar is not None and n > 0:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _chunks(path: str, rows: int, kwargs: dict, progress: _Progress) -> Iterator[pd.DataFrame]:
    """Parsed chunks of one file; a parse error names the file (pandas names the line)."""
    compression = _COMPRESSION.get(os.path.splitext(path)[1].lower())
    with open(path, "rb") as fh:
        seen = 0
        try:
            reader = pd.read_csv(fh, chunksize=rows, compression=compression, **kwargs)
            with reader:
                for chunk in reader:
                    pos = fh.tell()
                    progress.update(pos - seen)
                    seen = pos
                    yield chunk
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError, EOFError) as exc:
            if isinstance(exc, ColumnTypeError | CSVError):
                raise
            raise CSVError(
                f"cannot parse {path!r}: {exc}; fix that line, or pass on_bad_lines='skip' "
                "(or sep=/quotechar=/encoding= if the format differs)"
            ) from exc
        except OSError as exc:  # a damaged compressed file (gzip.BadGzipFile, lzma...)
            if isinstance(exc, FileNotFoundError):
                raise
            raise CSVError(f"cannot read {path!r}: {exc}; check that the file is whole") from exc


def read_csv(
    path_or_paths: str | os.PathLike | list,
    path: str | os.PathLike | None = None,
    *,
    chunksize: int | str = "auto",
    dim: str | None = None,
    progress: bool = True,
    compression: str | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Stream CSV file(s) into a chunked NetCDF4 store and open it as a lazy Dataset.

    Parameters
    ----------
    path_or_paths : str, path-like, glob pattern or list of them
        One CSV, a glob (``"data/*.csv"``, read in sorted order) or a list; every file
        must have the same columns. Compressed files (``.gz``, ``.bz2``, ``.xz``,
        ``.zip``, ``.zst``) are read as such.
    path : str or path-like, optional
        The NetCDF store to write. ``None`` writes a temporary store, removed when the
        returned Dataset is garbage collected.
    chunksize : int or "auto"
        Rows parsed at a time (and rows per stored chunk); ``"auto"`` takes about 32 MiB
        of CSV text per chunk.
    dim : str, optional
        The row dimension's name: ``index_col``'s name when one is given, else ``"index"``.
    progress : bool
        Show a progress bar (tqdm) on reads that take more than two seconds.
    compression : str, optional
        HDF5 compression of the stored variables, e.g. ``"gzip"``.
    **kwargs
        Passed to :func:`pandas.read_csv` for every chunk (``sep``, ``usecols``,
        ``dtype``, ``parse_dates``, ``index_col``, ``na_values``...).

    Returns
    -------
    xarray.Dataset
        Lazy (dask-chunked) over ``dim``: one variable per column. Without ``index_col``
        the rows are numbered by position (no coordinate is stored or loaded).

    Raises
    ------
    CSVError
        A malformed line (the file and line number are named), files whose columns
        differ, duplicate column names. Nothing is left at ``path`` (a previous store
        there stays as it was).
    ColumnTypeError
        A column whose values change kind in a way a whole-file read would not reconcile
        (e.g. numbers, then text): the column and the chunk are named, with the fix.
    """
    for key in _OWN:
        if key in kwargs:
            raise TypeError(
                f"read_csv sets {key}= itself (it reads every row, a chunk at a time): drop "
                "it; chunksize= sets the rows per chunk"
            )
    files = _paths(path_or_paths)
    if isinstance(chunksize, str):
        if chunksize != "auto":
            raise ValueError(f"chunksize must be 'auto' or a positive int, not {chunksize!r}")
        rows = _auto_rows(files[0])
    elif isinstance(chunksize, (int, np.integer)) and not isinstance(chunksize, bool):
        if chunksize < 1:
            raise ValueError(f"chunksize must be a positive number of rows, not {chunksize}")
        rows = int(chunksize)
    else:
        raise TypeError(f"chunksize must be 'auto' or a positive int, not {chunksize!r}")
    index_col = kwargs.get("index_col")
    if dim is None:
        dim = index_col if isinstance(index_col, str) else "index"
    final = os.fspath(path) if path is not None else temporary_store_path()
    final = final if path is not None else final.replace("ooc-design-", "ooc-csv-")
    total = sum(os.path.getsize(p) for p in files)
    bar = _Progress(total, progress)
    indexed = index_col is not None and index_col is not False
    writer = _Writer(final, dim, rows, compression, indexed=indexed)
    try:
        header: list[str] | None = None
        for file in files:
            first = True
            for chunk in _chunks(file, rows, kwargs, bar):
                if first:
                    cols = [str(c) for c in chunk.columns]
                    if header is None:
                        header = cols
                    elif cols != header:
                        raise CSVError(
                            f"{file!r} has columns {cols}, but {files[0]!r} has {header}; "
                            "every file must have the same columns in the same order"
                        )
                    first = False
                writer.append(chunk, where=f"in {file!r} after row {writer.n}")
        if writer.n == 0:
            raise CSVError(
                (f"{files[0]!r} has no rows" if len(files) == 1 else f"no rows in {files}")
                + " (only a header, or nothing); pass files with data rows (check skiprows=)"
            )
        writer.commit(files)
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    return open_csv_store(final, temporary=path is None)


def open_csv_store(
    path: str | os.PathLike, *, temporary: bool = False, verify: bool = False
) -> xr.Dataset:
    """Open a store written by :func:`read_csv` as a lazy Dataset (columns in file order).

    The store's structure and attributes are checked against the manifest written with
    it; ``verify=True`` also reads every chunk once to check its checksum (each chunk's
    checksum is checked anyway whenever it is read). A damaged or incomplete store raises
    :class:`~ooc_accessor.StoreError` naming the file and what is wrong.

    String columns are read lazily too, a chunk at a time: xarray's own decoding of
    variable-length strings (``xr.open_dataset`` on this file) loads each of them whole
    when the file is opened, which on a large CSV is hundreds of MB.
    """
    path = os.fspath(path)
    attrs = store.checked_attrs(
        path,
        fmt=FORMAT,
        what="read_csv store",
        rebuild="read the CSV files again with ooc_accessor.read_csv",
        version=None,
        verify=verify,
    )
    with h5py.File(path, "r") as h5:
        strings = [
            name
            for name, obj in h5.items()
            if isinstance(obj, h5py.Dataset)
            and h5py.check_string_dtype(obj.dtype) is not None
            and "_Netcdf4Dimid" not in obj.attrs
        ]
    rows = int(attrs["chunk_rows"])
    n = int(attrs["n_rows"])
    ds = xr.open_dataset(path, engine="h5netcdf", chunks={}, drop_variables=strings)
    dim = next(iter(ds.dims)) if ds.dims else _dim_of(path)
    ds = ds.chunk({dim: rows})
    if strings:
        import dask.array as da

        ds = ds.assign(
            {
                name: (
                    dim,
                    da.from_array(
                        _LazyStrings(path, name, n),
                        chunks=(rows,),
                        asarray=False,
                        meta=np.array([], dtype=object),
                        name=f"ooc-csv-{name}-{uuid.uuid4().hex[:8]}",
                    ),
                )
                for name in strings
            }
        )
    order = [c.decode() if isinstance(c, bytes) else str(c) for c in attrs["columns"]]
    ds = ds[[c for c in order if c in ds.data_vars]]
    # only what a user reads: where the rows came from (the rest is the store's bookkeeping)
    ds.attrs = {"sources": attrs.get("sources", [])}
    if temporary:
        weakref.finalize(ds, _remove, path)
    return ds


def _dim_of(path: str) -> str:
    with h5py.File(path, "r") as h5:
        return next(n for n, o in h5.items() if "_Netcdf4Dimid" in o.attrs)


class _LazyStrings:
    """A stored string column read a slice at a time (missing, stored as "", is NaN)."""

    def __init__(self, path: str, name: str, n: int) -> None:
        self.path, self.name = path, name
        self.shape = (n,)
        self.dtype = np.dtype(object)
        self.ndim = 1

    def __getitem__(self, key: Any) -> np.ndarray:
        with h5py.File(self.path, "r") as h5:
            values = np.asarray(h5[self.name].asstr()[key], dtype=object)
        values[values == ""] = np.nan
        return values


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)
