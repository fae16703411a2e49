"""Fingerprints of a fit's rows: XXH3-128 of X, y, the weights and the row labels.

A fit that writes nothing (:mod:`~ooc_accessor.streamfit`) takes these as it builds its
blocks, and checks them whenever the rows are built or written again: data changed in
between is refused rather than paired with the fit. Each variable is hashed as the design
store holds it (float64 rows in order, labels in their stored dtype, text labels value by
value as the manifest hashes them), so a store written later is read back and hashed the
same way. XXH3 (the ``xxhash`` package) runs at ~10 GB/s and lets go of the GIL: the
fingerprint costs the fit a few hundredths of a second per GB. It guards against change,
not against an adversary: a store's own integrity is the manifest's SHA-256.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np
import pandas as pd
import xxhash

from . import store
from .errors import StoreError
from .manifest import hash_values
from .rowlabels import index_values

__all__ = ["RowDigests", "store_digests"]

#: rows of a stored variable read at a time when a store is hashed back
READ_ROWS = 65536


class RowDigests:
    """Digests of the rows fed block by block in order, and the labels' kind and hints."""

    def __init__(self) -> None:
        self._hashes: dict[str, Any] = {}
        self._dtype: Any = None
        self.hints: dict[str, Any] = {}

    def _update(self, name: str, values: np.ndarray, dtype: Any) -> None:
        h = self._hashes.get(name)
        if h is None:
            h = self._hashes[name] = xxhash.xxh3_128()
        hash_values(h, values, dtype)

    def feed(
        self, x: np.ndarray, y: np.ndarray | None, w: np.ndarray | None, index: pd.Index
    ) -> None:
        """Add one block's rows after those fed before."""
        self._update("X", x, np.float64)
        if y is not None:
            self._update("y", y, np.float64)
        if w is not None:
            self._update("weights", w, np.float64)
        values, kind = index_values(index)
        if self._dtype is None:
            self._dtype = store.obs_dtype(kind, values.dtype)
            # the labels' kind, name, unit...: equal bytes can decode to other labels
            self.hints = {"index_kind": kind, **store.label_hints(index, kind)}
        elif kind != self.hints["index_kind"]:  # as the writer refuses it
            raise StoreError(
                f"row labels changed kind from {self.hints['index_kind']} to {kind}; give "
                "the source one index type"
            )
        self._update("obs", values, None if store.is_text(self._dtype) else self._dtype)

    def result(self) -> dict[str, str]:
        """Each variable's hex digest."""
        return {name: h.hexdigest() for name, h in self._hashes.items()}


def store_digests(path: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The same digests of a design store's rows, read back, and its labels' hints."""
    out = RowDigests()
    with h5py.File(path, "r") as f:
        n = f["X"].shape[0]
        for name in ("X", "y", "weights", "obs"):
            if name not in f or n == 0:
                continue
            ds = f[name]
            text = h5py.check_string_dtype(ds.dtype) is not None
            for a in range(0, n, READ_ROWS):
                values = ds[a : a + READ_ROWS]
                out._update(name, values, None if text else values.dtype)
    return out.result(), store.read_label_hints(path)
