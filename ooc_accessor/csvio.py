"""CSV files streamed into a chunked NetCDF4 store, one chunk of rows at a time.

pandas parses each chunk; a column's dtype is decided across all chunks, as a whole-file
``pandas.read_csv`` would decide it: an int column that gains a NaN or a float later becomes
float64 (the rows already written are converted in place, once), a column empty so far takes
the type of its first values, strings stay strings (stored as integer codes into a sorted
table of the column's levels, every level kept: see :mod:`~ooc_accessor.csvcodes`), parsed
dates stay dates. The store is written under a temporary name beside the target and renamed
only when complete. The store's format is in :mod:`~ooc_accessor.csvstore` (the writer),
:mod:`~ooc_accessor.csvcodes` (string columns) and :mod:`~ooc_accessor.csvopen` (the lazy
Dataset opened from it); this module finds and parses the files.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import manifest, options, store
from . import progress as bars
from .csvopen import open_store
from .csvstore import FORMAT, CSVWriter
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    ColumnTypeError,
    CSVError,
    CSVNotFoundError,
    OOCError,
    StoreError,
)
from .signatures import checked
from .store import check_compression, temporary_store_path

__all__ = ["read_csv"]

#: CSV text per chunk when ``chunksize="auto"``, by default (``set_options(chunk_memory=)``):
#: the parsed frame plus the write buffers stay well under 100 MB. (Parsing the next chunk in
#: a thread while this one is written was measured slower: both hold the GIL often enough to
#: stall each other.)
AUTO_CHUNK_BYTES = options.DEFAULTS["chunk_memory"]
_OWN = ("chunksize", "iterator", "nrows")
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}


# -- reading ------------------------------------------------------------------------------------
def _paths(path_or_paths: Any) -> list[str]:
    if not isinstance(path_or_paths, (str, os.PathLike, list, tuple)):
        raise ArgumentTypeError(
            f"path_or_paths must be a path, a glob or a list of paths, not "
            f"{type(path_or_paths).__name__}"
        )
    if isinstance(path_or_paths, (str, os.PathLike)):
        p = os.fspath(path_or_paths)
        if glob.has_magic(p):
            found = sorted(glob.glob(p))
            if not found:
                raise CSVNotFoundError(
                    f"no CSV file matches {p!r}; check the pattern (files are matched with glob)"
                )
            return found
        items = [p]
    else:
        bad = [p for p in path_or_paths if not isinstance(p, (str, os.PathLike))]
        if bad:
            raise ArgumentTypeError(f"every CSV path must be a str or path-like, not {bad[0]!r}")
        items = [os.fspath(p) for p in path_or_paths]
        if not items:
            raise ArgumentError("no CSV files given (an empty list); pass at least one CSV file")
    for p in items:
        if not os.path.isfile(p):
            if os.path.isdir(p):
                raise CSVError(f"{p!r} is a directory, not a CSV file; pass a file (or a glob)")
            raise CSVNotFoundError(f"no CSV file at {p!r}; check the path (or pass a glob)")
    return items


def _refuse_input_as_output(path: str, files: list[str]) -> None:
    """The store must not be written over one of the CSV files it is read from."""
    if not os.path.exists(path):
        return
    for f in files:
        if os.path.samefile(f, path):
            raise CSVError(
                f"path={path!r} is the CSV file being read ({f!r}); writing the store there "
                "would destroy it: pass another path= (e.g. with a .nc suffix)"
            )


def _auto_rows(paths: list[str], target: int | None = None) -> int:
    """Rows per chunk so a chunk holds about ``target`` bytes of the file's text.

    Never more rows than the (uncompressed) files hold: an HDF5 chunk is allocated whole,
    so a chunk of a million rows for a ten-row file would write megabytes a column.
    """
    with open(paths[0], "rb") as fh:
        head = fh.read(2**20)
    lines = max(head.count(b"\n"), 1)
    per_line = max(len(head) / lines, 1.0)
    target = options.chunk_memory() if target is None else target
    rows = max(1000, int(target / per_line))
    if all(_COMPRESSION.get(os.path.splitext(p)[1].lower()) is None for p in paths):
        total = sum(os.path.getsize(p) for p in paths)
        rows = min(rows, max(1, int(total / per_line) + 1))
    return rows


def _chunks(path: str, rows: int, kwargs: dict) -> Iterator[tuple[pd.DataFrame, int]]:
    """Parsed chunks of one file, each with the bytes of the file it took; a parse error
    names the file (pandas names the line)."""
    compression = _COMPRESSION.get(os.path.splitext(path)[1].lower())
    with open(path, "rb") as fh:
        seen = 0
        try:
            reader = pd.read_csv(fh, chunksize=rows, compression=compression, **kwargs)
            with reader:
                for chunk in reader:
                    pos = fh.tell()
                    yield chunk, pos - seen
                    seen = pos
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError, EOFError) as exc:
            if isinstance(exc, ColumnTypeError | CSVError):
                raise
            raise CSVError(
                f"cannot parse {path!r}: {exc}; fix that line, or pass on_bad_lines='skip' "
                "(or sep=/quotechar=/encoding= if the format differs)"
            ) from exc
        except TypeError as exc:  # an argument pandas.read_csv does not take
            if isinstance(exc, OOCError):
                raise
            raise ArgumentTypeError(
                f"pandas.read_csv refused the arguments read_csv passed on ({exc}); check the "
                "keyword arguments against pandas.read_csv's"
            ) from exc
        except LookupError as exc:  # encoding= naming no codec (a KeyError is a converter's)
            if type(exc) is not LookupError:
                raise _raised_by_user_code(path, exc) from exc
            raise ArgumentError(
                f"cannot read {path!r}: {exc}; pass an encoding Python knows (e.g. "
                "encoding='utf-8' or 'latin-1')"
            ) from exc
        except OSError as exc:  # a damaged compressed file (gzip.BadGzipFile, lzma...)
            if isinstance(exc, FileNotFoundError):
                raise
            raise CSVError(f"cannot read {path!r}: {exc}; check that the file is whole") from exc
        except Exception as exc:  # a converter's or on_bad_lines callable's own error
            if isinstance(exc, OOCError):
                raise
            raise _raised_by_user_code(path, exc) from exc


def _raised_by_user_code(path: str, exc: BaseException) -> CSVError:
    return CSVError(
        f"reading {path!r} failed with {type(exc).__name__}: {exc}; if a converters= or "
        "on_bad_lines= function of yours raised it, fix that function"
    )


def _ahead(chunks: Iterator[Any]) -> Iterator[Any]:
    """``chunks``, the next one parsed on a thread while the caller writes this one.

    pandas' parser lets go of the GIL while it tokenizes, so the parse of chunk k + 1 and
    the store's work on chunk k (codes, checksums, HDF5 writes) overlap on two cores. One
    chunk is held ahead, no more; an error in the parse is raised here, in order.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="ooc-csv-parse") as pool:
        pending = pool.submit(next, chunks, None)
        try:
            while True:
                chunk = pending.result()
                if chunk is None:
                    return
                pending = pool.submit(next, chunks, None)
                yield chunk
        finally:
            pending.cancel()
            if not pending.cancelled():  # let the parse in flight finish before closing
                try:
                    pending.result()
                except BaseException:
                    pass
            chunks.close()


