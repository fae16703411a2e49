"""Library-wide options: ``ooc.set_options(...)``, a context manager like xarray's.

Three options, read where a call starts (never inside a dask task, so a cluster's workers
follow the calling process):

- ``chunk_memory``: bytes of data per block when ``chunksize="auto"``;
- ``tmpdir``: where temporary stores go (designs of ``lstsq``/``glm``/``svd`` called from
  data, ``U``, scores, stored residuals and predictions);
- ``progress``: progress bars on long passes (``"auto"``: after 2 s; ``True``: at once;
  ``False``: never).
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Any

import numpy as np
from dask.utils import format_bytes, parse_bytes

from .errors import ArgumentError, ArgumentTypeError

#: environment variable naming where temporary stores go when ``tmpdir`` is not set
TMPDIR_ENV = "OOC_ACCESSOR_TMPDIR"

#: the smallest block worth a task: below it per-block overheads dominate
MIN_CHUNK_MEMORY = 64 * 2**10

#: the defaults; ``set_options`` validates every change against them
DEFAULTS: dict[str, Any] = {
    "chunk_memory": 16 * 2**20,
    "tmpdir": None,
    "progress": "auto",
}

#: the settings in force, oldest first: (token, values) per ``set_options`` call not yet
#: undone. A ``with`` block removes its own entry when it ends, wherever it is in the list,
#: so blocks that overlap in threads (or generators) never leave a value behind; a call
#: without ``with`` stays. The newest entry holding a key wins.
_LAYERS: list[tuple[object, dict[str, Any]]] = []
_LOCK = threading.Lock()


def _check_chunk_memory(value: Any) -> int:
    if isinstance(value, np.integer):  # a numpy count is a count
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ArgumentTypeError(
            f"chunk_memory must be a number of bytes or a size like '256MB', not {value!r}"
        )
    try:
        n = parse_bytes(value) if isinstance(value, str) else int(value)
    except (ValueError, TypeError) as exc:
        raise ArgumentError(
            f"chunk_memory={value!r} is not a size: give bytes or a string like '256MB'"
        ) from exc
    if n < MIN_CHUNK_MEMORY:
        raise ArgumentError(
            f"chunk_memory={value!r} is below {format_bytes(MIN_CHUNK_MEMORY)}: blocks that "
            "small spend their time in per-block overheads; give at least '64kiB'"
        )
    return n


def _check_tmpdir(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ArgumentTypeError(f"tmpdir must be a directory path or None, not {value!r}")
    path = os.fspath(value)
    if not os.path.isdir(path):
        raise ArgumentError(
            f"tmpdir={path!r} is not an existing directory: create it first (on a cluster, "
            "a disk every worker can read)"
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise ArgumentError(f"tmpdir={path!r} is not writable: pick a directory you can write")
    return os.path.abspath(path)


def _check_progress(value: Any) -> bool | str:
    if isinstance(value, np.bool_):  # numpy's True is True
        value = bool(value)
    if value is True or value is False or (isinstance(value, str) and value == "auto"):
        return value
    raise ArgumentError(f"progress must be True, False or 'auto', not {value!r}")


_CHECKS = {
    "chunk_memory": _check_chunk_memory,
    "tmpdir": _check_tmpdir,
    "progress": _check_progress,
}


class set_options:  # noqa: N801 - xarray's and pandas' name for the same thing
    """Set library options globally, or for a ``with`` block.

    Parameters
    ----------
    chunk_memory : int or str, optional
        Bytes of data per block when a call's ``chunksize`` is ``"auto"`` (an int, or a size
        like ``"256MB"``; default 16 MiB). Peak memory of a pass is a few blocks per core,
        so this bounds it; larger blocks mean fewer, longer tasks.
    tmpdir : str or path-like or None, optional
        Directory for temporary stores: the design a fit called on data writes (about
        ``8 * rows * (columns + 2)`` bytes), and the stored ``U``, scores, residuals and
        predictions (``8 * rows * k`` each). ``None`` (the default) means
        ``$OOC_ACCESSOR_TMPDIR``, else the system's temporary directory. On a
        ``dask.distributed`` cluster it must be a disk every worker can read.
    progress : bool or "auto", optional
        Progress bars (rows done, MB/s, ETA) on passes over the data: ``"auto"`` (default)
        shows one when a pass takes more than 2 s, ``True`` at once, ``False`` never. A
        call's own ``progress=`` argument wins.

    Notes
    -----
    Options are process-wide, as xarray's and pandas': a block set in one thread is seen by
    every thread while it lasts (of two blocks open at once, the later one's values win).
    Each block's values go when it ends, whatever order overlapping blocks end in.

    Examples
    --------
    >>> import ooc_accessor as ooc
    >>> with ooc.set_options(chunk_memory="64MB", progress=False):
    ...     ooc.get_options()["chunk_memory"]
    64000000
    >>> ooc.get_options()["chunk_memory"]
    16777216
    """

    def __init__(self, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(_CHECKS))
        if unknown:
            raise ArgumentError(f"unknown option(s) {unknown}: the options are {sorted(_CHECKS)}")
        # every value is checked before any is set: a bad one changes nothing
        new = {key: _CHECKS[key](value) for key, value in kwargs.items()}
        self._token = object()
        with _LOCK:
            _LAYERS.append((self._token, new))

    def __enter__(self) -> set_options:
        return self

    def __exit__(self, *exc: object) -> None:
        with _LOCK:
            _LAYERS[:] = [layer for layer in _LAYERS if layer[0] is not self._token]


def get_options() -> dict[str, Any]:
    """The current options, as a new dict.

    Returns
    -------
    dict
        ``chunk_memory`` (bytes), ``tmpdir`` (None or an absolute path) and ``progress``.

    Examples
    --------
    >>> import ooc_accessor as ooc
    >>> sorted(ooc.get_options())
    ['chunk_memory', 'progress', 'tmpdir']
    """
    with _LOCK:
        current = dict(DEFAULTS)
        for _, values in _LAYERS:
            current.update(values)
    return current


def _get(key: str) -> Any:
    with _LOCK:
        for _, values in reversed(_LAYERS):
            if key in values:
                return values[key]
    return DEFAULTS[key]


def chunk_memory() -> int:
    """Bytes of data per block for ``chunksize="auto"``."""
    return _get("chunk_memory")


def tmpdir(directory: str | None = None) -> str:
    """Where a temporary store goes: ``directory`` if given, else the option, else
    ``$OOC_ACCESSOR_TMPDIR``, else the system's temporary directory; an absolute path (a
    relative one is taken from the working directory now, not at each later write)."""
    chosen = directory or _get("tmpdir") or os.environ.get(TMPDIR_ENV) or tempfile.gettempdir()
    return os.path.abspath(chosen)


def progress(value: bool | str | None = None) -> bool | str:
    """A call's ``progress=`` (checked), else the option: True, False or ``"auto"``."""
    return _get("progress") if value is None else _check_progress(value)
