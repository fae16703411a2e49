"""Dask trees of block kernels over a stored design.

Each leaf task reads one stored chunk of rows and reduces it to small sufficient statistics
(an R factor of at most (p+1) x (p+1) and a few sums); a tree of merges combines them. Only
those small factors move between tasks, so the graph runs on the threaded scheduler or a
``dask.distributed`` cluster alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dask
import numpy as np
from dask.delayed import Delayed, delayed
from threadpoolctl import threadpool_limits

from . import kernels, store

#: fan-in of the merge tree: a merge stacks at most this many R factors
SPLIT_EVERY = 8


def tree_reduce(leaves: Sequence[Delayed], combine: Callable[[list], Any]) -> Delayed:
    """Combine ``leaves`` pairwise-ish in a tree of fan-in :data:`SPLIT_EVERY`."""
    level = list(leaves)
    while len(level) > 1:
        level = [
            delayed(combine, pure=True)(level[i : i + SPLIT_EVERY])
            for i in range(0, len(level), SPLIT_EVERY)
        ]
    return level[0]


def compute(*objs: Any) -> tuple:
    """``dask.compute``, with BLAS held to one thread per task on the local schedulers.

    Two threaded tasks each running a multi-threaded BLAS oversubscribe the cores (seen
    here: a 1 s fit taking 11 s); a dask task is the unit of parallelism instead.
    """
    scheduler = dask.base.get_scheduler(collections=list(objs))
    if scheduler in (None, dask.threaded.get, dask.local.get_sync):
        with threadpool_limits(limits=1, user_api="blas"):
            return dask.compute(*objs)
    return dask.compute(*objs)


def _block_lstsq_stats(
    path: str, start: int, stop: int, weights: np.ndarray | bool | None
) -> kernels.LstsqStats:
    """Leaf task: read one stored chunk and reduce it to least-squares statistics."""
    names = ("X", "y", "weights") if weights is True else ("X", "y")
    arrays = store.read_block(path, start, stop, names)
    w = arrays[2] if weights is True else (weights if isinstance(weights, np.ndarray) else None)
    return kernels.lstsq_stats(arrays[0], arrays[1], w)


def lstsq_stats_graph(
    path: str, blocks: Sequence[tuple[int, int]], weights: np.ndarray | bool | None = None
) -> Delayed:
    """Graph of the merged :class:`~ooc_accessor.kernels.LstsqStats` of a stored design.

    Parameters
    ----------
    path : str
        The design store.
    blocks : sequence of (start, stop)
        Row ranges, one leaf task each.
    weights : ndarray, True or None
        Per-row weights (sliced per block), ``True`` for the store's ``weights`` variable,
        or ``None`` for none.
    """
    leaves = []
    for a, b in blocks:
        w = weights[a:b] if isinstance(weights, np.ndarray) else weights
        leaves.append(delayed(_block_lstsq_stats, pure=True)(path, a, b, w))
    return tree_reduce(leaves, kernels.merge_lstsq_stats)
