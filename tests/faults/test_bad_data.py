"""Bad data: a clear error naming what and where, or statsmodels' answer, and no lost store.

Every error case asserts the exception type and a message that names the actual column,
level, row label or file; every answer case is checked against statsmodels at rtol 1e-8.
Where a store path is involved, a store written there before must still open and give its
old answer after the failed rebuild, and no temporary file (``.*.tmp-*``) may be left.

Cases
-----
1. NaN in y and in X: ``missing="drop"`` equals statsmodels' ``missing="drop"`` (nobs,
   ``n_dropped``, resid labels) for a DataFrame and a chunked Dataset; ``missing="raise"``
   names the column and the row label. inf in y or X is an error naming the column, even
   with ``missing="drop"`` (inf is never "missing").
2. A column that changes dtype between chunks: a CSV whose column holds numbers, then text
   (ColumnTypeError naming column, file and ``dtype=``); an object column of numbers, then
   strings, in a DataFrame used as a numeric term.
3. Unseen levels: at predict (UnseenLevelError naming factor and level, for strings, a
   pandas Categorical and a Dataset) and at build when the formula fixes the levels.
4. An all-constant column beside the intercept (RankWarning naming it; statsmodels' pinv
   fit), and a constant response.
5. A duplicated, non-monotonic index: the fit equals statsmodels and ``resid`` keeps the
   frame's labels in order; weights given as a Series on a duplicated index.
6. Zero weights (statsmodels' WLS, zero-weight rows counted in nobs as statsmodels does),
   negative, NaN and infinite weights.
7. Formula syntax errors: FormulaError keeping patsy's caret line.
8. An empty CSV, a header-only CSV and a ragged line: CSVError naming the file (and the
   line), nothing left at the target path or an earlier store there intact.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.formula.api as smf
import xarray as xr

import ooc_accessor as ooc

RTOL = 1e-8
FORMULA = "y ~ a + b"


# -- helpers -----------------------------------------------------------------------------------
def _close(actual, expected, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=RTOL, atol=atol)


def _no_temp_files(directory) -> None:
    # a failed writer must remove its temporary file (DesignWriter / read_csv's _Writer)
    left = [n for n in os.listdir(directory) if n.startswith(".") and ".tmp-" in n]
    assert left == [], f"temporary files left behind: {left}"


def _frame(n: int = 200, seed: int = 1) -> pd.DataFrame:
    """A regression frame with string row labels r0..r{n-1}, so messages can name them."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(2, 3, size=n)})
    df["y"] = 1 + df.a - 0.5 * df.b + rng.normal(size=n)
    df.index = pd.Index([f"r{i}" for i in range(n)], name="id")
    return df


def _dataset(df: pd.DataFrame, chunk: int = 40) -> xr.Dataset:
    """The frame as a dask-chunked Dataset along ``id`` (the frame's labels as coordinate)."""
    data = {c: ("id", df[c].to_numpy()) for c in df.columns}
    return xr.Dataset(data, coords={"id": df.index.to_numpy()}).chunk({"id": chunk})


def _as(kind: str, df: pd.DataFrame):
    return df if kind == "pandas" else _dataset(df)


class OldStore:
    """A good design stored at ``path`` before a failing rebuild; checks it survived."""

    def __init__(self, directory) -> None:
        self.directory = directory
        self.path = directory / "design.nc"
        design = _frame(60, seed=9).ooc.design(FORMULA, chunksize=16, path=self.path)
        self.params = design.lstsq().params.to_numpy()
        design.close()

    def check(self) -> None:
        reopened = ooc.open_design(self.path)
        np.testing.assert_array_equal(reopened.lstsq().params.to_numpy(), self.params)
        assert reopened.n_obs == 60
        reopened.close()
        _no_temp_files(self.directory)


@pytest.fixture
def old_store(tmp_path) -> OldStore:
    return OldStore(tmp_path)


