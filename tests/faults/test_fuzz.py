"""Fuzzing of ``.ooc.lstsq`` and ``.ooc.pca`` against statsmodels and scikit-learn.

What is fuzzed
--------------
lstsq: frames of 5-200 rows with a response of dtype float64/float32 (sometimes NaN, now
and then all NaN) or int64; one to three numeric predictors of dtype float64, float32,
int64, bool or the nullable Int64/Float64/boolean (no, a few or only missing values;
constant, exactly collinear, badly scaled columns; now and then an inf); an optional
categorical predictor held as a ``pd.Categorical`` of strings or ints (unused categories,
unsorted categories, NaN), as an object column (None), as pandas' default ``str`` dtype
(NaN) or as the nullable ``string`` dtype (pd.NA); optional weights (a column, an array
or a shuffled Series; zeros and NaN now and then); and a row index that is a RangeIndex,
a shuffled, duplicated, float, datetime or string index, or ints and strings mixed in an
object index, named or not. Formulas mix main effects, ``C(g)``/``g``/Sum/Treatment
coding (with a reference level that may be absent), ``center``/``standardize``/``I()``/
``np.log`` terms, an interaction, with or without an intercept, and now and then nothing
(``y ~ 1``, ``y ~ 0``). Each example is fitted at two chunk sizes drawn from 1, a small
odd number, the whole length and ``"auto"``, with ``missing="drop"`` or ``"raise"``.

PCA: numeric frames (float64/float32/int64/Int64/Float64; constant, duplicated or
offset columns; sometimes a bool column or NaN; str or int column names; an extra
non-feature column left out by ``columns=``), batch sizes 1, odd or the whole length,
the ``"full"`` and ``"covariance_eigh"`` solvers, ``n_components`` None or 1..p.

The oracle
----------
lstsq: ``statsmodels.formula.api.ols``/``wls`` with ``missing="drop"``, on the frame
converted as the library documents it hands columns to patsy (nullable numbers to
float64, nullable booleans and strings to objects with None). PCA:
``sklearn.decomposition.PCA(svd_solver="full")`` on the float64 values.

Every example ends in one of two ways: the library gives the oracle's answer (term names,
row labels and their types, counts, coefficients, ssr, fitted values, residuals,
predictions; spectrum, axes, means, scores) at the tolerances stated where they are
checked, or it raises an :class:`ooc_accessor.OOCError` subclass where the oracle cannot
fit either (statsmodels raises, no row is left, fewer rows than design columns, an inf in
a used column, an empty right side), or a documented plain ``ValueError`` for argument
validation (a weights Series that cannot be aligned, ``n_components`` above the rows).
Any other exception, a library warning other than RankWarning, or an answer that differs
from the oracle's or between the two chunk sizes fails the test.

Bugs the fuzzing found are pinned by explicit regression tests at the end of the file
(all fixed; a new one would be added there as ``xfail(strict=True)``).
"""

from __future__ import annotations

import numbers
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA

import ooc_accessor as ooc

# Fixed examples (derandomize) so a run is reproducible and its time is known; no database:
# the examples do not depend on earlier runs.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# -- frames --------------------------------------------------------------------------------

# nullable Int64/Float64 are read as float64, nullable booleans as objects (None where
# missing) by the library; the oracle gets the same conversion (see _for_statsmodels)
NUMERIC_DTYPES = ("float64", "float32", "int64", "bool", "Int64", "Float64", "boolean")
# "string" is pandas' nullable StringDtype (pd.NA for missing); "str" the default string
# dtype of pandas 3 (NaN for missing); "category_int" a Categorical of integers
CAT_KINDS = ("category", "category_int", "object", "str", "string")
INDEX_KINDS = (
    "range",
    "shuffled",
    "duplicated",
    "string",
    "float",
    "datetime",
    "mixed",
    "timedelta",
    "period",
    "categorical",
    "uint64",
)


@dataclass
class Case:
    """A drawn frame and what it holds (for formulas and for the notes of a failure)."""

    df: pd.DataFrame
    numeric: list[str]
    cat: str | None
    weights: str | None
    info: dict = field(default_factory=dict)


def _one_in(draw, k: int) -> bool:
    """True with probability about 1/k. hypothesis favours the bounds of a range, so the
    rare outcome is a value in the middle of it (an ``== 0`` would come up far too often)."""
    return draw(st.integers(0, k - 1)) == k // 2


def _nan_rows(draw, rng, n: int, allow_all: bool) -> np.ndarray | None:
    """Positions to set missing: none, a few, or (rarely; all rows dropped) all of them."""
    kind = draw(st.sampled_from(["none"] * 12 + ["all"] + ["few"] * 7))
    if kind == "none":
        return None
    if kind == "all" and allow_all:
        return np.arange(n)
    k = draw(st.integers(1, min(3, n)))
    return rng.choice(n, size=k, replace=False)


