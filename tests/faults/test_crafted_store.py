"""A store is data: no code read from a file runs unless the user trusts it by name.

Each crafted store is a real store whose ``spec`` (and, where the case needs it, its
``formula``) attribute was edited with h5py and whose manifest was re-sealed the way the
writer seals it, so the integrity check passes and only the code check stands between the
file and ``eval``. Every payload would create a canary file; each test asserts the store is
refused (UnsafeCodeError, or StoreError for a malformed spec) and that the canary does not
exist. ``test_the_harness_has_teeth`` shows a payload does run when the check is removed.
"""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pandas as pd
import patsy
import pytest

import ooc_accessor as ooc
from ooc_accessor import manifest, parts, safety, spec

REFUSED = (ooc.UnsafeCodeError, ooc.StoreError)


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 40
    return pd.DataFrame(
        {
            "x": rng.uniform(0.5, 3.0, n),
            "z": rng.normal(size=n),
            "g": np.array(["a", "b", "c"])[np.arange(n) % 3],
            "k": (np.arange(n) % 5).astype(np.int64),
            "flag": np.arange(n) % 2 == 0,
            "my b": rng.normal(size=n),
            "y": rng.normal(size=n),
        }
    )


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "canary"
    yield str(path)
    assert not path.exists(), "a payload read from a store ran"


def read_spec(path) -> dict:
    with h5py.File(path, "r") as f:
        return json.loads(manifest.plain_attr(f.attrs["spec"]))


def rewrite(path, new_spec: dict | str, formula: str | None = None) -> None:
    """Edit the store's attributes and re-seal its (unkeyed) manifest."""
    with h5py.File(path, "r+") as f:
        f.attrs["spec"] = new_spec if isinstance(new_spec, str) else json.dumps(new_spec)
        if formula is not None:
            f.attrs["formula"] = formula
    manifest.seal(str(path))


def store(df, formula, path) -> str:
    df.ooc.design(formula, path=path).close()
    return str(path)


def swap_code(path, old: str, new: str) -> None:
    """Replace a code everywhere (formula, factor keys, terms, column names): a consistent
    spec whose formula really yields the new code, so only the allow-list can refuse it."""
    with h5py.File(path, "r") as f:
        text = manifest.plain_attr(f.attrs["spec"])
        formula = manifest.plain_attr(f.attrs["formula"])
    quoted = json.dumps(new)[1:-1]
    rewrite(path, text.replace(json.dumps(old)[1:-1], quoted), formula.replace(old, new))


def payloads(canary: str) -> list[str]:
    c = repr(canary)
    return [
        f"__import__('os').system('touch {canary}')",
        f"I(__import__('pathlib').Path({c}).touch())",
        f"np.load({c}, allow_pickle=True)",
        f"np.lib.format.open_memmap({c}, mode='w+', shape=(1,))",
        f"numpy.ctypeslib.load_library('x', {c})",
        f"np.log(x, out=open({c}, 'w'))",
        f"eval(\"open({c}, 'w')\")",
        f"exec(\"open({c}, 'w')\")",
        f"getattr(np, 'save')({c}, x)",
        f"np.frompyfunc(open, 2, 1)({c}, 'w')",
        f"(lambda: open({c}, 'w'))()",
        f"I([open({c}, 'w') for _ in 'a'])",
        "x.__class__",
        "np.log.__call__(x)",
        "I(x).__reduce__()",
        "Q('__builtins__')",
        "Q('o' + 's')",
        f"C(g, __import__('os').system('touch {canary}'))",
        f"C(g, Treatment(open({c}, 'w')))",
        f"C(g, levels=[open({c}, 'w')])",
        "bs(x, df=eval('4'))",
        f"center(x.pipe(lambda s: open({c}, 'w')))",
        "np.power(x, 2)[0]",
        f"I(x if open({c}, 'w') else x)",
        "I(__debug__)",
        f"I({{open({c}, 'w'): 1}})",
        "x.astype(str)",
        "os.system('true')",
        "np.vectorize(print)(x)",
        "np.fromfile('/etc/passwd')",
        # no code, but a stall or an exhausted memory before anything could be checked
        "I(x ** 10 ** 10 ** 10)",
        "I([x] * 10 ** 10)",
        "I('a' * 10 ** 10)",
        "I(" + "-" * 5000 + "x)",  # deeper than Python's recursion limit
    ]


