"""The learn pass over one block: each factor's type, levels and transform moments.

patsy runs ``design_matrix_builders`` as sequential passes (memorize every transform
over all blocks, then sniff every factor over all blocks). Here one block gives a
mergeable :class:`~ooc_accessor.formula.state.State` on its own, so blocks can be learned
in any order, on any worker, and merged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from patsy import EvalEnvironment, ModelDesc
from patsy.build import _max_allowed_dim
from patsy.categorical import CategoricalSniffer, guess_categorical
from patsy.missing import NAAction
from patsy.state import Center, Standardize
from patsy.util import (
    atleast_2d_column_default,
    pandas_Categorical_categories,
    safe_is_pandas_categorical,
    safe_issubdtype,
    wide_dtype_for,
)

from ..spec import default_eval_env, model_desc
from .sniff import check_shape, distinct, present_categories, sniffed_levels, unbox
from .state import FactorState, Moments, State, portable

__all__ = ["Learner", "all_factors", "fill_transforms", "learn_block"]

_MERGEABLE = {Center: "center", Standardize: "standardize"}


def all_factors(desc: ModelDesc) -> list:
    """The formula's factors, each once, response first (patsy's term order)."""
    seen: dict = {}
    for termlist in (desc.lhs_termlist, desc.rhs_termlist):
        for term in termlist:
            for f in term.factors:
                seen.setdefault(f, None)
    return list(seen)


class _Recorder:
    """Stands in for a center/standardize object: records one block's moments."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.moments: Moments | None = None

    def memorize_chunk(self, x: Any, *args: Any, **kwargs: Any) -> None:
        x = atleast_2d_column_default(x)
        dtype = wide_dtype_for(x)  # patsy's error for non-numeric input
        n = x.shape[0]
        if self.kind == "center":
            self.moments = Moments("center", n, np.sum(x, 0, dtype=dtype), None, None)
            return
        wide = np.asarray(x, dtype=dtype)
        mean = wide.mean(0) if n else np.zeros(x.shape[1], dtype=dtype)
        m2 = ((wide - mean) ** 2).sum(0)
        self.moments = Moments("standardize", n, None, mean, m2)


def fill_transforms(state: dict, moments: dict[str, Moments]) -> None:
    """Put learned moments into patsy's own transform objects in ``state``."""
    for name, obj in state["transforms"].items():
        m = moments.get(name)
        if m is None:
            continue
        if isinstance(obj, Center):
            obj._count = m.n
            obj._sum = m.total
        else:
            obj.current_n = m.n
            obj.current_mean = m.mean
            obj.current_M2 = m.m2


