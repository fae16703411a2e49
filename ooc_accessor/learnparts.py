"""The learn pass on a cluster's workers: one mergeable formula state per run of blocks.

Each worker task runs patsy's own learning (``_factors_memorize``, ``_examine_factor_types``,
what ``design_matrix_builders`` runs) over its run of blocks and returns plain data: each
factor's kind and levels, and the numbers of its ``center()``/``standardize()``/``scale()``
state. The client merges them, levels as a sorted union (patsy's own order for sniffed
levels), moments by the parallel formula (count, sum; count, mean, M2), and assembles the
DesignInfos as patsy does. Traffic is O(parts x state), not O(rows).

Only what merges exactly is learned this way: a formula whose transforms are other than
Center/Standardize, or nest (several memorize passes), or feed a categorical factor, is
learned on the client as before (:func:`learn_on_workers` returns None).

This is the adapter where the vectorized engine plugs in: :func:`learn_part` becomes its
``learn_block`` folded over the run with ``merge_states``, :func:`merge` its
``merge_states`` and :func:`finish` its ``finish``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from dask.delayed import delayed
from patsy import EvalEnvironment, PatsyError
from patsy.build import (
    _examine_factor_types,
    _factors_memorize,
    _make_subterm_infos,
    _subterm_column_names_iter,
)
from patsy.design_info import DesignInfo, FactorInfo
from patsy.missing import NAAction
from patsy.util import SortAnythingKey

from . import reduce
from .safety import offence
from .sources import missing_columns
from .spec import default_eval_env, model_desc
from .translate import translate

__all__ = ["finish", "learn_on_workers", "learn_part", "merge"]

#: transforms whose state merges exactly, and the names of their numbers
_MERGEABLE = {
    "Center": ("_count", "_sum"),
    "Standardize": ("current_n", "current_mean", "current_M2"),
}
#: rows of the first block the client evaluates for the factors' kinds and contrasts
_HEAD = 64


def _factors(desc: Any) -> list:
    seen: dict = {}
    for term in (*desc.lhs_termlist, *desc.rhs_termlist):
        for factor in term.factors:
            seen.setdefault(factor.code, factor)
    return list(seen.values())


def _mergeable(desc: Any, env: EvalEnvironment) -> bool:
    """Whether every factor's learned state merges exactly across runs of blocks."""
    for factor in _factors(desc):
        state: dict = {}
        if factor.memorize_passes_needed(state, env) > 1:
            return False
        transforms = state.get("transforms", {})
        if any(type(obj).__name__ not in _MERGEABLE for obj in transforms.values()):
            return False
        if transforms and "C(" in factor.code:  # a categorical of a transformed value
            return False
    return True


def learn_part(source: Any, ranges: list, formula: str, missing: str) -> dict:
    """Worker task: the formula's state learned over the blocks ``ranges`` of ``source``.

    Returns plain, picklable data: ``{"kinds": {code: ("num", columns) | ("cat", levels)},
    "transforms": {code: {name: {attribute: value}}}}``.
    """
    desc = model_desc(formula)
    env = default_eval_env()
    factors = _factors(desc)
    current: list = []

    def blocks() -> Any:
        for a, b in ranges:
            current[:] = [source.block(a, b)]
            yield current[0]

    try:
        states = _factors_memorize(set(factors), blocks, env)
        num, cat = _examine_factor_types(set(factors), states, blocks, NAAction(missing))
    except PatsyError as exc:
        raise translate(exc, current[0] if current else None, formula) from exc
    kinds = {
        f.code: ("num", int(num[f])) if f in num else ("cat", tuple(cat[f][0])) for f in factors
    }
    transforms = {
        f.code: {
            name: {k: getattr(obj, k) for k in _MERGEABLE[type(obj).__name__]}
            for name, obj in states[f].get("transforms", {}).items()
        }
        for f in factors
    }
    return {"kinds": kinds, "transforms": transforms}