# -- 1. NaN and inf ----------------------------------------------------------------------------
def _with_nans(df: pd.DataFrame) -> pd.DataFrame:
    # one NaN in y and one in each regressor, in different chunks of 33 rows
    df = df.copy()
    df.loc["r5", "y"] = np.nan
    df.loc["r77", "a"] = np.nan
    df.loc["r150", "b"] = np.nan
    return df


@pytest.mark.parametrize("kind", ["pandas", "xarray"])
def test_nan_dropped_like_statsmodels(kind):
    df = _with_nans(_frame())
    design = _as(kind, df).ooc.design(FORMULA, chunksize=33, missing="drop")
    fit = design.lstsq()
    ref = smf.ols(FORMULA, df, missing="drop").fit()
    assert design.n_dropped == 3
    assert fit.nobs == ref.nobs == 197
    assert fit.df_resid == ref.df_resid
    _close(fit.params.values, ref.params.to_numpy())
    _close(fit.bse.values, ref.bse.to_numpy())
    _close(fit.ssr, ref.ssr)
    resid = fit.resid
    labels = resid.to_series().index if kind == "pandas" else resid["id"].to_index()
    # the dropped rows are exactly statsmodels' (the labels of the kept rows, in order)
    assert list(labels) == list(ref.resid.index)
    _close(resid.values, ref.resid.to_numpy(), atol=1e-12)


@pytest.mark.parametrize("kind", ["pandas", "xarray"])
def test_missing_raise_names_the_column(kind, old_store):
    df = _frame()
    df.loc["r150", "b"] = np.nan  # in the fifth chunk of 33: not the first block read
    with pytest.raises(ooc.DataError, match=r"missing='raise' and column\(s\) 'b' \(1 missing\)"):
        _as(kind, df).ooc.design(FORMULA, chunksize=33, missing="raise", path=old_store.path)
    old_store.check()


@pytest.mark.parametrize("kind", ["pandas", "xarray"])
def test_missing_raise_names_the_row(kind):
    df = _frame()
    df.loc["r150", "b"] = np.nan
    with pytest.raises(ooc.DataError, match=r"'b'[\s\S]*'r150'"):
        _as(kind, df).ooc.design(FORMULA, chunksize=33, missing="raise")


@pytest.mark.parametrize("kind", ["pandas", "xarray"])
@pytest.mark.parametrize("column", ["y", "a"])
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_is_an_error_not_missing(kind, column, value, old_store):
    df = _frame()
    df.loc["r42", column] = value
    noun = "column" if kind == "pandas" else "variable"
    match = rf"{noun} '{column}' holds 1 infinite value\(s\), the first at row 'r42'"
    # missing="drop" (the default) must not drop it silently: inf is not a missing value
    with pytest.raises(ooc.DataError, match=match):
        _as(kind, df).ooc.lstsq(FORMULA, chunksize=33, missing="drop", path=old_store.path)
    old_store.check()


# -- 2. a column whose dtype changes between chunks --------------------------------------------
def _write_csv(path, rows: list[str], header: str = "y,x,code") -> None:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))


def _numbers_then_text(n: int = 300, turn: int = 250) -> list[str]:
    return [f"{i * 0.5},{i},{i % 7 if i < turn else 'abc'}" for i in range(n)]


@pytest.fixture
def old_csv_store(tmp_path):
    """A good read_csv store at the target path, and its values."""
    good = tmp_path / "good.csv"
    _write_csv(good, [f"{i},{2 * i},{i % 3}" for i in range(40)])
    target = tmp_path / "store.nc"
    ds = ooc.read_csv(good, target, chunksize=16)
    values = {k: ds[k].values.copy() for k in ds.data_vars}
    ds.close()
    return target, values


def _check_csv_store(target, values) -> None:
    ds = ooc.open_csv_store(target)
    assert list(ds.data_vars) == list(values)
    for k, v in values.items():
        np.testing.assert_array_equal(ds[k].values, v)
    ds.close()
    _no_temp_files(target.parent)


