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
    return kernels.lstsq_stats(*_read(path, start, stop, weights))


def _block_weights(arrays: list, weights: np.ndarray | bool | None) -> np.ndarray | None:
    if weights is True:
        return arrays[2]
    return weights if isinstance(weights, np.ndarray) else None


def _read(path: str, start: int, stop: int, weights: np.ndarray | bool | None) -> list:
    names = ("X", "y", "weights") if weights is True else ("X", "y")
    arrays = store.read_block(path, start, stop, names)
    return [arrays[0], arrays[1], _block_weights(arrays, weights)]


def _block_gradient(
    path: str, start: int, stop: int, beta: np.ndarray, weights: np.ndarray | bool | None
) -> np.ndarray:
    """Leaf task: ``X' W (y - X beta)`` of one stored chunk, in extended precision."""
    x, y, w = _read(path, start, stop, weights)
    return kernels.residual_gradient(x, y, beta, w)


def _sum(parts: list[np.ndarray]) -> np.ndarray:
    return np.sum(parts, axis=0)


def gradient_graph(
    path: str,
    blocks: Sequence[tuple[int, int]],
    beta: np.ndarray,
    weights: np.ndarray | bool | None = None,
) -> Delayed:
    """Graph of ``X' W (y - X beta)`` over a stored design (the refinement pass)."""
    leaves = [
        delayed(_block_gradient, pure=True)(path, a, b, beta, _slice(weights, a, b))
        for a, b in blocks
    ]
    return tree_reduce(leaves, _sum)


def _slice(weights: np.ndarray | bool | None, a: int, b: int) -> np.ndarray | bool | None:
    return weights[a:b] if isinstance(weights, np.ndarray) else weights


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
    leaves = [
        delayed(_block_lstsq_stats, pure=True)(path, a, b, _slice(weights, a, b)) for a, b in blocks
    ]
    return tree_reduce(leaves, kernels.merge_lstsq_stats)


def _block_r(path: str, start: int, stop: int) -> np.ndarray:
    """Leaf task: the R factor of one stored chunk of X."""
    (x,) = store.read_block(path, start, stop, ("X",))
    return kernels.data_r(x)


def x_r_graph(path: str, blocks: Sequence[tuple[int, int]]) -> Delayed:
    """Graph of the R factor of a stored X (TSQR), for its SVD."""
    leaves = [delayed(_block_r, pure=True)(path, a, b) for a, b in blocks]
    return tree_reduce(leaves, kernels.stack_r)
