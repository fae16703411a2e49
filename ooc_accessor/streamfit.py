"""A least-squares fit straight from the source: each block built and folded, none written.

``df.ooc.lstsq(formula)`` without ``path=`` needs the design's rows only once, for the R
factor. Writing them first (an n x p store, checksummed and fsynced) and reading them back
cost three times the fit itself, so here each block is built with the learned state and
folded into the R factor as it is built: the main thread reads, builds and fingerprints
the rows (:mod:`~ooc_accessor.rowdigests`), a pool of threads folds them (LAPACK lets go
of the GIL).

The design is still there when asked for: :class:`DeferredDesign` writes the store the first
time a row-length output needs it (``fit.fittedvalues``, ``fit.resid``), from the same
source with the same state, reads it back and checks its fingerprints (X, y, weights, row
labels and their kind) against those taken while fitting. Data changed in between (a frame
edited, a file replaced) is refused rather than paired with a fit it did not make; so are
rows rebuilt for a later pass (refinement, a sandwich's meat) that differ from the fitted.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from patsy import EvalEnvironment
from patsy.design_info import DesignInfo
from threadpoolctl import threadpool_limits

from . import kernels, options, progress, reduce, solve, store
from .arguments import resolve_chunksize
from .blocks import Block, build_block
from .coltypes import dtypes_attr, stored_dtypes
from .design import Design, check_rows, check_spec, learn_design, write_design
from .designbase import DesignBase
from .errors import ArgumentError, DataError, FormulaError, MissingColumnError, OOCError
from .parts import worker_groups
from .rowdigests import RowDigests, block_digests, store_digests
from .sources import WEIGHTS_COL
from .spec import spec_from_json

__all__ = [
    "DeferredDesign",
    "StreamedStats",
    "one_response",
    "store_pass",
    "stream_gradient",
    "stream_rows",
    "stream_stats",
    "streamed_design",
]

#: blocks built and not yet folded, per folding thread (memory: a few blocks)
WINDOW_PER_THREAD = 2


def one_response(formula: str, responses: list[str]) -> None:
    """A least-squares fit has one response column; else a FormulaError."""
    if len(responses) != 1:
        raise FormulaError(
            f"design {formula!r} has {len(responses)} response columns; "
            "lstsq needs exactly one (a formula like 'y ~ a + b')"
        )


def streamed_design(
    data: Any,
    formula: str,
    *,
    dim: str | None,
    weights: Any,
    eval_env: EvalEnvironment,
    chunksize: int | str = "auto",
    missing: str = "drop",
    compression: str | None = None,
    path: None = None,
) -> DeferredDesign | Design:
    """The learn pass, then the fit's pass over the source (:func:`stream_stats`).

    Returns the fitted :class:`DeferredDesign`, or, when a dask.distributed cluster's
    workers can build the design where the data lives, the stored :class:`Design` they
    built (:func:`~ooc_accessor.design.write_design`) for the caller to fit.
    """
    store.check_compression(compression)  # used only if the rows are asked for: check it now
    learned = learn_design(data, formula, dim, chunksize, missing, weights, eval_env)
    source, infos, wcol, table = learned
    spec_json = check_spec(infos, formula)
    one_response(formula, list(infos[0].column_names))
    write_args = {"chunksize": chunksize, "missing": missing, "wcol": wcol}
    write_args["compression"] = compression
    rows = resolve_chunksize(chunksize, len(infos[1].column_names) + 2, source.n_rows)
    if worker_groups(source, infos, rows) is not None:
        return write_design(source, infos, formula, path=None, eval_env=eval_env, **write_args)
    streamed = stream_stats(source, infos, rows, missing, wcol, formula)
    return DeferredDesign(
        source,
        table,
        infos,
        formula,
        streamed,
        rows=rows,
        write_args=write_args,
        eval_env=eval_env,
        spec_json=spec_json,
    )


def fold_threads() -> int:
    """Threads that fold blocks: the cores this process may run on, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