def test_csv_column_turns_to_text(tmp_path, old_csv_store):
    target, values = old_csv_store
    bad = tmp_path / "mixed.csv"
    _write_csv(bad, _numbers_then_text())
    # chunks of 100 rows: 'code' is int in the first two chunks, text in the third
    with pytest.raises(ooc.ColumnTypeError, match=r"column 'code'.*mixed\.csv.*dtype=\{'code'"):
        ooc.read_csv(bad, target, chunksize=100)
    _check_csv_store(target, values)


def test_csv_column_turns_to_text_in_a_later_file(tmp_path, old_csv_store):
    target, values = old_csv_store
    first, second = tmp_path / "part1.csv", tmp_path / "part2.csv"
    _write_csv(first, [f"{i},{i},{i % 7}" for i in range(50)])
    _write_csv(second, [f"{i},{i},abc" for i in range(50)])
    # the file that holds the text is the one named
    with pytest.raises(ooc.ColumnTypeError, match=r"column 'code'.*part2\.csv.*dtype="):
        ooc.read_csv([first, second], target, chunksize=20)
    _check_csv_store(target, values)


def _object_numbers_then_text() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = pd.Series([float(i % 9) for i in range(60)] + ["n/a"] * 40, dtype=object)
    return pd.DataFrame({"y": rng.normal(size=100), "x": x})


def test_object_column_used_as_numbers(old_store):
    df = _object_numbers_then_text()
    # chunks of 30: the first two blocks hold only numbers (still dtype object)
    with pytest.raises(
        ooc.ColumnTypeError, match=r"column 'x' has dtype object but 'np\.log\(x \+ 1\)'"
    ):
        df.ooc.lstsq("y ~ np.log(x + 1)", chunksize=30, path=old_store.path)
    old_store.check()


def test_object_column_as_bare_term_is_categorical_like_statsmodels():
    # patsy's rule: an object column is categorical whatever it holds; every level (the
    # numbers of the early chunks and the text of the later ones) is learned across chunks
    df = _object_numbers_then_text()
    fit = df.ooc.lstsq("y ~ x", chunksize=30)
    ref = smf.ols("y ~ x", df).fit()
    assert list(fit.params.index) == list(ref.params.index)
    assert "x[T.n/a]" in fit.params.index
    _close(fit.params.values, ref.params.to_numpy(), atol=1e-12)
    _close(fit.ssr, ref.ssr)


# -- 3. unseen levels --------------------------------------------------------------------------
def _level_frame(n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"g": rng.choice(["a", "b"], n), "x": rng.normal(size=n)})
    df["y"] = df.x + (df.g == "b") + rng.normal(size=n)
    return df


_NEW = {"g": ["a", "b", "zz", "a"], "x": [0.0, 1.0, 2.0, 3.0]}


@pytest.mark.parametrize("formula", ["y ~ x + C(g)", "y ~ x + g"])
def test_unseen_level_at_predict_strings(formula):
    fit = _level_frame().ooc.lstsq(formula)
    new = pd.DataFrame(_NEW, index=[10, 11, 12, 13])
    factor = formula.split(" + ")[-1]
    match = rf"level 'zz' of factor {re.escape(repr(factor))}.*levels: 'a', 'b'"
    with pytest.raises(ooc.UnseenLevelError, match=match):
        fit.predict(new)


def test_unseen_level_at_predict_dataset():
    df = _level_frame()
    ds = xr.Dataset({c: ("obs", df[c].to_numpy()) for c in df.columns})
    fit = ds.ooc.lstsq("y ~ x + C(g)")
    new = xr.Dataset({"g": ("obs", np.array(_NEW["g"], dtype=object)), "x": ("obs", _NEW["x"])})
    with pytest.raises(ooc.UnseenLevelError, match=r"level 'zz' of factor 'C\(g\)'"):
        fit.predict(new)


def test_unseen_level_at_predict_categorical_dtype():
    df = _level_frame()
    fit = df.assign(g=pd.Categorical(df.g, categories=["a", "b"])).ooc.lstsq("y ~ x + g")
    new = pd.DataFrame(_NEW).assign(g=lambda d: pd.Categorical(d.g))
    with pytest.raises(ooc.UnseenLevelError, match=r"level 'zz' of column 'g'"):
        fit.predict(new)


