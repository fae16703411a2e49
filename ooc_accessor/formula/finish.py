"""A merged :class:`~ooc_accessor.formula.state.State` made into patsy's DesignInfos.

The same construction as the end of patsy's ``design_matrix_builders`` (factor infos,
subterms with their contrasts, column names in patsy's order), from the merged state
instead of patsy's sequential passes; factors left to patsy (``kind == "patsy"``) get
patsy's own memorize and sniff passes over ``data_iter_maker``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from patsy import EvalEnvironment, ModelDesc
from patsy.build import (
    _examine_factor_types,
    _factors_memorize,
    _make_subterm_infos,
    _subterm_column_names_iter,
)
from patsy.design_info import DesignInfo, FactorInfo
from patsy.missing import NAAction
from patsy.util import SortAnythingKey

from ..errors import DataError, FormulaError
from ..spec import default_eval_env, model_desc
from .learn import all_factors, fill_transforms
from .state import State, restored

__all__ = ["finish"]


def finish(
    desc: ModelDesc | str,
    state: State,
    env: EvalEnvironment | None = None,
    NA_action: str | NAAction = "drop",  # noqa: N803 (patsy's name)
    data_iter_maker: Callable[[], Iterator[Any]] | None = None,
) -> list[DesignInfo]:
    """The response's and the predictors' DesignInfo from the merged ``state``.

    Parameters
    ----------
    desc : patsy.ModelDesc or str
        The formula (as parsed by :func:`ooc_accessor.spec.model_desc`) or its text.
    state : State
        All blocks' states merged (:func:`~ooc_accessor.formula.merge_states`).
    env : patsy.EvalEnvironment, optional
        Where names that are not columns are looked up (numpy as ``np`` by default).
    NA_action : str or patsy.NAAction
        What counts as missing (patsy's rules).
    data_iter_maker : callable, optional
        A fresh iterator over the blocks, needed only by factors left to patsy's own
        passes (user-defined or nested stateful transforms).

    Raises
    ------
    DataError
        No row was learned.
    FormulaError
        A factor needs patsy's passes over the data and ``data_iter_maker`` is None.
    """
    if isinstance(desc, str):
        desc = model_desc(desc)
    env = env if env is not None else default_eval_env()
    na = NAAction(NA_action) if isinstance(NA_action, str) else NA_action
    factors = all_factors(desc)
    if state.rows == 0 or any(f.code not in state.factors for f in factors):
        raise DataError("there are no rows to learn the formula's state from; pass some data")
    states: dict = {}
    num_columns: dict = {}
    levels_contrasts: dict = {}
    sequential = []
    for f in factors:
        fs = state.factors[f.code]
        st: dict = {}
        f.memorize_passes_needed(st, env)
        states[f] = st
        if fs.kind == "patsy":
            sequential.append(f)
            continue
        fill_transforms(st, fs.transforms)
        if fs.kind == "numerical":
            num_columns[f] = fs.columns
        elif fs.kind == "fixed":
            levels_contrasts[f] = (tuple(fs.levels), restored(fs.contrast))
        else:
            levels = tuple(sorted(fs.levels, key=SortAnythingKey))
            levels_contrasts[f] = (levels, restored(fs.contrast))
    if sequential:
        if data_iter_maker is None:
            codes = ", ".join(repr(f.code) for f in sequential)
            raise FormulaError(
                f"the factor(s) {codes} need patsy's own passes over the data (a stateful "
                "transform of their own or nested ones); pass data_iter_maker"
            )
        states.update(_factors_memorize(set(sequential), data_iter_maker, env))
        nums, cats = _examine_factor_types(sequential, states, data_iter_maker, na)
        num_columns.update(nums)
        levels_contrasts.update(cats)
    return _design_infos(desc, factors, states, num_columns, levels_contrasts)


def _design_infos(
    desc: ModelDesc, factors: list, states: dict, num_columns: dict, levels_contrasts: dict
) -> list[DesignInfo]:
    """patsy's DesignInfo construction (``design_matrix_builders``' last part)."""
    infos = {}
    for f in factors:
        if f in num_columns:
            infos[f] = FactorInfo(f, "numerical", states[f], num_columns=num_columns[f])
        else:
            cats = levels_contrasts[f][0]
            infos[f] = FactorInfo(f, "categorical", states[f], categories=cats)
    out = []
    for termlist in (desc.lhs_termlist, desc.rhs_termlist):
        codings = _make_subterm_infos(termlist, num_columns, levels_contrasts)
        mine = {f: infos[f] for term in termlist for f in term.factors}
        names = [
            name
            for subterms in codings.values()
            for subterm in subterms
            for name in _subterm_column_names_iter(infos, subterm)
        ]
        out.append(DesignInfo(names, factor_infos=mine, term_codings=codings))
    return out
