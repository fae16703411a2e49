"""The engine's learned state: mergeable, order-free, equal to patsy's one-pass learn.

Also the columns a source delivers as codes (levels = the categories present, as patsy
sniffs the strings), and the factors left to patsy's own passes (a user's stateful
transform, nested transforms).
"""

from __future__ import annotations

import pickle
import random

import numpy as np
import pandas as pd
import patsy
import pytest
from patsy import EvalEnvironment, stateful_transform

import ooc_accessor  # noqa: F401  (registers .ooc)
from ooc_accessor.blocks import build_block, learn_infos
from ooc_accessor.errors import ColumnTypeError, FormulaError, UnseenLevelError
from ooc_accessor.formula import Moments, build_arrays, finish, learn_block, merge, merge_states
from ooc_accessor.formula.state import State
from ooc_accessor.spec import default_eval_env, design_spec, model_desc

FORMULA = "y ~ a + C(g, Sum) + s:flag + cat + standardize(c) + center(a):s + C(k)"


def frame(n: int = 90, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c", "d"], n).astype(object)
    g[::13] = None
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "a": rng.normal(size=n),
            "c": rng.normal(loc=1e3, scale=0.5, size=n),  # a large mean: M2 merges matter
            "k": rng.integers(0, 3, n),
            "flag": rng.random(n) < 0.5,
            "g": g,
            "s": pd.array(rng.choice(["u", "v", "w"], n), dtype="str"),
            "cat": pd.Categorical(rng.choice(["x", "y"], n), categories=["y", "x", "unused"]),
        }
    )


def block_states(df: pd.DataFrame, rows: int) -> list[State]:
    desc, env = model_desc(FORMULA), default_eval_env()
    return [learn_block(desc, df.iloc[i : i + rows], env, "drop") for i in range(0, len(df), rows)]


def describe(infos) -> tuple:
    """Column names, levels and contrasts; transform numbers separately (floats)."""
    spec = design_spec(infos, FORMULA)
    numbers = {}
    for code, entry in spec["factors"].items():
        for name, t in entry.pop("transforms").items():
            for attr, v in t["state"]["__dict__"]:
                if isinstance(v, dict):
                    numbers[(code, name, attr)] = np.asarray(v["__nd__"], dtype=float)
                else:
                    numbers[(code, name, attr)] = np.asarray(v, dtype=float)
    return spec, numbers


def assert_same(one, other) -> None:
    (s1, n1), (s2, n2) = describe(one), describe(other)
    assert s1 == s2
    assert n1.keys() == n2.keys()
    for key in n1:
        np.testing.assert_allclose(n1[key], n2[key], rtol=1e-13, err_msg=str(key))


def test_merge_is_associative_and_order_free():
    df = frame()
    states = block_states(df, 7)
    env = default_eval_env()
    left = merge_states(states)
    right = states[-1]
    for s in reversed(states[:-1]):
        right = merge(s, right)
    tree = merge_states([merge_states(states[:5]), merge_states(states[5:9]), *states[9:]])
    want = finish(FORMULA, left, env)
    for other in (right, tree):
        assert_same(finish(FORMULA, other, env), want)
    for seed in range(3):
        shuffled = list(states)
        random.Random(seed).shuffle(shuffled)
        assert_same(finish(FORMULA, merge_states(shuffled), env), want)


def test_per_block_learn_equals_one_pass_and_patsy():
    df = frame()
    env = default_eval_env()
    whole = finish(FORMULA, learn_block(FORMULA, df, env), env)
    merged = finish(FORMULA, merge_states(block_states(df, 4)), env)
    assert_same(merged, whole)
    desc = model_desc(FORMULA)
    chunks = [df.iloc[i : i + 4] for i in range(0, len(df), 4)]
    patsy_infos = patsy.design_matrix_builders(
        [desc.lhs_termlist, desc.rhs_termlist], lambda: iter(chunks), env, "drop"
    )
    assert_same(merged, patsy_infos)
    assert merged[1].column_names == patsy_infos[1].column_names


def test_state_pickles():
    state = merge_states(block_states(frame(), 30))
    again = pickle.loads(pickle.dumps(state))
    env = default_eval_env()
    assert_same(finish(FORMULA, again, env), finish(FORMULA, state, env))


