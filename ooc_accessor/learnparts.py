"""The learn pass on a cluster's workers: one mergeable formula state per run of blocks.

Each worker task folds the formula engine's per-block states over its run of blocks
(:func:`ooc_accessor.formula.learn_block`, :func:`~ooc_accessor.formula.merge`) and returns
that :class:`~ooc_accessor.formula.State`: plain, picklable data (each factor's kind and
levels, the moments of its ``center()``/``standardize()``/``scale()``). The client merges the
runs' states in row order and makes the DesignInfos from them
(:func:`~ooc_accessor.formula.finish`). Traffic is O(parts x state), not O(rows).

A formula with a factor the engine leaves to patsy's sequential passes (a stateful
transform of the user's own, nested transforms) is learned on the client, as is one whose
runs disagree on a factor's kind or that has a factor with no level (so the error names
it): :func:`learn_on_workers` returns None.
"""

from __future__ import annotations

from typing import Any

from dask.delayed import delayed
from patsy import EvalEnvironment, PatsyError
from patsy.design_info import DesignInfo

from . import progress, reduce
from .errors import OOCError
from .formula import Learner, State, finish, merge, merge_states
from .formula.learn import all_factors
from .safety import offence
from .sources import missing_columns
from .spec import default_eval_env, model_desc
from .translate import translate

__all__ = ["learn_on_workers", "learn_part"]


def learn_part(
    source: Any, ranges: list, formula: str, missing: str, string_codes: frozenset[str]
) -> State:
    """Worker task: the formula's state learned over the blocks ``ranges`` of ``source``."""
    learner = Learner(model_desc(formula), default_eval_env(), missing, string_codes)
    state = State()
    block = None
    try:
        for a, b in ranges:
            block = source.block(a, b)
            state = merge(state, learner.block(block))
    except PatsyError as exc:
        raise translate(exc, block, formula) from exc
    return state


def learn_on_workers(
    desc: Any, source: Any, rows: int, env: EvalEnvironment, missing: str, formula: str
) -> list[DesignInfo] | None:
    """The design infos learned by the cluster's workers, or None to learn on the client.

    Runs when the source is one a worker reads itself (a dask-backed Dataset), the formula
    calls only numpy and patsy, and the engine learns every factor per block (see the
    module).
    """
    if not getattr(source, "remote", False):
        return None
    codes = [f.code for f in all_factors(desc)]
    if missing_columns(source, codes, default_eval_env()) or any(map(offence, codes)):
        return None
    string_codes = frozenset(getattr(source, "string_codes", frozenset()))
    if Learner(desc, env, missing, string_codes).sequential:
        return None  # patsy's own passes over the data: on the client
    groups = reduce.worker_groups(source.ranges(rows))
    if groups is None or len(groups) < 2:
        return None
    tasks = [
        progress.leaf(
            delayed(learn_part, pure=False)(source, g, formula, missing, string_codes),
            reduce.rows_of(g),
        )
        for g in groups
    ]
    # a block's own error (named) is raised from here
    row_bytes = progress.source_row_bytes(source)
    states = reduce.compute(*tasks, desc="design: learn", row_bytes=row_bytes)
    try:
        return finish(desc, merge_states(states), env, missing)
    except (OOCError, PatsyError, ValueError, TypeError):
        # runs disagree on a factor's kind (patsy's passes decide), or a factor has no
        # level: learned on the client, whose error names the column and the block
        return None