@checked  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
def read_csv(
    path_or_paths: str | os.PathLike | list,
    path: str | os.PathLike | None = None,
    *,
    chunksize: int | str = "auto",
    dim: str | None = None,
    progress: bool | None = None,
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
        Rows parsed at a time (and rows per stored chunk); ``"auto"`` takes about 16 MiB
        of CSV text per chunk.
    dim : str, optional
        The row dimension's name: ``index_col``'s name when one is given, else ``"index"``.
    progress : bool, optional
        Show a progress bar (bytes of CSV stored, MB/s, ETA) for the whole call, the store's
        sealing included; None follows ``ooc.set_options(progress=)``, whose default
        "auto" shows one when the call takes over 2 s.
    compression : str, optional
        HDF5 compression of the stored variables, e.g. ``"gzip"``.
    **kwargs
        Passed to :func:`pandas.read_csv` for every chunk (``sep``, ``usecols``,
        ``dtype``, ``parse_dates``, ``index_col``, ``na_values``...).

    Returns
    -------
    xarray.Dataset
        Lazy (dask-chunked) over ``dim``: one variable per column. Without ``index_col``
        the rows are numbered by position (no coordinate is stored or loaded). A string
        column reads as the strings (objects, NaN where pandas gives a missing value),
        though the store keeps it as integer codes (int8 up to 127 levels, wider beyond)
        plus a sorted level table, so it is no larger than the numbers need and a design
        reads the codes directly. A foreign reader (``xarray.open_dataset(path,
        engine="h5netcdf")``) sees the codes (-1, its ``_FillValue``, for missing) and the
        table as a coordinate named by the codes' ``ooc_levels`` attribute
        (``"<column>.levels"``): ``table[codes]`` gives the strings.

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
    if kwargs.get("skipfooter"):
        raise ArgumentError(
            "skipfooter= cannot be used here: pandas cannot skip a file's last lines when it "
            "reads a chunk at a time; remove the footer lines from the file first"
        )
    for key in _OWN:
        if key in kwargs:
            raise ArgumentTypeError(
                f"read_csv sets {key}= itself (it reads every row, a chunk at a time): drop "
                "it; chunksize= sets the rows per chunk"
            )
    files = _paths(path_or_paths)
    if isinstance(chunksize, str):
        if chunksize != "auto":
            raise ArgumentError(f"chunksize must be 'auto' or a positive int, not {chunksize!r}")
        rows = _auto_rows(files)
    elif isinstance(chunksize, (int, np.integer)) and not isinstance(chunksize, bool):
        if chunksize < 1:
            raise ArgumentError(f"chunksize must be a positive number of rows, not {chunksize}")
        rows = int(chunksize)
    else:
        raise ArgumentTypeError(f"chunksize must be 'auto' or a positive int, not {chunksize!r}")
    index_col = kwargs.get("index_col")
    if dim is not None and not isinstance(dim, str):
        raise ArgumentTypeError(f"dim must be a str naming the row dimension, not {dim!r}")
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise ArgumentTypeError(f"path= must be a str or path-like, not {path!r}")
        _refuse_input_as_output(os.fspath(path), files)
    check_compression(compression)
    if dim is None:
        dim = index_col if isinstance(index_col, str) else "index"
    final = os.fspath(path) if path is not None else temporary_store_path()
    final = final if path is not None else final.replace("ooc-design-", "ooc-csv-")
    total = sum(os.path.getsize(p) for p in files)
    # one bar for the whole call, over the bytes of CSV stored (rows are unknown up front)
    with bars.showing(progress), bars.task("read_csv", total, unit="B") as bar:
        indexed = index_col is not None and index_col is not False
        writer = CSVWriter(final, dim, rows, compression, indexed=indexed)
        try:
            header: list[str] | None = None
            for file in files:
                first = True
                for chunk, nbytes in _ahead(_chunks(file, rows, kwargs)):
                    if not indexed and not isinstance(chunk.index, pd.RangeIndex):
                        # a header one name short of the rows (R's write.csv with row names):
                        # pandas takes the first field as the index, which a store without
                        # index_col would drop
                        raise CSVError(
                            f"{file!r}'s header names one column fewer than its rows hold, so "
                            "pandas reads the first field of each row as row labels; pass "
                            "index_col=0 to keep them as the index (or add their name to the "
                            "header)"
                        )
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
                    bar.update(nbytes, nbytes)  # counted when stored, not when parsed
            if writer.n == 0:
                raise CSVError(
                    (f"{files[0]!r} has no rows" if len(files) == 1 else f"no rows in {files}")
                    + " (only a header, or nothing); pass files with data rows (check skiprows=)"
                )
            bar.describe("read_csv: sealing the store")
            writer.commit(files)
        except BaseException:
            writer.abort()
            raise
        # the store just written: its attributes are known (open_csv_store would check them
        # against the manifest again); every chunk read still checks the store id
        attrs = {
            "chunk_rows": rows,
            "store_id": writer.store_id,
            "columns": json.dumps(writer.order),
            "sources": json.dumps([str(s) for s in files]),
        }
        return open_store(os.path.abspath(final), attrs, temporary=path is None)


@checked
def open_csv_store(
    path: str | os.PathLike, *, temporary: bool = False, verify: bool = False
) -> xr.Dataset:
    """Open a store written by :func:`read_csv` as a lazy Dataset (columns in file order).

    The store's structure and attributes are checked against the manifest written with
    it; ``verify=True`` also reads every chunk once to check its checksum (each chunk's
    checksum is checked anyway whenever it is read). A damaged or incomplete store raises
    :class:`~ooc_accessor.StoreError` naming the file and what is wrong, a missing one
    :class:`~ooc_accessor.StoreNotFoundError`.

    Every column is read lazily, a chunk at a time, and each read checks that the file is
    still this store (:mod:`~ooc_accessor.lazy`): a store replaced or removed since raises
    a StoreError naming it, never another store's rows.
    """
    path = os.path.abspath(os.fspath(path))
    attrs = store.checked_attrs(
        path,
        fmt=FORMAT,
        what="read_csv store",
        rebuild="read the CSV files again with ooc_accessor.read_csv",
        version=None,
        verify=verify,
    )
    # the attributes the opener reads, checked (a crafted store: a StoreError naming one)
    attrs["chunk_rows"] = manifest.int_attr(path, attrs, "chunk_rows", 1)
    attrs["n_rows"] = manifest.int_attr(path, attrs, "n_rows", 0)
    if isinstance(attrs.get("columns"), str):
        columns = manifest.json_attr(path, "columns", attrs["columns"])
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise StoreError(f"{path!r}: its 'columns' attribute is not a list of names")
    return open_store(path, attrs, temporary=temporary)
