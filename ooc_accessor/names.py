"""Feature names matched as scikit-learn matches them (``feature_names_in_``).

New data's features are checked against the fitted ones by name whenever it carries names
(DataFrame columns, a Design's terms, an xarray feature coordinate): the same names in the
same order, or an :class:`~ooc_accessor.ArgumentError` (a ``ValueError``) naming the
features unseen at fit, missing, or out of place. The wording is scikit-learn's, so code
that matches its messages keeps working.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .errors import ArgumentError

__all__ = [
    "check_component_names",
    "check_count",
    "check_names",
    "names_message",
    "user_stacklevel",
]

#: names shown in a listing before "..."
_SHOWN = 5


def _listing(title: str, names: list) -> str:
    shown = "".join(f"- {n}\n" for n in names[:_SHOWN])
    more = "- ...\n" if len(names) > _SHOWN else ""
    return f"{title}:\n{shown}{more}"


def names_message(fitted: list, got: list, fix: str | None = None) -> str | None:
    """scikit-learn's message for feature names that differ from the fitted ones, or None.

    The first line and the listings are scikit-learn's (``_check_feature_names``); the
    last line says what to do.
    """
    if list(fitted) == list(got):
        return None
    # numpy scalars as plain Python values: 270.0, not np.float64(270.0)
    fitted = [n.item() if isinstance(n, np.generic) else n for n in fitted]
    got = [n.item() if isinstance(n, np.generic) else n for n in got]
    seen = set(fitted)
    have = set(got)
    unseen = [n for n in got if n not in seen]
    absent = [n for n in fitted if n not in have]
    msg = "The feature names should match those that were passed during fit.\n"
    if unseen:
        msg += _listing("Feature names unseen at fit time", unseen)
    if absent:
        msg += _listing("Feature names seen at fit time, yet now missing", absent)
    if not unseen and not absent:
        msg += "Feature names must be in the same order as they were in fit.\n"
        where = {n: i for i, n in enumerate(fitted)}
        moved = [
            f"{n!r} (at {where[n]} in fit, at {i} now)" for i, n in enumerate(got) if where[n] != i
        ]
        more = ", ..." if len(moved) > _SHOWN else ""
        msg += f"Out of place: {', '.join(moved[:_SHOWN])}{more}.\n"
    if fix is None:
        shown = list(fitted)[:_SHOWN]
        fix = (
            "Pass the fitted features in the fitted order: for a DataFrame, "
            f"X[est.feature_names_in_] ({len(fitted)} features: {shown}"
            f"{' ...' if len(fitted) > _SHOWN else ''})."
        )
    return msg + fix


def user_stacklevel() -> int:
    """``stacklevel`` for a warning raised here that points at the user's line: the first
    frame outside this package (and scikit-learn's set_output wrapper)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("ooc_accessor.", "sklearn.utils._set_output")):
            return level
        frame = frame.f_back
        level += 1
    return level


def check_names(est: Any, names: list | None) -> None:
    """Check new input's feature names against a fitted estimator's, as scikit-learn.

    Differing names raise; names on one side only warn (the data is then taken by
    position, scikit-learn's behaviour).
    """
    fitted = getattr(est, "_names_in", None)
    cls = type(est).__name__
    if fitted is not None and names is not None:
        msg = names_message(fitted, names)
        if msg is not None:
            raise ArgumentError(msg)
    elif fitted is not None and hasattr(est, "feature_names_in_"):
        warnings.warn(
            f"X does not have valid feature names, but {cls} was fitted with feature names",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    elif names is not None and all(isinstance(n, str) for n in names):
        warnings.warn(
            f"X has feature names, but {cls} was fitted without feature names",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def check_count(est: Any, n_features: int) -> None:
    """Refuse new input whose feature count differs from the fitted one."""
    p = est.n_features_in_
    if n_features != p:
        raise ArgumentError(
            f"X has {n_features} features, but {type(est).__name__} is expecting {p} features "
            "as input; pass data with the features it was fitted on (or fit again)"
        )


def check_component_names(scores: Any, k: int, out_names: np.ndarray) -> None:
    """Scores carrying component labels must label the fitted components in order."""
    if isinstance(scores, pd.DataFrame):
        labels = list(scores.columns)
    elif isinstance(scores, xr.DataArray) and scores.ndim == 2 and scores.dims[1] in scores.indexes:
        labels = list(scores.indexes[scores.dims[1]])
    else:
        return
    if labels == list(range(k)) or labels == list(out_names):
        return
    raise ArgumentError(
        f"the scores' components are labeled {labels[:6]}{' ...' if len(labels) > 6 else ''}"
        f", but this PCA's are {list(range(k))[:6]} (or {list(out_names)[:3]}...): pass the "
        "scores transform returned, their columns in that order"
    )
