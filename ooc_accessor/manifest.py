"""A store's manifest: what was written, and the check that it still is.

At commit, the ``manifest`` attribute records every attribute and, per variable, its
shape, dtype, attributes, checksum filter, chunk index and the SHA-256 of its values.
On open, :func:`checked_attrs` compares the file with it and names every difference; with
``verify`` it also reads every value. This catches what HDF5's per-chunk fletcher32
cannot: an edited attribute, a removed variable, a truncated dimension, or a damaged
chunk index that makes HDF5 read zeros.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from typing import Any

import h5py
import numpy as np

from .errors import StoreError, StoreNotFoundError

#: HDF5's own bookkeeping attributes (dimension scales), not part of what a store says
_HDF5_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME"}
_MANIFEST = "manifest"


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
        hash_values(h, values, None if text else ds.dtype)
    return h.hexdigest()


def hash_values(h: Any, values: Any, dtype: Any) -> None:
    """Feed rows of a variable to ``h`` as the manifest hashes them.

    ``dtype`` is the stored numeric dtype (the buffer is hashed, no copy when it already
    is that dtype), or None for strings (each value's UTF-8 bytes, NUL-terminated). The
    writer hashes what it writes through this, and a verifying reader what it reads, so
    the two agree byte for byte.
    """
    if dtype is None:
        for v in np.atleast_1d(values):
            h.update(v if isinstance(v, bytes) else str(v).encode())
            h.update(b"\0")
    else:
        h.update(np.ascontiguousarray(values, dtype=dtype))


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
            # HDF5's full datatype (byte order, sizes, exponent and mantissa layout, bias,
            # string encoding), serialized: a flipped bit in it converts every value
            # wrongly while the numpy dtype string and the chunks' checksums still match
            "h5type": hashlib.sha256(ds.id.get_type().encode()).hexdigest()[:32],
        }
        if ds.is_virtual:
            # a view of part stores (each with its own manifest, checked on its own):
            # recorded is where each piece of it comes from, not values read through it
            entry["virtual"] = [
                [m.file_name, m.dset_name, _jsonable(list(m.vspace.get_select_bounds()))]
                for m in ds.virtual_sources()
            ]
        elif ds.chunks is not None:
            entry["chunks"] = _chunk_layout(ds)
        if digests and not ds.is_virtual:
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
        if w.get("virtual") != g.get("virtual"):
            out.append(f"variable {name!r}'s mapping onto its parts changed")
        if "h5type" in w and w["h5type"] != g.get("h5type"):  # stores before it: not kept
            out.append(f"variable {name!r}'s HDF5 datatype changed")
        if "sha256" in w and "sha256" in g and w["sha256"] != g["sha256"]:
            out.append(f"variable {name!r}'s values changed (their SHA-256 differs)")
    return out


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class _DamagedError(Exception):
    """A reason a store cannot be trusted (turned into a StoreError naming the file)."""


def checked_attrs(
    path: str, *, fmt: str, what: str, rebuild: str, version: int | None, verify: bool
) -> dict[str, Any]:
    """The attributes of a complete store of format ``fmt``, checked against its manifest.

    ``what`` names the kind of store and ``rebuild`` says how to make it again, in the
    messages; ``version`` (if given) must equal the store's ``store_version``.
    """
    if not os.path.exists(path):
        raise StoreNotFoundError(f"no {what} at {path!r}; {rebuild}")
    if os.path.isdir(path):
        raise StoreError(f"{path!r} is a directory, not a {what}; pass the store's file path")
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


# -- the values of attributes the library reads -----------------------------------------------
# A store is data: the manifest proves it unchanged since written, not that its writer was
# this library. Every attribute read is checked for type and range here, so a crafted store
# gives a StoreError naming the attribute, never a Python error from deep inside.

#: deeper JSON than any store writes (a spec nests about ten levels): refused unparsed
MAX_JSON_DEPTH = 64
_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def int_attr(path: str, attrs: dict[str, Any], name: str, minimum: int) -> int:
    """The integer attribute ``name`` (at least ``minimum``), or a StoreError naming it."""
    v = attrs.get(name)
    if isinstance(v, np.ndarray) and v.shape == (1,):
        v = v[0]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise StoreError(
            f"{path!r}: its {name!r} attribute is {v!r}, not an integer of at least {minimum}; "
            "the store was changed or crafted: rebuild it from its source"
        )
    return int(v)


def json_attr(path: str, name: str, text: Any) -> Any:
    """The JSON attribute ``name`` parsed, its depth and its arrays checked first.

    Nesting deeper than :data:`MAX_JSON_DEPTH` is refused before parsing (Python's parser
    would recurse); every ``{"__nd__", "dtype", "shape"}`` array must hold exactly its
    shape's count of values that its dtype represents exactly.
    """
    if not isinstance(text, str):
        raise StoreError(f"{path!r}: its {name!r} attribute is not text; rebuild the store")
    raw = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
    # brackets inside strings do not nest: drop the strings' bytes first
    quote = (raw == ord('"')) & ~_escaped(raw)
    inside = (np.cumsum(quote) % 2 == 1) & ~quote
    step = np.isin(raw, _OPEN).astype(np.int64) - np.isin(raw, _CLOSE)
    step[inside] = 0
    if raw.size and int(np.cumsum(step).max()) > MAX_JSON_DEPTH:
        raise StoreError(
            f"{path!r}: its {name!r} attribute nests deeper than {MAX_JSON_DEPTH} levels, "
            "which no store written by ooc_accessor does; rebuild the store from its source"
        )
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise StoreError(f"{path!r}: its {name} is not JSON ({exc}); rebuild it") from None
    bad = _bad_array(value)
    if bad is not None:
        raise StoreError(
            f"{path!r}: its {name!r} attribute holds an array that is not what its dtype and "
            f"shape say ({bad}); the store was changed or crafted: rebuild it from its source"
        )
    return value


def _escaped(raw: np.ndarray) -> np.ndarray:
    """Which bytes follow an odd run of backslashes (an escaped quote is not a quote)."""
    out = np.zeros(raw.size, dtype=bool)
    backslash = np.flatnonzero(raw == ord("\\"))
    if backslash.size == 0:
        return out
    # the common case has few backslashes: walk them in Python
    i, n = 0, backslash.size
    while i < n:
        j = i
        while j + 1 < n and backslash[j + 1] == backslash[j] + 1:
            j += 1
        run = j - i + 1
        after = backslash[j] + 1
        if run % 2 == 1 and after < raw.size:
            out[after] = True
        i = j + 1
    return out


def _bad_array(value: Any) -> str | None:
    """What is wrong with the first malformed ``__nd__`` array in ``value`` (None: none)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            if "__nd__" in v:
                why = _array_problem(v)
                if why is not None:
                    return why
            else:
                stack.extend(v.values())
    return None


def _array_problem(v: dict[str, Any]) -> str | None:
    values, dtype, shape = v.get("__nd__"), v.get("dtype"), v.get("shape")
    if not (isinstance(values, list) and isinstance(dtype, str) and isinstance(shape, list)):
        return None  # not an array of ours: refused where it is used (safety.check_spec)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        return f"shape {shape!r}"
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        return None  # not a dtype: refused where it is used (safety.check_spec)
    if dt.kind not in "fiub":
        return None  # not numbers: refused where the array is used (safety.check_spec)
    if int(np.prod(shape)) != len(values):
        return f"{len(values)} values of dtype {dtype!r} for shape {shape!r}"
    if dt.kind in "iub" and not all(isinstance(x, int) for x in values):
        return f"non-integers for dtype {dtype!r}"
    try:
        arr = np.asarray(values, dtype=dt)
    except (OverflowError, ValueError, TypeError):
        return f"values out of the range of dtype {dtype!r}"
    if dt.kind in "iu" and arr.tolist() != values:
        return f"values out of the range of dtype {dtype!r}"
    return None
