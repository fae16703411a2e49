"""Dask trees of block kernels over a stored design.

Each leaf task reads one stored chunk of rows and reduces it to small sufficient statistics
(an R factor of at most (p+1) x (p+1) and a few sums); a tree of merges combines them. Only
those small factors move between tasks, so the graph runs on the threaded scheduler or a
``dask.distributed`` cluster alike.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dask
import numpy as np
from dask.delayed import Delayed, delayed
from threadpoolctl import threadpool_limits

from . import kernels, progress, solve, store

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


def compute(*objs: Any, desc: str | None = None, row_bytes: int = 0) -> tuple:
    """``dask.compute``, with BLAS held to one thread per task on the local schedulers, and
    with ``desc`` a progress bar over the leaf tasks registered while the graph was built
    (:func:`ooc_accessor.progress.leaf`; rows done as each finishes, ``row_bytes`` read
    per row).

    Two threaded tasks each running a multi-threaded BLAS oversubscribe the cores (seen
    here: a 1 s fit taking 11 s); a dask task is the unit of parallelism instead.
    """
    leaves = progress.take_leaves(_keys(objs)) if progress.has_leaves() else []
    if desc is None or not leaves:
        return _compute(objs)
    with progress.task(desc, sum(rows for _, rows in leaves), row_bytes) as bar:
        bar.computing = True  # counted by the leaves' keys, not by calls in the tasks
        client = distributed_client()
        if client is not None and _scheduler(objs) not in _LOCAL:
            return _compute_distributed(client, objs, leaves, bar)
        with progress.feed(bar, leaves):
            return _compute(objs)


def _keys(objs: tuple) -> set:
    keys: set = set()
    for obj in objs:
        if dask.is_dask_collection(obj):
            keys.update(obj.__dask_graph__().keys())
    return keys


def _scheduler(objs: tuple) -> Any:
    return dask.base.get_scheduler(collections=list(objs))


def _compute(objs: tuple) -> tuple:
    if _scheduler(objs) in _LOCAL:
        with threadpool_limits(limits=1, user_api="blas"):
            return dask.compute(*objs)
    return dask.compute(*objs)


def _compute_distributed(client: Any, objs: tuple, leaves: list, bar: progress.Bar) -> tuple:
    """``objs`` computed on the cluster, the bar fed here as each leaf's future finishes.

    The leaves are wanted with the graph (one submission, the same tasks): their futures
    only tell this process when each is done, and each is released then (a leaf's result
    is a block's small statistics; the merge above it holds it anyway).
    """
    from distributed import as_completed

    # a leaf that is a root too (one task per group) is watched through the root's future
    root_keys = {getattr(obj, "key", None) for obj in objs}
    extra = [obj for obj, _ in leaves if obj.key not in root_keys]
    futures = client.compute([*objs, *extra])  # one graph: no leaf can run twice
    roots, parts = futures[: len(objs)], futures[len(objs) :]
    own = {fut.key: fut for fut in roots}
    counts = {obj.key: rows for obj, rows in leaves}
    try:
        watched = [*parts, *(own[obj.key] for obj, _ in leaves if obj.key in own)]
        for fut in as_completed(watched):
            if fut.status != "finished":
                break  # an error or a cancel: raised by the gather below, as dask.compute
            bar.update(counts[fut.key])
            if fut.key not in own:
                fut.release()
        return tuple(client.gather(roots))
    finally:
        for fut in [*parts, *roots]:
            fut.release()


_LOCAL = (None, dask.threaded.get, dask.local.get_sync)


def _block_lstsq_stats(
    path: str, start: int, stop: int, weights: np.ndarray | bool | None, version: str = ""
) -> kernels.LstsqStats:
    """Leaf task: read one stored chunk and reduce it to least-squares statistics."""
    return kernels.lstsq_stats(*_read(path, start, stop, weights, version))


def _block_weights(arrays: list, weights: np.ndarray | bool | None) -> np.ndarray | None:
    if weights is True:
        return arrays[2]
    return weights if isinstance(weights, np.ndarray) else None


def _read(
    path: str, start: int, stop: int, weights: np.ndarray | bool | None, version: str
) -> list:
    names = ("X", "y", "weights") if weights is True else ("X", "y")
    arrays = store.read_block(path, start, stop, names, version)
    return [arrays[0], arrays[1], _block_weights(arrays, weights)]


def _block_gradient(
    path: str,
    start: int,
    stop: int,
    beta: np.ndarray,
    weights: np.ndarray | bool | None,
    version: str = "",
) -> np.ndarray:
    """Leaf task: ``X' W (y - X beta)`` of one stored chunk, in extended precision."""
    x, y, w = _read(path, start, stop, weights, version)
    return solve.residual_gradient(x, y, beta, w)


def _sum(parts: list[np.ndarray]) -> np.ndarray:
    return np.sum(parts, axis=0)


def gradient_graph(
    path: str,
    blocks: Sequence[tuple[int, int]],
    beta: np.ndarray,
    weights: np.ndarray | bool | None = None,
    version: str = "",
) -> Delayed:
    """Graph of ``X' W (y - X beta)`` over a stored design (the refinement pass)."""
    leaves = [
        progress.leaf(
            delayed(_block_gradient, pure=True)(path, a, b, beta, _slice(weights, a, b), version),
            b - a,
        )
        for a, b in blocks
    ]
    return tree_reduce(leaves, _sum)


def _block_rows(
    path: str,
    start: int,
    stop: int,
    fn: Callable,
    args: tuple,
    weights: np.ndarray | bool | None,
    version: str = "",
    values: Any = None,
) -> Any:
    """Leaf task: ``fn(x, y, w, *args)`` of one stored chunk (``fn(x, y, w, values,
    *args)`` with the chunk's per-row ``values``)."""
    x, y, w = _read(path, start, stop, weights, version)
    return fn(x, y, w, *args) if values is None else fn(x, y, w, values, *args)


def rows_graph(
    path: str,
    blocks: Sequence[tuple[int, int]],
    fn: Callable,
    args: tuple,
    weights: np.ndarray | bool | None = None,
    version: str = "",
    per_row: np.ndarray | None = None,
    merge: Callable[[list], Any] | None = None,
) -> Delayed:
    """Graph of the merge (by default the sum) over a stored design's blocks of ``fn(x, y,
    w, *args)`` (a pass after the fit: a sandwich's meat, cluster sums), ``fn`` a
    module-level function; ``per_row`` (one value or row per stored row) is sliced per
    block and handed on after ``w``."""
    leaves = [
        progress.leaf(
            delayed(_block_rows, pure=True)(
                path, a, b, fn, args, _slice(weights, a, b), version, _slice(per_row, a, b)
            ),
            b - a,
        )
        for a, b in blocks
    ]
    return tree_reduce(leaves, merge or _sum)


def _slice(weights: np.ndarray | bool | None, a: int, b: int) -> np.ndarray | bool | None:
    return weights[a:b] if isinstance(weights, np.ndarray) else weights


def lstsq_stats_graph(
    path: str,
    blocks: Sequence[tuple[int, int]],
    weights: np.ndarray | bool | None = None,
    version: str = "",
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
    version : str
        The store's identity (:attr:`Design.store_id`). Task keys are hashes of the
        arguments, so a store rewritten at the same path must not share them: a cluster
        still holding the old results would answer with those.
    """
    leaves = [
        progress.leaf(
            delayed(_block_lstsq_stats, pure=True)(path, a, b, _slice(weights, a, b), version),
            b - a,
        )
        for a, b in blocks
    ]
    return tree_reduce(leaves, kernels.merge_lstsq_stats)


def _block_r(path: str, start: int, stop: int, version: str = "") -> tuple[int, np.ndarray]:
    """Leaf task: the R factor of one stored chunk of X, scaled by ``2**-e``: ``(e, R)``."""
    (x,) = store.read_block(path, start, stop, ("X",), version)
    return kernels.scaled_data_r(x)


def project_block(
    path: str,
    a: int,
    b: int,
    proj: np.ndarray,
    shift: np.ndarray | None = None,
    version: str = "",
    exp: int = 0,
) -> np.ndarray:
    """Rows ``a:b`` of a stored X (less ``shift``, times ``2**-exp``) times ``proj``: a U
    or scores block."""
    (x,) = store.read_block(path, a, b, ("X",), version)
    x = np.asarray(x, dtype=np.float64)
    if shift is not None:
        x = x - shift
    if exp:
        x = np.ldexp(x, -exp)
    return x @ proj


def x_r_graph(path: str, blocks: Sequence[tuple[int, int]], version: str = "") -> Delayed:
    """Graph of the R factor of a stored X (TSQR), for its SVD, as ``(e, R of X * 2**-e)``
    (``version``: see :func:`lstsq_stats_graph`)."""
    leaves = [
        progress.leaf(delayed(_block_r, pure=True)(path, a, b, version), b - a) for a, b in blocks
    ]
    return tree_reduce(leaves, kernels.merge_scaled_r)


# -- dask.distributed ---------------------------------------------------------------------------


def distributed_client() -> Any:
    """The active ``dask.distributed`` Client, or None (distributed is optional)."""
    # no Client exists unless distributed was imported; importing it only to ask costs
    # ~0.4 s, a fifth of a 2M-row fit
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client
        return None


def worker_groups(ranges: list[tuple[int, int]]) -> list[list[tuple[int, int]]] | None:
    """``ranges`` split into one contiguous run per worker thread of the active cluster.

    ``None`` without a distributed client: the local schedulers fold in the calling
    process, where a single running factor is the least memory.
    """
    client = distributed_client()
    if client is None:
        return None
    threads = max(1, sum(client.nthreads().values()))
    k = min(threads, len(ranges))
    bounds = np.linspace(0, len(ranges), k + 1).round().astype(int)
    return [ranges[lo:hi] for lo, hi in itertools.pairwise(bounds) if hi > lo]


def groups_graph(fn: Callable, src: Any, groups: list, args: tuple, merge: Callable) -> Delayed:
    """One task per group, ``fn(src, ranges, *args)``, merged in a tree by ``merge``."""
    # the source goes inside each task (it is small: a path, or a lazy array's graph): as a
    # task of its own it pinned every group to the one worker that held it
    leaves = [progress.leaf(delayed(fn, pure=True)(src, g, *args), rows_of(g)) for g in groups]
    return tree_reduce(leaves, merge)


def rows_of(ranges: list[tuple[int, int]]) -> int:
    return sum(b - a for a, b in ranges)


def over_groups(
    fn: Callable,
    src: Any,
    ranges: list,
    groups: list | None,
    args: tuple,
    merge: Callable,
    desc: str = "pass",
) -> Any:
    """``fn`` over all ``ranges`` of ``src``: on the cluster's workers by groups, else here
    (``fn`` counting its blocks on the bar, :func:`ooc_accessor.progress.advance`)."""
    row_bytes = 8 * getattr(src, "n_features", 0)
    if groups is None or len(groups) < 2:
        with progress.task(desc, rows_of(ranges), row_bytes):
            return fn(src, ranges, *args)
    return compute(groups_graph(fn, src, groups, args, merge), desc=desc, row_bytes=row_bytes)[0]


def sum_parts(parts: list[np.ndarray]) -> np.ndarray:
    """Sum partial sums (a merge for :func:`groups_graph`)."""
    return np.sum(parts, axis=0)


def stream_blocks(
    fn: Callable, path: str, blocks: Sequence[tuple[int, int]], *args: Any
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(a, b, fn(path, a, b, *args))`` for every block, as the results come.

    With a distributed client the blocks are computed on its workers, at most two per worker
    thread in flight (so neither side holds more than a few blocks), and come back in the
    order they finish; the caller is the one writer of the file they go to. Without one they
    are computed here, in order.
    """
    client = distributed_client()
    if client is None:
        for a, b in blocks:
            values = fn(path, a, b, *args)
            progress.advance(b - a)
            yield a, b, values
        return
    from distributed import as_completed

    window = 2 * max(1, sum(client.nthreads().values()))
    shared = [client.scatter(v, broadcast=True) if isinstance(v, np.ndarray) else v for v in args]
    todo = iter(blocks)
    where: dict = {}
    running = as_completed()

    def submit() -> None:
        for a, b in todo:
            fut = client.submit(fn, path, a, b, *shared, pure=False)
            where[fut.key] = (a, b)
            running.add(fut)
            return

    for _ in range(window):
        submit()
    for fut in running:
        a, b = where.pop(fut.key)
        values = fut.result()
        fut.release()
        progress.advance(b - a)
        yield a, b, values
        submit()
