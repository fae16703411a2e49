"""Row-length outputs of new data: 1-D float columns stored along ``obs``, opened lazily.

Predictions for a Dataset too large to hold are as long as that data, so they are written
block by block to a chunked NetCDF4 store (one float64 variable per column, dims
``("obs",)``, with the data's row labels as ``obs``), as a design, ``U`` or stored PCA
scores are: under a temporary name beside the target, renamed only when complete, every
numeric chunk checksummed, and the store's ``store_id`` checked on every lazy read
(:class:`~ooc_accessor.lazy.StoreArray`), so a store replaced or removed under a result
raises rather than giving another store's rows.

A temporary store (no ``path``) goes where a design's temporary goes:
``$OOC_ACCESSOR_TMPDIR`` if set (a shared disk for a dask cluster), else ``tempfile``'s
directory, named ``ooc-<kind>-<32 hex>.nc`` with mode 0600; it is removed when the last
lazy output reading it is collected (:class:`~ooc_accessor.lazy.TemporaryFile`).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import lazy, store
from .arguments import check_path
from .errors import StoreError
from .rowlabels import index_values

__all__ = ["ROWS_FORMAT", "RowColumnsWriter", "open_columns", "output_path"]

#: the ``format`` attribute of a store of row-length outputs (as ``U`` and scores have)
ROWS_FORMAT = "ooc_accessor.rows"
#: fewest rows per HDF5 chunk of an output (unless the data has fewer): a 1-row block
#: size must not make a 1-row chunk, whose per-chunk overhead dwarfs its 8 bytes
MIN_CHUNK_ROWS = 4096


def output_path(path: Any, kind: str, refused: tuple[str, ...] = ()) -> tuple[str, bool]:
    """``(file to write, whether it is a temporary)`` for outputs of ``kind`` ("pred").

    ``path`` None: a fresh name in the temporary directory (see the module). A user's
    ``path`` is checked as every store target is (:func:`~ooc_accessor.store.check_target`:
    a user's other file is never overwritten); ``refused`` are files it may not be (the
    data's own store or the fit's design, which lazy results still read).
    """
    if path is None:
        directory = os.path.dirname(store.temporary_store_path())
        return os.path.join(directory, f"ooc-{kind}-{uuid.uuid4().hex}.nc"), True
    final = store.check_target(check_path(path, "where to write the outputs' store"))
    for other in refused:
        if other and os.path.abspath(other) == final:
            raise StoreError(
                f"path={os.fspath(path)!r} is the store this result or its data is read "
                "from; writing over it would break them: pass another path="
            )
    return final, False


class RowColumnsWriter:
    """Write 1-D float64 columns of ``n`` rows block by block; :meth:`commit` shows them.

    Parameters
    ----------
    path : str
        The final file (from :func:`output_path`); nothing is there until :meth:`commit`.
    names : list of str
        The columns' variable names.
    n : int
        Rows the store holds (every one is appended, in order, before the commit).
    chunk_rows : int
        Rows per HDF5 chunk (at most ``n``), the unit lazy reads take.
    labels : pandas.Index
        The rows' labels (a slice of it, with its dtype, tells how they are stored).

    Notes
    -----
    Rows short of a whole chunk wait in memory for the next block (at most one chunk and
    one block), so every write but the last fills whole chunks: a chunk written in two
    halves would be read back and rewritten by HDF5.
    """

    def __init__(
        self, path: str, names: list[str], n: int, chunk_rows: int, labels: pd.Index
    ) -> None:
        store.remove_stale_temps(path)
        store.ensure_space(path, n * (len(names) + 1) * 8)
        self.path, self.names, self.n = path, list(names), int(n)
        self.chunk_rows = max(1, min(int(chunk_rows), self.n))
        self.tmp = store.temp_path(path)
        self._written = 0
        self._pending: list[tuple[dict[str, np.ndarray], np.ndarray]] = []
        self._pending_rows = 0
        self._f: Any = None
        first, self._kind = index_values(labels[:1])
        try:
            cache = self.chunk_rows * (len(names) + 1) * 8 + 2**20
            self._f = store.open_temp(self.tmp, "netcdf", rdcc_nbytes=cache)
            f = self._f
            f.dimensions = {"obs": self.n}
            chunks = (self.chunk_rows,)
            for name in self.names:
                f.create_variable(name, ("obs",), np.float64, chunks=chunks, **store.CHECKSUM)
            dtype = store.obs_dtype(self._kind, first.dtype)
            # HDF5 filters cannot take variable-length strings: text labels go unchecked
            opts = {} if store.is_text(dtype) else store.CHECKSUM
            obs = f.create_variable("obs", ("obs",), dtype, chunks=chunks, **opts)
            for key, value in store.label_hints(labels[:0], self._kind).items():
                obs.attrs[key] = value
            obs.attrs["index_kind"] = self._kind
            if self._kind == "datetime":  # CF's encoding, so xarray decodes the dates itself
                unit = store.UNIT_NAMES[obs.attrs.get("index_unit", "ns")]
                obs.attrs["units"] = f"{unit} since 1970-01-01"
                obs.attrs["calendar"] = "proleptic_gregorian"
        except (OSError, RuntimeError) as exc:
            self.abort()
            raise store.write_error(exc, path) from exc
        except BaseException:
            self.abort()
            raise

    def append(self, columns: dict[str, np.ndarray], labels: pd.Index) -> None:
        """Add the next rows: one array per column, all as long as ``labels``."""
        values, kind = index_values(labels)
        if kind != self._kind:
            raise StoreError(
                f"row labels changed kind from {self._kind} to {kind} at row "
                f"{self._written + self._pending_rows}; give the data one index type"
            )
        self._pending.append((columns, values))
        self._pending_rows += len(labels)
        if self._pending_rows >= self.chunk_rows:
            self._write(whole=True)

    def _write(self, whole: bool) -> None:
        """Write the waiting rows: the whole chunks among them (all with ``whole=False``)."""
        if not self._pending:
            return
        cols = {k: np.concatenate([c[k] for c, _ in self._pending]) for k in self.names}
        obs = np.concatenate([o for _, o in self._pending])
        m = obs.shape[0]
        take = m - m % self.chunk_rows if whole else m
        a, b = self._written, self._written + take
        if b > self.n:
            raise StoreError(
                f"{b} rows were given for a store of {self.n}: the data changed while its "
                "outputs were written; compute them again"
            )
        f = self._f
        try:
            for name, values in cols.items():
                f.variables[name][a:b] = values[:take]
            f.variables["obs"][a:b] = obs[:take]
        except (OSError, RuntimeError) as exc:
            raise store.write_error(exc, self.path) from exc
        self._written = b
        rest = {k: v[take:] for k, v in cols.items()}
        self._pending = [(rest, obs[take:])] if take < m else []
        self._pending_rows = m - take

    def commit(self, attrs: dict[str, Any]) -> str:
        """Write the last rows and ``attrs``, close, rename into place; the ``store_id``."""
        self._write(whole=False)
        if self._written != self.n:
            raise StoreError(
                f"{self._written} rows were written for a store of {self.n}: the data changed "
                "while its outputs were written; compute them again"
            )
        sid = uuid.uuid4().hex
        try:
            f = self._f
            for key, value in attrs.items():
                f.attrs[key] = value
            f.attrs["format"] = ROWS_FORMAT
            f.attrs["n_obs"] = self.n
            f.attrs["chunk_rows"] = self.chunk_rows
            f.attrs["store_id"] = sid  # every lazy read checks it (see lazy.StoreArray)
            f.attrs["complete"] = 1
            f.close()
        except (OSError, RuntimeError) as exc:
            raise store.write_error(exc, self.path) from exc
        store.replace(self.tmp, self.path)
        return sid

    def abort(self) -> None:
        """Close and remove the temporary file; the final path is untouched."""
        self._pending = []
        store.discard(self._f, self.tmp)

    def __enter__(self) -> RowColumnsWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.abort()


def open_columns(
    path: str,
    store_id: str,
    names: list[str],
    n: int,
    chunk_rows: int,
    dim: str,
    index: pd.Index | None,
    keep: Any = None,
) -> dict[str, xr.DataArray]:
    """The stored columns as lazy (dask) DataArrays along ``dim``, bound to ``store_id``.

    ``index`` (the data's own row labels, already in memory: shared, not read back from
    the store) becomes the ``dim`` coordinate; ``keep`` owns a temporary store and is held
    by every chunk read, so the file outlives every output computed from these.
    """
    if index is not None and index.name != dim:
        index = index.rename(dim)  # a view: the labels are shared, not copied
    coords = {dim: index} if index is not None else {}
    out = {}
    for name in names:
        array = lazy.StoreArray(
            path, name, store_id, (n,), np.dtype(np.float64), what="prediction store", keep=keep
        )
        data = lazy.lazy_variable(array, (max(1, min(chunk_rows, n)),))
        column = xr.DataArray(data, dims=(dim,), coords=coords, name=name)
        column.encoding["source"] = path  # where a user finds the file of a lazy output
        out[name] = column
    return out
