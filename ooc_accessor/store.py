"""The design store: chunked NetCDF4 via h5netcdf, written atomically.

A store holds ``X`` (obs, term), ``y`` (obs) or (obs, response), optional ``weights``
(obs), the ``obs`` coordinate (the source's own row labels) and ``term``. The formula spec
(JSON), counts and block size are attributes. A store is written under a temporary name in
the target's directory and renamed only when complete, so a killed writer never leaves a
file at the target path, and ``complete=1`` is the last attribute written.

Damage is caught, never read as numbers. Every numeric variable carries HDF5's fletcher32
checksum per chunk, so a flipped byte fails the read (in any HDF5 reader, xarray too). The
``manifest`` attribute records, at commit, every attribute, each variable's shape, dtype,
attributes and chunk index, and a SHA-256 of each variable's values, so an edited
attribute, a removed variable, a truncated dimension or a damaged chunk index is named
when the store is opened (:func:`read_attrs`), and ``verify=True`` proves every value is
the one written (a damaged index can make HDF5 read zeros that no chunk checksum sees).
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import shutil
import socket
import tempfile
import uuid
from typing import Any

import h5netcdf
import h5py
import numpy as np
import pandas as pd

from .errors import StoreError

try:  # the file-size limit (a simulated or real full disk); Unix only
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

FORMAT = "ooc_accessor.design"
#: 2: fletcher32 on every numeric variable and the ``manifest`` attribute
STORE_VERSION = 2
#: HDF5's per-chunk checksum, verified by HDF5 on every read of a chunk
CHECKSUM: dict[str, Any] = {"fletcher32": True}
#: HDF5's own bookkeeping attributes (dimension scales), not part of what a store says
_HDF5_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME"}
_MANIFEST = "manifest"
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


def temp_path(final: str) -> str:
    """A hidden temporary name beside ``final`` that says which process writes it.

    The writer's pid and host are in the name, so a later writer can tell a file left by
    a killed process (removed by :func:`remove_stale_temps`) from one still being written.
    """
    directory, base = os.path.split(os.path.abspath(final))
    tag = f"{uuid.uuid4().hex[:12]}-{os.getpid()}@{socket.gethostname()}"
    return os.path.join(directory, f".{base}.tmp-{tag}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_temps(final: str) -> list[str]:
    """Remove the temporary files of ``final`` whose writer died on this host.

    A SIGKILLed writer cannot clean up after itself; the next write to the same path
    does. Files of live processes, and of other hosts (a shared disk), are left alone.
    """
    directory, base = os.path.split(os.path.abspath(final))
    prefix, host = f".{base}.tmp-", socket.gethostname()
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        tag, sep, where = name[len(prefix) :].rpartition("@")
        pid = tag.rpartition("-")[2]
        if not sep or where != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            os.remove(os.path.join(directory, name))
            removed.append(name)
        except FileNotFoundError:  # another writer cleaned it first
            pass
    return removed


def discard(f: h5netcdf.File | None, tmp: str) -> None:
    """Close a half-written file without another write, and remove it.

    After a failed write (a full disk) HDF5's state for the file is broken: h5netcdf's
    ``close`` writes attributes first, and touching the broken objects again can crash
    the process. The h5py file is closed directly instead; its own errors are moot, as
    the file goes.
    """
    if f is not None:
        h5 = getattr(f, "_h5file", None)
        try:
            # the file's data are worthless now: emptying it first gives HDF5's closing
            # flush room on a full disk (its blocks are freed)
            os.truncate(tmp, 0)
        except OSError:
            pass
        try:
            if h5 is not None and h5.id.valid:
                h5.close()
        except Exception:  # closing a broken file may fail; removing it is what matters
            pass
        f._closed = True  # so h5netcdf's finalizer does not flush it again
    if os.path.exists(tmp):
        os.remove(tmp)


#: errno values of a full disk, a file-size limit and an exhausted quota
_NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


#: space every write must find free before it starts (HDF5's metadata, the first chunks)
MIN_FREE_BYTES = 2**20


def ensure_space(final: str, nbytes: int = 0, written: int = 0) -> None:
    """Refuse to write ``nbytes`` more to ``final`` where they (plus a margin) cannot fit.

    Checked before HDF5 creates the file (the whole store's bytes) and before each block
    (that block's bytes, ``written`` being those already in the file). A write that fails
    inside HDF5 is caught and cleaned up too (:func:`write_error`, :func:`discard`), but
    HDF5's state for that file is broken from then on (h5py may even crash when the
    process exits), so a disk that cannot take the next block is refused before HDF5
    tries.
    """
    where = os.path.dirname(os.path.abspath(final))
    if not os.path.isdir(where):
        raise StoreError(
            f"cannot write store {final!r}: directory {where!r} does not exist; create it "
            "first or pass another path="
        )
    free = shutil.disk_usage(where).free
    if resource is not None:
        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if soft != resource.RLIM_INFINITY:
            free = min(free, soft - int(written))
    need = int(nbytes) + MIN_FREE_BYTES
    if need > free:
        raise StoreError(
            f"writing {final!r} failed: the disk is full or a file-size limit was reached "
            f"(about {need / 2**20:.1f} MiB are needed, {free / 2**20:.1f} MiB are "
            f"available). Nothing was written at {final!r}; free space in {where!r} or "
            f"write elsewhere (path=, or ${TMPDIR_ENV} for temporary stores)"
        )


def write_error(exc: BaseException, final: str) -> StoreError:
    """A :class:`StoreError` for a failed write of ``final``, naming the disk when full.

    HDF5 reports the errno only inside its message text (``errno = 28``), so both are
    looked at.
    """
    text = " ".join(str(exc).split())
    full = getattr(exc, "errno", None) in _NO_SPACE or any(
        f"errno = {e}," in text or os.strerror(e).lower() in text.lower() for e in _NO_SPACE
    )
    # HDF5's text runs to several lines of buffer addresses: its head says what failed
    text = text if len(text) <= 160 else text[:157] + "..."
    where = os.path.dirname(os.path.abspath(final))
    if full:
        return StoreError(
            f"writing {final!r} failed: the disk is full or a file-size limit was reached "
            f"({text}). Nothing was written at {final!r} and the temporary file was "
            f"removed; free space in {where!r} or write elsewhere (path=, or "
            f"${TMPDIR_ENV} for temporary stores)"
        )
    return StoreError(
        f"writing {final!r} failed ({text}). Nothing was written at {final!r} and the "
        f"temporary file was removed; check that {where!r} is writable and retry"
    )


#: epoch units of stored datetimes, by pandas unit (CF names, which xarray decodes)
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
#: attributes of ``obs`` that say how to decode the labels (copied with them)
_OBS_HINTS = ("index_kind", "index_name", "index_unit", "index_freq", "index_closed")


def _plain_index(index: pd.Index) -> pd.Index:
    """A categorical index as its values (the labels themselves, in their own dtype)."""
    if isinstance(index, pd.CategoricalIndex):
        return pd.Index(np.asarray(index), dtype=index.categories.dtype, name=index.name)
    return index


def _index_values(index: pd.Index) -> tuple[np.ndarray, str]:
    """Row labels as an array HDF5 can hold, and the kind to decode them back.

    The kind follows from the index's dtype alone, never from the labels of one block, so
    every block of an index is stored alike.
    """
    if isinstance(index, pd.MultiIndex):
        return np.asarray([repr(t) for t in index], dtype=object), "str"
    index = _plain_index(index)
    dtype = index.dtype
    if isinstance(dtype, pd.PeriodDtype):
        return np.asarray(index.astype(str), dtype=object), "period"
    if isinstance(dtype, pd.IntervalDtype):
        pairs = zip(index.left.tolist(), index.right.tolist(), strict=True)
        return np.asarray(
            [json.dumps([_plain_label(lo), _plain_label(hi)]) for lo, hi in pairs], dtype=object
        ), "interval"
    if dtype.kind == "M":
        if getattr(dtype, "tz", None) is not None:
            raise StoreError(
                f"the row index has time zone {dtype.tz}, which a store cannot hold; make it "
                "naive first (df.index.tz_convert(None))"
            )
        return index.asi8, "datetime"
    if dtype.kind == "m":
        return index.asi8, "timedelta"
    if dtype.kind in "iuf":
        return index.to_numpy(), "numeric"
    if dtype.kind == "b":
        return index.to_numpy().astype(np.int8), "bool"
    if pd.api.types.is_object_dtype(dtype):
        # ints, floats, bools, None and strings, each as JSON: it comes back the same
        # value of the same type (str() would turn 10 into "10")
        try:
            labels = [json.dumps(_plain_label(v)) for v in index]
        except TypeError as exc:
            raise StoreError(
                f"the row index holds a label of type {exc} that a store cannot hold (it "
                "keeps numbers, strings, bools and None); reset_index() or convert the index "
                "to strings first"
            ) from None
        return np.asarray(labels, dtype=object), "json"
    if index.hasnans:
        raise StoreError(
            f"the row index holds a missing label (at position {int(np.argmax(index.isna()))}); "
            "a store cannot hold one: fill it (df.index.fillna(...)) or reset_index() first"
        )
    text = np.asarray(index.astype(str), dtype=object)
    bad = next((v for v in text if "\x00" in v), None)
    if bad is not None:
        raise StoreError(
            f"the row label {bad!r} holds a NUL character, which HDF5 strings cannot hold; "
            "replace it or reset_index() first"
        )
    return text, "str"


def _index_hints(index: pd.Index, kind: str) -> dict[str, Any]:
    """What decoding ``kind`` needs beyond the values: unit, frequency, closed side."""
    index = _plain_index(index)
    hints: dict[str, Any] = {}
    if kind in ("datetime", "timedelta"):
        hints["index_unit"] = index.unit
    elif kind == "period":
        hints["index_freq"] = index.freqstr
    elif kind == "interval":
        hints["index_closed"] = index.closed
    return hints


def _plain_label(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, (int, float, str)):
        return v
    raise TypeError(type(v).__name__)


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
    expected_rows : int
        Rows the source holds (an upper bound): their bytes must be free on the disk
        before anything is written (:func:`ensure_space`).
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
        expected_rows: int = 0,
    ) -> None:
        self.path = os.path.abspath(path)
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise StoreError(f"cannot write store {path!r}: directory {directory!r} does not exist")
        remove_stale_temps(self.path)
        p, k = len(terms), len(responses)
        ensure_space(self.path, int(expected_rows) * (p + k + 2) * 8)
        self.tmp = temp_path(self.path)
        self.n = 0
        self.chunk_rows = int(chunk_rows)
        self._index_kind: str | None = None
        self._hashes: dict[str, Any] = {}
        # a chunk cache holding one chunk of X: a block that ends mid-chunk (rows dropped)
        # is completed in memory, not read back, checksummed and rewritten
        cache = self.chunk_rows * (max(p, 1) + k + 2) * 8 + 2**20
        try:
            self._f = h5netcdf.File(self.tmp, "w", rdcc_nbytes=cache)
        except (OSError, RuntimeError) as exc:
            raise write_error(exc, self.path) from exc
        try:
            f = self._f
            dims: dict[str, int | None] = {"obs": None, "term": p}
            if k > 1:
                dims["response"] = k
            f.dimensions = dims
            opts: dict[str, Any] = {"compression": compression} if compression else {}
            opts.update(CHECKSUM)
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
                f.create_variable(
                    "weights", ("obs",), np.float64, chunks=(self.chunk_rows,), **CHECKSUM
                )
                if weights
                else None
            )
            self._obs = None
        except (OSError, RuntimeError) as exc:
            self.abort()
            raise write_error(exc, self.path) from exc
        except BaseException:
            self.abort()
            raise

    def _make_obs(self, kind: str, index: pd.Index) -> None:
        hints = _index_hints(index, kind)
        if index.name is not None:
            hints["index_name"] = str(index.name)
        self._make_obs_var(kind, hints)

    def _make_obs_var(self, kind: str, hints: dict[str, Any]) -> None:
        dtype = {
            "str": _STR,
            "json": _STR,
            "period": _STR,
            "interval": _STR,
            "datetime": np.int64,
            "timedelta": np.int64,
            "bool": np.int8,
        }.get(kind)
        if dtype is None:  # numbers keep their dtype (uint64 labels above 2**63 too)
            dtype = self._first_dtype
        # HDF5 filters cannot take variable-length strings: the manifest hashes those
        opts = {} if dtype is _STR else CHECKSUM
        self._obs = self._f.create_variable(
            "obs", ("obs",), dtype, chunks=(self.chunk_rows,), **opts
        )
        if kind == "datetime":  # CF's encoding, so xarray decodes the dates itself
            unit = _UNIT_NAMES[hints.get("index_unit", "ns")]
            self._obs.attrs["units"] = f"{unit} since 1970-01-01"
            self._obs.attrs["calendar"] = "proleptic_gregorian"
        self._obs.attrs["index_kind"] = kind
        for key, value in hints.items():
            if key != "index_kind":
                self._obs.attrs[key] = value
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
        row_bytes = x.shape[1] + (0 if y is None else y.size // m) + 2
        ensure_space(self.path, m * row_bytes * 8, self.n * row_bytes * 8)
        try:
            self._write(self.n, x, y, w, values)
        except (OSError, RuntimeError) as exc:
            raise write_error(exc, self.path) from exc

    def _write(
        self,
        a: int,
        x: np.ndarray,
        y: np.ndarray | None,
        w: np.ndarray | None,
        obs: np.ndarray,
    ) -> None:
        b = a + x.shape[0]
        self._f.resize_dimension("obs", b)
        self._x[a:b] = x
        if self._y is not None:
            self._y[a:b] = y
        if self._w is not None:
            self._w[a:b] = w
        self._obs[a:b] = obs
        self.n = b
        # the manifest's digests, as a reader will hash them: the stored dtype, row order
        self._hash("X", x)
        if self._y is not None:
            self._hash("y", y)
        if self._w is not None:
            self._hash("weights", w)
        self._hash("obs", obs, self._obs.dtype)

    def _hash(self, name: str, values: Any, dtype: Any = np.float64) -> None:
        h = self._hashes.setdefault(name, hashlib.sha256())
        if dtype is _STR or h5py.check_string_dtype(np.dtype(dtype)) is not None:
            for v in values:
                h.update(v if isinstance(v, bytes) else str(v).encode())
                h.update(b"\0")
        else:
            h.update(np.ascontiguousarray(values, dtype=dtype))

    def copy_from(self, part: str) -> int:
        """Append every row of a complete store written by another writer (a worker's part).

        Rows are copied a chunk at a time, row labels as stored; returns the rows copied.
        """
        try:
            return self._copy(part)
        except (OSError, RuntimeError) as exc:
            if isinstance(exc, StoreError):
                raise
            raise write_error(exc, self.path) from exc

    def _copy(self, part: str) -> int:
        with h5py.File(part, "r") as f:
            n = int(f["X"].shape[0])
            if n == 0:
                return 0
            obs = f["obs"]
            kind = plain_attr(obs.attrs.get("index_kind", "numeric"))
            if self._obs is None:
                self._first_dtype = obs.dtype
                hints = {k: plain_attr(obs.attrs[k]) for k in _OBS_HINTS if k in obs.attrs}
                self._make_obs_var(kind, hints)
            elif kind != self._index_kind:
                raise StoreError(
                    f"row labels changed kind from {self._index_kind} to {kind} in part {part!r}"
                )
            for a in range(0, n, self.chunk_rows):
                b = min(a + self.chunk_rows, n)
                y = f["y"][a:b] if self._y is not None else None
                w = f["weights"][a:b] if self._w is not None else None
                self._write(self.n, f["X"][a:b], y, w, obs[a:b])
        return n

    def commit(self, attrs: dict[str, Any]) -> str:
        """Write the attributes, close, and rename the file to its final path."""
        if self._obs is None:  # no rows: still a valid, empty coordinate
            self._first_dtype = np.dtype(np.int64)
            self._make_obs("numeric", pd.RangeIndex(0))
        f = self._f
        try:
            for key, value in attrs.items():
                f.attrs[key] = value
            f.attrs["format"] = FORMAT
            f.attrs["store_version"] = STORE_VERSION
            f.attrs["chunk_rows"] = self.chunk_rows
            f.attrs["n_obs"] = self.n
            # this store's identity: dask task keys include it, so results computed from an
            # earlier store at the same path are never taken for this one's
            f.attrs["store_id"] = uuid.uuid4().hex
            f.attrs["complete"] = 1  # a reader refuses a store without it
            f.close()  # HDF5 writes its cached chunks here: a full disk may show only now
            known = {name: h.hexdigest() for name, h in self._hashes.items()}
            known.setdefault("X", hashlib.sha256().hexdigest())  # no rows: empty
            seal(self.tmp, known)
        except (OSError, RuntimeError) as exc:
            raise write_error(exc, self.path) from exc
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and remove the temporary file; the final path is untouched."""
        discard(getattr(self, "_f", None), self.tmp)

    def __enter__(self) -> DesignWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.abort()


def _jsonable(v: Any) -> Any:
    v = plain_attr(v)
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v


def _user_attrs(attrs: Any) -> dict[str, Any]:
    """Attributes as written by us (HDF5's and netCDF's own bookkeeping left out)."""
    return {
        k: _jsonable(v)
        for k, v in attrs.items()
        if not k.startswith("_") and k not in _HDF5_ATTRS and k != _MANIFEST
    }


def _digest(ds: h5py.Dataset) -> str:
    """SHA-256 of a variable's values, read a chunk of rows at a time.

    The end-to-end check behind ``verify``: whatever HDF5 structure a damaged byte hits
    (a chunk, its index, a fill value), what a reader gets differs from what was written.
    """
    h = hashlib.sha256()
    text = h5py.check_string_dtype(ds.dtype) is not None
    n = ds.shape[0] if ds.shape else 1
    step = ds.chunks[0] if ds.chunks else max(n, 1)
    for a in range(0, n, step):
        try:
            values = ds[a : a + step] if ds.shape else ds[()]
        except OSError as exc:  # fletcher32 failed, or the chunk cannot be read at all
            b = min(a + step, n)
            raise _DamagedError(
                f"variable {ds.name.lstrip('/')!r} rows {a}-{b - 1} fail their checksum ({exc})"
            ) from exc
        if text:
            for v in np.atleast_1d(values):
                h.update(v if isinstance(v, bytes) else str(v).encode())
                h.update(b"\0")
        else:
            h.update(np.ascontiguousarray(values))  # the buffer itself: no copy
    return h.hexdigest()


def _chunk_layout(ds: h5py.Dataset) -> list:
    """``[chunks found, SHA-256 of their (position, offset, size) list]`` of a variable.

    Every chunk position the shape implies is looked up the way a read looks it up. A
    damaged chunk index can lose a chunk (HDF5 then reads fill values: zeros) or point at
    another chunk (whose own checksum is valid): both change this, and neither is caught
    by the chunks' fletcher32.
    """
    h = hashlib.sha256()
    found = 0
    grids = [range(0, n, c) for n, c in zip(ds.shape, ds.chunks, strict=True)]
    for position in itertools.product(*grids):
        info = ds.id.get_chunk_info_by_coord(position)
        found += info.byte_offset is not None
        h.update(f"{position}@{info.byte_offset}:{info.size};".encode())
    return [found, h.hexdigest()]


def describe(
    f: h5py.File, digests: bool = True, known: dict[str, str] | None = None
) -> dict[str, Any]:
    """What a store says about itself: attributes, and each variable's shape, dtype,
    attributes, checksum filter, chunk index and (``digests``) the SHA-256 of its values.

    ``known`` holds digests the writer computed as it wrote (no read-back for those).
    """
    known = known or {}
    variables = {}
    for name, ds in f.items():
        if not isinstance(ds, h5py.Dataset):
            continue
        text = h5py.check_string_dtype(ds.dtype) is not None
        entry = {
            "shape": list(ds.shape),
            "dtype": "str" if text else ds.dtype.str,
            "fletcher32": bool(ds.fletcher32),
            "attrs": _user_attrs(ds.attrs),
        }
        if ds.chunks is not None:
            entry["chunks"] = _chunk_layout(ds)
        if digests:
            entry["sha256"] = known[name] if name in known else _digest(ds)
        variables[name] = entry
    return {"attrs": _user_attrs(f.attrs), "variables": variables}


def seal(path: str, known: dict[str, str] | None = None) -> None:
    """Write the manifest of a closed, complete store (its last write), then fsync it.

    ``known``: SHA-256 digests of variables hashed as they were written; the others are
    read back and hashed here.
    """
    with h5py.File(path, "r+") as f:
        f.attrs[_MANIFEST] = json.dumps(describe(f, known=known), sort_keys=True)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _differences(written: dict, found: dict) -> list[str]:
    """How the store differs from its manifest, one phrase per difference."""
    out = []
    wa, fa = written["attrs"], found["attrs"]
    for key in sorted(set(wa) | set(fa)):
        if key not in fa:
            out.append(f"attribute {key!r} was removed")
        elif key not in wa:
            out.append(f"attribute {key!r} was added")
        elif wa[key] != fa[key]:
            out.append(
                f"attribute {key!r} is {_short(fa[key])} but was written as {_short(wa[key])}"
            )
    wv, fv = written["variables"], found["variables"]
    for name in sorted(set(wv) | set(fv)):
        if name not in fv:
            out.append(f"variable {name!r} was removed")
            continue
        if name not in wv:
            out.append(f"variable {name!r} was added")
            continue
        w, g = wv[name], fv[name]
        if w["shape"] != g["shape"]:
            out.append(
                f"variable {name!r} has shape {tuple(g['shape'])} but was written with "
                f"{tuple(w['shape'])}"
            )
        if w.get("chunks") != g.get("chunks"):
            counts = (g.get("chunks") or [0])[0], (w.get("chunks") or [0])[0]
            out.append(
                f"variable {name!r}'s chunk index changed ({counts[0]} chunks stored, "
                f"{counts[1]} written)"
            )
        for key, what in (
            ("dtype", "dtype"),
            ("fletcher32", "checksum filter"),
            ("attrs", "attributes"),
        ):
            if w[key] != g[key]:
                out.append(f"variable {name!r}'s {what} changed")
        if "sha256" in w and "sha256" in g and w["sha256"] != g["sha256"]:
            out.append(f"variable {name!r}'s values changed (their SHA-256 differs)")
    return out


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class _DamagedError(Exception):
    """A reason a store cannot be trusted (turned into a StoreError naming the file)."""


def read_attrs(path: str, verify: bool = False) -> dict[str, Any]:
    """The attributes of a complete, undamaged design store (and its ``variables``).

    Parameters
    ----------
    path : str
    verify : bool
        Also read every value once and compare its SHA-256 with the manifest's (every chunk's
        checksum is checked on the way). Without it, the structure, attributes and chunk
        index are still checked against the manifest, and each chunk's checksum is
        checked whenever it is read.

    Raises
    ------
    StoreError
        Naming the file and the reason: missing, not a store, another version, incomplete,
        truncated, or changed since it was written (which attribute, variable or rows).
    """
    attrs = checked_attrs(
        path,
        fmt=FORMAT,
        what="design store",
        rebuild="rebuild it from its source with .ooc.design(..., path=)",
        version=STORE_VERSION,
        verify=verify,
    )
    missing = {"X", "obs", "term"} - set(attrs["variables"])
    if missing:
        raise StoreError(
            f"{path!r} lacks variable(s) {sorted(missing)}; rebuild it from its source"
        )
    return attrs


def checked_attrs(
    path: str, *, fmt: str, what: str, rebuild: str, version: int | None, verify: bool
) -> dict[str, Any]:
    """The attributes of a complete store of format ``fmt``, checked against its manifest.

    ``what`` names the kind of store and ``rebuild`` says how to make it again, in the
    messages; ``version`` (if given) must equal the store's ``store_version``.
    """
    if not os.path.exists(path):
        raise StoreError(f"no {what} at {path!r}; {rebuild}")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(
            f"{path!r} is not a readable NetCDF4/HDF5 file, or it is truncated ({exc}); "
            f"open a {what}, or {rebuild}"
        ) from exc
    try:
        with fh as f:
            attrs = {k: plain_attr(v) for k, v in f.attrs.items()}
            if attrs.get("format") != fmt:
                raise StoreError(
                    f"{path!r} is not an ooc_accessor {what} (its format attribute is "
                    f"{attrs.get('format')!r}, not {fmt!r}); {rebuild}"
                )
            if version is not None and attrs.get("store_version") != version:
                raise StoreError(
                    f"{path!r} has store version {attrs.get('store_version')!r}; this "
                    f"ooc_accessor reads version {version}: {rebuild}"
                )
            if attrs.get("complete") != 1:
                raise StoreError(f"{path!r} is incomplete: its writer did not finish; {rebuild}")
            _check_manifest(f, attrs, verify)
            attrs["variables"] = sorted(f.keys())
    except StoreError:
        raise
    except _DamagedError as exc:
        raise StoreError(
            f"{path!r} is damaged or was changed after it was written: {exc}; {rebuild}"
        ) from None
    except Exception as exc:  # HDF5 reports damage as any of several types
        raise StoreError(
            f"{path!r} cannot be read as an HDF5 {what}, it is truncated or damaged "
            f"({type(exc).__name__}: {exc}); {rebuild}"
        ) from exc
    return attrs


def _check_manifest(f: h5py.File, attrs: dict[str, Any], verify: bool) -> None:
    """Compare a store with its manifest (popped from ``attrs``); read every chunk if
    ``verify``. Raises :class:`_DamagedError` with every difference found."""
    if _MANIFEST not in attrs:
        raise _DamagedError("its manifest attribute is missing")
    try:
        written = json.loads(attrs.pop(_MANIFEST))
    except (TypeError, ValueError) as exc:
        raise _DamagedError(f"its manifest attribute is not valid JSON ({exc})") from exc
    if not isinstance(written, dict) or not written.get("variables"):
        raise _DamagedError("its manifest attribute lists no variables")
    if not verify:  # string hashes need a read of every string: only when verifying
        for entry in written["variables"].values():
            entry.pop("sha256", None)
    diffs = _differences(written, describe(f, digests=verify))
    if diffs:
        raise _DamagedError("; ".join(diffs))


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
    path: str,
    start: int,
    stop: int,
    names: tuple[str, ...] = ("X", "y"),
    store_id: str = "",
) -> list[np.ndarray | None]:
    """Rows ``start:stop`` of the named variables (``None`` for one the store lacks).

    With ``store_id``, the file must still be that store: a store replaced at the same
    path during a computation (another process rebuilt it) would otherwise mix its rows
    with the old one's. A chunk failing its checksum raises a :class:`StoreError` naming
    the rows.
    """
    try:
        with h5py.File(path, "r") as f:
            check_identity(f, path, store_id)
            return [f[n][start:stop] if n in f else None for n in names]
    except StoreError:
        raise
    except (OSError, KeyError) as exc:
        raise StoreError(
            f"cannot read rows {start}-{stop - 1} of {path!r} ({exc}): the store is damaged "
            "or was removed; check it with ooc_accessor.open_design(path) and rebuild it"
        ) from exc


def check_identity(f: h5py.File, path: str, store_id: str) -> None:
    """Refuse a file that is no longer the store a computation started on."""
    if store_id and plain_attr(f.attrs.get("store_id", "")) != store_id:
        raise StoreError(
            f"the store at {path!r} was replaced while it was being read (another process "
            "wrote it again); its rows would mix two stores. Open it again with "
            "ooc_accessor.open_design(path) and rerun"
        )


def read_index(path: str) -> pd.Index:
    """The stored row labels as a pandas Index, decoded to their original kind."""
    with h5py.File(path, "r") as f:
        obs = f["obs"]
        kind = plain_attr(obs.attrs.get("index_kind", "numeric"))
        name = plain_attr(obs.attrs["index_name"]) if "index_name" in obs.attrs else None
        hints = {k: plain_attr(obs.attrs[k]) for k in _OBS_HINTS if k in obs.attrs}
        values = obs[:]
    unit = hints.get("index_unit", "ns")
    if kind == "datetime":
        return pd.DatetimeIndex(values.astype(f"datetime64[{unit}]"), name=name)
    if kind == "timedelta":
        return pd.TimedeltaIndex(values.astype(f"timedelta64[{unit}]"), name=name)
    if kind == "bool":
        return pd.Index(values.astype(bool), name=name)
    if kind in ("str", "json", "period", "interval"):
        text = [v.decode() if isinstance(v, bytes) else v for v in values]
        if kind == "json":
            return pd.Index([json.loads(v) for v in text], dtype=object, name=name)
        if kind == "period":
            return pd.PeriodIndex(text, freq=hints["index_freq"], name=name)
        if kind == "interval":
            pairs = np.asarray([json.loads(v) for v in text]).reshape(-1, 2)
            return pd.IntervalIndex.from_arrays(
                pairs[:, 0], pairs[:, 1], closed=hints["index_closed"], name=name
            )
        return pd.Index(text, name=name)
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
    remove_stale_temps(path)
    with h5py.File(source, "r") as src:
        n = src["obs"].shape[0]
        ensure_space(path, n * (len(columns) + 1) * 8)
        tmp = temp_path(path)
        f = None
        try:
            f = h5netcdf.File(tmp, "w")
            # fixed-size dims: no HDF5 chunk may be longer than the rows (after drops)
            chunk_rows = max(1, min(chunk_rows, n))
            f.dimensions = {"obs": n, column_dim: len(columns)}
            opts = {} if h5py.check_string_dtype(src["obs"].dtype) else CHECKSUM
            obs = f.create_variable("obs", ("obs",), src["obs"].dtype, chunks=(chunk_rows,), **opts)
            for key in (*_OBS_HINTS, "units", "calendar"):
                if key in src["obs"].attrs:  # the decoding hints, not HDF5's own bookkeeping
                    obs.attrs[key] = plain_attr(src["obs"].attrs[key])
            f.create_variable(column_dim, (column_dim,), np.asarray(columns).dtype)[:] = columns
            var = f.create_variable(
                name,
                ("obs", column_dim),
                np.float64,
                chunks=(chunk_rows, len(columns)),
                **CHECKSUM,
            )
            for a, b, values in blocks:
                var[a:b] = values
                obs[a:b] = src["obs"][a:b]
            f.attrs["format"] = "ooc_accessor.rows"
            f.attrs["complete"] = 1
            f.close()
        except BaseException as exc:
            discard(f, tmp)
            if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, StoreError):
                raise write_error(exc, path) from exc
            raise
    os.replace(tmp, path)
    return path