def _merge_moments(a: dict, b: dict) -> dict:
    if "_count" in a:  # Center: a count and a sum
        if not a["_count"]:
            return b
        if not b["_count"]:
            return a
        return {"_count": a["_count"] + b["_count"], "_sum": a["_sum"] + b["_sum"]}
    na, nb = a["current_n"], b["current_n"]  # Standardize: Chan et al.'s parallel update
    if not na:
        return b
    if not nb:
        return a
    n = na + nb
    delta = b["current_mean"] - a["current_mean"]
    return {
        "current_n": n,
        "current_mean": a["current_mean"] + delta * nb / n,
        "current_M2": a["current_M2"] + b["current_M2"] + delta**2 * na * nb / n,
    }


def merge(states: list[dict]) -> dict | None:
    """Merge the runs' states; None when they disagree on a factor's kind (learn here)."""
    out = {"kinds": dict(states[0]["kinds"]), "transforms": states[0]["transforms"]}
    for state in states[1:]:
        for code, kind in state["kinds"].items():
            have = out["kinds"][code]
            if have[0] != kind[0] or (have[0] == "num" and have[1] != kind[1]):
                return None
            if have[0] == "cat" and have[1] != kind[1]:
                levels = set(have[1]) | set(kind[1])
                out["kinds"][code] = ("cat", tuple(sorted(levels, key=SortAnythingKey)))
        out["transforms"] = {
            code: {
                name: _merge_moments(moments, state["transforms"][code][name])
                for name, moments in merged.items()
            }
            for code, merged in out["transforms"].items()
        }
    return out


def finish(desc: Any, state: dict, head: Any, env: EvalEnvironment, missing: str) -> list:
    """The DesignInfos of y and X from the merged ``state``, assembled as patsy does.

    ``head`` (a few rows of the source) gives each factor's evaluated kind and contrast
    (patsy's contrast objects do not pickle, so they are not sent back by the workers).
    """
    factors = _factors(desc)
    states: dict = {}
    for factor in factors:
        fstate: dict = {}
        factor.memorize_passes_needed(fstate, env)
        for name, obj in fstate.get("transforms", {}).items():
            vars(obj).update(state["transforms"][factor.code][name])
        states[factor] = fstate
    num, cat = _examine_factor_types(set(factors), states, lambda: iter([head]), NAAction(missing))
    for factor in factors:
        kind = state["kinds"][factor.code]
        if (kind[0] == "num") != (factor in num):
            return None
        if kind[0] == "cat":
            cat[factor] = (kind[1], cat[factor][1])
        else:
            num[factor] = kind[1]
    infos = {
        f: FactorInfo(f, "numerical", states[f], num_columns=num[f])
        if f in num
        else FactorInfo(f, "categorical", states[f], categories=cat[f][0])
        for f in factors
    }
    out = []
    for termlist in (desc.lhs_termlist, desc.rhs_termlist):
        codings: OrderedDict = _make_subterm_infos(termlist, num, cat)
        names = [
            name
            for subterms in codings.values()
            for subterm in subterms
            for name in _subterm_column_names_iter(infos, subterm)
        ]
        used = {f: infos[f] for term in termlist for f in term.factors}
        out.append(DesignInfo(names, factor_infos=used, term_codings=codings))
    return out


def learn_on_workers(
    desc: Any, source: Any, rows: int, env: EvalEnvironment, missing: str, formula: str
) -> list[DesignInfo] | None:
    """The design infos learned by the cluster's workers, or None to learn on the client.

    Runs when the source is one a worker reads itself (a dask-backed Dataset), the formula
    calls only numpy and patsy, and its state merges exactly (see the module).
    """
    if not getattr(source, "remote", False):
        return None
    codes = [f.code for f in _factors(desc)]
    if missing_columns(source, codes, default_eval_env()) or any(map(offence, codes)):
        return None
    if not _mergeable(desc, env):
        return None
    groups = reduce.worker_groups(source.ranges(rows))
    if groups is None or len(groups) < 2:
        return None
    tasks = [delayed(learn_part, pure=False)(source, g, formula, missing) for g in groups]
    state = merge(list(reduce.compute(*tasks)))
    if state is None or any(k == ("cat", ()) for k in state["kinds"].values()):
        return None  # kinds disagree, or a factor has no level: learned (and named) here
    head = source.block(0, min(source.n_rows, _HEAD))
    return finish(desc, state, head, env, missing)
