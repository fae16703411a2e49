"""Lazy outputs bound to their store: every chunk read opens the file and checks its identity.

``design.X``, ``fit.resid``, ``svd.U``, stored PCA scores and a read_csv Dataset are dask
arrays over a store on disk, read long after they were made. xarray's own backend keeps a
file handle open in a cache: a store replaced at the same path (renamed over, so a new
file) or removed would be read through that stale handle while it stays cached, and
through the new file once it is evicted, mixing another store's rows with the old labels.
Here each chunk read opens the path afresh, checks the ``store_id`` the output was made
from, and reads only its rows: a replaced store raises a
:class:`~ooc_accessor.StoreError` and a removed one a
:class:`~ooc_accessor.StoreNotFoundError`, both naming the path. No handle is kept
between reads, so HDF5's shared open-file cache (which would serve a second open of the
same file from the first) never holds a file for longer than one read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import dask.array as da
import h5py
import numpy as np
import pandas as pd
import xarray as xr

from .errors import ArgumentError, StoreError, StoreNotFoundError
from .manifest import plain_attr

#: HDF5's and netCDF's bookkeeping attributes: not what a variable says about itself
_HIDDEN = {"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST"}


def missing_store(path: str, what: str = "store") -> StoreNotFoundError:
    """The error for a store path that names no file (never written, or removed since)."""
    return StoreNotFoundError(
        f"no {what} at {path!r}: it was never written there or was removed since; "
        "build it again (or open the right path)"
    )


@contextlib.contextmanager
def open_checked(path: str, store_id: str = "", what: str = "store") -> Iterator[h5py.File]:
    """The store at ``path`` opened read-only, refused unless it is still ``store_id``.

    A missing file is a :class:`StoreNotFoundError`, a file that is not HDF5 or cannot be
    opened a :class:`StoreError`, both naming the path.
    """
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError as exc:
        raise missing_store(path, what) from exc
    except (OSError, ValueError) as exc:
        if not os.path.exists(path):
            raise missing_store(path, what) from exc
        raise StoreError(
            f"{path!r} cannot be opened as a {what} ({type(exc).__name__}: {exc}); it is "
            "not an HDF5 file, a directory, or damaged: build the store again"
        ) from exc
    with f:
        if store_id and plain_attr(f.attrs.get("store_id", "")) != store_id:
            raise StoreError(
                f"the {what} at {path!r} was replaced while it was being read or since this "
                "result was made: another store was written at that path, and its rows are "
                "not this result's. Open it again (ooc_accessor.open_design(path)) and rerun"
            )
        yield f


#: the attribute of a store assembled from part stores: its parts, in row order
PARTS_ATTR = "parts"
#: a part's name in that attribute: a file in a parts directory beside the store, no more
_PART_NAME = re.compile(r"^\.[^/]+\.parts-[0-9a-f]{12}/part-[0-9]{5}\.nc$")


def parts_of(f: h5py.File, path: str) -> list[tuple[int, int, str, str]] | None:
    """``(first row, stop, part path, part store_id)`` of an assembled store, else None.

    Part file names are relative to the store's own directory (where its parts directory
    sits beside it), so a store moved with its parts directory, or opened from another
    working directory, still finds them.
    """
    if PARTS_ATTR not in f.attrs:
        return None
    try:
        table = json.loads(plain_attr(f.attrs[PARTS_ATTR]))
        base = os.path.dirname(os.path.abspath(path))
        out, start = [], 0
        for entry in table:
            rows = int(entry["rows"])
            if not _PART_NAME.match(entry["file"]) or rows < 0:
                raise StoreError(
                    f"{path!r}: part {entry['file']!r} is not a part beside the store; the "
                    "store was changed or crafted: rebuild it from its source"
                )
            out.append((start, start + rows, os.path.join(base, entry["file"]), entry["store_id"]))
            start += rows
    except StoreError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise StoreError(
            f"{path!r}: its {PARTS_ATTR!r} attribute is not a list of parts ({exc}); the store "
            "was changed or crafted: rebuild it from its source"
        ) from None
    return out


class PartRows:
    """A variable of an assembled store, read from its part stores directly.

    The store's own variable is an HDF5 virtual dataset over the parts (any HDF5 reader sees
    one array), but HDF5 reads a missing source file as fill values and resolves relative
    source names through ``HDF5_VDS_PREFIX`` first. The library therefore reads each part
    itself, by the path the store records, checking that it is still the part the store was
    assembled from (its ``store_id``): a part removed or replaced under the store raises,
    naming it, and never yields another store's rows.
    """

    def __init__(self, f: h5py.File, path: str, name: str, parts: list) -> None:
        self.path, self.name, self.parts, self._f = path, name, parts, f
        self.n = parts[-1][1] if parts else 0

    @property
    def _ds(self) -> h5py.Dataset:
        # opening the virtual dataset costs HDF5 a look at its sources: only on demand
        return self._f[self.name]

    @property
    def attrs(self) -> Any:
        """The variable's attributes (the row labels' decoding hints)."""
        return self._ds.attrs

    @property
    def shape(self) -> tuple[int, ...]:
        """The whole variable's shape."""
        return self._ds.shape

    @property
    def dtype(self) -> np.dtype:
        """The stored dtype."""
        return self._ds.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        rows, rest = (key[0] if key else slice(None)), key[1:]
        if isinstance(rows, (int, np.integer)):
            i = int(rows) % self.n if self.n else int(rows)
            return self[(slice(i, i + 1), *rest)][0]
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            return self[(slice(None), *rest)][rows]  # a fancy selection: rows, then it
        a, b, _ = rows.indices(self.n)
        pieces = [
            read_part(self.path, pt, a, b, (self.name,), rest)[0]
            for pt in self.parts
            if pt[0] < b and a < pt[1]
        ]
        if not pieces:
            return np.empty((0, *self.shape[1:]), self.dtype)[(slice(None), *rest)]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def read_part(
    path: str, part: tuple, a: int, b: int, names: tuple[str, ...], rest: tuple = ()
) -> list[Any]:
    """Rows ``a:b`` (store rows) of the variables ``names`` from one part of ``path``, the
    part opened once and checked to be the one the store was assembled from."""
    lo, hi, file, sid = part
    rows = slice(max(a, lo) - lo, min(b, hi) - lo)
    with open_checked(file, sid, f"part of the design store {path!r}") as g:
        return [g[n][(rows, *rest)] if n in g else None for n in names]