class StreamedStats(NamedTuple):
    """What one pass over the source gives: the merged statistics, the row counts, and
    the fingerprints of the rows built (:class:`~ooc_accessor.rowdigests.RowDigests`)."""

    stats: kernels.LstsqStats
    n: int
    dropped: int
    rows: RowDigests


class _TreeMerge:
    """Merge statistics as they come, :data:`~ooc_accessor.reduce.SPLIT_EVERY` at a time
    per level (the dask tree's shape): O(log n) parts held, each merge of few parts."""

    def __init__(self, merge: Callable[[list], Any]) -> None:
        self._merge = merge
        self._levels: list[list] = []

    def add(self, part: Any) -> None:
        level = 0
        while True:
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(part)
            if len(self._levels[level]) < reduce.SPLIT_EVERY:
                return
            part = self._merge(self._levels[level])
            self._levels[level] = []
            level += 1

    def result(self) -> Any:
        parts = [self._merge(p) if len(p) > 1 else p[0] for p in reversed(self._levels) if p]
        return parts[0] if len(parts) == 1 else self._merge(parts)


def _pipeline(
    blocks: Iterator[Any], fold: Callable[[Any], Any], take: Callable[[Any, Any], None]
) -> None:
    """``take(block, fold(block))`` for every block, in order, ``fold`` on a thread pool.

    The caller's thread builds the blocks; at most :data:`WINDOW_PER_THREAD` per thread
    wait to be folded, so memory stays a few blocks. BLAS runs one thread per fold: the
    pool is the parallelism (two multi-threaded BLAS calls oversubscribe the cores).
    """
    threads = fold_threads()
    window: deque[tuple[Any, Future]] = deque()
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(threads, thread_name_prefix="ooc-fold") as pool,
    ):
        try:
            for block in blocks:
                if len(window) >= WINDOW_PER_THREAD * threads:
                    done, fut = window.popleft()
                    take(done, fut.result())
                window.append((block, pool.submit(fold, block)))
            while window:
                done, fut = window.popleft()
                take(done, fut.result())
        except BaseException:
            for _, fut in window:
                fut.cancel()
            raise


def _built(
    source: Any,
    infos: list[DesignInfo],
    rows: int,
    missing: str,
    wcol: str | None,
    formula: str,
    dropped: list[int],
    hashes: RowDigests,
    per_row: Any = None,
) -> Iterator[tuple[Block, Any]]:
    """``(block, its per-row values)`` for each block of ``source`` with rows, built with
    the learned state (rows dropped counted); the first fixes the kind of the row labels
    ``hashes`` expects.

    ``per_row`` is None, an array with one value (or row) per fitted row, or a source of
    extra columns (the same rows, read in the same blocks): the values at the rows each
    block kept.
    """
    extra = per_row.blocks(rows) if per_row is not None and hasattr(per_row, "blocks") else None
    start = 0
    for block in source.blocks(rows):
        built = build_block(infos, block, missing, wcol, formula)
        progress.advance(len(block), progress.frame_bytes(block))
        dropped[0] += len(block) - len(built.index)
        values = None
        if extra is not None:
            values = next(extra).iloc[built.pos]
        elif isinstance(per_row, (pd.Series, pd.DataFrame)):  # by label, the rows kept
            values = per_row.reindex(built.index).to_numpy()
        m = built.x.shape[0]
        if isinstance(per_row, np.ndarray):
            values = per_row[start : start + m]
        start += m
        if m:
            hashes.labels(built.index)
            yield built, values


