"""Breaks an adversarial tester found in the regression side, each as a family.

- Per-row weights are aligned by label: a DataArray on its coordinate along the sample
  dimension, a Series on its index, whatever side (Dataset, DataFrame, stored design,
  update) takes them; a weight missing for a row, repeated labels and wrong lengths are
  library errors, never weights taken from another row.
- A column the design uses as numbers that arrives as text, objects, booleans or dates is a
  ColumnTypeError naming the column and both dtypes, not patsy's AttributeError.
- Bad arguments to the public calls are OOCErrors that are also the builtin, naming the
  argument.
- A nullable integer factor keeps int level names, as patsy names the int64 column.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import xarray as xr

import ooc_accessor as ooc

N = 40


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    d = pd.DataFrame({"x": rng.normal(size=N), "z": rng.normal(size=N)})
    d["y"] = 1 + d.x + rng.normal(size=N)
    d["w"] = np.arange(1, N + 1, dtype=float)
    return d.set_axis(pd.Index(np.arange(N) * 3 + 7))


@pytest.fixture
def ds(df) -> xr.Dataset:
    return xr.Dataset(
        {c: ("time", df[c].to_numpy()) for c in df.columns},
        coords={"time": df.index.to_numpy()},
    )


@pytest.fixture
def ref(df) -> np.ndarray:
    return smf.wls("y ~ x + z", df, weights=df.w).fit().params.to_numpy()


def _close(fit, ref) -> None:
    np.testing.assert_allclose(np.asarray(fit.params), ref, rtol=1e-8)


# -- 1. weights aligned by label ---------------------------------------------------------------
@pytest.mark.parametrize("chunksize", [1, 7, N])
def test_dataarray_weights_reversed_are_aligned_on_dim(ds, ref, chunksize):
    w_rev = ds.w.isel(time=slice(None, None, -1))
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=w_rev, chunksize=chunksize), ref)


def test_dataarray_weights_shuffled_and_with_extra_labels(ds, ref):
    perm = np.random.default_rng(0).permutation(N)
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=ds.w.isel(time=perm)), ref)
    extra = xr.DataArray([5.0, 9.0], dims="time", coords={"time": [-1, 10**6]})
    wider = xr.concat([ds.w, extra], dim="time").isel(time=slice(None, None, -1))
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=wider), ref)


def test_dataarray_weights_as_variable_name_or_array_agree(ds, ref):
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights="w"), ref)
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=ds.w), ref)
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=ds.w.chunk({"time": 9})), ref)
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=ds.w.to_numpy()), ref)


def test_dataarray_weights_with_no_label_in_common(ds):
    shifted = ds.w.assign_coords(time=ds.time + 1)
    with pytest.raises(ooc.DataError, match=r"weights lacks 40 of the Dataset's 'time' row"):
        ds.ooc.lstsq("y ~ x + z", dim="time", weights=shifted)


def test_dataarray_weights_missing_a_label(ds):
    short = ds.w.isel(time=slice(1, None))
    with pytest.raises(ooc.DataError, match=r"lacks 1 of .* row labels \(the first: 7\)"):
        ds.ooc.lstsq("y ~ x + z", dim="time", weights=short)


def test_dataarray_weights_with_repeated_labels(ds):
    dup = ds.w.assign_coords(time=np.repeat(ds.time.values[: N // 2], 2))
    with pytest.raises(ooc.ArgumentError, match=r"DataArray whose labels .* repeat") as info:
        ds.ooc.lstsq("y ~ x + z", dim="time", weights=dup)
    assert isinstance(info.value, ValueError)


def test_dataarray_weights_without_coordinate_are_positional(df, ds, ref):
    bare = xr.DataArray(ds.w.to_numpy(), dims="time")  # no labels: positions, as xarray
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=bare), ref)
    rev = xr.DataArray(ds.w.to_numpy()[::-1], dims="time")
    pos = smf.wls("y ~ x + z", df, weights=df.w.to_numpy()[::-1]).fit().params.to_numpy()
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=rev), pos)
    with pytest.raises(ooc.ArgumentError, match=r"weights has 39 values for 40 rows along"):
        ds.ooc.lstsq("y ~ x + z", dim="time", weights=bare.isel(time=slice(1, None)))


def test_dataset_without_coordinate_takes_weights_by_position(df, ds, ref):
    plain = ds.drop_vars("time")
    _close(plain.ooc.lstsq("y ~ x + z", dim="time", weights=ds.w), ref)


def test_series_for_a_dataset_is_aligned_on_dim(df, ds, ref):
    _close(ds.ooc.lstsq("y ~ x + z", dim="time", weights=df.w[::-1]), ref)
    with pytest.raises(ooc.DataError, match=r"weights lacks 1 of the Dataset's 'time'"):
        ds.ooc.lstsq("y ~ x + z", dim="time", weights=df.w.iloc[1:])


def test_dataarray_for_a_dataframe_is_aligned_on_the_index(df, ds, ref):
    w_rev = ds.w.isel(time=slice(None, None, -1))
    _close(df.ooc.lstsq("y ~ x + z", weights=w_rev), ref)
    with pytest.raises(ooc.DataError, match=r"weights lacks 40 of the frame's row labels"):
        df.ooc.lstsq("y ~ x + z", weights=w_rev.assign_coords(time=w_rev.time + 1))
    with pytest.raises(ooc.ArgumentError, match=r"weights has dims \('a', 'b'\)"):
        df.ooc.lstsq("y ~ x + z", weights=xr.DataArray(np.ones((N, 1)), dims=("a", "b")))


@pytest.mark.parametrize("side", ["pandas", "xarray"])
def test_stored_design_and_build_align_dataarray_weights(df, ds, ref, side):
    data, kw = (df, {}) if side == "pandas" else (ds, {"dim": "time"})
    w_rev = ds.w.isel(time=slice(None, None, -1))
    if side == "pandas":
        w_rev = w_rev.rename(time="obs").assign_coords(obs=df.index[::-1])
    design = data.ooc.design("y ~ x + z", chunksize=7, weights=w_rev, **kw)
    _close(design.lstsq(), ref)
    _close(data.ooc.design("y ~ x + z", chunksize=5, **kw).lstsq(weights=w_rev), ref)
    _close(design.build(data, weights=w_rev, **kw).lstsq(), ref)


def test_update_aligns_dataarray_weights(df, ds, ref):
    first, second = ds.isel(time=slice(0, 25)), ds.isel(time=slice(25, None))
    fit = first.ooc.lstsq("y ~ x + z", dim="time", weights=first.w[::-1], chunksize=4)
    _close(fit.update(second, weights=second.w[::-1]), ref)


def test_stored_design_refuses_a_column_name_for_weights(df):
    design = df.ooc.design("y ~ x + z")
    with pytest.raises(ooc.ArgumentTypeError, match=r"a stored design has no columns") as info:
        design.lstsq(weights="w")
    assert isinstance(info.value, TypeError)
    assert "when the design is built" in str(info.value)


# -- 2. numbers that arrive as text, objects, booleans, dates or a Categorical -----------------
@pytest.fixture
def typed() -> pd.DataFrame:
    rng = np.random.default_rng(15)
    n = 30
    d = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 3, n),
            "b": np.arange(n) % 2 == 0,
            "g": np.array(["a", "b", "c"])[np.arange(n) % 3],
        }
    )
    d["y"] = d.x + d.k + rng.normal(size=n)
    return d


def _as(new: pd.DataFrame, kind: str) -> pd.DataFrame:
    return {
        "object": new.assign(x=new.x.astype(object)),
        "str": new.assign(x=new.x.astype(str)),
        "string": new.assign(x=new.x.astype(str).astype("string")),
        "bool": new.assign(x=new.x > 0),
        "category": new.assign(x=pd.Categorical(new.x)),
        "datetime": new.assign(x=pd.Timestamp("2020-01-01") + pd.to_timedelta(new.k, "D")),
    }[kind]


_HINT = {
    "object": r"pd\.to_numeric\(data\['x'\]\)",
    "str": r"pd\.to_numeric\(data\['x'\]\)",
    "string": r"pd\.to_numeric\(data\['x'\]\)",
    "bool": r"astype\(float\), where True is 1",
    "category": r"astype\(float\) for a Categorical",
    "datetime": r"patsy does not read dates as numbers",
}


@pytest.mark.parametrize("kind", list(_HINT))
@pytest.mark.parametrize("call", ["predict", "build", "update", "predict_xarray"])
def test_numbers_of_another_dtype_name_the_column(typed, kind, call):
    fit = typed.ooc.lstsq("y ~ x + k + C(g)", chunksize=7)
    design = typed.ooc.design("y ~ x + k + C(g)", chunksize=5)
    new = _as(typed.iloc[:10], kind)
    dtype = str(new.x.dtype)
    if call == "predict_xarray":
        new = new.to_xarray()
        dtype = str(new.x.dtype)
    run = {
        "predict": lambda: fit.predict(new),
        "build": lambda: design.build(new),
        "update": lambda: fit.update(new),
        "predict_xarray": lambda: fit.predict(new, dim="index"),
    }[call]
    with pytest.raises(ooc.ColumnTypeError) as info:
        run()
    msg = str(info.value)
    assert f"column 'x' has dtype {dtype}" in msg
    assert "uses it as numbers in 'x' (it was built from dtype float64)" in msg
    assert re.search(_HINT[kind], msg), msg


def test_int_column_given_as_bool_is_refused_and_bool_as_int_codes_alike(typed):
    fit = typed.ooc.lstsq("y ~ x + k + b", chunksize=7)
    new = typed.iloc[:10]
    with pytest.raises(ooc.ColumnTypeError, match=r"'k' has dtype bool.*built from dtype int64"):
        fit.predict(new.assign(k=new.k > 0))
    # a bool factor read from 0/1: patsy's levels False/True match 0/1 (0 == False)
    same = fit.predict(new.assign(b=new.b.astype(int)))
    np.testing.assert_allclose(same.to_numpy(), fit.predict(new).to_numpy(), rtol=1e-12)
    # nullable and narrower numbers are numbers
    np.testing.assert_allclose(
        fit.predict(new.assign(k=new.k.astype("Int64"), x=new.x.astype("float32"))).to_numpy(),
        fit.predict(new.assign(x=new.x.astype("float32"))).to_numpy(),
        rtol=1e-12,
    )


def test_numbers_of_another_dtype_without_recorded_dtypes(typed):
    # a store that records no dtypes (written before they were): patsy's failure is named
    design = typed.ooc.design("y ~ x + k", chunksize=7)
    design._column_dtypes = None
    with pytest.raises(ooc.ColumnTypeError, match=r"column 'x' has dtype object.*numbers"):
        list(design.predictor_blocks(typed.assign(x=typed.x.astype(object))))


def test_a_term_that_makes_numbers_from_text_still_works():
    d = pd.DataFrame({"s": ["a", "bb", "ccc", "dd"] * 5, "y": np.arange(20.0)})
    fit = d.ooc.lstsq("y ~ s.str.len()")
    ref = smf.ols("y ~ s.str.len()", d).fit().params.to_numpy()
    np.testing.assert_allclose(fit.params.to_numpy(), ref, rtol=1e-8)
    np.testing.assert_allclose(
        fit.predict(d).to_numpy(), smf.ols("y ~ s.str.len()", d).fit().predict(d)
    )


# -- 3. public arguments: OOCErrors that are also the builtin, naming the argument --------------
def _raises(cls, builtin, pattern):
    ctx = pytest.raises(cls, match=pattern)
    assert issubclass(cls, builtin)
    return ctx


def test_predict_on_a_dim_the_dataset_lacks(ds):
    fit = ds.ooc.lstsq("y ~ x", dim="time")
    with _raises(ooc.ArgumentError, ValueError, r"dim='zz' is not a dimension .*\('time',\)"):
        fit.predict(ds, dim="zz")
    with _raises(ooc.ArgumentError, ValueError, r"dim='zz' is not a dimension"):
        fit.update(ds, dim="zz")
    np.testing.assert_allclose(
        fit.predict(ds, dim="time").to_numpy(), fit.fittedvalues.to_numpy(), rtol=1e-12
    )


@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda d: d.ooc.lstsq("y ~ x", wieghts="w"),
            r"lstsq\(\) .* 'wieghts' \(did you mean 'weights'\?\)",
        ),
        (
            lambda d: d.ooc.lstsq("y ~ x", chunksze=3),
            r"lstsq\(\) .* 'chunksze' \(did you mean 'chunksize'\?\)",
        ),
        (
            lambda d: d.ooc.svd("0 + x + z", foo=2),
            r"svd\(\) got an unknown keyword 'foo'; it accepts",
        ),
        (lambda d: d.ooc.svd("0 + x + z", weights="w"), r"svd\(\) .* 'weights'"),
        (lambda d: d.ooc.design("y ~ x", chunk_size=3), r"design\(\) .* 'chunk_size'"),
        (
            lambda d: d.ooc.pca(1, foo=1),
            r"pca\(\) got an unknown keyword 'foo'; it accepts .*whiten",
        ),
        (lambda d: ooc.results.lstsq(d, "y ~ x", foo=1), r"lstsq\(\) got an unknown keyword 'foo'"),
    ],
)
@pytest.mark.parametrize("side", ["pandas", "xarray"])
def test_unknown_keywords_are_named_with_the_accepted_ones(df, ds, call, pattern, side):
    data = df if side == "pandas" else ds
    with _raises(ooc.ArgumentTypeError, TypeError, pattern) as info:
        call(data)
    assert "build_design" not in str(info.value)


def test_cov_type_is_a_supported_one(df):
    assert df.ooc.lstsq("y ~ x", cov_type="HC3").cov_type == "HC3"
    with _raises(ooc.ArgumentError, ValueError, r"cov_type='HAC' is not one this fit offers"):
        df.ooc.lstsq("y ~ x", cov_type="HAC")


@pytest.mark.parametrize("bad", [3, 2.5, b"x.nc", ["a"], None.__class__])
def test_paths_of_the_wrong_type(df, bad):
    design = df.ooc.design("y ~ x")
    with _raises(ooc.ArgumentTypeError, TypeError, r"path must be a str or path-like"):
        design.save(bad)
    with _raises(ooc.ArgumentTypeError, TypeError, r"path must be a str or path-like"):
        df.ooc.design("y ~ x", path=bad)
    with _raises(ooc.ArgumentTypeError, TypeError, r"path must be a str or path-like"):
        design.build(df, path=bad)


def test_eval_env_out_of_the_call_stack(df):
    with _raises(ooc.ArgumentError, ValueError, r"eval_env=10000 counts more frames"):
        df.ooc.lstsq("y ~ x", eval_env=10_000)
    with _raises(ooc.ArgumentError, ValueError, r"eval_env=-1 is negative"):
        df.ooc.lstsq("y ~ x", eval_env=-1)


@pytest.mark.parametrize("alpha", [5, 0, 1, -0.1, float("nan")])
def test_conf_int_alpha_out_of_range(df, alpha):
    fit = df.ooc.lstsq("y ~ x")
    with _raises(ooc.ArgumentError, ValueError, rf"alpha={alpha!r} is not between 0 and 1"):
        fit.conf_int(alpha)
    with _raises(ooc.ArgumentError, ValueError, r"alpha="):
        fit.summary(alpha)
    with _raises(ooc.ArgumentTypeError, TypeError, r"alpha must be a number"):
        fit.conf_int("0.05")


def test_chunksize_beyond_the_rows_is_one_block(df):
    ref = smf.ols("y ~ x + z", df).fit().params.to_numpy()
    fit = df.ooc.lstsq("y ~ x + z", chunksize=10**12)
    np.testing.assert_allclose(fit.params.to_numpy(), ref, rtol=1e-8)
    assert df.ooc.design("y ~ x", chunksize=10**12).chunk_rows == len(df)


def test_chunksize_beyond_memory_is_refused_up_front(df, monkeypatch, tmp_path):
    import ooc_accessor.arguments as arguments

    monkeypatch.setattr(arguments, "available_memory", lambda: 2000)
    target = tmp_path / "d.nc"
    with _raises(
        ooc.ArgumentError, ValueError, r"chunksize=1000000 makes blocks of 40 rows"
    ) as info:
        df.ooc.design("y ~ x + z", chunksize=10**6, path=target)
    assert "pass chunksize='auto' or at most" in str(info.value)
    assert not target.exists()


# -- 4. a nullable integer factor keeps int level names ----------------------------------------
@pytest.fixture
def nullable() -> pd.DataFrame:
    rng = np.random.default_rng(30)
    n = 60
    a = pd.array(rng.integers(0, 3, n), dtype="Int64")
    a[[3, 17, 40]] = pd.NA
    d = pd.DataFrame({"a": a, "x": rng.normal(size=n)})
    d["y"] = d.x + np.where(d.a.isna(), 0, d.a.fillna(0).astype(float)) + rng.normal(size=n)
    return d


@pytest.mark.parametrize("formula", ["y ~ C(a)", "y ~ x + C(a, Treatment(2))", "y ~ C(a):x"])
@pytest.mark.parametrize("chunksize", [1, 7, 60])
def test_nullable_int_factor_names_and_values_match_patsy_on_int64(nullable, formula, chunksize):
    plain = nullable.dropna().astype({"a": "int64"})
    ref = smf.ols(formula, plain).fit()
    fit = nullable.ooc.lstsq(formula, chunksize=chunksize)
    assert list(fit.params.index) == list(ref.params.index)
    np.testing.assert_allclose(fit.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
    assert fit.nobs == len(plain)
    # prediction from either integer dtype codes the levels alike
    p_nullable = fit.predict(nullable.dropna()).to_numpy()
    np.testing.assert_allclose(p_nullable, ref.predict(plain).to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(fit.predict(plain).to_numpy(), p_nullable, rtol=1e-12)


def test_nullable_int_read_as_a_number_stays_a_number(nullable):
    plain = nullable.dropna().astype({"a": "int64"})
    ref = smf.ols("y ~ a + x", plain).fit()
    fit = nullable.ooc.lstsq("y ~ a + x", chunksize=9)
    assert list(fit.params.index) == ["Intercept", "a", "x"]
    np.testing.assert_allclose(fit.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