@pytest.mark.parametrize("chunksize", [20, 1000])
def test_level_outside_formula_levels_at_build(chunksize, old_store):
    df = _level_frame()
    df.loc[40, "g"] = "c"  # in the third chunk of 20 rows
    formula = 'y ~ x + C(g, levels=["a", "b"])'
    with pytest.raises(ooc.UnseenLevelError, match=r"level 'c' of factor 'C\(g, levels="):
        df.ooc.design(formula, chunksize=chunksize, path=old_store.path)
    old_store.check()


# -- 4. constant columns -----------------------------------------------------------------------
def _quiet_ols(formula: str, df: pd.DataFrame):
    # statsmodels warns about the singular design itself; only ours is under test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smf.ols(formula, df).fit()


def test_constant_column_beside_intercept():
    df = _frame(300)
    df["k"] = 3.0
    ref = _quiet_ols("y ~ a + k", df)
    with pytest.warns(ooc.RankWarning, match=r"rank 2 for 3 columns: 'k' is a linear combination"):
        fit = df.ooc.lstsq("y ~ a + k", chunksize=64)
    assert fit.rank == 2 and fit.df_resid == ref.df_resid and fit.df_model == ref.df_model
    # statsmodels' pinv fit is the minimum-norm solution too: same params, not just same fit
    _close(fit.params.values, ref.params.to_numpy())
    _close(fit.fittedvalues.values, ref.fittedvalues.to_numpy())
    _close(fit.ssr, ref.ssr)
    _close(fit.bse.values, ref.bse.to_numpy())


def test_constant_response():
    df = _frame(300).assign(y=5.0)
    ref = _quiet_ols("y ~ a", df)
    fit = df.ooc.lstsq("y ~ a", chunksize=64)  # full rank: no RankWarning (it would error)
    _close(fit.params["Intercept"], 5.0)
    _close(fit.params["Intercept"], ref.params["Intercept"])
    assert abs(fit.params["a"]) < 1e-12 and abs(ref.params["a"]) < 1e-12
    _close(fit.fittedvalues.values, np.full(300, 5.0))
    assert fit.ssr < 1e-20 and ref.ssr < 1e-20  # zero up to rounding in both
    assert fit.centered_tss == 0.0
    # R^2 is 0/0: the library returns NaN on purpose (results.LstsqResult.rsquared:
    # "tss > 0 else nan"); statsmodels gives -inf or NaN depending on rounding noise
    assert np.isnan(fit.rsquared)


# -- 5. duplicated, non-monotonic index --------------------------------------------------------
def _dup_frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    idx = np.array([5, 3, 3, 9, 1, 1, 1, 7] * (n // 8))
    df = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(["u", "v"], n)}, index=idx)
    df["y"] = 1 + df.x + rng.normal(size=n)
    df.iloc[10, 0] = np.nan  # one dropped row among duplicates
    return df


def test_duplicated_nonmonotonic_index():
    df = _dup_frame()
    fit = df.ooc.lstsq("y ~ x + g", chunksize=17)
    ref = smf.ols("y ~ x + g", df, missing="drop").fit()
    _close(fit.params.values, ref.params.to_numpy())
    _close(fit.ssr, ref.ssr)
    resid = fit.resid.to_series()
    # duplicates kept, in the frame's order (less the dropped row), as statsmodels
    assert resid.index.equals(ref.resid.index)
    assert resid.index.equals(df.index.delete(10))
    _close(resid.to_numpy(), ref.resid.to_numpy(), atol=1e-12)
    pred = fit.predict(df)
    assert pred.index.equals(df.index)
    assert np.isnan(pred.iloc[10])
    _close(np.delete(pred.to_numpy(), 10), ref.fittedvalues.to_numpy())


def _wls_ref(df: pd.DataFrame, w: np.ndarray):
    keep = df.x.notna().to_numpy()
    return smf.wls("y ~ x + g", df[keep], weights=w[keep]).fit()