def stream_stats(
    source: Any,
    infos: list[DesignInfo],
    rows: int,
    missing: str,
    wcol: str | None,
    formula: str,
) -> StreamedStats:
    """One pass: every block of ``source`` built and reduced to least-squares statistics.

    The counts are checked as a stored design's are (no rows left, fewer rows than
    columns: :class:`~ooc_accessor.errors.DataError`).
    """
    dropped = [0]
    merged = _TreeMerge(kernels.merge_lstsq_stats)
    hashes = RowDigests()

    def fold(item: tuple[Block, Any]) -> tuple[kernels.LstsqStats, dict[str, bytes]]:
        block = item[0]
        # row-major once, on the pool: the QR's panels and the fingerprint take this buffer
        x = np.ascontiguousarray(block.x, dtype=np.float64)
        labels = hashes.labels(block.index)
        return (
            kernels.lstsq_stats(x, block.y, block.w),
            block_digests(x, block.y, block.w, block.index, labels),
        )

    def take(item: tuple[Block, Any], folded: tuple[kernels.LstsqStats, dict]) -> None:
        merged.add(folded[0])
        hashes.add(item[0].x.shape[0], folded[1])

    blocks = _built(source, infos, rows, missing, wcol, formula, dropped, hashes)
    with progress.task("lstsq: build and fit", source.n_rows):
        _pipeline(blocks, fold, take)
    n = sum(hashes.sizes)
    check_rows(n, dropped[0], source, infos, rows, wcol, formula)
    return StreamedStats(merged.result(), n, dropped[0], hashes)


def stream_rows(
    source: Any,
    infos: list[DesignInfo],
    rows: int,
    missing: str,
    wcol: str | None,
    formula: str,
    fn: Callable,
    args: tuple,
    fitted: RowDigests,
    what: str = "a pass after the fit",
    per_row: Any = None,
    merge: Callable[[list], Any] = reduce.sum_parts,
) -> Any:
    """The merge (by default the sum) over the source's blocks, rebuilt, of ``fn(x, y, w,
    *args)``, or ``fn(x, y, w, values, *args)`` with ``per_row`` (see :func:`_built`).

    The rebuilt rows are fingerprinted and must equal the fit's (``fitted``): a pass over
    other rows than those fitted would mix two data sets in one result.
    """
    merged = _TreeMerge(merge)
    hashes = RowDigests()

    def fold(item: tuple[Block, Any]) -> tuple[Any, dict[str, bytes]]:
        block, values = item
        labels = hashes.labels(block.index)
        extra = () if per_row is None else (values,)
        return (
            fn(block.x, block.y, block.w, *extra, *args),
            block_digests(block.x, block.y, block.w, block.index, labels),
        )

    def take(item: tuple[Block, Any], folded: tuple[Any, dict[str, bytes]]) -> None:
        merged.add(folded[0])
        hashes.add(item[0].x.shape[0], folded[1])

    built = _built(source, infos, rows, missing, wcol, formula, [0], hashes, per_row)
    with _as_fitted(formula), progress.task(what, source.n_rows):
        _pipeline(built, fold, take)
    found = hashes.result()
    changed = [name for name, d in fitted.result().items() if found.get(name) != d]
    if changed:
        raise DataError(
            f"the rows of {formula!r} built again for {what} differ from those fitted "
            f"({', '.join(changed)}): {_CHANGED_WHY}"
        )
    return merged.result()


def _gradient(x: np.ndarray, y: np.ndarray, w: np.ndarray | None, beta: np.ndarray) -> np.ndarray:
    return solve.residual_gradient(x, y, beta, w)


def stream_gradient(
    source: Any,
    infos: list[DesignInfo],
    rows: int,
    missing: str,
    wcol: str | None,
    formula: str,
    beta: np.ndarray,
    fitted: RowDigests,
) -> np.ndarray:
    """``X' W (y - X beta)`` over the source's blocks, in extended precision (the
    refinement pass of an ill-conditioned fit, rebuilt rather than read; checked as
    :func:`stream_rows` checks)."""
    args = (source, infos, rows, missing, wcol, formula)
    return stream_rows(*args, _gradient, (beta,), fitted, "the fit's second (refinement) pass")


#: why rebuilt rows can differ from the fitted ones, and what to do
_CHANGED_WHY = (
    "the data changed in between, or a term of the formula gives other values each time it "
    "is evaluated (random numbers, a clock, a counter). Fit again on data that stays as it "
    "is, or pass path= so that the design is built once, stored, and fitted from the store"
)


