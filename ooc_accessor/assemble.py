"""A design store assembled from the workers' part stores, without copying a row.

On a dask.distributed cluster each worker writes a run of blocks into a part store of its
own (one writer per file: HDF5 has no safe concurrent writers). The store at the user's
path is then a small file whose ``X``, ``y``, ``weights`` and ``obs`` are HDF5 virtual
datasets over the parts, which sit in a directory beside it
(``.<name>.parts-<12 hex digits>``, named relative to the store, so the pair can be moved
together). Any HDF5 reader (h5py, xarray) sees one array per variable; this library
reads the parts directly (:class:`~ooc_accessor.lazy.PartRows`), checking each is still
the part it was assembled from.

The promises of a single-file store hold: the parts are complete and checked before the
main file is written under a temporary name, sealed (its manifest records every part's
``store_id`` and rows, and where each piece of every variable comes from) and renamed
last; opening it checks every part as a store is checked (``verify`` reads them all);
each part chunk keeps its fletcher32 checksum. A store rebuilt or saved over an assembled
one removes the old parts after the new store is in place; a temporary design's parts go
with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import uuid

import h5py
import numpy as np

from . import store
from .errors import StoreError
from .files import new_store_mode
from .lazy import PARTS_ATTR
from .manifest import plain_attr

__all__ = [
    "assemble",
    "keep",
    "owned_parts_dir",
    "parts_dir",
    "parts_dir_of",
    "remove_parts",
    "remove_store",
    "set_owner",
]

#: a parts directory's name: hidden, after its store's, with a random tag
_PARTS_RE = re.compile(r"^\.[^/]+\.parts-[0-9a-f]{12}$")
_STR = h5py.string_dtype()
#: what a virtual variable reads where no part maps (never, once the store is checked)
_FILL = {"f": np.nan, "i": 0, "u": 0}


def parts_dir(final: str) -> str:
    """A fresh directory beside ``final`` for the workers' part stores (a shared disk).

    The parts hold every row, so the directory is no more open than the store itself: a
    temporary store's is 0700 (its file is 0600), a kept one's follows the store's mode
    (a user's existing target's, else the umask's), searchable where it is readable.
    """
    directory = os.path.dirname(os.path.abspath(final))
    parts = os.path.join(directory, f".{os.path.basename(final)}.parts-{uuid.uuid4().hex[:12]}")
    try:
        mode = stat.S_IMODE(os.stat(final).st_mode)
    except FileNotFoundError:
        mode = new_store_mode(final)
    os.mkdir(parts, 0o700)  # private from the start, then opened as far as the store is
    os.chmod(parts, mode | ((mode & 0o444) >> 2) | 0o700)
    return parts


def parts_dir_of(path: str) -> str | None:
    """The parts directory of the assembled design store at ``path``, else None.

    Only a directory the store itself names, of a parts directory's name, beside it: never
    anything else of the user's.
    """
    try:
        with h5py.File(path, "r") as f:
            if plain_attr(f.attrs.get("format", "")) != store.FORMAT or PARTS_ATTR not in f.attrs:
                return None
            table = json.loads(plain_attr(f.attrs[PARTS_ATTR]))
            names = {os.path.dirname(entry["file"]) for entry in table}
    except Exception:  # not a store of ours, damaged, or gone: nothing of it is removed
        return None
    if len(names) != 1:
        return None
    (name,) = names
    if not _PARTS_RE.match(name):
        return None
    directory = os.path.join(os.path.dirname(os.path.abspath(path)), name)
    return directory if os.path.isdir(directory) else None


#: the file in a parts directory naming the store that owns it (its base name)
_OWNER = ".owner"


def set_owner(directory: str, path: str) -> None:
    """Record the store at ``path`` as the owner of the parts ``directory``."""
    with open(os.path.join(directory, _OWNER), "w", encoding="utf-8") as fh:
        fh.write(os.path.basename(path))


def owned_parts_dir(path: str) -> str | None:
    """The parts directory of the assembled store at ``path`` if that store owns it.

    A copy of an assembled store's main file (``cp a.nc b.nc``) reads the same parts, but
    they are ``a.nc``'s: replacing or removing ``b.nc`` must not remove them. Only the
    store the directory names as its owner (:func:`set_owner`) has its parts removed.
    """
    directory = parts_dir_of(path)
    if directory is None:
        return None
    try:
        with open(os.path.join(directory, _OWNER), encoding="utf-8") as fh:
            owner = fh.read()
    except OSError:
        return None
    return directory if owner == os.path.basename(path) else None


def remove_parts(directory: str | None) -> None:
    """Remove a parts directory (after the store naming it was replaced or removed)."""
    if directory is not None and _PARTS_RE.match(os.path.basename(directory)):
        shutil.rmtree(directory, ignore_errors=True)


def remove_store(path: str, directory: str | None) -> None:
    """Remove a temporary design store and its parts directory (a finalizer's job)."""
    store.remove_file(path)
    remove_parts(directory)


def _check_part(part: str, first: dict | None) -> dict:
    """A finished part's attributes and its ``obs`` layout, checked as a store is."""
    attrs = store.read_attrs(part)  # complete, sealed, structure as written
    with h5py.File(part, "r") as f:
        obs = f["obs"]
        info = {
            "n": int(attrs["n_obs"]),
            "store_id": str(attrs["store_id"]),
            "obs_dtype": obs.dtype,
            "obs_attrs": {
                k: plain_attr(v)
                for k, v in obs.attrs.items()
                if not k.startswith("_") and k not in ("CLASS", "NAME", "REFERENCE_LIST")
            },
            "shapes": {name: f[name].shape[1:] for name in ("X", "y", "weights") if name in f},
        }
    if (
        first is not None
        and info["n"]
        and (
            info["obs_dtype"] != first["obs_dtype"]
            or info["obs_attrs"].get("index_kind") != first["obs_attrs"].get("index_kind")
        )
    ):
        raise StoreError(
            f"part {part!r} holds row labels of another kind ({info['obs_dtype']}) than the "
            f"parts before it ({first['obs_dtype']}); give the source one index type"
        )
    return info


def assemble(final: str, directory: str, parts: list[str], layout: dict, attrs: dict) -> str:
    """Write the design store ``final`` over the finished ``parts`` (in row order).

    ``layout`` is the writers' (terms, responses, chunk_rows, weights); ``attrs`` the
    store's own (formula, spec, counts). Parts without a row are removed and left out. The
    store appears at ``final`` whole, or not at all; an assembled store it replaces has its
    parts removed afterwards.
    """
    final = store.check_target(final)
    infos: list[dict] = []
    first: dict | None = None
    for part in parts:
        info = _check_part(part, first)
        if info["n"]:
            first = first or info
            infos.append({**info, "path": part})
        else:
            os.remove(part)
    if first is None:
        raise StoreError(f"no part of {final!r} holds a row; nothing to assemble")
    old = owned_parts_dir(final) if os.path.exists(final) else None
    set_owner(directory, final)
    store.remove_stale_temps(final)
    tmp = store.temp_path(final)
    base = os.path.dirname(final)
    f = None
    try:
        f = store.open_temp(tmp, "hdf5")
        _write_main(f, infos, first, layout, base)
        table = [
            {"file": os.path.relpath(i["path"], base), "store_id": i["store_id"], "rows": i["n"]}
            for i in infos
        ]
        for key, value in attrs.items():
            f.attrs[key] = value
        f.attrs["format"] = store.FORMAT
        f.attrs["store_version"] = store.STORE_VERSION
        f.attrs["chunk_rows"] = int(layout["chunk_rows"])
        f.attrs["n_obs"] = sum(i["n"] for i in infos)
        f.attrs[PARTS_ATTR] = json.dumps(table)
        f.attrs["store_id"] = uuid.uuid4().hex
        f.attrs["complete"] = 1
        f.close()
        store.seal(tmp)  # reads no row: virtual variables are recorded by their mapping
    except BaseException as exc:
        store.discard(f, tmp)
        if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, StoreError):
            raise store.write_error(exc, final) from exc
        raise
    store.replace(tmp, final)
    if old is not None and os.path.abspath(old) != os.path.abspath(directory):
        remove_parts(old)
    return final


def _write_main(f: h5py.File, infos: list[dict], first: dict, layout: dict, base: str) -> None:
    """netCDF-style dimensions and the virtual variables of the assembled store."""
    n = sum(i["n"] for i in infos)
    terms, responses = layout["terms"], layout["responses"]
    f.create_dataset("term", data=np.asarray(terms, dtype=object), dtype=_STR)
    f["term"].make_scale("term")
    if len(responses) > 1:
        f.create_dataset("response", data=np.asarray(responses, dtype=object), dtype=_STR)
        f["response"].make_scale("response")
    names = ["obs", "X"] + [v for v in ("y", "weights") if v in first["shapes"]]
    for name in names:
        width = () if name == "obs" else first["shapes"][name]
        dtype = first["obs_dtype"] if name == "obs" else np.dtype(np.float64)
        vds = h5py.VirtualLayout(shape=(n, *width), dtype=dtype)
        start = 0
        for i in infos:
            rel = os.path.relpath(i["path"], base)
            vds[start : start + i["n"]] = h5py.VirtualSource(rel, name, shape=(i["n"], *width))
            start += i["n"]
        fill = None if h5py.check_string_dtype(dtype) else _FILL.get(dtype.kind, 0)
        f.create_virtual_dataset(name, vds, fillvalue=fill)
    obs = f["obs"]
    for key, value in first["obs_attrs"].items():
        obs.attrs[key] = value
    obs.make_scale("obs")
    if len(responses) == 1:
        f["y"].attrs["long_name"] = responses[0]
    for name in names[1:]:
        f[name].dims[0].attach_scale(obs)
        if name == "X":
            f[name].dims[1].attach_scale(f["term"])
        elif name == "y" and len(responses) > 1:
            f[name].dims[1].attach_scale(f["response"])


def keep(design_path: str, target: str, move: bool) -> None:
    """Put the design store at ``design_path`` at ``target`` (a checked target), atomically.

    A single-file store is moved or copied whole (:func:`store.keep_store`). An assembled
    one is moved with its parts directory (beside the target, under the same name, so its
    mapping still holds); copied, or moved across file systems, it is written out as a
    single-file store. An assembled store it replaces at ``target`` has its parts removed.
    """
    old = owned_parts_dir(target) if os.path.exists(target) else None
    directory = parts_dir_of(design_path)
    if directory is None:
        store.keep_store(design_path, target, move)
    else:
        there = os.path.join(os.path.dirname(target), os.path.basename(directory))
        same_fs = os.stat(directory).st_dev == os.stat(os.path.dirname(target)).st_dev
        moved = os.path.abspath(there) != os.path.abspath(directory)
        if move and same_fs and not (moved and os.path.exists(there)):
            if moved:
                os.rename(directory, there)
            try:
                store.keep_store(design_path, target, move=True)
                set_owner(there, target)
            except BaseException:
                if moved:
                    with contextlib.suppress(OSError):
                        os.rename(there, directory)
                raise
        else:
            _copy_whole(design_path, target)
            if move:
                remove_store(design_path, directory)
    if old is not None and os.path.abspath(old) != os.path.abspath(parts_dir_of(target) or ""):
        remove_parts(old)


def _copy_whole(design_path: str, target: str) -> None:
    """An assembled store written out as one file at ``target`` (rows read from the parts)."""
    attrs = store.read_attrs(design_path)
    with h5py.File(design_path, "r") as f:
        terms = [plain_attr(t) for t in f["term"][:]]
        responses = (
            [plain_attr(r) for r in f["response"][:]]
            if "response" in f
            else ([plain_attr(f["y"].attrs["long_name"])] if "y" in f else [])
        )
        weights = "weights" in f
    own = {"format", "store_version", "chunk_rows", "n_obs", "store_id", "complete"}
    own |= {PARTS_ATTR, "variables", "manifest"}
    with store.DesignWriter(
        target,
        terms=terms,
        responses=responses,
        chunk_rows=attrs["chunk_rows"],
        weights=weights,
        expected_rows=attrs["n_obs"],
    ) as writer:
        writer.copy_from(design_path)
        writer.commit({k: v for k, v in attrs.items() if k not in own})