@pytest.mark.parametrize("i", range(len(payloads("c"))))
def test_payload_in_a_consistent_spec_is_refused(df, tmp_path, canary, i):
    """The formula, its codes, terms and column names all agree: the allow-list refuses."""
    payload = payloads(canary)[i]
    path = store(df, "y ~ x + np.log(z + 3)", tmp_path / "d.nc")
    swap_code(path, "np.log(z + 3)", payload)
    with pytest.raises(REFUSED, match=f"{os.path.basename(path)}") as info:
        ooc.open_design(path)
    if isinstance(info.value, ooc.UnsafeCodeError):
        assert "never run" in str(info.value) or "none of its code is run" in str(info.value)
    with pytest.raises(REFUSED):
        ooc.open_design(path, verify=False)


def test_message_names_store_code_and_offender(df, tmp_path, canary):
    path = store(df, "y ~ x + np.log(z + 3)", tmp_path / "d.nc")
    payload = f"__import__('os').system('touch {canary}')"
    swap_code(path, "np.log(z + 3)", payload)
    with pytest.raises(ooc.UnsafeCodeError) as info:
        ooc.open_design(path)
    msg = str(info.value)
    assert repr(path) in msg and repr(payload) in msg
    assert "__import__('os').system" in msg and "No opt-in allows this" in msg


def test_the_harness_has_teeth(df, tmp_path, monkeypatch):
    """Without the check, the same crafted store runs its payload on open and predict."""
    canary = tmp_path / "ran"
    path = store(df, "y ~ x + np.log(z + 3)", tmp_path / "d.nc")
    swap_code(path, "np.log(z + 3)", f"I(x + __import__('pathlib').Path({str(canary)!r}).touch())")
    monkeypatch.setattr(spec, "check_spec", lambda *a, **k: None)
    design = ooc.open_design(path)
    with pytest.raises(Exception):  # noqa: B017 - the payload's return value breaks patsy
        design.build(df)
    assert canary.exists()


# -- codes altered in the spec only (the formula says otherwise) -------------------------------
def _edit(path, fn) -> None:
    s = read_spec(path)
    fn(s)
    rewrite(path, s)


def _payload(canary: str) -> str:
    return f"__import__('os').system('touch {canary}')"


def test_factor_code_replaced(df, tmp_path, canary):
    path = store(df, "y ~ x + np.log(z + 3)", tmp_path / "d.nc")

    def fn(s):
        s["factors"][_payload(canary)] = s["factors"].pop("np.log(z + 3)")
        for t in s["matrices"][1]["terms"]:
            t["term"] = [_payload(canary) if c == "np.log(z + 3)" else c for c in t["term"]]
            for st in t["subterms"]:
                st["factors"] = [
                    _payload(canary) if c == "np.log(z + 3)" else c for c in st["factors"]
                ]

    _edit(path, fn)
    with pytest.raises(ooc.UnsafeCodeError, match="does not yield"):
        ooc.open_design(path)


def test_extra_factor_code(df, tmp_path, canary):
    path = store(df, "y ~ x", tmp_path / "d.nc")
    _edit(
        path,
        lambda s: s["factors"].__setitem__(
            _payload(canary), {"type": "numerical", "num_columns": 1, "transforms": {}}
        ),
    )
    with pytest.raises(ooc.UnsafeCodeError, match="__import__"):
        ooc.open_design(path)


def test_missing_factor_code(df, tmp_path):
    path = store(df, "y ~ x + z", tmp_path / "d.nc")
    _edit(path, lambda s: s["factors"].pop("z"))
    with pytest.raises(ooc.UnsafeCodeError, match="'z'"):
        ooc.open_design(path)


def test_term_code_altered(df, tmp_path, canary):
    path = store(df, "y ~ x", tmp_path / "d.nc")

    def fn(s):
        s["matrices"][1]["terms"][1]["term"] = [_payload(canary)]

    _edit(path, fn)
    with pytest.raises(ooc.UnsafeCodeError, match="does not yield"):
        ooc.open_design(path)


def test_response_term_altered(df, tmp_path, canary):
    path = store(df, "y ~ x", tmp_path / "d.nc")
    _edit(path, lambda s: s["matrices"][0]["terms"][0].__setitem__("term", [_payload(canary)]))
    with pytest.raises(ooc.UnsafeCodeError, match="does not yield"):
        ooc.open_design(path)


def test_subterm_factor_list(df, tmp_path, canary):
    path = store(df, "y ~ x + C(g)", tmp_path / "d.nc")

    def fn(s):
        term = next(t for t in s["matrices"][1]["terms"] if t["term"] == ["C(g)"])
        term["subterms"][0]["factors"].append("x")

    _edit(path, fn)
    with pytest.raises(ooc.UnsafeCodeError, match="subterm"):
        ooc.open_design(path)


