"""Checks of the public calls' arguments that several entry points share.

An unknown keyword is named with the public method and what it accepts (never as an
internal function's ``TypeError``); a chunk size is bounded by the rows there are and by the
memory one block of them would take, before any HDF5 chunk is allocated.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr
from patsy import EvalEnvironment

from .errors import ArgumentError, ArgumentTypeError, StoreError
from .sources import auto_rows

__all__ = [
    "available_memory",
    "capture_env",
    "check_keywords",
    "check_not_source",
    "check_path",
    "resolve_chunksize",
    "source_files",
]

#: keywords of statsmodels' API this library has not implemented yet: what to say instead
NOT_YET: dict[str, str] = {}


def check_keywords(method: str, given: Mapping[str, Any], accepted: Iterable[str]) -> None:
    """Refuse a keyword ``method`` does not take, naming it and the accepted ones.

    Raises
    ------
    ArgumentTypeError
        Also a TypeError, as Python's own for an unexpected keyword.
    """
    accepted = list(accepted)
    unknown = [k for k in given if k not in accepted]
    if not unknown:
        return
    key = unknown[0]
    if key in NOT_YET:
        raise ArgumentTypeError(f"{method}() got {key}=: {NOT_YET[key]}")
    close = difflib.get_close_matches(key, accepted, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ArgumentTypeError(
        f"{method}() got an unknown keyword {key!r}{hint}; "
        + (f"it accepts {', '.join(accepted)}" if accepted else "it takes no arguments")
    )


def check_path(path: Any, what: str) -> str:
    """``path`` as a str: a str or path-like (not bytes, a number, a list...)."""
    if isinstance(path, (str, os.PathLike)):
        out = os.fspath(path)
        if isinstance(out, str):
            return out
    raise ArgumentTypeError(
        f"path must be a str or path-like, not {type(path).__name__} ({path!r:.40}): {what}"
    )


def available_memory() -> int:
    """Bytes of memory free now (Linux/macOS ``sysconf``), or 4 GiB when unknown."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def resolve_chunksize(chunksize: int | str, n_columns: int, n_rows: int | None = None) -> int:
    """Rows per block from ``chunksize`` ("auto" or a positive int).

    With ``n_rows`` given, a block is never longer than the data (HDF5 would allocate the
    whole chunk), and one that would not fit in memory is refused up front.
    """
    if isinstance(chunksize, str):
        if chunksize != "auto":
            raise ArgumentError(f"chunksize must be 'auto' or a positive int, not {chunksize!r}")
        rows = auto_rows(n_columns)
    elif isinstance(chunksize, (bool, np.bool_)) or not isinstance(chunksize, (int, np.integer)):
        raise ArgumentTypeError(f"chunksize must be 'auto' or a positive int, not {chunksize!r}")
    elif chunksize < 1:
        raise ArgumentError(f"chunksize must be a positive number of rows, not {chunksize}")
    else:
        rows = int(chunksize)
    if n_rows is None:
        return rows
    rows = min(rows, max(int(n_rows), 1))
    # a block, patsy's intermediates (a few copies) and the QR work: about 4 blocks' worth
    need = 4 * rows * max(n_columns, 1) * 8
    free = available_memory()
    if need > free // 2:
        fits = max(1, free // 2 // (4 * max(n_columns, 1) * 8))
        raise ArgumentError(
            f"chunksize={chunksize} makes blocks of {rows} rows x {n_columns} columns, about "
            f"{need / 2**30:.1f} GiB in memory while building them, but {free / 2**30:.1f} "
            f"GiB is free; pass chunksize='auto' or at most {fits} rows"
        )
    return rows


def source_files(data: Any) -> set[str]:
    """The files a lazily opened Dataset reads (its own and its variables' ``source``)."""
    if not isinstance(data, xr.Dataset):
        return set()
    found = {data.encoding.get("source")}
    found |= {v.encoding.get("source") for v in data.variables.values()}
    return {os.path.abspath(f) for f in found if isinstance(f, str) and f}


def check_not_source(path: str | os.PathLike, data: Any) -> None:
    """Refuse to write a store over a file the data are read from (the user's data would be
    replaced under them)."""
    if not isinstance(path, (str, os.PathLike)):
        return  # not a path at all: check_path names that
    target = os.path.abspath(os.fspath(path))
    if target in source_files(data):
        raise StoreError(
            f"path={os.fspath(path)!r} is the file the data are read from; writing the design "
            "there would replace your data: pass another path="
        )


def capture_env(eval_env: int | EvalEnvironment | Mapping[str, Any]) -> EvalEnvironment:
    """The namespace a formula is evaluated in, counted from the caller's caller.

    Each public entry point resolves it once and hands the object down, so ``np.log(x)``
    in a formula sees the user's ``np`` however deep the call goes. A dict of names is
    looked up first, then the caller's namespace.
    """
    if isinstance(eval_env, EvalEnvironment):
        return eval_env
    if isinstance(eval_env, Mapping):
        caller = EvalEnvironment.capture(2)
        return EvalEnvironment([dict(eval_env), caller.namespace])
    if isinstance(eval_env, bool) or not isinstance(eval_env, int):
        raise ArgumentTypeError(
            "eval_env must be a frame depth (int), a patsy.EvalEnvironment or a dict of names, "
            f"not {type(eval_env).__name__}"
        )
    if eval_env < 0:
        raise ArgumentError(
            f"eval_env={eval_env} is negative; pass 0 (the caller's namespace), a number of "
            "frames up from it, or a dict of names"
        )
    try:
        return EvalEnvironment.capture(eval_env + 2)
    except ValueError as exc:  # patsy: "call-stack is not that deep!"
        raise ArgumentError(
            f"eval_env={eval_env} counts more frames up than the call stack has ({exc}); "
            "pass 0 (the caller's namespace) or a dict of names"
        ) from exc
