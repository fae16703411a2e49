"""Adversary findings against step 7 (formula engine, read_csv codes, cluster assembly).

Each test is one confirmed finding; the docstring says what was expected and what happened.
Fixed ones are plain tests now; the two still marked ``xfail(strict=True)`` are the known
limit of docs/reliability.md (text that a later chunk parses as numbers or bools).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import patsy
import pytest
import xarray as xr

import ooc_accessor as ooc


def _csv(tmp_path, text: str, name: str = "f.csv") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8", newline="")
    return str(p)


def test_csv_store_nan_like_level_refused(tmp_path):
    """A CSV whose string column holds 'NAN' (also 'Nan', 'nAn', '+nan', ' nan'; or 'nan'
    under keep_default_na=False): pandas' default na_values do not include it, so
    pd.read_csv keeps the text, and patsy treats it as missing (float('NAN') is NaN) and
    drops the row. Expected: the design from the read_csv store equals patsy's on
    pd.read_csv (5 rows, [Intercept, g[T.b]]), as df.ooc.design on the pandas frame does.
    Actual: the design read from the store's codes raises UnseenLevelError "level 'NAN' of
    column 'g' was not seen" (the learn pass drops the NA-like level from the Categorical's
    levels, then the build hands patsy a Categorical whose categories differ). Regression:
    b283a20 built it."""
    p = _csv(tmp_path, "y,g\n1,NAN\n2,a\n3,b\n4,a\n5,b\n6,a\n")
    ref = pd.read_csv(p)
    assert ref.g[0] == "NAN"
    _, px = patsy.dmatrices("y ~ g", ref, NA_action="drop", return_type="dataframe")
    ds = ooc.read_csv(p, progress=False)
    design = ds.ooc.design("y ~ g", dim="index")
    np.testing.assert_array_equal(design.X.values, px.values)


def test_float16_categorical_factor():
    """C(m) of a float16 column (the library keeps float16 data as float16). Expected: the
    design patsy makes from the values (levels 1.0, 2.0, 3.0), as b283a20 built it.
    Actual: NotImplementedError('float16 indexes are not supported') from pd.factorize in
    formula/sniff.py (its _KINDS 'f' admits float16), not even an OOCError; the same for
    Design.build(new float16 data) and a Dataset source."""
    df = pd.DataFrame(
        {"y": np.arange(8.0), "m": np.array([1, 2, 3, 1, 2, 3, 1, 2], dtype=np.float16)}
    )
    design = df.ooc.design("y ~ C(m)", chunksize=3)
    _, px = patsy.dmatrices("y ~ C(m)", df, return_type="dataframe")
    np.testing.assert_array_equal(design.X.values, px.values)


@pytest.mark.xfail(strict=True, reason="later chunks of a text column keep pandas' parsed numbers")
def test_csv_text_column_numbers_in_later_chunk(tmp_path):
    """A column that is text in the first chunk ('x') and whose later chunk pandas parses as
    numbers ('1', '1.0', '1e3', '01', '+1', '-0'). pd.read_csv of the whole file gives the
    strings as written. Expected: the store's strings equal pd.read_csv's, and a design
    from it patsy's on pd.read_csv (6 distinct levels). Actual (chunksize=1..3): the chunk's
    parsed floats are stored as their repr: '1.0', '1.0', '1000.0', '1.0', '1.0', '0.0',
    so distinct levels merge and the design has the wrong columns, silently.
    (Also at b283a20; text_of in csvcodes.py re-implements it.)"""
    p = _csv(tmp_path, "y,g\n1,x\n2,1\n3,1.0\n4,1e3\n5,01\n6,+1\n7,-0\n8,x\n")
    ref = pd.read_csv(p)
    ds = ooc.read_csv(p, chunksize=1, progress=False)
    assert list(ds.g.values) == list(ref.g.values)


@pytest.mark.xfail(strict=True, reason="bool-parsed later chunk stored as 'True', not the text")
def test_csv_text_column_bool_words_in_later_chunk(tmp_path):
    """First chunk text ('x'), a later chunk that pandas parses as bool ('TRUE', 'true').
    Expected: 'TRUE' and 'true' as pd.read_csv of the whole file gives them (two levels).
    Actual: both stored as 'True' (one level): a design from the store silently merges them."""
    p = _csv(tmp_path, "y,g\n1,x\n2,TRUE\n3,true\n4,x\n")
    ref = pd.read_csv(p)
    ds = ooc.read_csv(p, chunksize=1, progress=False)
    assert list(ds.g.values) == list(ref.g.values)


def test_numpy_bool_then_python_true_in_object_column():
    """An object column holding np.True_ and then Python True (pandas factorizes them as one
    value). patsy on the whole frame: a Python True adds both bools, so the levels are
    (False, np.True_, 'a'): columns [Intercept, m[T.np.True_], m[T.a]], reference False.
    Actual with one block (chunksize=5): [Intercept, m[T.a]] (False lost, np.True_ became
    the reference), so params differ from patsy's silently; with chunksize=1 it matches:
    the columns depend on the chunk size. sniffed_levels' "hidden bool" rule checks only
    int/float/np.number values, not np.bool_."""
    df = pd.DataFrame(
        {"y": [1.0, 2, 3, 4, 5], "m": np.array([np.True_, True, "a", "a", np.True_], dtype=object)}
    )
    _, px = patsy.dmatrices("y ~ m", df, return_type="dataframe")
    design = df.ooc.design("y ~ m", chunksize=5)
    assert list(design.X.term.values) == list(px.columns)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as cl,
    ):
        yield cl


def _cluster_dataset(n: int = 40) -> xr.Dataset:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"y": rng.normal(size=n), "x": rng.normal(size=n), "g": rng.choice(["a", "b"], n)}
    ).rename_axis("row")
    return xr.Dataset.from_dataframe(df).chunk({"row": 7})


def test_rebuild_over_copy_of_assembled_store_deletes_original_parts(client, tmp_path):
    """A design assembled on a cluster at a.nc; the user copies the main file (cp a.nc b.nc:
    b.nc opens and reads, its part names are relative and point at a.nc's parts directory).
    Rebuilding any design at b.nc (here on the threaded scheduler, a single-file store).
    Expected: a.nc untouched and readable (its parts belong to it). Actual: the rebuild
    takes a.nc's parts directory for b.nc's old parts (parts_dir_of(b.nc)) and removes it,
    so a.nc raises StoreNotFoundError: a user's store is lost (data loss). Design.save
    over such a copy goes through the same parts_dir_of/remove_parts path (assemble.keep)."""
    ds = _cluster_dataset()
    a, b = str(tmp_path / "a.nc"), str(tmp_path / "b.nc")
    x = ds.ooc.design("y ~ x + g", dim="row", chunksize=5, path=a).X.values
    assert any(name.startswith(".a.nc.parts-") for name in os.listdir(tmp_path))
    shutil.copy(a, b)
    np.testing.assert_array_equal(ooc.open_design(b).X.values, x)
    ds.compute().ooc.design("y ~ x", dim="row", chunksize=5, path=b)  # built here
    np.testing.assert_array_equal(ooc.open_design(a).X.values, x)


def test_csv_mixed_type_object_column_design(tmp_path):
    """converters={'g': lambda s: int(s) if s.isdigit() else s} makes pd.read_csv's column
    an object column of ints and strs ([10, 9, 'x', ...]); patsy sorts the levels 9, 10,
    'x' (reference 9): columns [Intercept, g[T.10], g[T.x]]. Expected: the design from
    ooc.read_csv (same kwargs, one chunk) equals patsy's on pd.read_csv. Actual: the store
    keeps the values as text '10', '9', 'x', sorted as strings ('10' < '9'), so the design
    is [Intercept, g[T.9], g[T.x]] (reference '10'): other columns and coefficients,
    silently. (Also at b283a20.)"""
    conv = {"g": lambda s: int(s) if s.isdigit() else s}
    p = _csv(tmp_path, "y,g\n1,10\n2,9\n3,x\n4,10\n5,9\n6,x\n7,9\n")
    ref = pd.read_csv(p, converters=conv)
    _, px = patsy.dmatrices("y ~ g", ref, return_type="dataframe")
    assert list(px.columns) == ["Intercept", "g[T.10]", "g[T.x]"]
    # fixed by refusing: a store keeps a column of one type, so it cannot keep these levels
    with pytest.raises(ooc.ColumnTypeError, match="'g' holds values that are not text"):
        ooc.read_csv(p, chunksize=100, progress=False, converters=conv)


def test_crafted_level_table_with_duplicates(tmp_path):
    """A read_csv store whose level table is rewritten to repeat a level (['a', 'a', 'c']),
    its SHA-256 attribute and manifest made consistent (a crafted file, not damage: a
    writer never repeats a level). Expected: StoreError naming the level table (a table of
    distinct, sorted levels is what the reader relies on). Actual: the Dataset opens and
    decodes (two codes read 'a'), and a design raises FormulaError "cannot code formula
    'y ~ g': Categorical categories must be unique; check the terms it names", blaming the
    formula."""
    import h5py

    from ooc_accessor.csvcodes import table_digest
    from ooc_accessor.manifest import seal

    p = _csv(tmp_path, "y,g\n1,b\n2,a\n3,\n4,c\n5,a\n6,b\n7,c\n")
    s = str(tmp_path / "s.nc")
    ooc.read_csv(p, path=s, chunksize=3, progress=False)
    with h5py.File(s, "r+") as f:
        table = np.array(["a", "a", "c"], dtype=object)
        f["g.levels"][...] = table
        f["g"].attrs["ooc_levels_sha256"] = table_digest(table)
    seal(s)
    with pytest.raises(ooc.StoreError):
        ds = ooc.open_csv_store(s, verify=True)
        ds.ooc.design("y ~ g", dim="index")


def test_boxed_categorical_with_nan_like_category_rows():
    """A pandas Categorical with a category 'NAN' (or 'nan', 'NaN': text) read through C():
    patsy unwraps the C() box after its Categorical fast path, so it codes the values one
    by one and takes 'NAN' for missing: patsy.dmatrices('y ~ C(m)') drops those 2 rows
    (6 rows; the level 'NAN' stays the reference), as b283a20 did. Expected: the same 6
    rows. Actual: codes_of unwraps the box and uses the Categorical's codes, so the rows
    are kept (8 rows, 'NAN' rows coded as the reference): a different fit, silently.
    (y ~ m without C() keeps them in patsy too, and there the library agrees.)"""
    df = pd.DataFrame(
        {"y": np.arange(8.0), "m": pd.Categorical(["NAN", "a", "b"] * 2 + ["a", "b"])}
    )
    _, px = patsy.dmatrices("y ~ C(m)", df, NA_action="drop", return_type="dataframe")
    design = df.ooc.design("y ~ C(m)", chunksize=3)
    assert design.X.shape == px.shape
