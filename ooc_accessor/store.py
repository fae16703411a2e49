"""The design store: chunked NetCDF4 via h5netcdf, written atomically.

A store holds ``X`` (obs, term), ``y`` (obs) or (obs, response), optional ``weights``
(obs), the ``obs`` coordinate (the source's own row labels) and ``term``. The formula spec
(JSON), counts and block size are attributes. A store is written under a temporary name in
the target's directory and renamed only when complete, so a killed writer never leaves a
file at the target path, and ``complete=1`` is the last attribute written.

Damage is caught, never read as numbers. Every numeric variable carries HDF5's fletcher32
checksum per chunk, so a flipped byte fails the read (in any HDF5 reader, xarray too), and
the ``manifest`` attribute written at commit (:mod:`~ooc_accessor.manifest`) lets
:func:`read_attrs` name an edited attribute, a removed variable, a truncated dimension or a
damaged chunk index, and prove with ``verify=True`` that every value is the one written.
Temporary names, stale temporaries, free space and write errors live in
:mod:`~ooc_accessor.files`.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import h5py
import numpy as np
import pandas as pd

from .digests import Digests
from .errors import StoreError, StoreNotFoundError
from .files import (  # noqa: F401 - re-exported: the store's callers use them from here
    TMPDIR_ENV,
    USERBLOCK,
    check_compression,
    check_target,
    create_temp,
    discard,
    ensure_space,
    keep_store,
    mark_temporary,
    open_temp,
    remove_file,
    remove_stale_temps,
    replace,
    temp_path,
    temporary_store_path,
    write_error,
)
from .lazy import check_sample_dim, open_checked, parts_of, read_rows, rows_of
from .manifest import (
    checked_attrs,
    hash_values,
    int_attr,
    json_attr,
    plain_attr,
    seal,
)
from .rowlabels import (
    OBS_HINTS,
    UNIT_NAMES,
    decode_index,
    index_hints,
    index_values,
)

FORMAT = "ooc_accessor.design"
#: 2: fletcher32 on every numeric variable and the ``manifest`` attribute
STORE_VERSION = 2
#: HDF5's per-chunk checksum, verified by HDF5 on every read of a chunk
CHECKSUM: dict[str, Any] = {"fletcher32": True}
_STR = h5py.string_dtype()
_EPOCH_UNITS = "nanoseconds since 1970-01-01"


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
        check_compression(compression)
        self.path = check_target(path)
        remove_stale_temps(self.path)
        p, k = len(terms), len(responses)
        ensure_space(self.path, int(expected_rows) * (p + k + 2) * 8)
        self.tmp = temp_path(self.path)
        self.n = 0
        self.chunk_rows = int(chunk_rows)
        self._index_kind: str | None = None
        self._hashes: dict[str, Any] = {}  # text variables (the row labels), hashed here
        self._digests = Digests()  # numeric ones, hashed on a thread of their own
        self._written = 0  # rows in the file (self.n: rows appended, some may be staged)
        self._pending: tuple | None = None  # rows short of a whole chunk (see _stage)
        # a chunk cache holding a chunk of every variable (rows are written whole chunks
        # at a time, see _stage)
        cache = self.chunk_rows * (max(p, 1) + k + 2) * 8 + 2**20
        try:
            self._f = open_temp(self.tmp, "netcdf", rdcc_nbytes=cache)
        except (OSError, RuntimeError) as exc:
            self.abort()
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
        self._make_obs_var(kind, label_hints(index, kind))

    def _make_obs_var(self, kind: str, hints: dict[str, Any]) -> None:
        dtype = obs_dtype(kind, self._first_dtype)
        # HDF5 filters cannot take variable-length strings: the manifest hashes those
        opts = {} if dtype is _STR else CHECKSUM
        self._obs = self._f.create_variable(
            "obs", ("obs",), dtype, chunks=(self.chunk_rows,), **opts
        )
        if kind == "datetime":  # CF's encoding, so xarray decodes the dates itself
            unit = UNIT_NAMES[hints.get("index_unit", "ns")]
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
        values, kind = index_values(index)
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
            self._stage(x, y, w, values)
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
        # row-major once (the engine builds X by columns): HDF5 and the digest then take
        # the same buffer, with no copy each
        x = np.ascontiguousarray(x, dtype=np.float64)
        self._f.resize_dimension("obs", b)
        self._x[a:b] = x
        if self._y is not None:
            self._y[a:b] = y
        if self._w is not None:
            self._w[a:b] = w
        self._obs[a:b] = obs
        self._written = b
        # the manifest's digests, as a reader will hash them: the stored dtype, row order
        self._hash("X", x)
        if self._y is not None:
            self._hash("y", y)
        if self._w is not None:
            self._hash("weights", w)
        self._hash("obs", obs, self._obs.dtype)

    def _stage(
        self, x: np.ndarray, y: np.ndarray | None, w: np.ndarray | None, obs: np.ndarray
    ) -> None:
        """Write rows after those staged before, whole HDF5 chunks at a time.

        Rows short of a whole chunk wait in memory for the next block (:meth:`_flush`
        writes the last ones). A write that ends mid-chunk would leave that chunk half
        written: HDF5 then writes it out (checksummed) when h5netcdf drops its handle, and
        reads it back to complete it with the next block, 3x the write's time.
        """
        self.n += x.shape[0]
        if self._pending is not None:
            px, py, pw, po = self._pending
            self._pending = None
            x = np.concatenate([px, x])
            y = None if y is None else np.concatenate([py, y])
            w = None if w is None else np.concatenate([pw, w])
            obs = np.concatenate([po, obs])
        m = x.shape[0]
        whole = m - m % self.chunk_rows
        if whole:
            self._write(self._written, x[:whole], _head(y, whole), _head(w, whole), obs[:whole])
        if whole < m:
            self._pending = (
                np.array(x[whole:], dtype=np.float64),
                None if y is None else y[whole:].copy(),
                None if w is None else w[whole:].copy(),
                obs[whole:].copy(),
            )

    def _flush(self) -> None:
        """Write the rows still waiting for a whole chunk (the store's last rows)."""
        if self._pending is not None:
            x, y, w, obs = self._pending
            self._pending = None
            self._write(self._written, x, y, w, obs)

    def _hash(self, name: str, values: Any, dtype: Any = np.float64) -> None:
        if is_text(dtype):
            hash_obs(self._hashes.setdefault(name, hashlib.sha256()), values, dtype)
        else:
            self._digests.feed(name, values, np.dtype(dtype))

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
        with open_checked(part, what="design store") as f:
            n = int(f["X"].shape[0])
            if n == 0:
                return 0
            obs = rows_of(f, part, "obs")
            x = rows_of(f, part, "X")
            ys = rows_of(f, part, "y") if self._y is not None else None
            ws = rows_of(f, part, "weights") if self._w is not None else None
            kind = plain_attr(obs.attrs.get("index_kind", "numeric"))
            if self._obs is None:
                self._first_dtype = obs.dtype
                hints = {k: plain_attr(obs.attrs[k]) for k in OBS_HINTS if k in obs.attrs}
                self._make_obs_var(kind, hints)
            elif kind != self._index_kind:
                raise StoreError(
                    f"row labels changed kind from {self._index_kind} to {kind} in part {part!r}"
                )
            for a in range(0, n, self.chunk_rows):
                b = min(a + self.chunk_rows, n)
                y = ys[a:b] if ys is not None else None
                w = ws[a:b] if ws is not None else None
                self._stage(x[a:b], y, w, obs[a:b])
        return n

    def commit(self, attrs: dict[str, Any]) -> str:
        """Write the attributes, close, and rename the file to its final path."""
        if self._obs is None:  # no rows: still a valid, empty coordinate
            self._first_dtype = np.dtype(np.int64)
            self._make_obs("numeric", pd.RangeIndex(0))
        f = self._f
        try:
            self._flush()
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
            known.update(self._digests.result())
            known.setdefault("X", hashlib.sha256().hexdigest())  # no rows: empty
            seal(self.tmp, known)
        except (OSError, RuntimeError) as exc:
            raise write_error(exc, self.path) from exc
        replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and remove the temporary file; the final path is untouched."""
        if hasattr(self, "_digests"):
            self._digests.close()
        self._pending = None
        discard(getattr(self, "_f", None), self.tmp)

    def __enter__(self) -> DesignWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.abort()


def obs_dtype(kind: str, first: np.dtype) -> Any:
    """The stored dtype of row labels of ``kind`` (``first``: the first block's dtype)."""
    dtype = {
        "str": _STR,
        "json": _STR,
        "period": _STR,
        "interval": _STR,
        "datetime": np.int64,
        "timedelta": np.int64,
        "bool": np.int8,
    }.get(kind)
    # numbers keep their dtype (uint64 labels above 2**63 too)
    return first if dtype is None else dtype


def label_hints(index: pd.Index, kind: str) -> dict[str, Any]:
    """What ``obs`` records beside the labels' values (name, unit, frequency, closed side)."""
    hints = index_hints(index, kind)
    if index.name is not None:
        hints["index_name"] = str(index.name)
    return hints


def read_label_hints(path: str) -> dict[str, Any]:
    """The store's ``obs`` attributes that say how its labels decode (kind and hints)."""
    with h5py.File(path, "r") as f:
        attrs = f["obs"].attrs
        return {k: plain_attr(attrs[k]) for k in OBS_HINTS if k in attrs}


def is_text(dtype: Any) -> bool:
    """Whether a stored dtype holds text (the manifest hashes each value's bytes)."""
    return dtype is _STR or h5py.check_string_dtype(np.dtype(dtype)) is not None


def hash_obs(h: Any, values: np.ndarray, dtype: Any) -> None:
    """Feed row labels stored as ``dtype`` to ``h`` as the writer's manifest hashes them."""
    hash_values(h, values, None if is_text(dtype) else dtype)


def _head(a: np.ndarray | None, m: int) -> np.ndarray | None:
    return None if a is None else a[:m]


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
    # every attribute the design reads, checked here (a crafted store: a StoreError
    # naming the attribute, never an error from deep inside)
    for name, minimum in (("chunk_rows", 1), ("n_obs", 0), ("n_dropped", 0)):
        attrs[name] = int_attr(path, attrs, name, minimum)
    if "spec" in attrs:
        json_attr(path, "spec", attrs["spec"])
    if "sample_dim" in attrs:
        check_sample_dim(attrs["sample_dim"], StoreError)
    if "parts" in attrs:
        check_parts(path, attrs, verify)
    return attrs


def check_parts(path: str, attrs: dict[str, Any], verify: bool) -> None:
    """Every part of an assembled store is there, complete, undamaged and the one it was
    assembled from (its ``store_id`` and rows), checked as the store itself is."""
    with open_checked(path) as f:
        parts = parts_of(f, path) or []
    if not parts or parts[-1][1] != attrs["n_obs"]:
        raise StoreError(
            f"{path!r}: its parts hold {parts[-1][1] if parts else 0} rows, not its n_obs "
            f"{attrs['n_obs']}; the store was changed: rebuild it from its source"
        )
    for lo, hi, part, sid in parts:
        what = f"part of the design store {path!r}"
        got = checked_attrs(
            part,
            fmt=FORMAT,
            what=what,
            rebuild="rebuild the design store from its source",
            version=STORE_VERSION,
            verify=verify,
        )
        if got.get("store_id") != sid or got.get("n_obs") != hi - lo:
            raise StoreError(
                f"{part!r}, a {what}, was replaced: it is not the part the store was "
                "assembled from (another store's rows); rebuild the design store"
            )


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
    with the old one's. A removed store raises :class:`StoreNotFoundError`; a chunk
    failing its checksum a :class:`StoreError` naming the rows.
    """
    with open_checked(path, store_id, "design store") as f:
        try:
            return read_rows(f, path, names, start, stop)
        except (StoreError, StoreNotFoundError):  # a part missing or replaced: as raised
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise StoreError(
                f"cannot read rows {start}-{stop - 1} of {path!r} ({exc}): the store is "
                "damaged; check it with ooc_accessor.open_design(path) and rebuild it"
            ) from exc


def store_id_of(path: str) -> str:
    """The identity of the store at ``path`` (bind a lazy output to it when it is made)."""
    with open_checked(path) as f:
        return str(plain_attr(f.attrs.get("store_id", "")))


def read_index(path: str) -> pd.Index:
    """The stored row labels as a pandas Index, decoded to their original kind."""
    with open_checked(path) as f:
        return decode_index(rows_of(f, path, "obs"))


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
    with open_checked(source, what="design store") as src:
        src_obs = rows_of(src, source, "obs")
        n = src_obs.shape[0]
        ensure_space(path, n * (len(columns) + 1) * 8)
        tmp = temp_path(path)
        f = None
        try:
            f = open_temp(tmp, "netcdf")
            # fixed-size dims: no HDF5 chunk may be longer than the rows (after drops)
            chunk_rows = max(1, min(chunk_rows, n))
            f.dimensions = {"obs": n, column_dim: len(columns)}
            opts = {} if h5py.check_string_dtype(src_obs.dtype) else CHECKSUM
            obs = f.create_variable("obs", ("obs",), src_obs.dtype, chunks=(chunk_rows,), **opts)
            for key in (*OBS_HINTS, "units", "calendar"):
                if key in src_obs.attrs:  # the decoding hints, not HDF5's own bookkeeping
                    obs.attrs[key] = plain_attr(src_obs.attrs[key])
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
                obs[a:b] = src_obs[a:b]
            f.attrs["format"] = "ooc_accessor.rows"
            # lazy reads of U or scores check it (see lazy.open_rows)
            f.attrs["store_id"] = uuid.uuid4().hex
            f.attrs["complete"] = 1
            f.close()
        except BaseException as exc:
            discard(f, tmp)
            if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, StoreError):
                raise write_error(exc, path) from exc
            raise
    replace(tmp, path)
    return path
