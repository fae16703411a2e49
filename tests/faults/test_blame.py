"""Error messages blame the real cause, and say the fix.

A level given as another type is a type clash, not an "unseen level"; a NaN a transform
made from values that are present (``np.log`` of a negative, ``standardize()`` of a
constant column, a mean learned over missing values) is not "missing data". Each case
asserts the message names the term or column, the value, the cause and the remedy, and
that the misleading old text is gone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ooc_accessor as ooc


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 30
    return pd.DataFrame(
        {
            "x": rng.uniform(1.0, 4.0, n),
            "c": np.full(n, 2.5),
            "g": np.array(["a", "b", "c"])[np.arange(n) % 3],
            "k": (np.arange(n) % 3).astype(np.int64) + 1,
            "flag": np.arange(n) % 2 == 0,
            "y": rng.normal(size=n),
        },
        index=pd.RangeIndex(100, 100 + n),
    )


# -- NaN made by a term, not missing data -------------------------------------------------------
def test_standardize_of_a_constant_column(df):
    with pytest.raises(ooc.DataError) as info:
        df.ooc.lstsq("y ~ x + standardize(c)")
    msg = str(info.value)
    assert "'standardize(c)' is NaN at row 100 where c = 2.5" in msg
    assert "no value is missing" in msg
    assert "standard deviation is 0 and standardize() divides by zero" in msg
    assert "leave the constant column out" in msg
    assert "dropped for missing values" not in msg


UNDEFINED = {
    "np.log(x - 2)": lambda x: np.log(x - 2),
    "np.sqrt(x - 3)": lambda x: np.sqrt(x - 3),
    "I((x - x) / (x - x))": lambda x: (x - x) / (x - x),
    "np.arccos(x)": np.arccos,
}


def _first_nan(term: str, df: pd.DataFrame) -> int:
    with np.errstate(all="ignore"):
        return int(np.flatnonzero(np.isnan(UNDEFINED[term](df.x.to_numpy())))[0])


def _assert_blames_the_term(msg: str, term: str, df: pd.DataFrame, first: int) -> None:
    assert f"{term!r} is NaN at row {df.index[first]} where x = {float(df.x.iloc[first])!r}," in msg
    assert "the term is undefined for these values" in msg and "fix or drop those rows" in msg
    assert "hold missing values" not in msg and "dropped for missing" not in msg


@pytest.mark.parametrize("term", list(UNDEFINED))
def test_undefined_transform_with_missing_raise(df, term):
    with np.errstate(all="ignore"), pytest.raises(ooc.DataError) as info:
        df.ooc.design(f"y ~ {term}", missing="raise")
    _assert_blames_the_term(str(info.value), term, df, _first_nan(term, df))


@pytest.mark.parametrize("term", list(UNDEFINED))
def test_undefined_everywhere_is_blamed_on_the_term(df, term):
    """missing='drop' drops a row whose term is NaN (as statsmodels); when that is every
    row, the message names the term, not missing values."""
    data = df.assign(x=df.x - 10.0) if term != "I((x - x) / (x - x))" else df
    data = data.assign(x=data.x.where(data.index != 100))  # a real missing value first
    with np.errstate(all="ignore"), pytest.raises(ooc.DataError) as info:
        data.ooc.design(f"y ~ {term}", chunksize=4)
    _assert_blames_the_term(str(info.value), term, data, 1)


def test_undefined_somewhere_drops_like_statsmodels(df):
    import statsmodels.formula.api as smf

    with np.errstate(invalid="ignore"):
        fit = df.ooc.lstsq("y ~ np.log(x - 2)", chunksize=7)
        ref = smf.ols("y ~ np.log(x - 2)", df).fit()
    assert fit.nobs == ref.nobs == int((df.x > 2).sum())
    np.testing.assert_allclose(fit.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)


def test_transform_nan_at_predict_is_nan(df):
    fit = df.ooc.lstsq("y ~ np.log(x)")
    new = df.iloc[:6].assign(x=[1.0, 2.0, -3.0, 1.5, 2.5, 3.0])
    with np.errstate(invalid="ignore"):
        got = fit.predict(new).to_numpy()
    b = fit.params.to_numpy()
    expected = b[0] + b[1] * np.log(np.where(new.x > 0, new.x, np.nan))
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert np.isnan(got[2]) and np.isfinite(np.delete(got, 2)).all()


def test_log_of_zero_names_the_input(df):
    data = df.assign(x=df.x.where(df.index != 107, 0.0))
    with (
        np.errstate(divide="ignore"),
        pytest.raises(
            ooc.DataError, match=r"design column 'np.log\(x\)' is -inf at row 107 where x = 0.0"
        ),
    ):
        data.ooc.design("y ~ np.log(x)")


def test_learned_mean_over_missing_values(df):
    data = df.assign(x=df.x.where(df.index != 104))
    for term in ("center(x)", "standardize(x)"):
        with pytest.raises(ooc.DataError) as info:
            data.ooc.lstsq(f"y ~ {term}")
        msg = str(info.value)
        assert f"{term!r} is NaN at row 100 where x = " in msg
        assert "learned a NaN mean because ['x'] held missing values" in msg
        assert "data.dropna(subset=['x'])" in msg


def test_a_real_missing_value_is_still_blamed_on_it(df):
    data = df.assign(x=df.x.where(df.index != 104))
    with pytest.raises(ooc.DataError, match=r"missing='raise' and column\(s\) 'x' \(1 missing\)"):
        data.ooc.design("y ~ np.log(x)", missing="raise")
    assert data.ooc.design("y ~ np.log(x)").n_dropped == 1


# -- a level of another type is not an unseen level ---------------------------------------------
def test_bool_levels_given_as_strings(df):
    fit = df.ooc.lstsq("y ~ x + flag")
    new = df.iloc[:5].assign(flag=df.flag.iloc[:5].astype(str))
    for call in (fit.predict, fit._design.build):
        with pytest.raises(ooc.ColumnTypeError) as info:
            call(new)
        msg = str(info.value)
        assert "column 'flag' holds 'True' (str) but the design's levels of 'flag' are bool" in msg
        assert "'True' is the level True written as str" in msg
        assert "convert the column to bool" in msg and ".map(" in msg
        assert "was not seen" not in msg


def test_bool_levels_given_as_a_categorical_of_strings(df):
    fit = df.ooc.lstsq("y ~ x + C(flag)")
    new = df.iloc[:5].assign(flag=df.flag.iloc[:5].astype(str).astype("category"))
    with pytest.raises(ooc.ColumnTypeError, match=r"holds '(True|False)' \(str\) but .* are bool"):
        fit.predict(new)


def test_int_levels_given_as_strings(df):
    fit = df.ooc.lstsq("y ~ C(k)")
    new = df.iloc[:5].assign(k=df.k.iloc[:5].astype(str))
    with pytest.raises(ooc.ColumnTypeError) as info:
        fit.predict(new)
    msg = str(info.value)
    assert (
        "column 'k' holds '1' (str) but the design's levels of 'C(k)' are number (1, 2, 3)" in msg
    )
    assert "'1' is the level 1 written as str" in msg and "pd.to_numeric(data['k'])" in msg


def test_numbers_where_the_design_has_text_levels(df):
    fit = df.ooc.lstsq("y ~ C(g)")
    new = df.iloc[:5].assign(g=np.arange(5, dtype=float))
    with pytest.raises(ooc.ColumnTypeError) as info:
        fit.predict(new)
    msg = str(info.value)
    assert "column 'g' holds 0.0 (number) but the design's levels of 'C(g)' are str" in msg
    assert "data['g'].astype(str)" in msg


def test_a_truly_unseen_level_is_still_unseen(df):
    fit = df.ooc.lstsq("y ~ C(g)")
    with pytest.raises(ooc.UnseenLevelError, match=r"level 'zeta' of factor 'C\(g\)' was not seen"):
        fit.predict(df.iloc[:5].assign(g="zeta"))
    fit = df.ooc.lstsq("y ~ C(k)")
    with pytest.raises(ooc.UnseenLevelError, match=r"level 9 of factor 'C\(k\)' was not seen"):
        fit.predict(df.iloc[:5].assign(k=9))


def test_numbers_equal_to_int_levels_are_the_same_level(df):
    """1.0 is the level 1 (patsy matches by value): no clash, the same prediction."""
    fit = df.ooc.lstsq("y ~ C(k)")
    new = df.iloc[:6]
    np.testing.assert_allclose(
        fit.predict(new.assign(k=new.k.astype(float))), fit.predict(new), rtol=1e-15
    )


def test_unhashable_values_used_as_a_factor(df):
    """Lists cannot be levels: not "uses it as numbers" (the old blame)."""
    data = df.assign(g=[[i % 2] for i in range(len(df))])
    with pytest.raises(ooc.ColumnTypeError) as info:
        data.ooc.lstsq("y ~ C(g)")
    msg = str(info.value)
    assert "'C(g)' uses column 'g' as a factor but its values cannot be levels" in msg
    assert "uses it as numbers" not in msg
