"""Progress bars on passes over the data: rows done, MB/s and an ETA (``tqdm.auto``).

A pass is one bar (:func:`task`), named for what it does ("lstsq", "IRLS iteration 3",
"design: build"...). A call of several passes (a GLM's iterations, a design learned then
built then fitted) shows one bar per pass, each closed when its pass ends: a bar's ETA is
then the ETA of work of one kind, and the description says where the call is.

A bar is fed one of two ways:

- a pass run here, block by block (a design built on the client, a PCA fold, a stored
  ``U``), calls :func:`advance` per block;
- a dask graph (:func:`ooc_accessor.reduce.compute`): its leaf tasks, each reading one run
  of rows, are registered with their row counts as they are built (:func:`leaf`). On the
  threaded and synchronous schedulers a :class:`dask.callbacks.Callback` counts them as
  they finish (dask's own diagnostics hook); on ``dask.distributed`` the leaves are asked
  for with the graph (the same graph, its leaves also wanted) and counted on the client as
  their futures finish (``distributed.as_completed``).

Whether bars show is a call's ``progress=`` (:func:`showing`, around a public call),
else ``ooc.set_options(progress=)``: ``"auto"`` shows a bar only once its pass has taken
2 s, ``True`` at once, ``False`` never. Only the calling thread's passes show: a task on a
scheduler's thread or a worker has no bar (the setting and the bar are context variables).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

from . import options

__all__ = [
    "Bar",
    "advance",
    "design_row_bytes",
    "feed",
    "frame_bytes",
    "has_leaves",
    "leaf",
    "restart",
    "setting",
    "showing",
    "source_row_bytes",
    "take_leaves",
    "task",
]

#: a call's own ``progress=`` (checked), for the passes it runs; None: the option
_SETTING: contextvars.ContextVar[bool | str | None] = contextvars.ContextVar(
    "ooc_progress_setting", default=None
)
#: the pass whose bar :func:`advance` feeds
_CURRENT: contextvars.ContextVar[Bar | None] = contextvars.ContextVar(
    "ooc_progress_bar", default=None
)
#: seconds a pass runs before "auto" shows its bar
AUTO_DELAY = 2.0

#: leaf tasks built in this thread and not yet computed: key -> (Delayed, rows)
_pending = threading.local()


@contextlib.contextmanager
def showing(value: bool | str | None) -> Iterator[None]:
    """Within the block, passes show bars as ``value`` says (None: as the option says).

    Public entry points wrap their work in it with their ``progress=`` argument; a call
    made inside another (a design built by ``lstsq``) follows the outer call's choice.
    """
    if value is None:
        yield
        return
    token = _SETTING.set(options.progress(value))
    try:
        yield
    finally:
        _SETTING.reset(token)


def setting() -> bool | str:
    """Whether passes here show bars: True, False or ``"auto"``."""
    value = _SETTING.get()
    return options.progress() if value is None else value


class Bar:
    """One pass's bar: rows done of ``total``, MB/s as a postfix, ETA (tqdm's).

    ``row_bytes`` is the bytes a row reads when an update does not say. Thread-safe:
    scheduler threads and the client's event loop update it.
    """

    def __init__(self, desc: str, total: int | None, row_bytes: int = 0, unit: str = "rows"):
        self.row_bytes = row_bytes
        self.leaves: dict[Any, int] = {}
        self.computing = False  # fed by a dask graph: in-task advance() calls are not counted
        self._lock = threading.Lock()
        self._bytes = 0
        self._start = time.monotonic()
        self._tqdm = None
        mode = setting()
        self._args = {"total": total, "unit": unit, "unit_scale": True, "dynamic_ncols": True}
        self._args["delay"] = AUTO_DELAY if mode == "auto" else 0
        if mode is not False:
            self._tqdm = _tqdm()(desc=desc, **self._args)

    def update(self, rows: int, nbytes: int | None = None) -> None:
        """Count ``rows`` done, having read ``nbytes`` (default ``rows * row_bytes``); on a
        bar of bytes (``unit="B"``), ``rows`` is bytes."""
        if self._tqdm is None:
            return
        with self._lock:
            if self._tqdm.unit == "rows":  # a bar of bytes has its rate in B/s already
                self._bytes += rows * self.row_bytes if nbytes is None else nbytes
                rate = self._bytes / max(time.monotonic() - self._start, 1e-9) / 1e6
                self._tqdm.set_postfix_str(f"{rate:.3g} MB/s", refresh=False)
            self._tqdm.update(rows)

    def done(self, key: Any) -> None:
        """A leaf task finished: count its rows (other tasks' keys are ignored)."""
        rows = self.leaves.pop(key, None)
        if rows is not None:
            self.update(rows)

    def describe(self, desc: str) -> None:
        """A new description (a phase of the same pass)."""
        if self._tqdm is not None:
            with self._lock:
                # drawn with the next update, which keeps "auto"'s delay (an immediate
                # refresh would draw a bar for a pass that ends within the delay)
                self._tqdm.set_description(desc, refresh=False)

    def restart(self, desc: str) -> None:
        """Start again from no rows, as ``desc``: another pass over the same rows."""
        if self._tqdm is not None:
            with self._lock:
                self._bytes = 0
                self._start = time.monotonic()
                # a new bar, not tqdm's reset(): reset draws at once, ignoring the delay,
                # and a bar never drawn closes without a trace
                self._tqdm.close()
                self._tqdm = _tqdm()(desc=desc, **self._args)

    def close(self) -> None:
        if self._tqdm is not None:
            with self._lock:
                self._tqdm.close()
            self._tqdm = None


def _tqdm() -> Any:
    """``tqdm.auto``'s class: the widget in a notebook with ipywidgets, else the text bar.

    Imported at the first bar (a call without one never pays for it). A notebook without
    ipywidgets gets text bars without tqdm's warning about it: the bars work there as in
    a terminal, and the warning would land in the user's cell output.
    """
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


@contextlib.contextmanager
def task(desc: str, total: int | None, row_bytes: int = 0, unit: str = "rows") -> Iterator[Bar]:
    """A pass's bar, current for :func:`advance` within the block; closed when the block
    ends, also by an exception (nothing is left on screen half-drawn or running)."""
    bar = Bar(desc, total, row_bytes, unit)
    token = _CURRENT.set(bar)
    try:
        yield bar
    finally:
        _CURRENT.reset(token)
        bar.close()


def advance(rows: int, nbytes: int | None = None) -> None:
    """Count ``rows`` (``nbytes`` read) on this thread's current pass, if it has one."""
    bar = _CURRENT.get()
    if bar is not None and not bar.computing:
        bar.update(rows, nbytes)


def restart(desc: str) -> None:
    """Restart this thread's current bar as ``desc`` (another pass over its rows)."""
    bar = _CURRENT.get()
    if bar is not None:
        bar.restart(desc)


def leaf(obj: Any, rows: int) -> Any:
    """Register the leaf task ``obj`` (a Delayed reading ``rows`` rows) for the bar of the
    graph it is computed in; returns ``obj``."""
    if setting() is not False:
        registry = getattr(_pending, "leaves", None)
        if registry is None:
            registry = _pending.leaves = {}
        registry[obj.key] = (obj, rows)
    return obj


def take_leaves(keys: Any) -> list[tuple[Any, int]]:
    """The registered leaves among ``keys`` (a graph's); every other registration is
    dropped (a graph built and never computed must not hold its leaves)."""
    registry = getattr(_pending, "leaves", None) or {}
    _pending.leaves = {}
    return [entry for key, entry in registry.items() if key in keys]


def feed(bar: Bar, leaves: list[tuple[Any, int]]) -> Any:
    """A :class:`dask.callbacks.Callback` that counts ``leaves`` on ``bar`` as they finish
    on the local schedulers (``_posttask`` runs on the scheduler's threads)."""
    from dask.callbacks import Callback

    bar.leaves = {obj.key: rows for obj, rows in leaves}

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        bar.done(key)

    return Callback(posttask=posttask)


def design_row_bytes(design: Any) -> int:
    """Bytes a row of a stored design reads: X, y and weights in float64."""
    return 8 * (len(design.terms) + 2)


def source_row_bytes(source: Any) -> int:
    """Bytes a row of a table source reads, taking each column as 8 bytes."""
    return 8 * len(getattr(source, "columns", ()))


def frame_bytes(block: Any) -> int | None:
    """Bytes of a block of rows (a DataFrame's columns, an array's buffer), if known."""
    if hasattr(block, "memory_usage"):
        return int(block.memory_usage(index=False, deep=False).sum())
    return getattr(block, "nbytes", None)


def has_leaves() -> bool:
    """Whether this thread registered leaves not yet computed."""
    return bool(getattr(_pending, "leaves", None))