def test_contrast_keyed_by_code(df, tmp_path, canary):
    path = store(df, "y ~ x + C(g)", tmp_path / "d.nc")

    def fn(s):
        term = next(t for t in s["matrices"][1]["terms"] if t["term"] == ["C(g)"])
        sub = term["subterms"][0]
        sub["contrasts"][_payload(canary)] = sub["contrasts"].pop("C(g)")

    _edit(path, fn)
    with pytest.raises(ooc.UnsafeCodeError, match="subterm"):
        ooc.open_design(path)


@pytest.mark.parametrize(
    "matrix",
    [
        {"__nd__": ["__import__('os')"], "dtype": "<U20", "shape": [1]},
        {"__nd__": [[1.0]], "dtype": "|O", "shape": [1, 1]},
        "np.eye(3)",
        {"__nd__": [1.0, 0.0], "dtype": "<f8", "shape": [2, 1], "extra": 1},
    ],
)
def test_contrast_matrix_not_numbers(df, tmp_path, matrix):
    path = store(df, "y ~ x + C(g)", tmp_path / "d.nc")

    def fn(s):
        term = next(t for t in s["matrices"][1]["terms"] if t["term"] == ["C(g)"])
        term["subterms"][0]["contrasts"]["C(g)"]["matrix"] = matrix

    _edit(path, fn)
    with pytest.raises(ooc.StoreError, match="contrast matrix of 'C\\(g\\)' is not numbers"):
        ooc.open_design(path)


def test_formula_attribute_differs_from_spec(df, tmp_path, canary):
    path = store(df, "y ~ x", tmp_path / "d.nc")
    rewrite(path, read_spec(path), formula=f"y ~ x + {_payload(canary)}")
    with pytest.raises(ooc.UnsafeCodeError, match="says its formula is"):
        ooc.open_design(path)


def test_spec_formula_edited_alone(df, tmp_path, canary):
    path = store(df, "y ~ x", tmp_path / "d.nc")
    s = read_spec(path)
    s["formula"] = f"y ~ {_payload(canary)}"
    rewrite(path, s, formula=s["formula"])
    with pytest.raises(ooc.UnsafeCodeError):
        ooc.open_design(path)


@pytest.mark.parametrize("name", ["names", "column"])
def test_column_names_not_text(df, tmp_path, name):
    path = store(df, "y ~ x", tmp_path / "d.nc")
    _edit(path, lambda s: s["matrices"][1].__setitem__("column_names", [{"__nd__": [1]}, 2]))
    with pytest.raises(ooc.StoreError, match="column names that are not text"):
        ooc.open_design(path)


@pytest.mark.parametrize(
    ("formula", "cls", "state", "exc", "match"),
    [
        # another class than the code makes
        ("center(x)", "Popen", None, ooc.UnsafeCodeError, "Popen"),
        # an attribute patsy's Center does not keep (it would shadow a method)
        ("center(x)", "Center", {"transform": 1}, ooc.UnsafeCodeError, "transform"),
        ("center(x)", "Center", {"__class__": 1}, ooc.UnsafeCodeError, "__class__"),
        # the learned numbers as text, an object array, a nested dict
        ("center(x)", "Center", {"_count": "os.system"}, ooc.StoreError, "_count"),
        (
            "standardize(x)",
            "Standardize",
            {"current_mean": {"__nd__": [1], "dtype": "|O", "shape": [1]}},
            ooc.StoreError,
            "current_mean",
        ),
        ("bs(x, df=4)", "BS", {"_all_knots": {"__dict__": []}}, ooc.StoreError, "_all_knots"),
        ("cr(x, df=4)", "CR", {"_name": "__import__"}, ooc.StoreError, "_name"),
    ],
)
def test_transform_class_and_state(df, tmp_path, formula, cls, state, exc, match):
    path = store(df, f"y ~ {formula}", tmp_path / "d.nc")

    def fn(s):
        entry = next(iter(s["factors"][formula]["transforms"].values()))
        entry["class"] = cls
        if state:
            items = dict(entry["state"]["__dict__"])
            items.update(state)
            entry["state"]["__dict__"] = [[k, v] for k, v in items.items()]

    _edit(path, fn)
    with pytest.raises(exc, match=match):
        ooc.open_design(path)


def test_transform_entry_name(df, tmp_path):
    path = store(df, "y ~ center(x)", tmp_path / "d.nc")

    def fn(s):
        t = s["factors"]["center(x)"]["transforms"]
        t["os"] = t.pop(next(iter(t)))

    _edit(path, fn)
    with pytest.raises(ooc.UnsafeCodeError, match="transform entry 'os'"):
        ooc.open_design(path)