def read_rows(f: h5py.File, path: str, names: tuple[str, ...], a: int, b: int) -> list[Any]:
    """Rows ``a:b`` of each of ``names`` (None for one the store lacks), from the store
    itself or, for an assembled store, from its parts (each opened once)."""
    parts = parts_of(f, path)
    if parts is None:
        return [f[n][a:b] if n in f else None for n in names]
    b = min(b, parts[-1][1] if parts else 0)
    chunks = [read_part(path, pt, a, b, names) for pt in parts if pt[0] < b and a < pt[1]]
    if not chunks:
        return [rows_of(f, path, n)[a:b] if n in f else None for n in names]
    return [
        None
        if chunks[0][i] is None
        else (np.concatenate([c[i] for c in chunks]) if len(chunks) > 1 else chunks[0][i])
        for i in range(len(names))
    ]


def rows_of(f: h5py.File, path: str, name: str) -> Any:
    """The variable ``name`` to read rows from: the dataset itself, or its parts."""
    parts = parts_of(f, path)
    if parts is None:
        return f[name]
    return PartRows(f, path, name, parts)


class StoreArray:
    """One stored variable as an array dask reads a slice at a time (see the module).

    Picklable (a path, names and a store id), so a dask worker reads its chunks itself.
    """

    def __init__(
        self,
        path: str,
        name: str,
        store_id: str,
        shape: tuple[int, ...],
        dtype: np.dtype,  # as read: after ``decode``
        decode: Callable[[np.ndarray], np.ndarray] | None = None,
        what: str = "store",
        keep: Any = None,
    ) -> None:
        self.path, self.name, self.store_id, self.what = path, name, store_id, what
        # what owns a temporary store (a Design, an SVDResult, a TemporaryFile): every lazy
        # output derived from this array keeps it, so the file outlives them all
        self.keep = keep
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self.decode = decode

    def __getitem__(self, key: Any) -> np.ndarray:
        with open_checked(self.path, self.store_id, self.what) as f:
            return self.read(f, key)

    def read(self, f: h5py.File, key: Any) -> np.ndarray:
        """Rows ``key`` from ``f``, this store opened and checked (:func:`open_checked`)."""
        if self.name not in f:
            raise StoreError(
                f"{self.path!r} lacks variable {self.name!r}: it was changed after this "
                "lazy result was made; build it again"
            )
        try:
            values = rows_of(f, self.path, self.name)[key]
            # strings have no checksum (HDF5 filters cannot take variable-length data):
            # a damaged one shows only as text that does not decode, or a heap HDF5
            # cannot follow
            return self.decode(values) if self.decode is not None else values
        except (StoreError, StoreNotFoundError):  # a part missing or replaced: as raised
            raise
        except (OSError, ValueError, RuntimeError, KeyError) as exc:  # incl. Unicode
            raise StoreError(
                f"cannot read variable {self.name!r} of {self.path!r} at {_where(key)} "
                f"({type(exc).__name__}: {exc}): the store is damaged; rebuild it"
            ) from exc

    def __getstate__(self) -> dict:
        # a worker reads by path; the owner (and its finalizer) stays with the client
        return {k: v for k, v in vars(self).items() if k != "keep"}