CONTRASTS = [
    "Treatment(reference='c')",
    "Poly",
    "Poly([1, 2, 5, 7])",
    "Sum(omit=1)",
    "Helmert",
    "Diff",
    "np.eye(4)",
    "ContrastMatrix(np.eye(4)[:, :2], ['_p', '_q'])",
]


@pytest.mark.parametrize("contrast", CONTRASTS)
def test_states_with_any_contrast_pickle(contrast):
    # patsy's contrast objects refuse pickling: a worker's state must still travel
    df = frame().dropna()
    formula = f"y ~ C(g, {contrast}) + a"
    env = EvalEnvironment([{"np": np, "ContrastMatrix": patsy.ContrastMatrix}])
    state = pickle.loads(pickle.dumps(merge_states(block_states_of(formula, df, env))))
    infos = finish(formula, state, env)
    _, x = patsy.dmatrices(formula, df, eval_env=env, return_type="dataframe")
    assert infos[1].column_names == list(x.columns)
    (built,) = patsy.build_design_matrices([infos[1]], df, return_type="dataframe")
    np.testing.assert_array_equal(built.to_numpy(), x.to_numpy())


def block_states_of(formula: str, df: pd.DataFrame, env: EvalEnvironment) -> list[State]:
    return [learn_block(formula, df.iloc[i : i + 9], env) for i in range(0, len(df), 9)]


def test_moments_merge_exactly():
    rng = np.random.default_rng(2)
    x = rng.normal(loc=1e6, scale=1e-2, size=(500, 2))
    parts = np.split(x, [3, 4, 200, 499])

    def moments(p):
        w = p.astype(np.longdouble)
        m = w.mean(0)
        return Moments("standardize", len(p), None, m, ((w - m) ** 2).sum(0))

    merged = moments(parts[0])
    for p in parts[1:]:
        merged = merged + moments(p)
    whole = x.astype(np.longdouble)
    assert merged.n == 500
    np.testing.assert_allclose(merged.mean.astype(float), whole.mean(0).astype(float), rtol=1e-15)
    var = ((whole - whole.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(merged.m2.astype(float), var.astype(float), rtol=1e-12)


class _Source:
    """A source whose string column ``g`` arrives as codes (a Categorical of all levels)."""

    def __init__(self, df: pd.DataFrame, string_codes: frozenset[str]) -> None:
        self.df, self.string_codes = df, string_codes

    def blocks(self, rows: int):
        for i in range(0, len(self.df), rows):
            yield self.df.iloc[i : i + rows]


@pytest.mark.parametrize("formula", ["y ~ g + a", "y ~ C(g, Sum):a + a"])
def test_string_codes_learn_the_levels_present(formula):
    rng = np.random.default_rng(4)
    n = 40
    strings = rng.choice(["b", "d", "a"], n).astype(object)
    strings[5] = None
    df = pd.DataFrame({"y": rng.normal(size=n), "a": rng.normal(size=n), "g": strings})
    # the store's level table holds levels this data never uses
    coded = df.assign(g=pd.Categorical(strings, categories=["a", "b", "c", "d", "e"]))
    env, desc = default_eval_env(), model_desc(formula)
    infos = learn_infos(desc, _Source(coded, frozenset({"g"})), 9, env, "drop", formula)
    y, x = patsy.dmatrices(formula, df, NA_action="drop", return_type="dataframe")
    assert infos[1].column_names == list(x.columns)
    built = [
        build_block(infos, coded.iloc[i : i + 9], "drop", None, formula) for i in (0, 9, 18, 27, 36)
    ]
    np.testing.assert_array_equal(np.vstack([b.x for b in built]), x.to_numpy())
    np.testing.assert_array_equal(np.concatenate([b.y for b in built]), y.to_numpy()[:, 0])
    # without the mark a Categorical keeps all its categories (patsy's rule)
    plain = learn_infos(desc, _Source(coded, frozenset()), 9, env, "drop", formula)
    assert len(plain[1].column_names) > len(x.columns)
    # a level of the table the design never saw is refused by name
    new = coded.iloc[:3].assign(g=pd.Categorical(["e", "a", "b"], categories=list("abcde")))
    with pytest.raises(UnseenLevelError, match="'e'"):
        build_block(infos, new, "drop", None, formula)


class _Demean:
    """A stateful transform of the user's own: patsy's passes learn it."""

    def __init__(self) -> None:
        self.total, self.n = 0.0, 0

    def memorize_chunk(self, x):
        self.total += float(np.sum(x))
        self.n += len(x)

    def memorize_finish(self):
        pass

    def transform(self, x):
        return np.asarray(x, dtype=float) - self.total / self.n


demean = stateful_transform(_Demean)


@pytest.mark.parametrize(
    "formula", ["y ~ demean(a) + C(g)", "y ~ center(standardize(c)) + a", "y ~ C(g):demean(c)"]
)
def test_factors_left_to_patsys_passes(formula):
    df = frame().dropna()
    env = EvalEnvironment([{"demean": demean, "np": np}])
    design = df.ooc.design(formula, chunksize=11, eval_env=env)
    _, x = patsy.dmatrices(formula, df, eval_env=env, return_type="dataframe")
    assert list(design.terms) == list(x.columns)
    np.testing.assert_allclose(design.X.values, x.to_numpy(), rtol=0, atol=1e-12)
    with pytest.raises(FormulaError, match="data_iter_maker"):
        finish(formula, learn_block(formula, df, env), env)


def test_unhashable_values_keep_patsys_error():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "g": [[1], [2], [1]]})
    with pytest.raises(ColumnTypeError, match="hashable") as info:
        df.ooc.design("y ~ g")
    assert "column 'g'" in str(info.value)


