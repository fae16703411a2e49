"""Errors that used to leak from numpy, pandas or patsy, now named with their fix.

Each was found by the message audit or the bad-data suite (see docs/reliability.md).
"""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from conftest import make_frame

import ooc_accessor as ooc


@pytest.fixture
def df() -> pd.DataFrame:
    return make_frame(120)


def test_predict_needs_a_table(df):
    fit = df.ooc.lstsq("y ~ a + b")
    with pytest.raises(TypeError, match=r"predict needs a DataFrame or a Dataset.*ndarray"):
        fit.predict(df[["a", "b"]].to_numpy())


def test_batch_size_must_be_a_positive_int(df):
    x = df[["b", "c", "d"]].to_numpy()
    # a wrong type is a TypeError, a wrong value a ValueError; both the library's own
    for bad, exc in (("x", ooc.ArgumentTypeError), (True, ooc.ArgumentTypeError)):
        with pytest.raises(exc, match=r"batch_size must be a positive int"):
            ooc.IncrementalPCA(1, batch_size=bad).fit(x)
    for bad in (2.5, 0):
        with pytest.raises(ooc.ArgumentError, match=r"batch_size must be a positive int"):
            ooc.IncrementalPCA(1, batch_size=bad).fit(x)


def test_inverse_transform_checks_the_width(df):
    est = ooc.IncrementalPCA(2).fit(df[["b", "c", "d"]].to_numpy())
    with pytest.raises(ValueError, match=r"scores of shape \(n_samples, 2\).*got \(3, 5\)"):
        est.inverse_transform(np.ones((3, 5)))


def test_unseen_level_of_a_transformed_factor(df):
    design = df.ooc.design("y ~ a + C(cat1.str.upper())")
    with pytest.raises(ooc.UnseenLevelError, match=r"'ZETA' of factor 'C\(cat1\.str\.upper\(\)\)'"):
        design.build(df.assign(cat1="zeta"))


def test_build_checks_missing(df):
    design = df.ooc.design("y ~ a")
    with pytest.raises(ValueError, match=r"missing must be one of .* not 'ignore'"):
        design.build(df, missing="ignore")


def test_weights_must_be_numbers_one_per_row(df):
    with pytest.raises(ooc.ColumnTypeError, match=r"weights must be numbers.*pd\.to_numeric"):
        df.ooc.lstsq("y ~ a", weights=["x"] * len(df))
    with pytest.raises(ValueError, match=r"weights has shape \(60, 2\); pass one weight per row"):
        df.ooc.lstsq("y ~ a", weights=np.ones((60, 2)))


def test_weights_series_lacking_labels(df):
    w = df.w.iloc[5:]
    with pytest.raises(ooc.DataError, match=r"weights lacks 5 of the frame's row labels"):
        df.ooc.lstsq("y ~ a", weights=w)


def test_all_zero_weights(df):
    with pytest.raises(ooc.DataError, match=r"every weight of the \d+ rows is zero"):
        df.ooc.lstsq("y ~ a", weights=np.zeros(len(df)))


def test_corrupt_gzip_csv(tmp_path):
    path = tmp_path / "x.csv.gz"
    path.write_bytes(b"a,b\n1,2\n")  # not gzip at all
    with pytest.raises(ooc.CSVError, match=r"x\.csv\.gz'.*check that the file is whole"):
        ooc.read_csv(path, tmp_path / "x.nc", progress=False)
    good = tmp_path / "y.csv.gz"
    good.write_bytes(gzip.compress(b"a,b\n1,2\n3,4\n")[:-6])  # truncated
    with pytest.raises(ooc.CSVError, match=r"y\.csv\.gz'"):
        ooc.read_csv(good, tmp_path / "y.nc", progress=False)
    assert not (tmp_path / "x.nc").exists() and not (tmp_path / "y.nc").exists()


def test_a_write_that_fails_for_another_reason_names_the_target(df, tmp_path, monkeypatch):
    # the temporary file cannot be created (here: its directory vanished); not a full disk
    monkeypatch.setattr(ooc.store, "temp_path", lambda final: str(tmp_path / "gone" / "t.nc"))
    target = tmp_path / "d.nc"
    with pytest.raises(ooc.StoreError, match=r"writing '.*d\.nc' failed \(.*\)\. Nothing was "):
        df.ooc.design("y ~ a", path=target)
    assert not target.exists()
    with pytest.raises(ooc.StoreError, match=r"check that '.*' is writable and retry"):
        df.ooc.design("y ~ a", path=target)