def test_weights_series_on_the_same_duplicated_index():
    df = _dup_frame()
    w = pd.Series(np.random.default_rng(1).uniform(0.5, 2, len(df)), index=df.index)
    # the Series' index equals the frame's: used as is, row for row
    fit = df.ooc.lstsq("y ~ x + g", weights=w, chunksize=17)
    ref = _wls_ref(df, w.to_numpy())
    _close(fit.params.values, ref.params.to_numpy())
    _close(fit.bse.values, ref.bse.to_numpy())


def test_weights_series_shuffled_on_a_unique_index():
    df = _dup_frame()
    df.index = np.random.default_rng(2).permutation(len(df)) * 3  # unique, non-monotonic
    w = pd.Series(np.random.default_rng(1).uniform(0.5, 2, len(df)), index=df.index)
    shuffled = w.sample(frac=1.0, random_state=4)
    fit = df.ooc.lstsq("y ~ x + g", weights=shuffled, chunksize=17)
    # aligned on the labels, not taken in the Series' order
    ref = _wls_ref(df, w.to_numpy())
    _close(fit.params.values, ref.params.to_numpy())


def test_weights_series_reordered_on_a_duplicated_index_is_refused(tmp_path):
    df = _dup_frame()
    w = pd.Series(np.random.default_rng(1).uniform(0.5, 2, len(df)), index=df.index)
    # duplicated labels cannot be aligned: an error, never a silent positional use
    with pytest.raises(ValueError):
        df.ooc.lstsq("y ~ x + g", weights=w.iloc[::-1], path=tmp_path / "d.nc")
    assert os.listdir(tmp_path) == []


def test_weights_series_reordered_on_a_duplicated_index_message():
    df = _dup_frame()
    w = pd.Series(np.random.default_rng(1).uniform(0.5, 2, len(df)), index=df.index)
    with pytest.raises(ValueError, match=r"weights is a Series whose labels .* repeat"):
        df.ooc.lstsq("y ~ x + g", weights=w.iloc[::-1])


# -- 6. zero, negative, NaN and infinite weights -----------------------------------------------
def _weighted_frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=n), "w": rng.uniform(0.5, 2, n)})
    df["y"] = 1 + df.x + rng.normal(size=n)
    df.index = df.index + 1000
    return df


def test_zero_weights_equal_statsmodels_wls():
    df = _weighted_frame()
    df.loc[df.index % 5 == 0, "w"] = 0.0
    fit = df.ooc.lstsq("y ~ x", weights="w", chunksize=33)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' log(0) in llf
        ref = smf.wls("y ~ x", df, weights=df.w).fit()
        ref_llf = ref.llf
    # statsmodels keeps zero-weight rows in nobs and df_resid (nobs = rows of X), and so
    # does the library: 200 rows, 40 of them with zero weight
    assert fit.nobs == ref.nobs == 200
    assert fit.df_resid == ref.df_resid == 198
    _close(fit.params.values, ref.params.to_numpy())
    _close(fit.bse.values, ref.bse.to_numpy())
    _close(fit.ssr, ref.ssr)
    _close(fit.rsquared, ref.rsquared)
    _close(fit.fittedvalues.values, ref.fittedvalues.to_numpy())
    assert fit.llf == ref_llf == -np.inf  # sum(log w) with a zero weight, as statsmodels


@pytest.mark.parametrize("how", ["column", "array"])
def test_negative_weights_named(how, old_store):
    df = _weighted_frame()
    df.loc[1007, "w"] = -1.0
    weights = "w" if how == "column" else df.w.to_numpy()
    with pytest.raises(
        ooc.DataError, match=r"weights must be finite and non-negative; row 1007 has -1\.0"
    ):
        df.ooc.lstsq("y ~ x", weights=weights, chunksize=33, path=old_store.path)
    old_store.check()


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_bad_weights_at_design_lstsq(bad):
    df = _weighted_frame()
    design = df.ooc.design("y ~ x", chunksize=33)
    w = df.w.to_numpy().copy()
    w[7] = bad
    with pytest.raises(
        ooc.DataError, match=r"weights must be finite and non-negative; stored row 7"
    ):
        design.lstsq(weights=w)


