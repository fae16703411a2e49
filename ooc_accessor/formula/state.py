"""The learned formula state of some blocks, as plain picklable objects, and its merge.

Per factor (keyed by its code) one :class:`FactorState`: numerical with ``k`` columns,
or categorical with a level set (sniffed, in order of first occurrence) or fixed levels
(``C(x, levels=...)``, a pandas Categorical's categories). Per stateful transform
(patsy's ``center``/``standardize``/``scale``), its moments: count, sum, mean and M2,
merged exactly with the parallel formula of Chan, Golub and LeVeque.

:func:`merge` is associative: blocks' states may be merged in any grouping (per worker,
then across workers). Whatever is decided on the first block in patsy (a numerical
factor's column count, a Categorical's categories, fixed levels) is taken from the
left-most state; level sets and moments do not depend on the order (but of values
that are equal, ``1 == 1.0 == True``, the first seen names the level, as in patsy: in
block order, merged in any grouping, that is patsy's). Levels are
those patsy finds in the whole data at once: patsy's chunked sniff stops at the first
chunk whose levels equal ``{False, True}``, which ``{0, 1}`` does too, so an integer
factor whose first chunk holds only 0 and 1 lost its other levels; not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from patsy.contrasts import ContrastMatrix, Diff, Helmert, Poly, Sum, Treatment

__all__ = ["FactorState", "Moments", "State", "merge", "merge_states", "portable", "restored"]

# patsy's contrast objects refuse to pickle: a state carries them as (class, attributes)
_CONTRASTS = {c.__name__: c for c in (Treatment, Poly, Sum, Helmert, Diff)}


def portable(contrast: Any) -> Any:
    """A contrast as a picklable value (patsy's own objects refuse pickling)."""
    if type(contrast) in _CONTRASTS.values():
        return ("contrast", type(contrast).__name__, dict(vars(contrast)))
    if isinstance(contrast, ContrastMatrix):
        return ("matrix", np.asarray(contrast.matrix), list(contrast.column_suffixes))
    return contrast


def restored(value: Any) -> Any:
    """The contrast :func:`portable` made ``value`` from."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "contrast":
        obj = _CONTRASTS[value[1]].__new__(_CONTRASTS[value[1]])
        vars(obj).update(value[2])
        return obj
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "matrix":
        return ContrastMatrix(value[1], value[2])
    return value


@dataclass(frozen=True)
class Moments:
    """One transform's memorized numbers over some rows (float arrays in long double)."""

    kind: str  # "center" or "standardize"
    n: int
    total: np.ndarray | None  # center: the column sums
    mean: np.ndarray | None  # standardize: the running mean and M2
    m2: np.ndarray | None

    def __add__(self, other: Moments) -> Moments:
        if self.n == 0 or (self.total is None and self.mean is None):
            return other
        if other.n == 0 or (other.total is None and other.mean is None):
            return self
        if self.kind == "center":
            return replace(self, n=self.n + other.n, total=self.total + other.total)
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        return replace(self, n=n, mean=mean, m2=m2)


@dataclass(frozen=True)
class FactorState:
    """What some blocks taught about one factor.

    ``kind`` is ``"numerical"`` (``columns``), ``"levels"`` (a sniffed level set, kept as
    an insertion-ordered dict: the first of equal values stays, as in patsy's set),
    ``"fixed"`` (``levels`` as given) or ``"patsy"`` (left to patsy's own sequential
    pass, see :mod:`ooc_accessor.formula`).
    """

    kind: str
    columns: int = 0
    levels: dict | tuple = ()
    contrast: Any = None  # as :func:`portable` keeps it
    transforms: dict[str, Moments] = field(default_factory=dict)


def _merge_factor(a: FactorState, b: FactorState) -> FactorState:
    moments = dict(a.transforms)
    for name, m in b.transforms.items():
        moments[name] = moments[name] + m if name in moments else m
    if a.kind in ("numerical", "fixed", "patsy"):
        return replace(a, transforms=moments)
    if b.kind == "fixed" or b.kind == "patsy":
        return replace(b, transforms=moments)
    if b.kind == "numerical":
        # patsy would sniff the numbers as levels: its own pass decides
        return replace(a, kind="patsy", transforms=moments)
    levels = dict(a.levels)
    levels.update(b.levels)
    return replace(a, levels=levels, contrast=b.contrast, transforms=moments)


@dataclass(frozen=True)
class State:
    """The learned state of some blocks: rows seen and one :class:`FactorState` per code."""

    rows: int = 0
    factors: dict[str, FactorState] = field(default_factory=dict)


def merge(a: State, b: State) -> State:
    """The state of ``a``'s blocks followed by ``b``'s (associative)."""
    factors = dict(a.factors)
    for code, fb in b.factors.items():
        factors[code] = _merge_factor(factors[code], fb) if code in factors else fb
    return State(a.rows + b.rows, factors)


def merge_states(states: Any) -> State:
    """All ``states`` merged left to right (an empty sequence: the empty state)."""
    out = State()
    for s in states:
        out = merge(out, s)
    return out


def long_array(x: Any) -> np.ndarray:
    """``x`` as patsy keeps transform sums: the widest float."""
    return np.asarray(x, dtype=np.longdouble)