_POOLS = {
    "objs": ["a", "b", None, np.nan, "nan", "c"],  # "nan" is NA to patsy (float("nan"))
    "bools": [True, False, None],
    "mixed": [1, 2.5, "x", None, True],  # pandas codes 1 and True alike; patsy adds False
    "zero": [0, 0.0, False, 1.0, "0"],  # False before 1.0: True names the level
    "ints": [0, 1, 2, 3],
    "floats": [0.5, 1.5, np.nan, 2.0],
}
_TERMS = ["objs", "bools", "C(ints)", "C(floats)", "x", "cat", "objs:x", "bools:cat"]
_TERMS += ["C(ints, Sum):objs", "mixed", "C(mixed, Helmert):x", "zero", "C(zero, Sum)"]


def _random_case(seed: int) -> tuple[str, pd.DataFrame, int]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 40))
    cols = {}
    for name, pool in _POOLS.items():
        values = [pool[i] for i in rng.integers(0, len(pool), n)]
        cols[name] = pd.Series(
            values, dtype=object if name in ("objs", "bools", "mixed", "zero") else None
        )
    cols["x"], cols["y"] = rng.normal(size=n), rng.normal(size=n)
    cols["cat"] = pd.Categorical(rng.choice(["p", "q", "r"], n), categories=["r", "q", "p", "s"])
    terms = random.Random(seed).sample(_TERMS, 3)
    return "y ~ " + " + ".join(terms), pd.DataFrame(cols), int(rng.integers(1, n + 1))


@pytest.mark.parametrize("seed", range(0, 96, 8))
def test_random_frames_equal_patsy_on_the_whole_frame(seed):
    env = default_eval_env()
    for s in range(seed, seed + 8):
        formula, df, rows = _random_case(s)
        desc = model_desc(formula)
        try:
            want = patsy.design_matrix_builders(
                [desc.lhs_termlist, desc.rhs_termlist], lambda d=df: iter([d]), env, "drop"
            )
            (_, wx) = patsy.build_design_matrices(want, df, return_type="dataframe")
        except patsy.PatsyError as exc:
            with pytest.raises(patsy.PatsyError, match=str(exc).splitlines()[0][:40]):
                blocks = [df.iloc[i : i + rows] for i in range(0, len(df), rows)]
                infos = finish(desc, merge_states(learn_block(desc, b, env) for b in blocks), env)
                build_arrays(infos, df, "drop")
            continue
        blocks = [df.iloc[i : i + rows] for i in range(0, len(df), rows)]
        # merged in block order (equal levels 1 == 1.0 == True are named by the first
        # seen, as patsy names them), in a tree of any grouping
        states = [learn_block(desc, b, env) for b in blocks]
        half = random.Random(s).randint(0, len(states))
        state = merge(merge_states(states[:half]), merge_states(states[half:]))
        infos = finish(desc, state, env)
        assert infos[1].column_names == want[1].column_names, formula
        (_, x), kept = build_arrays(infos, df, "drop")
        np.testing.assert_array_equal(x, wx.to_numpy(), err_msg=formula)
        np.testing.assert_array_equal(kept, wx.index.to_numpy())