def test_nan_weights_raise(old_store):
    df = _weighted_frame()
    df.loc[1007, "w"] = np.nan
    with pytest.raises(
        ooc.DataError, match=r"missing='raise' and the weights hold NaN at row 1007"
    ):
        df.ooc.lstsq("y ~ x", weights="w", missing="raise", path=old_store.path)
    old_store.check()


def test_nan_weights_dropped_like_statsmodels():
    # under missing="drop" a NaN weight is a missing value of a used column (build_design's
    # docstring), as in statsmodels' WLS(missing="drop"): the row is dropped and counted
    df = _weighted_frame()
    df.loc[1007, "w"] = np.nan
    design = df.ooc.design("y ~ x", weights="w", chunksize=33)
    fit = design.lstsq()
    ref = smf.wls("y ~ x", df, weights=df.w, missing="drop").fit()
    assert design.n_dropped == 1 and fit.nobs == ref.nobs == 199
    _close(fit.params.values, ref.params.to_numpy())
    _close(fit.bse.values, ref.bse.to_numpy())


def test_inf_weights_named(tmp_path):
    df = _weighted_frame()
    df.loc[1007, "w"] = np.inf
    with pytest.raises(ooc.DataError, match=r"weights.*row 1007"):
        df.ooc.lstsq("y ~ x", weights="w", path=tmp_path / "d.nc")


# -- 7. formula syntax errors ------------------------------------------------------------------
@pytest.mark.parametrize("formula", ["y ~ a +", "y ~ (a", "y ~ a $ b"])
def test_formula_syntax_error_keeps_patsy_caret(formula, old_store):
    with pytest.raises(patsy.PatsyError) as patsy_err:
        patsy.ModelDesc.from_formula(formula)
    # patsy's message ends with the formula and a line of '^' under the culprit
    caret = "\n".join(str(patsy_err.value).splitlines()[-2:])
    assert caret.strip().startswith(formula) and "^" in caret.splitlines()[-1]
    with pytest.raises(ooc.FormulaError) as err:
        _frame().ooc.lstsq(formula, path=old_store.path)
    assert isinstance(err.value, ValueError)
    assert caret in str(err.value)
    assert formula in str(err.value).splitlines()[0]
    old_store.check()


# -- 8. empty and ragged CSV files -------------------------------------------------------------
def _ragged_rows() -> list[str]:
    # the data row of i = 37 is the file's line 39 (line 1 is the header)
    return [f"{i},{2 * i}" + (",99" if i == 37 else "") for i in range(50)]


CSV_CASES = {
    "empty": (None, r"cannot parse '.*bad\.csv'"),
    "header only": ([], r"'.*bad\.csv' has no rows"),
    "ragged": (_ragged_rows(), r"'.*bad\.csv'.*line 39"),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
@pytest.mark.parametrize("chunksize", [10, "auto"])
def test_bad_csv_leaves_no_store(case, chunksize, tmp_path):
    rows, match = CSV_CASES[case]
    bad = tmp_path / "bad.csv"
    if rows is None:
        bad.write_bytes(b"")
    else:
        _write_csv(bad, rows, header="y,x")
    target = tmp_path / "out.nc"
    with pytest.raises(ooc.CSVError, match=match):
        ooc.read_csv(bad, target, chunksize=chunksize)
    assert not target.exists()
    assert sorted(os.listdir(tmp_path)) == ["bad.csv"]


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_bad_csv_keeps_earlier_store(case, tmp_path, old_csv_store):
    target, values = old_csv_store
    rows, match = CSV_CASES[case]
    bad = tmp_path / "bad.csv"
    if rows is None:
        bad.write_bytes(b"")
    else:
        _write_csv(bad, rows, header="y,x")
    with pytest.raises(ooc.CSVError, match=match):
        ooc.read_csv(bad, target, chunksize=10)
    _check_csv_store(target, values)