def _numeric_column(draw, rng, n: int, dtype: str, others: list[np.ndarray]) -> pd.Series:
    if dtype in ("bool", "boolean"):
        # p=0 gives a constant False column: patsy's x[T.True] is then all zeros
        p = draw(st.sampled_from([0.5, 0.15, 0.0]))
        values = pd.Series(rng.random(n) < p, dtype=dtype)
        if dtype == "boolean":
            nan = _nan_rows(draw, rng, n, allow_all=False)
            if nan is not None:
                values.iloc[nan] = pd.NA
        return values
    if dtype in ("int64", "Int64"):
        # a small range: ties, and sometimes a column equal to a multiple of another
        values = pd.Series(rng.integers(-4, 5, size=n), dtype=dtype)
        if dtype == "Int64":
            nan = _nan_rows(draw, rng, n, allow_all=False)
            if nan is not None:
                values.iloc[nan] = pd.NA
        return values
    shape = draw(st.sampled_from(["normal", "normal", "constant", "collinear", "offset"]))
    if shape == "constant":  # collinear with the intercept
        values = np.full(n, 2.5)
    elif shape == "collinear" and others:  # exactly twice an earlier column
        values = 2.0 * others[-1]
    elif shape == "offset":  # a large mean: a badly scaled but full-rank column
        values = 1e3 + rng.normal(size=n)
    else:
        values = rng.normal(size=n)
    col = pd.Series(values, dtype=dtype)
    nan = _nan_rows(draw, rng, n, allow_all=True)
    if nan is not None:
        col.iloc[nan] = np.nan
    if _one_in(draw, 25):
        # an infinite value is not missing: statsmodels refuses it (or returns inf), the
        # library must raise DataError
        col.iloc[int(rng.integers(n))] = draw(st.sampled_from([np.inf, -np.inf]))
    return col


def _cat_column(draw, rng, n: int, kind: str) -> pd.Series:
    n_levels = draw(st.integers(1, 4))
    levels = ["lo", "mid", "hi", "top"][:n_levels]
    if kind == "category_int":
        levels = [3, -1, 10, 0][:n_levels]
    values = pd.Series(rng.choice(np.array(levels, dtype=object), size=n), dtype=object)
    nan = _nan_rows(draw, rng, n, allow_all=True)
    if nan is not None:
        values.iloc[nan] = None
    if kind.startswith("category"):
        cats = sorted(levels)
        if draw(st.booleans()):
            cats.append("unused" if kind == "category" else 99)  # an all-zero dummy column
        if draw(st.booleans()):
            cats = cats[::-1]  # category order is not the sorted one
        return pd.Series(pd.Categorical(values, categories=cats))
    if kind == "str":
        return values.astype("str")  # pandas' default string dtype, NaN for missing
    if kind == "string":
        return values.astype(pd.StringDtype(na_value=pd.NA))  # pd.NA for missing
    return values  # object, None for missing


