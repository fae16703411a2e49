"""The manifest's SHA-256 digests of a store's variables, computed as rows are written.

The writer hands each block it writes here; the digests are fed on a thread of their own
(hashlib lets go of the GIL on large buffers), so on a second core they cost the writer
nothing. One worker takes the blocks in the order given, so each digest is of the rows in
file order, byte for byte what :func:`~ooc_accessor.manifest.hash_values` gives. At most
:data:`IN_FLIGHT` blocks wait for it (the writer waits beyond that), so memory stays a few
blocks whatever the two threads' speeds.
"""

from __future__ import annotations

import hashlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

#: blocks handed to the hashing thread and not yet hashed, at most
IN_FLIGHT = 3


class Digests:
    """SHA-256 of each variable's values, fed in order off the writer's thread."""

    def __init__(self) -> None:
        self._hashes: dict[str, Any] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()

    def restart(self, var: str) -> None:
        """Forget what ``var`` was fed (its rows are being written again)."""
        self._hashes[var] = hashlib.sha256()

    def feed(self, var: str, values: np.ndarray, dtype: np.dtype) -> None:
        """Add rows of ``var`` (as stored: ``dtype``) after those fed before."""
        h = self._hashes.get(var)
        if h is None:
            h = self._hashes[var] = hashlib.sha256()
        buffer = np.ascontiguousarray(values, dtype=dtype)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="ooc-digests")
        while len(self._pending) >= IN_FLIGHT:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(h.update, buffer))

    def result(self) -> dict[str, str]:
        """Every variable's hex digest (waits for the blocks still being hashed)."""
        self.close()
        return {var: h.hexdigest() for var, h in self._hashes.items()}

    def close(self) -> None:
        """Wait for the thread and stop it (a writer that failed: nothing more is fed)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._pending.clear()
