"""The design store: chunked NetCDF4 via h5netcdf, written atomically.

A store holds ``X`` (obs, term), ``y`` (obs) or (obs, response), optional ``weights``
(obs), the ``obs`` coordinate (the source's own row labels) and ``term``. The formula spec
(JSON), counts and block size are attributes. A store is written under a temporary name in
the target's directory and renamed only when complete, so a killed writer never leaves a
file at the target path, and ``complete=1`` is the last attribute written.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

import h5netcdf
import h5py
import numpy as np
import pandas as pd

from .errors import StoreError

FORMAT = "ooc_accessor.design"
STORE_VERSION = 1
_STR = h5py.string_dtype()
_EPOCH_UNITS = "nanoseconds since 1970-01-01"


#: environment variable naming where temporary stores go (on a cluster: a shared disk)
TMPDIR_ENV = "OOC_ACCESSOR_TMPDIR"


def temporary_store_path(directory: str | None = None) -> str:
    """A fresh path for a temporary store.

    In ``directory`` if given, else in ``$OOC_ACCESSOR_TMPDIR`` (set it to a shared disk when
    dask workers on other machines must read the store), else ``tempfile``'s directory.
    """
    d = directory or os.environ.get(TMPDIR_ENV) or tempfile.gettempdir()
    return os.path.join(d, f"ooc-design-{uuid.uuid4().hex}.nc")


def remove_file(path: str) -> None:
    """Remove a temporary store if it is still there (a finalizer's job)."""
    if os.path.exists(path):
        os.remove(path)


def _index_values(index: pd.Index) -> tuple[np.ndarray, str]:
    """Row labels as an array HDF5 can hold, and the kind to decode them back."""
    if isinstance(index, pd.MultiIndex):
        return np.asarray([repr(t) for t in index], dtype=object), "str"
    dtype = index.dtype
    if dtype.kind == "M":
        if getattr(dtype, "tz", None) is not None:
            raise StoreError("a time-zone-aware row index cannot be stored; convert it to UTC")
        return index.as_unit("ns").asi8, "datetime"
    if dtype.kind in "iuf":
        return index.to_numpy(), "numeric"
    if dtype.kind == "b":
        return index.to_numpy().astype(np.int8), "numeric"
    return np.asarray(index.astype(str), dtype=object), "str"


class DesignWriter:
    """Append blocks of a design to a new store; :meth:`commit` makes it visible.

    Parameters
    ----------
    path : str
        Final path of the store. Nothing is created there until :meth:`commit`.
    terms : list of str
        Column names of X.
    responses : list of str
        Column names of y (empty for a formula without a left side).
    chunk_rows : int
        Rows per HDF5 chunk, the unit in which the store is later read.
    weights : bool
        Whether a ``weights`` variable is stored.
    compression : str, optional
        An HDF5 filter (``"gzip"``, ``"lzf"``); none by default, for speed.
    """

    def __init__(
        self,
        path: str,
        *,
        terms: list[str],
        responses: list[str],
        chunk_rows: int,
        weights: bool = False,
        compression: str | None = None,
    ) -> None:
        self.path = os.path.abspath(path)
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise StoreError(f"cannot write store {path!r}: directory {directory!r} does not exist")
        self.tmp = os.path.join(
            directory, f".{os.path.basename(self.path)}.tmp-{uuid.uuid4().hex[:12]}"
        )
        self.n = 0
        self.chunk_rows = int(chunk_rows)
        self._index_kind: str | None = None
        p, k = len(terms), len(responses)
        self._f = h5netcdf.File(self.tmp, "w")
        try:
            f = self._f
            dims: dict[str, int | None] = {"obs": None, "term": p}
            if k > 1:
                dims["response"] = k
            f.dimensions = dims
            opts: dict[str, Any] = {"compression": compression} if compression else {}
            f.create_variable("term", ("term",), _STR)[:] = np.asarray(terms, dtype=object)
            self._x = f.create_variable(
                "X", ("obs", "term"), np.float64, chunks=(self.chunk_rows, max(p, 1)), **opts
            )
            self._y = None
            if k == 1:
                self._y = f.create_variable(
                    "y", ("obs",), np.float64, chunks=(self.chunk_rows,), **opts
                )
                self._y.attrs["long_name"] = responses[0]
            elif k > 1:
                f.create_variable("response", ("response",), _STR)[:] = np.asarray(
                    responses, dtype=object
                )
                self._y = f.create_variable(
                    "y", ("obs", "response"), np.float64, chunks=(self.chunk_rows, k), **opts
                )
            self._w = (
                f.create_variable("weights", ("obs",), np.float64, chunks=(self.chunk_rows,))
                if weights
                else None
            )
            self._obs = None
        except BaseException:
            self.abort()
            raise

    def _make_obs(self, kind: str, index: pd.Index) -> None:
        unit = index.unit if kind == "datetime" else None
        self._make_obs_var(kind, index.name, unit)

    def _make_obs_var(self, kind: str, name: Any, unit: str | None) -> None:
        dtype = {"str": _STR, "datetime": np.int64}.get(kind)
        if dtype is None:
            dtype = np.float64 if self._first_dtype.kind == "f" else np.int64
        self._obs = self._f.create_variable("obs", ("obs",), dtype, chunks=(self.chunk_rows,))
        if kind == "datetime":
            self._obs.attrs["units"] = _EPOCH_UNITS
            self._obs.attrs["calendar"] = "proleptic_gregorian"
        self._obs.attrs["index_kind"] = kind
        if name is not None:
            self._obs.attrs["index_name"] = str(name)
        if kind == "datetime":
            self._obs.attrs["index_unit"] = unit
        self._index_kind = kind

    def append(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        index: pd.Index,
        w: np.ndarray | None = None,
    ) -> None:
        """Write one block of rows after those already written."""
        m = x.shape[0]
        if m == 0:
            return
        values, kind = _index_values(index)
        if self._obs is None:
            self._first_dtype = values.dtype
            self._make_obs(kind, index)
        elif kind != self._index_kind:
            raise StoreError(
                f"row labels changed kind from {self._index_kind} to {kind} at row {self.n}; "
                "give the source one index type"
            )
        a, b = self.n, self.n + m
        self._f.resize_dimension("obs", b)
        self._x[a:b] = x
        if self._y is not None:
            self._y[a:b] = y
        if self._w is not None:
            self._w[a:b] = w
        self._obs[a:b] = values
        self.n = b

    def copy_from(self, part: str) -> int:
        """Append every row of a complete store written by another writer (a worker's part).

        Rows are copied a chunk at a time, row labels as stored; returns the rows copied.
        """
        with h5py.File(part, "r") as f:
            n = int(f["X"].shape[0])
            if n == 0:
                return 0
            obs = f["obs"]
            kind = plain_attr(obs.attrs.get("index_kind", "numeric"))
            if self._obs is None:
                self._first_dtype = obs.dtype
                name = plain_attr(obs.attrs["index_name"]) if "index_name" in obs.attrs else None
                self._make_obs_var(kind, name, plain_attr(obs.attrs.get("index_unit", "ns")))
            elif kind != self._index_kind:
                raise StoreError(
                    f"row labels changed kind from {self._index_kind} to {kind} in part {part!r}"
                )
            for a in range(0, n, self.chunk_rows):
                b = min(a + self.chunk_rows, n)
                lo, hi = self.n, self.n + (b - a)
                self._f.resize_dimension("obs", hi)
                self._x[lo:hi] = f["X"][a:b]
                if self._y is not None:
                    self._y[lo:hi] = f["y"][a:b]
                if self._w is not None:
                    self._w[lo:hi] = f["weights"][a:b]
                self._obs[lo:hi] = obs[a:b]
                self.n = hi
        return n

    def commit(self, attrs: dict[str, Any]) -> str:
        """Write the attributes, close, and rename the file to its final path."""
        if self._obs is None:  # no rows: still a valid, empty coordinate
            self._first_dtype = np.dtype(np.int64)
            self._make_obs("numeric", pd.RangeIndex(0))
        f = self._f
        for key, value in attrs.items():
            f.attrs[key] = value
        f.attrs["format"] = FORMAT
        f.attrs["store_version"] = STORE_VERSION
        f.attrs["chunk_rows"] = self.chunk_rows
        f.attrs["n_obs"] = self.n
        # this store's identity: dask task keys include it, so results computed from an
        # earlier store at the same path are never taken for this one's
        f.attrs["store_id"] = uuid.uuid4().hex
        f.attrs["complete"] = 1  # last: a reader refuses a store without it
        f.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and remove the temporary file; the final path is untouched."""
        try:
            self._f.close()
        except Exception:  # closing a half-written file may fail; removing it is what matters
            pass
        if os.path.exists(self.tmp):
            os.remove(self.tmp)

    def __enter__(self) -> DesignWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.abort()


def read_attrs(path: str) -> dict[str, Any]:
    """The attributes of a complete store (and its ``variables``), or a :class:`StoreError`."""
    if not os.path.exists(path):
        raise StoreError(f"no design store at {path!r}")
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: plain_attr(v) for k, v in f.attrs.items()}
            names = set(f.keys())
    except OSError as exc:
        raise StoreError(f"{path!r} is not a readable NetCDF4/HDF5 file: {exc}") from exc
    if attrs.get("format") != FORMAT:
        raise StoreError(f"{path!r} is not an ooc_accessor design store (no format attribute)")
    if attrs.get("store_version") != STORE_VERSION:
        raise StoreError(
            f"{path!r} has store version {attrs.get('store_version')!r}; "
            f"this ooc_accessor reads version {STORE_VERSION}"
        )
    if attrs.get("complete") != 1:
        raise StoreError(f"{path!r} is incomplete: its writer did not finish")
    attrs["variables"] = sorted(names)
    missing = {"X", "obs", "term"} - names
    if missing:
        raise StoreError(f"{path!r} lacks variable(s) {sorted(missing)}")
    return attrs


def plain_attr(v: Any) -> Any:
    """An HDF5 attribute as a plain Python value (bytes decoded, 1-element arrays unwrapped)."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.size == 1:
        return v.item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_block(
    path: str, start: int, stop: int, names: tuple[str, ...] = ("X", "y")
) -> list[np.ndarray | None]:
    """Rows ``start:stop`` of the named variables (``None`` for one the store lacks)."""
    with h5py.File(path, "r") as f:
        return [f[n][start:stop] if n in f else None for n in names]


def read_index(path: str) -> pd.Index:
    """The stored row labels as a pandas Index, decoded to their original kind."""
    with h5py.File(path, "r") as f:
        obs = f["obs"]
        kind = plain_attr(obs.attrs.get("index_kind", "numeric"))
        name = plain_attr(obs.attrs["index_name"]) if "index_name" in obs.attrs else None
        unit = plain_attr(obs.attrs.get("index_unit", "ns"))
        values = obs[:]
    if kind == "datetime":
        return pd.DatetimeIndex(values.astype("datetime64[ns]"), name=name).as_unit(unit)
    if kind == "str":
        return pd.Index([v.decode() if isinstance(v, bytes) else v for v in values], name=name)
    return pd.Index(values, name=name)


def write_row_matrix(
    path: str,
    source: str,
    name: str,
    columns: list,
    column_dim: str,
    blocks: Any,
    chunk_rows: int,
) -> str:
    """Store a row-length matrix (``U``, scores) beside the design it came from, atomically.

    Parameters
    ----------
    path : str
        Target file; written under a temporary name and renamed when complete.
    source : str
        The design store whose ``obs`` coordinate (values and attributes) is copied.
    name : str
        Variable name, dims ``("obs", column_dim)``.
    columns : list
        Labels of ``column_dim``.
    blocks : iterable of (start, stop, ndarray)
        The rows, in order.
    chunk_rows : int
        Rows per HDF5 chunk.
    """
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        with h5py.File(source, "r") as src, h5netcdf.File(tmp, "w") as f:
            n = src["obs"].shape[0]
            # fixed-size dims: no HDF5 chunk may be longer than the rows (after drops)
            chunk_rows = max(1, min(chunk_rows, n))
            f.dimensions = {"obs": n, column_dim: len(columns)}
            obs = f.create_variable("obs", ("obs",), src["obs"].dtype, chunks=(chunk_rows,))
            for key in ("index_kind", "index_name", "index_unit", "units", "calendar"):
                if key in src["obs"].attrs:  # the decoding hints, not HDF5's own bookkeeping
                    obs.attrs[key] = plain_attr(src["obs"].attrs[key])
            f.create_variable(column_dim, (column_dim,), np.asarray(columns).dtype)[:] = columns
            var = f.create_variable(
                name, ("obs", column_dim), np.float64, chunks=(chunk_rows, len(columns))
            )
            for a, b, values in blocks:
                var[a:b] = values
                obs[a:b] = src["obs"][a:b]
            f.attrs["format"] = "ooc_accessor.rows"
            f.attrs["complete"] = 1
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