def store_pass(design: Design, w: np.ndarray | bool | None) -> Callable[..., Any]:
    """``(fn, *args, per_row=, merge=) ->`` the merge (sum) of ``fn(x, y, w, *args)`` over
    a stored design's blocks (see :func:`~ooc_accessor.reduce.rows_graph`)."""

    def rows_pass(fn: Callable, *args: Any, per_row: Any = None, merge: Any = None) -> Any:
        if isinstance(per_row, (pd.Series, pd.DataFrame)):  # by label, the stored labels
            per_row = _by_label(per_row, design.obs)
        if isinstance(per_row, list):
            raise ArgumentError(
                f"the groups {per_row} name columns, but this fit's rows come from a stored "
                "design that has none: pass one group value per fitted row (an array of "
                f"{design.n_obs}), or fit from the data without path="
            )
        graph = reduce.rows_graph(
            design.path, design.blocks(), fn, args, w, design.store_id, per_row, merge
        )
        return reduce.compute(graph, desc=_PASS, row_bytes=progress.design_row_bytes(design))[0]

    return rows_pass


#: the bar of a pass after the fit (a sandwich's meat, cluster sums)
_PASS = "a pass after the fit"


def _by_label(values: pd.Series | pd.DataFrame, labels: pd.Index) -> np.ndarray:
    """A Series' (or DataFrame's) values at ``labels`` (each label once in it)."""
    return values.reindex(labels).to_numpy()


@contextmanager
def _as_fitted(formula: str) -> Iterator[None]:
    """Rows of a fit built again from its data: what goes wrong is the data's change.

    The fit's data passed every check once, so a DataError now means they changed; any
    other error but the library's own (a column gone or renamed, the frame reshaped) is
    one too, and is said so instead of escaping as a bare KeyError.
    """
    try:
        yield
    except DataError as exc:
        raise DataError(
            f"the data of the fit of {formula!r} changed after it was fitted ({exc}): "
            f"{_CHANGED_WHY}"
        ) from exc
    except OOCError:
        raise
    except Exception as exc:
        raise DataError(
            f"the data of the fit of {formula!r} cannot be read as it was fitted "
            f"({type(exc).__name__}: {exc}): {_CHANGED_WHY}"
        ) from exc