#: a variable's ``encoding`` key holding ``(StoreArray, dask name)``: the stored rows it reads
ARRAY_KEY = "ooc_array"


def stored_arrays(ds: Any, columns: list[str]) -> dict[str, StoreArray]:
    """The ``columns`` of ``ds`` still reading exactly the rows of their store.

    A variable qualifies when its dask array is the one it was opened with (no ``isel``,
    arithmetic or rechunking since: the same dask name) over the whole store.
    """
    out = {}
    for c in columns:
        var = ds.variables.get(c)
        held = var.encoding.get(ARRAY_KEY) if var is not None else None
        if not (isinstance(held, tuple) and len(held) == 2):
            continue
        array, name = held
        if (
            isinstance(array, StoreArray)
            and getattr(var.data, "name", None) == name
            and var.shape == array.shape
        ):
            out[c] = array
    return out


def read_many(arrays: dict[str, StoreArray], key: Any) -> dict[str, np.ndarray]:
    """Rows ``key`` of several stored variables, each store opened and checked once.

    What reading each array alone gives (:meth:`StoreArray.__getitem__`), with one open
    and ``store_id`` check per store instead of one per variable.
    """
    groups: dict[tuple[str, str, str], list[tuple[str, StoreArray]]] = {}
    for name, array in arrays.items():
        groups.setdefault((array.path, array.store_id, array.what), []).append((name, array))
    out: dict[str, np.ndarray] = {}
    for (path, store_id, what), items in groups.items():
        with open_checked(path, store_id, what) as f:
            for name, array in items:
                out[name] = array.read(f, key)
    return out


class TemporaryFile:
    """Owns a temporary store: the file is removed when nothing holds this any more."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._finalizer = weakref.finalize(self, _remove, path)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _where(key: Any) -> str:
    first = key[0] if isinstance(key, tuple) and key else key
    if isinstance(first, slice) and first.start is not None and first.stop is not None:
        return f"rows {first.start}-{first.stop - 1}"
    return f"{key!r}"


def lazy_variable(array: StoreArray, chunks: tuple[int, ...]) -> da.Array:
    """A dask array over ``array``; its task keys carry the store id (never mixed up)."""
    tag = array.store_id or uuid.uuid4().hex
    shape = "x".join(map(str, chunks))
    if len(shape) > 64:  # explicit chunks of an assembled store: their digest
        shape = hashlib.sha256(shape.encode()).hexdigest()[:16]
    name = f"ooc-{array.name}-{tag}-{shape}"
    meta = np.empty((0,) * array.ndim, array.dtype)
    return da.from_array(array, chunks=chunks, asarray=False, meta=meta, name=name)


def dims_of(ds: h5py.Dataset) -> tuple[str, ...]:
    """A netCDF4 variable's dimension names (a dimension scale is its own dimension)."""
    if plain_attr(ds.attrs.get("CLASS", b"")) == "DIMENSION_SCALE":
        return (ds.name.rsplit("/", 1)[-1],)
    return tuple(d[0].name.rsplit("/", 1)[-1] for d in ds.dims if len(d))