class Learner:
    """Learns blocks of one formula: set up once, then :meth:`block` per block.

    Parameters
    ----------
    desc : patsy.ModelDesc
        The parsed formula (its factors evaluate the codes).
    env : patsy.EvalEnvironment
        Where names that are not columns are looked up.
    na_action : str or patsy.NAAction
        What counts as missing for levels (patsy's rules).
    string_codes : frozenset of str
        Columns a source delivers as pandas Categoricals standing for strings: their
        levels are the categories present, as patsy would sniff the strings.
    """

    def __init__(
        self,
        desc: ModelDesc,
        env: EvalEnvironment,
        na_action: str | NAAction = "drop",
        string_codes: frozenset[str] = frozenset(),
    ) -> None:
        self.na = NAAction(na_action) if isinstance(na_action, str) else na_action
        self.string_codes = frozenset(string_codes)
        self.factors = all_factors(desc)
        self.states: dict = {}
        self.sequential: set = set()  # user transforms, nested ones: patsy's own passes
        for f in self.factors:
            st: dict = {}
            passes = f.memorize_passes_needed(st, env)
            self.states[f] = st
            kinds = {type(o) for o in st["transforms"].values()}
            if passes > 1 or not kinds <= set(_MERGEABLE):
                self.sequential.add(f)
        self.numerical: dict = {}  # decided on the first block, as patsy does
        self.fixed: set = set()  # fixed levels: patsy stops sniffing them, so do we

    def block(self, data: Any) -> State:
        """The state one block teaches."""
        out: dict[str, FactorState] = {}
        for f in self.factors:
            if f in self.sequential:
                out[f.code] = FactorState("patsy")
                continue
            if f in self.fixed:  # the state already learned holds it (merge keeps it)
                continue
            moments = self._moments(f, data)
            if f in self.numerical:
                out[f.code] = FactorState("numerical", self.numerical[f], transforms=moments)
                continue
            fs = self._examine(f, data, moments)
            if fs.kind == "numerical":
                self.numerical[f] = fs.columns
            elif fs.kind == "fixed":
                self.fixed.add(f)
            out[f.code] = fs
        return State(len(data), out)

    def _moments(self, f: Any, data: Any) -> dict[str, Moments]:
        st = self.states[f]
        out = {}
        for name, obj in st["transforms"].items():
            rec = _Recorder(_MERGEABLE[type(obj)])
            f._eval(st["memorize_code"][name], dict(st, transforms={name: rec}), data)
            out[name] = rec.moments
        return out

    def _examine(self, f: Any, data: Any, moments: dict[str, Moments]) -> FactorState:
        st = self.states[f]
        if st["transforms"]:
            # evaluated with this block's own moments: enough to tell type and width
            st = dict(st, transforms={n: type(o)() for n, o in st["transforms"].items()})
            fill_transforms(st, moments)
        with np.errstate(all="ignore"):
            value = f.eval(st, data)
        if not guess_categorical(value):
            value = atleast_2d_column_default(value)
            _max_allowed_dim(2, value, f)
            return FactorState("numerical", value.shape[1], transforms=moments)
        if st["transforms"]:  # levels that depend on the finished transform: patsy's pass
            return FactorState("patsy", transforms=moments)
        return self._levels(f, value)

    def _levels(self, f: Any, value: Any) -> FactorState:
        """patsy's ``CategoricalSniffer.sniff`` on one block, on its distinct values."""
        data, contrast, fixed, _ = unbox(value)
        contrast = portable(contrast)
        if fixed is not None:
            return FactorState("fixed", levels=fixed, contrast=contrast)
        if safe_is_pandas_categorical(data):
            if isinstance(data, pd.Series) and data.name in self.string_codes:
                keep = [v for v in present_categories(data) if not self.na.is_categorical_NA(v)]
                return FactorState("levels", levels=dict.fromkeys(keep), contrast=contrast)
            cats = tuple(pandas_Categorical_categories(data))
            return FactorState("fixed", levels=cats, contrast=contrast)
        if hasattr(data, "dtype") and safe_issubdtype(data.dtype, np.bool_):
            return FactorState("levels", levels={True: None, False: None}, contrast=contrast)
        check_shape(data, f.origin)
        found = distinct(data)
        if found is None:
            sniffer = CategoricalSniffer(self.na, f.origin)
            sniffer.sniff(value)  # patsy's loop, and its error for unhashable values
            return FactorState(
                "levels", levels=dict.fromkeys(sniffer._level_set), contrast=contrast
            )
        levels = sniffed_levels(data, found[0], found[1], self.na)
        return FactorState("levels", levels=levels, contrast=contrast)


def learn_block(
    desc: ModelDesc | str,
    block: Any,
    env: EvalEnvironment | None = None,
    NA_action: str | NAAction = "drop",  # noqa: N803 (patsy's name)
    string_codes: frozenset[str] = frozenset(),
) -> State:
    """The mergeable state one block of rows teaches (see :mod:`ooc_accessor.formula`)."""
    if isinstance(desc, str):
        desc = model_desc(desc)
    env = env if env is not None else default_eval_env()
    return Learner(desc, env, NA_action, string_codes).block(block)