def _index(draw, rng, n: int) -> pd.Index:
    kind = draw(st.sampled_from(INDEX_KINDS))
    if kind == "range":
        index = pd.RangeIndex(n)
    elif kind == "shuffled":
        index = pd.Index(rng.permutation(n) * 3 + 10)
    elif kind == "duplicated":
        index = pd.Index(rng.integers(0, max(n // 2, 1), size=n))
    elif kind == "float":
        index = pd.Index(rng.permutation(n) / 4.0)
    elif kind == "datetime":
        index = pd.date_range("2021-03-01", periods=n, freq="h")[rng.permutation(n)]
    elif kind == "timedelta":
        index = pd.timedelta_range("1s", periods=n, freq="s")[rng.permutation(n)]
    elif kind == "period":
        index = pd.period_range("2001-01", periods=n, freq="M")[rng.permutation(n)]
    elif kind == "categorical":
        index = pd.CategoricalIndex(rng.permutation(n) + 5)
    elif kind == "uint64":
        index = pd.Index(rng.permutation(n).astype(np.uint64) + np.uint64(2**63))
    elif kind == "mixed":
        # ints and strings in an object index (each label must come back as it was)
        index = pd.Index([f"r{i}" if rng.random() < 0.5 else i for i in range(n)], dtype=object)
    else:
        index = pd.Index([f"r{i}" for i in rng.permutation(n)])
    return index.rename(draw(st.sampled_from([None, "row"])))


@st.composite
def frames(draw, with_weights: bool = True) -> Case:
    """A regression frame (see the module docstring)."""
    n = draw(st.integers(5, 200))
    # the values come from a seeded generator (fast, and still shrinkable through the
    # seed); the structure (dtypes, NaN patterns, levels, index) is drawn by hypothesis
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    data: dict[str, pd.Series] = {}
    y_dtype = draw(st.sampled_from(["float64", "float64", "float64", "float32", "int64"]))
    if y_dtype == "int64":  # an integer response is read as numbers (no NaN possible)
        data["y"] = pd.Series(rng.integers(-20, 20, size=n))
    else:
        y = pd.Series(rng.normal(size=n)).astype(y_dtype)
        nan = _nan_rows(draw, rng, n, allow_all=True)
        if nan is not None:
            y.iloc[nan] = np.nan
        data["y"] = y
    numeric, raw = [], []
    for i in range(draw(st.integers(1, 3))):
        name = f"x{i + 1}"
        col = _numeric_column(draw, rng, n, draw(st.sampled_from(NUMERIC_DTYPES)), raw)
        data[name] = col
        numeric.append(name)
        raw.append(col.to_numpy(dtype=np.float64, na_value=np.nan))
    cat = None
    cat_kind = draw(st.sampled_from((None, *CAT_KINDS)))
    if cat_kind is not None:
        cat = "g"
        data[cat] = _cat_column(draw, rng, n, cat_kind)
    weights = None
    if with_weights and draw(st.booleans()):
        weights = "w"
        w = rng.uniform(0.2, 3.0, size=n)
        if _one_in(draw, 5):
            w[rng.choice(n, size=min(2, n), replace=False)] = 0.0  # zero weights are legal
        if _one_in(draw, 5):
            w[int(rng.integers(n))] = np.nan  # dropped, as statsmodels drops it
        data[weights] = pd.Series(w)
    df = pd.DataFrame(data)
    df.index = _index(draw, rng, n)
    return Case(df, numeric, cat, weights, {"cat_kind": cat_kind})


@st.composite
def formulas(draw, case: Case) -> str:
    """A formula on the case's columns: main effects, maybe an interaction, maybe no 1."""
    cat_terms = []
    if case.cat is not None:
        g = case.cat
        # C(g) and bare g are both categorical for patsy (object/str/Categorical); the
        # reference level may be one no row holds (a patsy error in both)
        ref_level = repr(draw(st.sampled_from(["lo", "hi", -1, 10])))
        cat_terms = [
            draw(
                st.sampled_from(
                    [f"C({g})", g, f"C({g}, Sum)", f"C({g}, Treatment(reference={ref_level}))"]
                )
            )
        ]
    numeric = list(case.numeric)
    if _one_in(draw, 5):
        # stateful transforms learn their state over all chunks (and are NaN everywhere
        # when their column has a missing value: patsy's rule, the same in both)
        x = draw(st.sampled_from(case.numeric))
        numeric.append(draw(st.sampled_from([f"center({x})", f"standardize({x})", f"I({x}**2)"])))
    if case.weights is not None and _one_in(draw, 8):
        numeric.append(f"np.log({case.weights})")  # -inf at a zero weight: refused by both
    pool = numeric + cat_terms
    # an empty right side ("y ~ 1", "y ~ 0") in about one formula in twenty. Subsets are
    # drawn as a prefix of a permutation: unique lists from a small pool get rejected
    empty = _one_in(draw, 20)
    order = draw(st.permutations(pool))
    terms = [] if empty else order[: draw(st.integers(1, len(pool)))]
    if not empty and len(pool) >= 2 and draw(st.booleans()):
        a, b = draw(st.permutations(pool))[:2]
        terms.append(f"{a}:{b}")
    if _one_in(draw, 4):
        # no intercept; with a categorical this is patsy's full dummy coding
        return "y ~ " + " + ".join(["0", *terms])
    return "y ~ " + (" + ".join(terms) if terms else "1")


def _for_statsmodels(df: pd.DataFrame) -> pd.DataFrame:
    """The frame as the library hands it to patsy (sources._patsy_ready, documented):
    nullable numbers as float64 with NaN; nullable booleans and strings as objects with
    None for a missing value, in every block. statsmodels/patsy cannot read pd.NA."""
    out = df.copy()
    for c in df.columns:
        col = df[c]
        if isinstance(col.dtype, pd.api.extensions.ExtensionDtype) and col.dtype.kind in "iuf":
            out[c] = col.astype(np.float64)
            continue
        if isinstance(col.dtype, (pd.BooleanDtype, pd.StringDtype)):
            col = col.astype(object)
        if col.dtype == object and col.hasnans:
            col = col.where(col.notna(), None)
        out[c] = col
    return out


# -- the lstsq oracle -----------------------------------------------------------------------


def _statsmodels(df: pd.DataFrame, formula: str, weights: str | None):
    """statsmodels' fit, or the exception it raises (its own warnings are not ours)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if weights is None:
                return smf.ols(formula, data=df, missing="drop").fit(), None
            return smf.wls(formula, data=df, weights=df[weights], missing="drop").fit(), None
        except Exception as exc:  # any failure of the oracle: the library must refuse too
            return None, exc


def _ooc(df: pd.DataFrame, formula: str, weights: str | None, **kwargs):
    """The library's fit (params etc. read eagerly), or its exception; and its warnings."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            fit = df.ooc.lstsq(formula, weights=weights, **kwargs)
            out = {
                "params": fit.params,
                "bse": fit.bse,
                "ssr": fit.ssr,
                "nobs": fit.nobs,
                "df_resid": fit.df_resid,
                "rank": fit.rank,
                "fitted": fit.fittedvalues.to_series(),
                "resid": fit.resid.to_series(),
                # rebuilt block by block with the fitted levels and transform state
                "predict": fit.predict(df, chunksize=kwargs.get("chunksize", "auto")),
            }
            exc = None
        except Exception as e:
            out, exc = None, e
    # the library's own warnings other than RankWarning (numpy's "divide by zero in log"
    # from np.log(w) in a formula is the user's, and statsmodels gives it too)
    other = [
        w
        for w in record
        if w.category is not ooc.RankWarning
        and (issubclass(w.category, ooc.PrecisionWarning) or "ooc_accessor" in w.filename)
    ]
    return out, exc, other, record


def _labels(index) -> list:
    """Each label with its kind: 1 == True in Python, but a bool label is not an int."""

    def kind(v):
        if isinstance(v, (bool, np.bool_)):
            return "bool"
        return "number" if isinstance(v, numbers.Number) else type(v).__name__

    return [(kind(v), v) for v in index]


# Conditioning rule. The rank and the conditioning are judged on the column-equilibrated
# (weighted) design that statsmodels fitted, as the library decides its rank:
#   cond <= 1e6: params, bse, ssr must match to rtol 1e-8 (a backward-stable solver's
#     error is about eps * cond relative to the largest coefficient, so the atol is scaled
#     by it);
#   an exact dependence (trailing singular values < 1e-13 of the largest) with the rest
#     of the spectrum well conditioned: the minimum-norm params depend on the rank
#     decision only, so fitted values, ssr and the rank are compared instead of params;
#   anything in between is ill conditioned: only labels and counts are compared.
WELL = 1e-6
EXACT = 1e-13


def _spectrum(ref) -> np.ndarray:
    x = np.asarray(ref.model.wexog, dtype=np.float64)
    norms = np.linalg.norm(x, axis=0)
    x = x / np.where(norms > 0, norms, 1.0)
    s = np.linalg.svd(x, compute_uv=False) if x.size else np.zeros(0)
    # an all-zero column has no singular value of its own in a short matrix: pad with 0
    return np.concatenate([s, np.zeros(x.shape[1] - s.size)]) / (s[0] if s.size and s[0] else 1)


def _classify(ref) -> tuple[str, int]:
    s = _spectrum(ref)
    p = s.size
    if p == 0 or s[0] == 0:
        return "degenerate", 0
    if s[-1] >= WELL:
        return "full", p
    rank = int(np.sum(s >= EXACT))
    if rank and s[rank - 1] >= WELL:
        return "deficient", rank
    return "ill", rank


def _assert_matches(out, ref, ref_predict, kind: str, rank: int) -> None:
    assert list(out["params"].index) == list(ref.params.index)
    assert out["nobs"] == ref.nobs
    # the row labels of the kept rows, in order (statsmodels' missing="drop"), each of
    # the type it had in the frame
    expected = _labels(ref.resid.index)
    assert _labels(out["resid"].index) == expected
    assert _labels(out["fitted"].index) == expected
    y_scale = float(np.max(np.abs(ref.model.endog))) + 1.0
    tss = float(np.sum(ref.model.wendog**2)) + 1.0
    if kind == "full":
        beta = float(np.max(np.abs(ref.params))) + 1.0
        np.testing.assert_allclose(out["params"], ref.params, rtol=1e-8, atol=1e-9 * beta)
        assert out["rank"] == rank
        assert out["df_resid"] == ref.df_resid
        if ref.df_resid > 0 and ref.ssr > 1e-10 * tss:
            # (an exact fit's bse is rounding noise in both: not compared)
            bse_scale = float(np.max(ref.bse))
            np.testing.assert_allclose(out["bse"], ref.bse, rtol=1e-7, atol=1e-9 * bse_scale)
    elif kind == "deficient":
        assert out["rank"] == rank
        assert out["df_resid"] == ref.nobs - rank
    if kind in ("full", "deficient"):
        np.testing.assert_allclose(out["ssr"], ref.ssr, rtol=1e-8, atol=1e-10 * tss)
        np.testing.assert_allclose(
            out["fitted"].to_numpy(),
            ref.fittedvalues.to_numpy(dtype=np.float64),  # object dtype when nobs == 1
            rtol=1e-8,
            atol=1e-9 * y_scale,
        )
        np.testing.assert_allclose(
            out["resid"].to_numpy(),
            ref.resid.to_numpy(dtype=np.float64),
            rtol=1e-7,
            atol=1e-9 * y_scale,
        )
        # predictions on the whole frame: NaN exactly on the rows statsmodels cannot predict
        # (a missing predictor), the fitted values' numbers elsewhere
        pred, ref_pred = out["predict"], ref_predict
        pd.testing.assert_index_equal(pred.index, ref_pred.index)
        np.testing.assert_array_equal(pred.isna().to_numpy(), ref_pred.isna().to_numpy())
        np.testing.assert_allclose(
            pred.to_numpy(), ref_pred.to_numpy(), rtol=1e-8, atol=1e-9 * y_scale
        )


def _chunk_sizes(n: int):
    # chunksize=1 builds one HDF5 block per row (~10 ms each): only for short frames
    small = [1] if n <= 40 else []
    odd = st.integers(max(1, n // 40), 15).map(lambda k: 2 * k + 1)
    return st.one_of(st.sampled_from([*small, n, "auto"]), odd)


# ~0.2 s an example (two library fits, statsmodels, predict): ~25 s in all
@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_lstsq_matches_statsmodels_or_raises_ooc_error(data):
    case = data.draw(frames(), label="case")
    df = case.df
    formula = data.draw(formulas(case), label="formula")
    n = len(df)
    cs_a = data.draw(_chunk_sizes(n), label="chunksize a")
    cs_b = data.draw(_chunk_sizes(n), label="chunksize b")
    missing = data.draw(st.sampled_from(["drop", "drop", "raise"]), label="missing")
    # weights as the column's name, as an array, or as a shuffled Series (aligned by label)
    form = data.draw(st.sampled_from(["column", "array", "series"]), label="weights form")
    note(f"dtypes: {dict(df.dtypes.astype(str))}, index: {df.index[:6].tolist()}...")
    weights = case.weights
    if weights is not None and form == "array":
        weights = df[weights].to_numpy()
    elif weights is not None and form == "series":
        weights = df[weights].sample(frac=1.0, random_state=0)

    ref, ref_exc = _statsmodels(_for_statsmodels(df), formula, case.weights)
    outs = []
    for cs in (cs_a, cs_b):
        out, exc, other_warnings, record = _ooc(df, formula, weights, chunksize=cs, missing=missing)
        # the library warns with RankWarning only (the PrecisionWarning is PCA's)
        assert not other_warnings, [str(w.message) for w in other_warnings]
        outs.append((out, exc, record))
    (out_a, exc_a, rec_a), (out_b, exc_b, rec_b) = outs
    # the chunk size never changes whether it fails, nor how
    assert type(exc_a) is type(exc_b), (exc_a, exc_b)
    event(f"library: {type(exc_a).__name__ if exc_a is not None else 'fitted'}")

    if form == "series" and weights is not None and df.index.has_duplicates:
        # a shuffled Series on a repeated index cannot be aligned: argument validation,
        # a plain ValueError by design (not an OOCError)
        assert type(exc_a) is ValueError, exc_a
        return
    if exc_a is not None and not isinstance(exc_a, ooc.OOCError):
        raise AssertionError(f"non-OOCError {type(exc_a).__name__}: {exc_a}") from exc_a
    used = [x for x in case.numeric if re.search(rf"\b{x}\b", formula)]
    if any(np.isinf(df[x].to_numpy(dtype=np.float64, na_value=np.nan)).any() for x in used):
        # an infinite value in a used column, even in a row dropped for another reason:
        # DataError by design (statsmodels raises, or returns NaN coefficients)
        event("inf in a used column")
        assert isinstance(exc_a, ooc.DataError), exc_a
        return
    if ref is None:
        event(f"statsmodels raised {type(ref_exc).__name__}")
        assert exc_a is not None, f"statsmodels raised {ref_exc!r} but the library fitted"
        return
    p = ref.model.exog.shape[1]
    if missing == "raise" and ref.nobs < n:
        # a missing value in a used column (statsmodels dropped rows): refuse, name it
        assert isinstance(exc_a, ooc.DataError), exc_a
        return
    if p == 0:
        # "y ~ 0": no design columns; statsmodels fits nothing, the library says so
        assert isinstance(exc_a, ooc.FormulaError), exc_a
        return
    if ref.nobs < p:
        # fewer rows than design columns: statsmodels' pinv still answers, the library
        # refuses by design (DataError names the counts)
        event("fewer rows than columns")
        assert isinstance(exc_a, ooc.DataError), exc_a
        return
    if exc_a is not None:
        raise AssertionError(f"statsmodels fitted but the library raised {exc_a!r}") from exc_a

    kind, rank = _classify(ref)
    event(f"design: {kind}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # on positions: statsmodels' predict cannot realign NaN rows on a repeated index
        flat = _for_statsmodels(df).reset_index(drop=True)
        ref_predict = ref.predict(flat).reindex(flat.index).set_axis(df.index)
    _assert_matches(out_a, ref, ref_predict, kind, rank)
    _assert_matches(out_b, ref, ref_predict, kind, rank)
    # a RankWarning exactly when the library's rank is short (in the clear cases)
    if kind in ("full", "deficient"):
        for rec, out in ((rec_a, out_a), (rec_b, out_b)):
            warned = any(w.category is ooc.RankWarning for w in rec)
            assert warned == (out["rank"] < p), (warned, out["rank"], p)
    # the two chunkings agree with each other more tightly than with statsmodels
    if kind == "full":
        np.testing.assert_allclose(out_a["params"], out_b["params"], rtol=1e-10, atol=1e-12)
    assert out_a["rank"] == out_b["rank"]


# -- PCA --------------------------------------------------------------------------------------


@st.composite
def numeric_frames(draw) -> tuple[pd.DataFrame, list]:
    """A frame for PCA and the feature columns to use (an extra str column is left out)."""
    n = draw(st.integers(5, 200))
    p = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # features on different scales, some correlated: a spread-out spectrum
    base = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * rng.uniform(0.1, 10, size=p)
    # str names, or integer names (no feature_names_in_ then, as scikit-learn)
    names = [f"f{j}" for j in range(p)] if draw(st.booleans()) else list(range(p))
    cols = {}
    # a bool column is refused (ColumnTypeError): in about one frame in ten only
    with_bool = _one_in(draw, 10)
    for j in range(p):
        kinds = ["float64", "float64", "float32", "int64", "Int64", "Float64"]
        dtype = draw(st.sampled_from(kinds + (["bool"] if with_bool else [])))
        v = base[:, j]
        shape = draw(st.sampled_from(["plain"] * 6 + ["offset", "constant", "copy"]))
        if shape == "offset":
            v = v + 1e4  # a large mean: centring must not cost digits
        elif shape == "constant":
            v = np.full(n, 3.0)  # a zero-variance feature
        elif shape == "copy" and j:
            v = 2.0 * base[:, j - 1]  # an exactly dependent feature: a zero component
        if dtype in ("int64", "Int64"):
            v = np.round(v * 3)
        elif dtype == "bool":
            v = v > 0
        cols[names[j]] = pd.Series(v).astype(dtype)
    df = pd.DataFrame(cols)
    if _one_in(draw, 6):
        c = draw(st.sampled_from(names))
        if df[c].dtype.kind == "f":  # float64/float32/Float64 can hold a missing value
            df.loc[rng.choice(n, size=draw(st.integers(1, n)), replace=False), c] = np.nan
    if draw(st.booleans()):
        df["label"] = [f"s{i}" for i in range(n)]  # not a feature: columns= leaves it out
    df.index = _index(draw, rng, n)
    return df, names


# ~6 ms an example: ~2.5 s in all
@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_pca_matches_sklearn_or_raises_ooc_error(data):
    df, columns = data.draw(numeric_frames(), label="df, columns")
    n, p = len(df), len(columns)
    batch = data.draw(st.sampled_from([1, 2 * (n // 7) + 1, n]), label="batch_size")
    solver = data.draw(st.sampled_from(["full", "covariance_eigh"]), label="svd_solver")
    k = data.draw(st.one_of(st.none(), st.integers(1, p)), label="n_components")
    note(f"dtypes: {dict(df.dtypes.astype(str))}")

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            est = df.ooc.pca(k, columns=columns, batch_size=batch, svd_solver=solver)
            ev = np.asarray(est.explained_variance_, dtype=np.float64)
            comps = np.asarray(est.components_, dtype=np.float64)
            mean = np.asarray(est.mean_, dtype=np.float64)
            ratio = np.asarray(est.explained_variance_ratio_, dtype=np.float64)
            sv = np.asarray(est.singular_values_, dtype=np.float64)
            exc = None
        except Exception as e:
            exc = e
    allowed = (ooc.PrecisionWarning,) if solver == "covariance_eigh" else ()
    assert all(issubclass(w.category, allowed) for w in record), [str(w.message) for w in record]

    # the data are checked (dtypes, then NaN) before the arguments
    event(f"outcome: {type(exc).__name__ if exc is not None else 'fitted'}")
    features = df[columns]
    if (features.dtypes == np.dtype(bool)).any():
        # scikit-learn would read bools as 0/1; the library refuses them by design
        assert isinstance(exc, ooc.ColumnTypeError), exc
        return
    if features.isna().any().any():
        assert isinstance(exc, ooc.DataError), exc
        return
    if k is not None and k > min(n, p):
        # argument validation: a plain ValueError (not an OOCError), as scikit-learn's
        assert isinstance(exc, ValueError) and not isinstance(exc, ooc.OOCError), exc
        return
    if exc is not None:
        raise AssertionError(f"the library raised {exc!r} on a clean numeric frame") from exc

    x = features.to_numpy(dtype=np.float64)  # sklearn works in float32 on float32 input
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its 0/0 explained_variance_ratio_ on constant data
        ref = PCA(n_components=k, svd_solver="full").fit(x)
        full_ev = PCA(svd_solver="full").fit(x).explained_variance_
    assert ev.shape == ref.explained_variance_.shape
    assert comps.shape == ref.components_.shape
    assert list(est.components_.columns) == columns
    assert list(est.mean_.index) == columns
    if all(isinstance(c, str) for c in columns):
        assert list(est.feature_names_in_) == columns
    else:
        assert not hasattr(est, "feature_names_in_")
    assert est.n_samples_seen_ == n
    np.testing.assert_allclose(mean, ref.mean_, rtol=1e-10, atol=1e-12 * (np.abs(x).max() + 1))
    top = ref.explained_variance_[0] if ref.explained_variance_.size else 0.0
    # components whose variance is below 1e-6 of the largest carry little relative
    # precision in either solver (and may be exactly zero in one, 1e-30 in the other)
    if top == 0:  # constant columns only: nothing to compare but zeros
        np.testing.assert_allclose(ev, 0.0, atol=1e-20)
        return
    big = ref.explained_variance_ >= 1e-6 * top
    np.testing.assert_allclose(ev[big], ref.explained_variance_[big], rtol=1e-8)
    np.testing.assert_allclose(ev[~big], ref.explained_variance_[~big], rtol=0, atol=1e-5 * top)
    np.testing.assert_allclose(ratio[big], ref.explained_variance_ratio_[big], rtol=1e-8)
    np.testing.assert_allclose(sv[big], ref.singular_values_[big], rtol=1e-8)
    # the scores: a frame on the input's own index (repeated labels and all)
    scores = est.transform(features)
    pd.testing.assert_index_equal(scores.index, features.index)
    ref_scores = ref.transform(x)
    score_scale = np.sqrt(top) * np.sqrt(n)
    # an axis is determined (up to sign) only when its variance is apart from the others':
    # its error is about eps * largest / gap
    for i in np.flatnonzero(big):
        others = np.delete(full_ev, i)
        gap = np.min(np.abs(others - ref.explained_variance_[i])) if others.size else top
        if gap >= 1e-4 * top:
            np.testing.assert_allclose(
                np.abs(comps[i]), np.abs(ref.components_[i]), rtol=0, atol=1e-7
            )
            np.testing.assert_allclose(
                np.abs(scores.iloc[:, i]), np.abs(ref_scores[:, i]), atol=1e-7 * score_scale
            )


# -- bugs the fuzzing found, as explicit examples ----------------------------------------------
# All fixed, kept as regression tests. A new one goes here as xfail(strict=True): its fix
# turns it into an XPASS failure, the signal to drop the mark.

_Y = [0.1, 0.5, -0.3, 1.2, 0.7, 0.2, 0.9, 0.4]
_X = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 6.0, 8.0]


@pytest.mark.parametrize("dtype", ["object", "str"])
def test_categorical_without_any_level(dtype):
    # every value of g is missing, so every row would be dropped. Was: patsy's Treatment
    # coding of a factor with no level (np.eye(-1)) escaped as a plain ValueError
    df = pd.DataFrame({"y": _Y, "x": _X, "g": pd.Series([None] * 8, dtype=dtype)})
    with pytest.raises(ooc.DataError):
        df.ooc.lstsq("y ~ x + C(g)", chunksize=3)


@pytest.mark.parametrize("dtype", ["string[python]", "string[pyarrow]", "object"])
def test_string_dtype_with_pd_na(dtype):
    # pd.NA is a missing value, as a nullable boolean's is. Was: it reached patsy, which
    # took it for a level and failed sorting the levels (a plain TypeError)
    g = pd.Series(["a", "b", pd.NA, "a", "b", "a", "b", "b"], dtype=dtype)
    df = pd.DataFrame({"y": _Y, "x": _X, "g": g})
    ref = smf.ols("y ~ x + C(g)", df.astype({"g": object}).dropna(), missing="drop").fit()
    fit = df.ooc.lstsq("y ~ x + C(g)", chunksize=3)
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-10)
    assert fit.nobs == ref.nobs == 7


@pytest.mark.parametrize("formula", ["y ~ I(b * 1.0)", "y ~ center(b)"])
def test_nullable_boolean_used_as_numbers_whatever_the_chunks(formula):
    # Was: the nullable boolean became bool in a block without pd.NA and object in one
    # with it, so the fit depended on the chunking (patsy's AttributeError for I(b*1.0);
    # ColumnTypeError or FormulaError for center(b))
    b = pd.array([True, False, None, True, False, True, False, True], dtype="boolean")
    df = pd.DataFrame({"y": _Y, "b": b})

    def outcome(chunksize):
        try:
            return df.ooc.lstsq(formula, chunksize=chunksize).params
        except ooc.OOCError as exc:
            return type(exc)

    whole, blocks = outcome(len(df)), outcome(2)  # the first block of 2 has no pd.NA
    if isinstance(whole, pd.Series) and isinstance(blocks, pd.Series):
        pd.testing.assert_series_equal(whole, blocks, rtol=1e-10)
    else:
        assert whole is blocks


def _resid_labels(index, chunksize=3) -> tuple[list, list]:
    df = pd.DataFrame({"y": _Y, "x": _X}, index=index)
    ref = smf.ols("y ~ x", df, missing="drop").fit()
    fit = df.ooc.lstsq("y ~ x", chunksize=chunksize)
    return _labels(fit.resid.to_series().index), _labels(ref.resid.index)


@pytest.mark.parametrize(
    "index",
    [
        pd.Index([10, 11, 12, 13, 14, 15, 16, 17], dtype=object),  # ints in an object index
        pd.Index([1, "a", 2.5, "b", 3, "c", 4, "d"], dtype=object),  # mixed in every block
        pd.timedelta_range("1s", periods=8, freq="s"),
        pd.Index([True, False] * 4),
    ],
    ids=["object-ints", "object-mixed", "timedelta", "bool"],
)
def test_row_labels_come_back_as_they_were(index):
    # Was: stored as str (int8 for bool) and never decoded back
    got, expected = _resid_labels(index)
    assert got == expected


@pytest.mark.parametrize(
    "labels",
    [["a", "b", "c", 1, 2, 3, 4, 5], ["a", None, "b", "c", "d", "e", "f", "g"]],
    ids=["str-then-ints", "one-None"],
)
def test_object_index_kind_is_the_same_in_every_block(labels):
    # Was: the kind (json/str) was picked per written block, and the store refused the
    # index when a block of str labels was followed by one with an int or None
    got, expected = _resid_labels(pd.Index(labels, dtype=object), chunksize=3)
    assert got == expected


def test_uint64_labels_above_int64_max():
    # Was: stored in an int64 variable, every label >= 2**63 came back as 2**63 - 1
    got, expected = _resid_labels(pd.Index(np.arange(8, dtype=np.uint64) + np.uint64(2**63)))
    assert got == expected


@pytest.mark.parametrize(
    "index",
    [
        pd.Index(["a", np.nan, "b", "c", "d", "e", "f", "g"], dtype="str"),
        pd.Index(["a\x00b", "b", "c", "d", "e", "f", "g", "h"]),
    ],
    ids=["str-with-NaN-label", "NUL-in-label"],
)
def test_unstorable_string_labels_are_refused_by_name(index):
    # Was: h5py's TypeError / ValueError. A store cannot hold a missing label or a NUL
    with pytest.raises(ooc.StoreError, match=r"missing label|NUL character"):
        _resid_labels(index)


def test_datetime_labels_outside_the_ns_range():
    # Was: converted to ns, pandas' OutOfBoundsDatetime. Now stored in their own unit
    index = pd.DatetimeIndex(pd.date_range("1500-01-01", periods=8, freq="D", unit="s"))
    got, expected = _resid_labels(index)
    assert got == expected


@pytest.mark.parametrize(
    "index",
    [
        pd.period_range("2020-01", periods=8, freq="M"),
        pd.interval_range(0, 8),
        pd.CategoricalIndex([5, 6, 7, 8, 9, 10, 11, 12]),
    ],
    ids=["period", "interval", "categorical-ints"],
)
def test_period_interval_categorical_labels(index):
    # Was: stored as their text, which resid/fittedvalues then carried
    got, expected = _resid_labels(index)
    assert got == expected
