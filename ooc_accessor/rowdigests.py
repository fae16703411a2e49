"""Fingerprints of a fit's rows: XXH3-128 of X, y, the weights and the row labels.

A fit that writes nothing (:mod:`~ooc_accessor.streamfit`) takes these as it builds its
blocks, and checks them whenever the rows are built or written again: data changed in
between is refused rather than paired with the fit. Each block's variables are hashed as
the design store holds them (float64 rows, labels in their stored dtype, text labels value
by value as the manifest hashes them) on the thread that folds the block; a variable's
fingerprint is the hash of its blocks' hashes in order, with the blocks' row counts. A
store written later is read back in those same row counts and hashed the same way.

XXH3 (the ``xxhash`` package) runs at ~10 GB/s and lets go of the GIL. It guards against
change, not against an adversary: a store's own integrity is its manifest's SHA-256.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np
import pandas as pd
import xxhash

from . import store
from .errors import StoreError
from .rowlabels import index_values

__all__ = ["RowDigests", "block_digests", "store_digests"]


def _digest(values: np.ndarray, dtype: Any) -> bytes:
    """XXH3-128 of values stored as ``dtype`` (text value by value, as the manifest)."""
    h = xxhash.xxh3_128()
    store.hash_obs(h, values, dtype)
    return h.digest()


def block_digests(
    x: np.ndarray,
    y: np.ndarray | None,
    w: np.ndarray | None,
    index: pd.Index,
    labels: tuple[str, Any],
) -> dict[str, bytes]:
    """One block's hash of each variable; ``labels`` is the first block's ``(kind, stored
    dtype)`` (:meth:`RowDigests.labels`), which every block's labels must share."""
    out = {"X": _digest(x, np.float64)}
    if y is not None:
        out["y"] = _digest(y, np.float64)
    if w is not None:
        out["weights"] = _digest(w, np.float64)
    values, kind = index_values(index)
    if kind != labels[0]:  # as the writer refuses it
        raise StoreError(
            f"row labels changed kind from {labels[0]} to {kind}; give the source one index type"
        )
    out["obs"] = _digest(values, labels[1])
    return out


class RowDigests:
    """The fingerprints of blocks added in order, the blocks' row counts, and the labels'
    kind and hints (name, unit, frequency, closed side)."""

    def __init__(self) -> None:
        self._hashes: dict[str, Any] = {}
        self.sizes: list[int] = []
        self.hints: dict[str, Any] = {}
        self._labels: tuple[str, Any] | None = None

    def labels(self, index: pd.Index) -> tuple[str, Any]:
        """``(kind, stored dtype)`` of the row labels, fixed by the first block's."""
        if self._labels is None:
            values, kind = index_values(index)
            self._labels = (kind, store.obs_dtype(kind, values.dtype))
            # equal bytes can decode to other labels: the hints are compared too
            self.hints = {"index_kind": kind, **store.label_hints(index, kind)}
        return self._labels

    def add(self, rows: int, digests: dict[str, bytes]) -> None:
        """Add the next block's hashes (:func:`block_digests`) and its row count."""
        self.sizes.append(int(rows))
        for name, d in digests.items():
            h = self._hashes.get(name)
            if h is None:
                h = self._hashes[name] = xxhash.xxh3_128()
            h.update(rows.to_bytes(8, "little"))
            h.update(d)

    def result(self) -> dict[str, str]:
        """Each variable's fingerprint (hex)."""
        return {name: h.hexdigest() for name, h in self._hashes.items()}


def store_digests(path: str, sizes: list[int]) -> tuple[dict[str, str], dict[str, Any]]:
    """The fingerprints of a design store's rows, read back in blocks of ``sizes`` rows,
    and its labels' hints. A store of another length cannot match: an empty result."""
    out = RowDigests()
    with h5py.File(path, "r") as f:
        if f["X"].shape[0] != sum(sizes):
            return {}, store.read_label_hints(path)
        variables = [name for name in ("X", "y", "weights", "obs") if name in f]
        a = 0
        for m in sizes:
            digests = {}
            for name in variables:
                ds = f[name]
                digests[name] = _digest(ds[a : a + m], ds.dtype)
            out.add(m, digests)
            a += m
    return out.result(), store.read_label_hints(path)
