"""Opening a design store the user names: arguments checked, the store treated as data."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from patsy import EvalEnvironment

from .design import Design
from .errors import ArgumentTypeError, FormulaError, StoreError
from .signatures import checked
from .spec import default_eval_env

__all__ = ["open_design"]


@checked  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
def open_design(
    path: str | os.PathLike,
    eval_env: EvalEnvironment | Mapping[str, Any] | None = None,
    *,
    verify: bool = True,
    trust: Iterable[str] | None = None,
) -> Design:
    """Open a design store written by ``design(..., path=...)`` or :meth:`Design.save`.

    A store is data, like numpy's ``allow_pickle=False``: before anything is evaluated,
    every formula code it holds is re-derived from its formula and checked to be made only
    of column names, literals, operators, numpy's elementwise math (``np.log``,
    ``np.sqrt``...) and patsy's ``C``/``I``/``Q``/``center``/``standardize``/``scale``/
    splines and contrasts. Other functions run only when named in ``trust``.

    Parameters
    ----------
    path : str or path-like
    eval_env : patsy.EvalEnvironment or dict, optional
        Namespace for functions the formula calls beyond numpy (``np``) and patsy's, e.g.
        ``{"shift": shift}`` (those functions must also be named in ``trust``).
    verify : bool
        Read the whole store once and check that every value is the one written (SHA-256
        per variable, recorded when it was written) before handing it out. ``False`` skips
        that pass for a store too large to read twice: its structure, attributes and chunk
        index are still checked, and each chunk's checksum whenever a fit reads it.
    trust : list of str, optional
        The functions beyond the allow-list that this store's formula may call, by the
        name the formula uses (``["myfunc"]``, ``["mymodule.func"]``): an explicit opt-in
        for a store you trust, e.g. one you built with your own stateful transform.

    Raises
    ------
    StoreError
        The file is missing, incomplete, not a design store, or damaged (truncated, a
        chunk failing its checksum, a variable removed, an attribute edited): the message
        names the file and what is wrong.
    UnsafeCodeError
        The store's formula calls a function outside the allow-list and ``trust``, or its
        spec holds code its formula does not yield: nothing of it was run.
    """
    if isinstance(eval_env, Mapping):  # a plain namespace, as {"shift": shift}
        eval_env = EvalEnvironment([dict(eval_env)])
    if eval_env is not None and not isinstance(eval_env, EvalEnvironment):
        raise ArgumentTypeError(
            f"eval_env must be a patsy.EvalEnvironment (e.g. EvalEnvironment.capture()) or a "
            f"dict of names, not {type(eval_env).__name__}"
        )
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"path must be a str or path-like, not {type(path).__name__}: the design store to open"
        )
    if eval_env is not None:  # numpy stays reachable as np/numpy, as without an eval_env
        eval_env = eval_env.with_outer_namespace(default_eval_env().namespace)
    path = os.fspath(path)
    design = Design(path, eval_env=eval_env, verify=verify, trust=trust)
    try:
        design.design_infos  # noqa: B018 - fail now, not at first use
    except FormulaError as exc:
        raise StoreError(f"cannot rebuild the formula state saved in {path!r}: {exc}") from exc
    return design
