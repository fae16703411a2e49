"""Bad input gets a clear error naming what and where, and no store is left behind."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import FORMULA, make_frame

import ooc_accessor as ooc


@pytest.fixture
def df():
    return make_frame(120)


def _no_store_left(directory) -> None:
    # neither the target nor a temporary file may survive a failed build
    assert os.listdir(directory) == []


CASES = [
    # (id, frame transform, formula, kwargs, error type, message pattern)
    ("missing column", None, "y ~ a + zz", {}, ooc.MissingColumnError, r"'zz'.*not a column"),
    (
        "str used as number",
        None,
        "y ~ np.log(cat1)",
        {},
        ooc.ColumnTypeError,
        r"column 'cat1' has dtype str but 'np.log\(cat1\)'",
    ),
    ("str arithmetic", None, "y ~ I(cat1 * 2.0)", {}, ooc.ColumnTypeError, r"'cat1'.*dtype str"),
    (
        "categorical response",
        None,
        "cat1 ~ a",
        {},
        ooc.ColumnTypeError,
        r"'cat1' is used as the response but has dtype str",
    ),
    ("empty frame", lambda d: d.iloc[:0], "y ~ a", {}, ooc.DataError, r"no rows"),
    (
        "all rows dropped",
        lambda d: d.assign(a=np.nan),
        "y ~ a",
        {},
        ooc.DataError,
        r"all 120 rows were dropped.*'a'",
    ),
    (
        "fewer rows than columns",
        lambda d: d.iloc[:6],
        FORMULA,
        {},
        ooc.DataError,
        r"5 rows remain \(after dropping 1 .*\) for 11 design columns",
    ),
    (
        "inf in a column",
        lambda d: d.assign(b=d.b.where(d.index != d.index[5], np.inf)),
        "y ~ a + b",
        {},
        ooc.DataError,
        r"column 'b' holds 1 infinite value\(s\), the first at row 1035",
    ),
    (
        "inf from a transform",
        lambda d: d.assign(b=1.0, c=d.c.where(d.index != 1049, 0.0)),
        "y ~ a + np.log(b + c - c) + I(1 / c)",
        {},
        ooc.DataError,
        r"design column 'I\(1 / c\)' is inf at row 1049",
    ),
    ("syntax error", None, "y ~ a + (b", {}, ooc.FormulaError, r"Unmatched '\('[\s\S]*\^"),
    (
        "missing='raise'",
        None,
        "y ~ a",
        {"missing": "raise"},
        ooc.DataError,
        r"'y' \(1 missing\), 'a' \(3 missing\)",
    ),
    (
        "negative weights",
        None,
        "y ~ a",
        {"weights": "neg"},
        ooc.DataError,
        r"weights must be finite and non-negative; row 1000",
    ),
    (
        "text weights",
        None,
        "y ~ a",
        {"weights": "cat1"},
        ooc.ColumnTypeError,
        r"'cat1' is used as weights but has dtype str",
    ),
]


@pytest.mark.parametrize(
    ("transform", "formula", "kwargs", "exc", "match"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_raises_before_any_store(df, tmp_path, transform, formula, kwargs, exc, match):
    data = transform(df) if transform else df
    data = data.assign(neg=-data.w)
    path = tmp_path / "design.nc"
    with pytest.raises(exc, match=match), np.errstate(divide="ignore"):
        data.ooc.lstsq(formula, path=path, **kwargs)
    _no_store_left(tmp_path)


def test_unseen_level_names_level_and_factor(df):
    design = df.ooc.design(FORMULA)
    new = df.copy()
    new.loc[new.index[2], "cat1"] = "zeta"
    with pytest.raises(ooc.UnseenLevelError, match=r"level 'zeta' of factor 'C\(cat1\)'.*'alpha'"):
        design.build(new)
    with pytest.raises(ooc.UnseenLevelError, match=r"'zeta'"):
        design.lstsq().predict(new)


def test_bad_chunksize_and_missing_policy(df):
    with pytest.raises(ValueError, match="positive number of rows, not 0"):
        df.ooc.design("y ~ a", chunksize=0)
    with pytest.raises(ValueError, match="chunksize must be 'auto'"):
        df.ooc.design("y ~ a", chunksize="big")
    with pytest.raises(ValueError, match="missing must be one of"):
        df.ooc.design("y ~ a", missing="ignore")


def test_store_errors(tmp_path):
    with pytest.raises(ooc.StoreError, match=r"directory .* does not exist"):
        make_frame(120).ooc.design("y ~ a", path=tmp_path / "no" / "x.nc")
    with pytest.raises(ooc.StoreError, match="no design store at"):
        ooc.open_design(tmp_path / "none.nc")
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(ooc.StoreError, match="not a readable NetCDF4/HDF5 file"):
        ooc.open_design(junk)


def test_lstsq_needs_a_response(df):
    design = df.ooc.design("0 + a + b")
    with pytest.raises(ooc.OOCError, match="0 response columns"):
        design.lstsq()


def test_weights_column_must_exist(df):
    with pytest.raises(ooc.MissingColumnError, match=r"weights='ww' is not a column"):
        df.ooc.lstsq("y ~ a", weights="ww")
    with pytest.raises(ValueError, match="weights has 3 values for a frame of 120 rows"):
        df.ooc.lstsq("y ~ a", weights=[1.0, 2.0, 3.0])