def user_attrs(ds: h5py.Dataset) -> dict[str, Any]:
    """The attributes a variable was written with (encoding and HDF5 bookkeeping left out)."""
    return {
        k: plain_attr(v)
        for k, v in ds.attrs.items()
        if not k.startswith("_") and k not in _HIDDEN and k not in ("units", "calendar")
    }


def _text(values: np.ndarray) -> np.ndarray:
    return np.asarray([v.decode() if isinstance(v, bytes) else v for v in values], dtype=object)


def _layout(f: h5py.File, path: str, decode_index: Any) -> tuple[dict[str, Any], list]:
    """The coordinates (read) and each data variable's (name, dims, shape, dtype, attrs).

    No h5py object outlives this call: each is closed before the file (see
    csvstore._layout for why).
    """
    coords: dict[str, Any] = {}
    layout = []
    for name, ds in f.items():
        if not isinstance(ds, h5py.Dataset):
            continue
        dims = dims_of(ds)
        if name == "obs":
            obs = rows_of(f, path, name)
            index = decode_index(obs) if decode_index is not None else pd.Index(obs[:])
            coords["obs"] = index.rename("obs")
        elif dims == (name,):  # a coordinate (term, response, component): small, in memory
            values = ds[:]
            if h5py.check_string_dtype(ds.dtype) is not None:
                values = _text(values)
            coords[name] = xr.Variable(dims, values, user_attrs(ds))
        else:
            layout.append((name, dims, ds.shape, ds.dtype, user_attrs(ds)))
    return coords, layout


#: the names a store of rows gives its own dimensions and variables: the sample dimension
#: (``obs`` in the file, renamed to the user's) cannot take one of them
RESERVED_NAMES = ("term", "response", "component", "X", "y", "weights", "U", "scores")


def check_sample_dim(dim: Any, error: type[Exception] = ArgumentError) -> None:
    """Refuse a sample dimension named like a store's own dimension or variable.

    The design's outputs are the store's variables with ``obs`` renamed to the sample
    dimension: a sample dimension named ``term`` (or ``X``...) would clash with them.
    Checked when the design is made (``dim=``), so the refusal comes before any work.
    """
    if dim in RESERVED_NAMES:
        raise error(
            f"the sample dimension is named {dim!r}, a name ooc_accessor's stores use "
            f"themselves ({', '.join(RESERVED_NAMES)}); rename it first, e.g. "
            f"ds.rename({{{dim!r}: 'obs'}}), and pass dim='obs'"
        )


def open_rows(
    path: str,
    chunk_rows: int | tuple[int, ...],
    sample_dim: str = "obs",
    store_id: str | None = None,
    decode_index: Callable[[h5py.Dataset], pd.Index] | None = None,
    keep: Any = None,
) -> xr.Dataset:
    """A store of rows (a design, U, scores) as a lazy Dataset bound to that store.

    ``store_id``: the store the caller knows (read from the file when None); every chunk
    read checks it. ``decode_index`` turns the stored ``obs`` into the row labels.
    ``obs`` is renamed ``sample_dim``. ``keep``: the owner of a temporary store, held by
    every lazy variable (and so by every output computed from them).
    """
    check_sample_dim(sample_dim, StoreError)  # a crafted store's sample_dim attribute
    with open_checked(path, store_id or "") as f:
        sid = store_id or str(plain_attr(f.attrs.get("store_id", "")))
        coords, layout = _layout(f, path, decode_index)
    data: dict[str, Any] = {}
    for name, dims, shape, dtype, attrs in layout:
        n_rows = shape[dims.index("obs")] if "obs" in dims else 0
        # an assembled store's blocks follow its parts (one part's chunk each), not a grid
        row_chunks = (
            tuple(chunk_rows) if isinstance(chunk_rows, tuple) else max(1, min(chunk_rows, n_rows))
        )
        chunks = tuple(
            row_chunks if d == "obs" else max(n, 1) for d, n in zip(dims, shape, strict=True)
        )
        array = StoreArray(path, name, sid, shape, dtype, keep=keep)
        var = xr.Variable(dims, lazy_variable(array, chunks), attrs)
        var.encoding["source"] = path  # where a user finds the file of a lazy output
        data[name] = var
    out = xr.Dataset(data, coords=coords)
    out.encoding["source"] = path
    return out if sample_dim == "obs" else out.rename({"obs": sample_dim})
