"""Integer columns never give a wrapped number: numeric expressions see them as float64.

patsy evaluates ``I(a * b)`` on int64 columns as int64, so a product past 2**63 wraps
around silently (int8 at 127, uint64 below zero). Every case here is checked against a
float64 reference computed from the same values, and each case's data is chosen so that
the integer arithmetic would wrap (asserted, so the test cannot pass vacuously).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
import xarray as xr

import ooc_accessor as ooc


def _frame(dtype, a, b, n=30, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": np.asarray(a, dtype=dtype)[np.arange(n) % len(a)],
            "b": np.asarray(b, dtype=dtype)[np.arange(n) % len(b)],
            "y": rng.normal(size=n),
        }
    )


BIG = [3_000_000_017, 4_000_000_007, 5_000_000_003, 6_000_000_011, 7_000_000_001]
CASES = [
    # (id, dtype, a values, b values, formula term, float64 reference)
    ("int64 product", np.int64, BIG, BIG[::-1], "I(a * b)", lambda a, b: a * b),
    (
        "int64 power",
        np.int64,
        [2_100_000 + i for i in range(5)],
        [1],
        "I(a ** 3)",
        lambda a, b: a**3,
    ),
    ("int64 sum", np.int64, [2**62 + i for i in range(5)], [2**62], "I(a + b)", lambda a, b: a + b),
    ("int64 np.power", np.int64, BIG, [1], "np.power(a, 3)", lambda a, b: a**3),
    ("int64 np.square", np.int64, BIG, [1], "np.square(a)", lambda a, b: a * a),
    ("int64 np.multiply", np.int64, BIG, BIG, "np.multiply(a, b)", lambda a, b: a * b),
    (
        "int32 product",
        np.int32,
        [70_001, 80_021, 90_011],
        [60_013, 50_021],
        "I(a * b)",
        lambda a, b: a * b,
    ),
    ("int8 product", np.int8, [100, 120, -100], [90, 110], "I(a * b)", lambda a, b: a * b),
    ("int16 square", np.int16, [300, 400, -500], [1], "I(a ** 2)", lambda a, b: a**2),
    ("uint64 difference", np.uint64, [1, 2, 3], [10, 20], "I(a - b)", lambda a, b: a - b),
    ("uint8 negation", np.uint8, [1, 2, 250], [1], "I(-a)", lambda a, b: -a),
    (
        "int64 in center()",
        np.int64,
        BIG,
        BIG[::-1],
        "center(a * b)",
        lambda a, b: a * b - np.mean(a * b),
    ),
    ("int64 inside np.log", np.int64, BIG, BIG[::-1], "np.log(a * b)", lambda a, b: np.log(a * b)),
]


def _wraps(dtype, a, b, ref) -> bool:
    """The term computed in the column's own integer type differs from the reference."""
    with np.errstate(all="ignore"):
        ints = np.asarray(ref(np.asarray(a, dtype=dtype), np.asarray(b[:1] * len(a), dtype=dtype)))
    floats = ref(np.asarray(a, dtype=float), np.asarray(b[:1] * len(a), dtype=float))
    return not np.allclose(ints.astype(float), floats, rtol=1e-6)