class DeferredDesign(DesignBase):
    """A fit's design whose store is written only when its rows are asked for.

    It answers what needs no rows (``terms``, ``formula``, ``build``, ``n_obs``...) at
    once. ``X``, ``y``, ``weights``, ``obs``, ``path`` and ``save`` write the store from
    the source it keeps (the design's own temporary, removed with it), check it against
    the fingerprints taken while fitting, and then hand on to that :class:`Design`. The
    data stay referenced (as statsmodels' ``model.data``): a cluster covariance reads its
    group columns from them.
    """

    def __init__(
        self,
        source: Any,
        table: Any,
        infos: list[DesignInfo],
        formula: str,
        streamed: StreamedStats,
        *,
        rows: int,
        write_args: dict[str, Any],
        eval_env: EvalEnvironment | None,
        spec_json: str,
    ) -> None:
        self.formula = formula
        self._spec = spec_from_json(spec_json)
        self._eval_env = eval_env
        self._where = None  # the user's own formula, as written: trusted
        self._trust = frozenset()
        self._infos = infos
        self._column_dtypes = stored_dtypes(dtypes_attr(source, WEIGHTS_COL))
        self.sample_dim: str = source.sample_dim
        self.source_kind: str = source.kind
        wcol = write_args["wcol"]
        self.weights_column: str | None = None if wcol in (None, WEIGHTS_COL) else wcol
        self.has_weights = wcol is not None
        self.n_obs: int = streamed.n
        self.n_dropped: int = streamed.dropped
        self._source = source
        self._table = table  # every column, for a cluster covariance's groups
        #: write_design's chunksize, missing, wcol and compression, as the fit was given them
        self._write_args = write_args
        self._fitted = streamed.rows
        self._stored: Design | None = None
        # where the store goes if rows are asked for: decided now, under the options the
        # fit was made with (``with ooc.set_options(tmpdir=)`` may have ended by then)
        self._tmpdir = options.tmpdir()
        #: the merged least-squares statistics of the fit's pass
        self.stats = streamed.stats
        self._pass = (infos, rows, write_args["missing"], wcol, formula)

    def rows_pass(
        self, fn: Callable, *args: Any, per_row: Any = None, merge: Callable | None = None
    ) -> Any:
        """The merge (sum) over the fit's rows of ``fn(x, y, w, *args)`` (``fn(x, y, w,
        values, *args)`` with ``per_row``: an array with one value per fitted row, or
        column names of the data): read from the store once it is written, else rebuilt
        from the source (and checked against the fit's). Column names always rebuild."""
        if isinstance(per_row, list):  # the data's columns, read beside the rows
            absent = [c for c in per_row if c not in self._table.names]
            if absent:
                raise MissingColumnError(
                    f"the groups {absent} are not columns of the data this fit was made from "
                    f"(columns: {self._table.names[:20]}); name one of them, or pass one group "
                    "value per fitted row"
                )
            per_row = self._table.select(per_row)
        elif self._stored is not None and not isinstance(per_row, (pd.Series, pd.DataFrame)):
            weights = True if self.has_weights else None
            return store_pass(self._stored, weights)(fn, *args, per_row=per_row, merge=merge)
        return stream_rows(
            self._source,
            *self._pass,
            fn,
            args,
            self._fitted,
            per_row=per_row,
            merge=merge or reduce.sum_parts,
        )

    def gradient(self, beta: np.ndarray) -> np.ndarray:
        """``X' W (y - X beta)`` by one more pass over the source (the refinement pass)."""
        if self._stored is not None:
            return reduce.compute(
                reduce.gradient_graph(
                    self._stored.path,
                    self._stored.blocks(),
                    beta,
                    self.has_weights or None,
                    self._stored.store_id,
                ),
                desc="lstsq: refinement pass",
                row_bytes=progress.design_row_bytes(self._stored),
            )[0]
        return stream_gradient(self._source, *self._pass, beta, self._fitted)

    def stored(self) -> Design:
        """The design written to its store (once), checked against the fit's digests."""
        if self._stored is not None:
            return self._stored
        with _as_fitted(self.formula):
            design = write_design(
                self._source,
                self._infos,
                self.formula,
                path=None,
                eval_env=self._eval_env,
                tmpdir=self._tmpdir,
                **self._write_args,
            )
        found, hints = store_digests(design.path, self._fitted.sizes)
        changed = [name for name, d in self._fitted.result().items() if found.get(name) != d]
        if hints != self._fitted.hints:
            changed.append("row labels' kind, name or unit")
        if changed or design.n_obs != self.n_obs:
            design.discard()
            what = ", ".join(changed) if changed else "the row count"
            raise DataError(
                f"the data of the fit of {self.formula!r} changed after it was fitted ({what} "
                "differ now), so its rows cannot be written as they were fitted: "
                f"{_CHANGED_WHY}"
            )
        self._stored = design
        return design

    @property
    def X(self) -> Any:  # noqa: N802 - the design matrix's conventional name
        """The design matrix, lazy (see :attr:`Design.X`); writes the store first."""
        return self.stored().X

    @property
    def y(self) -> Any:
        """The response, lazy (see :attr:`Design.y`); writes the store first."""
        return self.stored().y

    @property
    def weights(self) -> Any:
        """Stored weights, lazy, or None; writes the store first."""
        return self.stored().weights

    @property
    def obs(self) -> Any:
        """The stored row labels; writes the store first."""
        return self.stored().obs

    @property
    def path(self) -> str:
        """Path of the store; writes it first."""
        return self.stored().path

    def save(self, path: str | os.PathLike) -> Design:
        """Write the store and keep it at ``path`` (see :meth:`Design.save`)."""
        return self.stored().save(path)

    def __repr__(self) -> str:
        kind = "not written yet" if self._stored is None else f"at {self._stored.path}"
        return (
            f"<ooc.Design {self.formula!r}: {self.n_obs} obs x {len(self.terms)} terms "
            f"({self.n_dropped} dropped), {kind}>"
        )