def test_code_like_categories_are_data(df, tmp_path, canary):
    """Levels are compared with values, never evaluated: a code-like level is just text."""
    payload = _payload(canary)
    data = df.assign(g=np.where(df.g == "c", payload, df.g))
    fit = data.ooc.lstsq("y ~ x + C(g)", path=tmp_path / "d.nc")
    reopened = ooc.open_design(tmp_path / "d.nc")
    assert (
        payload
        in reopened.design_infos[1]
        .factor_infos[next(f for f in reopened.design_infos[1].factor_infos if f.code == "C(g)")]
        .categories
    )
    np.testing.assert_array_equal(reopened.build(data).X.values, fit._design.X.values)


@pytest.mark.parametrize(
    "level",
    [{"__nd__": [1], "dtype": "<i8", "shape": [1]}, {"__dict__": []}, [1, 2]],
)
def test_categories_not_plain_values(df, tmp_path, level):
    path = store(df, "y ~ C(g)", tmp_path / "d.nc")
    _edit(path, lambda s: s["factors"]["C(g)"]["categories"].__setitem__(0, level))
    with pytest.raises(ooc.StoreError, match="levels of 'C\\(g\\)' are not plain values"):
        ooc.open_design(path)


def test_q_names(df, tmp_path, canary):
    path = store(df, "y ~ Q('my b')", tmp_path / "d.nc")
    np.testing.assert_array_equal(
        ooc.open_design(path).build(df).X.sel(term="Q('my b')").values, df["my b"].values
    )
    swap_code(path, "Q('my b')", "Q('__import__')")
    with pytest.raises(ooc.UnsafeCodeError, match="__import__"):
        ooc.open_design(path)


def test_spec_not_json_or_wrong_version(df, tmp_path):
    path = store(df, "y ~ x", tmp_path / "d.nc")
    rewrite(path, "{not json")
    with pytest.raises(ooc.StoreError, match="spec is not JSON"):
        ooc.open_design(path)
    rewrite(path, json.dumps({"version": 1, "formula": "y ~ x"}))
    with pytest.raises(ooc.StoreError, match="malformed"):
        ooc.open_design(path)


# -- the worker's spec ---------------------------------------------------------------------------
def test_worker_spec_is_checked(df, tmp_path, canary):
    path = store(df, "y ~ x + np.log(z + 3)", tmp_path / "d.nc")
    swap_code(path, "np.log(z + 3)", f"I(x + __import__('pathlib').Path({canary!r}).touch())")
    with h5py.File(path, "r") as f:
        text = manifest.plain_attr(f.attrs["spec"])
    with pytest.raises(ooc.UnsafeCodeError, match="sent to this worker"):
        parts.infos_for(text)
    layout = {
        "terms": ["x"],
        "responses": ["y"],
        "chunk_rows": 8,
        "weights": False,
        "compression": None,
    }
    with pytest.raises(ooc.UnsafeCodeError):
        parts.build_part(None, [(0, 8)], text, "f", "drop", None, str(tmp_path / "p.nc"), layout)
    assert not (tmp_path / "p.nc").exists()


def test_user_functions_are_built_on_the_client(df):
    """A formula calling the user's own code never goes to the workers' checked path."""
    from patsy.desc import ModelDesc

    codes = [
        f.code
        for t in ModelDesc.from_formula("y ~ C(g.str.upper()) + x").rhs_termlist
        for f in t.factors
    ]
    assert any(safety.offence(c) for c in codes)


# -- the opt-in ----------------------------------------------------------------------------------
def twice(x):
    return 2.0 * np.asarray(x)


def test_trust_opt_in(df, tmp_path, canary):
    path = tmp_path / "t.nc"
    built = df.ooc.design("y ~ twice(x) + np.log(x)", path=path)
    expected = built.build(df.iloc[:7]).X.values
    built.close()
    with pytest.raises(ooc.UnsafeCodeError, match=r"calls 'twice'.*trust=\['twice'\]"):
        ooc.open_design(path)
    env = patsy.EvalEnvironment([{"twice": twice}])
    with pytest.raises(ooc.UnsafeCodeError, match="twice"):
        ooc.open_design(path, env)  # an eval_env alone is no opt-in
    reopened = ooc.open_design(path, env, trust=["twice"])
    np.testing.assert_allclose(reopened.build(df.iloc[:7]).X.values, expected, rtol=1e-15)
    np.testing.assert_allclose(expected[:, 1], 2 * df.x.iloc[:7], rtol=1e-15)
    # trusting one name trusts nothing else
    swap_code(path, "np.log(x)", _payload(canary))
    with pytest.raises(ooc.UnsafeCodeError, match="__import__"):
        ooc.open_design(path, env, trust=["twice"])