@pytest.mark.parametrize(
    ("dtype", "a", "b", "term", "ref"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
@pytest.mark.parametrize("chunksize", [1, 7, "auto"])
def test_term_against_float64_reference(dtype, a, b, term, ref, chunksize):
    df = _frame(dtype, a, b)
    assert _wraps(dtype, a, b, ref) or "center" in term or "log" in term
    design = df.ooc.design(f"y ~ a + {term}", chunksize=chunksize)
    fa, fb = df.a.to_numpy(float), df.b.to_numpy(float)
    expected = ref(fa, fb)
    got = design.X.sel(term=term).values
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_array_equal(design.X.sel(term="a").values, fa)


def test_patsy_itself_wraps():
    """The fault this guards against: patsy's own result on the same data."""
    df = _frame(np.int64, BIG, BIG[::-1])
    with np.errstate(all="ignore"):
        wrapped = np.asarray(patsy.dmatrix("I(a * b)", df))[:, 1]
    ours = df.ooc.design("y ~ I(a * b)").X.sel(term="I(a * b)").values
    assert not np.allclose(wrapped, ours)
    np.testing.assert_allclose(ours, df.a.to_numpy(float) * df.b.to_numpy(float), rtol=1e-15)


def _reference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """numpy's least squares on column-scaled x (its rcond would cut the 1 next to 1e19)."""
    scale = np.linalg.norm(x, axis=0)
    return np.linalg.lstsq(x / scale, y, rcond=None)[0] / scale


def test_fit_and_predict_new_data():
    rng = np.random.default_rng(3)
    n = 60
    a = rng.integers(2_000_000_000, 9_000_000_000, n)
    b = rng.integers(2_000_000_000, 9_000_000_000, n)
    df = pd.DataFrame({"a": a, "b": b})
    fa, fb = a.astype(float), b.astype(float)
    df["y"] = 1.5 + 2e-19 * fa * fb + rng.normal(scale=0.1, size=n)
    fit = df.ooc.lstsq("y ~ I(a * b)", chunksize=13)
    beta = _reference(np.column_stack([np.ones(n), fa * fb]), df.y.to_numpy())
    np.testing.assert_allclose(fit.params.to_numpy(), beta, rtol=1e-8)
    new = pd.DataFrame({"a": a[:9][::-1].copy(), "b": b[:9].copy()})
    got = fit.predict(new).to_numpy()
    np.testing.assert_allclose(got, beta[0] + beta[1] * new.a.to_numpy(float) * new.b, rtol=1e-8)
    built = fit._design.build(new.assign(y=0.0))
    np.testing.assert_allclose(
        built.X.sel(term="I(a * b)").values, new.a.to_numpy(float) * new.b, rtol=1e-15
    )


def test_reopened_store_evaluates_in_float(tmp_path):
    df = _frame(np.int64, BIG, BIG[::-1])
    df.ooc.design("y ~ I(a * b)", path=tmp_path / "d.nc").close()
    reopened = ooc.open_design(tmp_path / "d.nc")
    new = df.iloc[::-1].reset_index(drop=True)
    np.testing.assert_allclose(
        reopened.build(new).X.sel(term="I(a * b)").values,
        new.a.to_numpy(float) * new.b.to_numpy(float),
        rtol=1e-15,
    )


def test_dataset_with_int_variables():
    df = _frame(np.int64, BIG, BIG[::-1], n=40)
    df["y"] = df.y + 1e-19 * df.a.to_numpy(float) * df.b.to_numpy(float)
    ds = xr.Dataset({c: ("t", df[c].to_numpy()) for c in df}).chunk({"t": 9})
    assert ds.a.dtype == np.int64
    fit = ds.ooc.lstsq("y ~ I(a * b)", dim="t")
    x = np.column_stack([np.ones(40), df.a.to_numpy(float) * df.b.to_numpy(float)])
    beta = _reference(x, df.y.to_numpy())
    np.testing.assert_allclose(fit.params.values, beta, rtol=1e-8)


def test_nullable_int_columns():
    df = _frame(np.int64, BIG, BIG[::-1]).astype({"a": "Int64", "b": "Int64"})
    df.loc[4, "a"] = pd.NA
    design = df.ooc.design("y ~ I(a * b)")
    assert design.n_dropped == 1
    keep = df.a.notna().to_numpy()
    expected = df.a.to_numpy(float, na_value=np.nan) * df.b.to_numpy(float)
    np.testing.assert_allclose(design.X.sel(term="I(a * b)").values, expected[keep], rtol=1e-15)


def test_categorical_use_keeps_int_levels():
    df = _frame(np.int64, [1, 2, 3], [5, 7])
    design = df.ooc.design("y ~ C(a) + a + I(a * b) + C(b, levels=[7, 5])")
    assert design.terms == [
        "Intercept",
        "C(a)[T.2]",
        "C(a)[T.3]",
        "C(b, levels=[7, 5])[T.5]",
        "a",
        "I(a * b)",
    ]
    levels = {
        f.code: fi.categories
        for f, fi in design.design_infos[1].factor_infos.items()
        if fi.type == "categorical"
    }
    assert levels["C(a)"] == (1, 2, 3) and all(type(v) is int for v in levels["C(a)"])
    np.testing.assert_array_equal(design.X.sel(term="C(a)[T.2]").values, (df.a == 2).astype(float))
    new = df.iloc[:10]
    np.testing.assert_array_equal(design.build(new).X.values, design.X.values[:10])


def test_bitwise_terms_stay_integer():
    """Bitwise operators are exact on ints and undefined on floats: those terms see ints."""
    df = _frame(np.int64, [5, 6, 7, 12], [3])
    design = df.ooc.design("y ~ I(a & 1) + I(a % 4)")
    np.testing.assert_array_equal(design.X.sel(term="I(a & 1)").values, (df.a & 1).astype(float))
    np.testing.assert_array_equal(design.X.sel(term="I(a % 4)").values, (df.a % 4).astype(float))


def test_beyond_float64_is_an_error_naming_the_term():
    df = _frame(np.int64, [10, 11, 12], [1])
    with (
        np.errstate(over="ignore"),
        pytest.raises(
            ooc.DataError, match=r"design column 'I\(a \*\* 400\)' is inf at row 0 where a = 10"
        ),
    ):
        df.ooc.design("y ~ I(a ** 400)")
