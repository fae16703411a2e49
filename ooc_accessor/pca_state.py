"""Fitting calls that change an :class:`~ooc_accessor.IncrementalPCA` all or nothing.

A ``fit`` or ``partial_fit`` reads its blocks one by one and folds each into the running
state as it goes; an error in a late block (an inf, a NaN, a land cell with values, a
feature missing...) would otherwise leave the blocks read before it folded in, and a
caller that catches the error and goes on (``except ooc.DataError: continue``) would get a
PCA of data it never accepted. :func:`atomic` snapshots the estimator's fitted state before
the call and puts it back if the call raises: the estimator is then exactly as before (a
``partial_fit``: its previous fit; a ``fit``: its previous fit, or unfitted).

The snapshot is of the state only, never of the data: the attributes (rebound, not
changed in place, by a fitting call) and a copy of the folded factor when the solver
updates it in place (the covariance solver's ``CovStats``: O(p^2)). The QR solver's R
factor is an ndarray that folding never writes to (``kernels.fold_r`` copies it into its
own buffer), so it is kept as it is, and a ``fit`` starts a new state, so it copies nothing.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = ["atomic"]

F = TypeVar("F", bound=Callable[..., Any])


def atomic(method: F) -> F:
    """Make a fitting method all or nothing: if it raises, the estimator is as before.

    Parameters
    ----------
    method : callable
        A method of the estimator that may change its fitted state.

    Returns
    -------
    callable
        The method, restoring every attribute of the estimator when it raises (any
        exception, also a ``KeyboardInterrupt``), then re-raising.

    Examples
    --------
    >>> import numpy as np
    >>> import ooc_accessor as ooc
    >>> pca = ooc.IncrementalPCA(1).partial_fit(np.arange(8.0).reshape(4, 2))
    >>> bad = np.array([[1.0, 2.0], [np.inf, 0.0]])
    >>> try:
    ...     pca.partial_fit(bad)
    ... except ooc.DataError:
    ...     pass
    >>> int(pca.n_samples_seen_)
    4
    """

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = dict(vars(self))
        state = before.get("_state")
        if state is not None and not isinstance(state, np.ndarray):
            before["_state"] = copy.deepcopy(state)  # folded into in place
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    return call  # type: ignore[return-value]