@pytest.mark.parametrize(
    ("trust", "exc"),
    [(3, ooc.ArgumentTypeError), (["a b"], ooc.ArgumentError), (["nothere"], ooc.ArgumentError)],
)
def test_trust_argument(df, tmp_path, trust, exc):
    path = store(df, "y ~ x", tmp_path / "d.nc")
    with pytest.raises(exc, match="trust"):
        ooc.open_design(path, trust=trust)


def test_eval_env_argument(df, tmp_path):
    path = store(df, "y ~ x", tmp_path / "d.nc")
    with pytest.raises(ooc.ArgumentTypeError, match=r"eval_env must be a patsy\.EvalEnvironment"):
        ooc.open_design(path, [np])


def _plus_one(x):
    return x + 1.0


def test_eval_env_as_a_dict_with_trust(df, tmp_path):
    # a plain namespace is enough for the opt-in; without trust it is still refused
    path = tmp_path / "d.nc"
    built = df.ooc.design("y ~ plus_one(x)", path=str(path), eval_env={"plus_one": _plus_one})
    with pytest.raises(ooc.UnsafeCodeError, match="plus_one"):
        ooc.open_design(path, {"plus_one": _plus_one})
    again = ooc.open_design(path, {"plus_one": _plus_one}, trust=["plus_one"])
    np.testing.assert_array_equal(again.X.values, built.X.values)
    np.testing.assert_array_equal(again.X.values[:, 1], df["x"].to_numpy() + 1.0)


# -- every legitimate formula still reopens and predicts -----------------------------------------
LEGIT = [
    "y ~ x",
    "y ~ 0 + x + z",
    "y ~ np.log(x)",
    "y ~ np.log1p(x) + np.sqrt(np.abs(z))",
    "y ~ x + I(x**2) + I(x**3)",
    "y ~ I(1 / x) + np.exp(-z)",
    "y ~ center(x) + standardize(z)",
    "y ~ scale(x, ddof=1) + standardize(z, rescale=False)",
    "y ~ C(g, Treatment('b'))",
    "y ~ C(g, Treatment(reference='c')) + x",
    "y ~ C(g, levels=['c', 'b', 'a'])",
    "y ~ C(g, Sum) * x",
    "y ~ C(g, Helmert) + C(g, Diff):z",
    "y ~ C(g, Poly)",
    "y ~ Q('my b') + x",
    "y ~ bs(x, df=4)",
    "y ~ bs(x, knots=[1.5], degree=2, include_intercept=True) - 1",
    "y ~ 0 + cr(x, df=4)",
    "y ~ cc(z, df=5, constraints='center') + x",
    "y ~ 0 + te(cr(x, df=3), cc(z, df=4))",
    "y ~ C(k) + C(flag) + g",
    "y ~ I(x > 1) + I((x > 1) & (z > 0))",
    "y ~ I(np.pi * x) + np.where(z > 0, z, 0)",
    "y ~ x + C(g) + x:C(g)",
    "np.log(x) ~ z + k",
]


@pytest.mark.parametrize("formula", LEGIT)
def test_legitimate_formulas_reopen_and_predict(df, tmp_path, formula):
    path = tmp_path / "d.nc"
    fit = df.ooc.lstsq(formula, path=path)
    new = df.iloc[::3]
    expected = fit.predict(new)
    reopened = ooc.open_design(path)
    assert reopened.terms == fit.terms
    np.testing.assert_array_equal(reopened.X.values, fit._design.X.values)
    again = reopened.lstsq()
    np.testing.assert_allclose(again.params, fit.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(again.predict(new), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        reopened.build(new).X.values, fit._design.build(new).X.values, rtol=0, atol=0
    )
    # update() folds new rows in through the reopened design's checked state
    np.testing.assert_allclose(
        again.update(new).params, fit.update(new).params, rtol=1e-10, atol=1e-12
    )


def test_spec_patsy_cannot_rebuild_is_a_store_error(df, tmp_path):
    """Consistent codes but inconsistent shapes: patsy's own refusal, as a StoreError."""
    path = store(df, "y ~ x + C(g)", tmp_path / "d.nc")
    _edit(path, lambda s: s["matrices"][1]["column_names"].pop())
    with pytest.raises(ooc.StoreError, match=r"cannot rebuild the saved formula state"):
        ooc.open_design(path)


def test_open_design_path_type():
    with pytest.raises(ooc.ArgumentTypeError, match="path must be a str or path-like, not int"):
        ooc.open_design(3)
