"""read_csv keeps string columns as integer codes plus a sorted level table.

Every string reads back as ``pandas.read_csv`` of the whole file gives it (through the
returned Dataset, :func:`open_csv_store` and ``to_dataframe``), at every chunking; the codes
are fletcher32-checked and the table checksummed; a design built from the store (which
reads the codes as Categoricals) equals the design built from pandas' strings.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ooc_accessor as ooc
from ooc_accessor.sources import DatasetSource

# strings pandas keeps as written: empty (with keep_default_na=False), unicode, blanks,
# numbers with leading zeros, "NA" (missing by default, a level with keep_default_na=False).
# Each number-like string shares a 2-row chunk with text: a chunk of numbers alone parses as
# numbers, whose text is gone (the documented limit: pass dtype=str, tested here too)
ODD = ["007", " x ", "é😀", "NA", "", "a,b", "Zeta", "alpha", "1e5", "  "]


def _plain(values) -> list:
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


def _odd_csv(path, n: int = 61) -> None:
    """Column ``s``: ODD in turn, a new level every 7th row from row 40 on (levels first
    seen late), 'late' only in the last rows; ``t``: mostly missing."""
    rows = ["i,s,t"]
    for i in range(n):
        s = ODD[i % len(ODD)] if i < 40 or i % 7 else f"new{i}"
        s = "late" if i >= n - 3 else s
        s = f'"{s}"' if "," in s else s
        t = "q" if i % 5 == 0 else ""
        rows.append(f"{i},{s},{t}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _same_strings(ds: xr.Dataset, whole: pd.DataFrame, columns=("s", "t")) -> None:
    for c in columns:
        got = ds[c].values
        assert got.dtype == object, c
        assert _plain(got) == _plain(whole[c].astype(object)), c


# chunk sizes: 1-ish (nearly every chunk brings new levels), odd, whole file
@pytest.mark.parametrize("chunksize", [2, 7, 1000])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"keep_default_na": False}, {"dtype": str}, {"na_values": ["Zeta"]}],
    ids=["default", "keep_default_na=False", "dtype=str", "na_values"],
)
def test_strings_come_back_as_pandas_reads_them(tmp_path, chunksize, kwargs):
    path = tmp_path / "odd.csv"
    _odd_csv(path)
    whole = pd.read_csv(path, **kwargs)
    target = tmp_path / "odd.nc"
    ds = ooc.read_csv(path, target, chunksize=chunksize, progress=False, **kwargs)
    _same_strings(ds, whole)
    _same_strings(ooc.open_csv_store(target, verify=True), whole)
    frame = ds.to_dataframe()
    assert _plain(frame["s"]) == _plain(whole["s"].astype(object))
    if kwargs.get("keep_default_na") is False:  # "" and "NA" are levels, not missing
        assert "" in set(ds["s"].values) and "NA" in set(ds["s"].values)


def test_strings_read_as_str_in_chunks_of_one(tmp_path):
    path = tmp_path / "odd.csv"
    _odd_csv(path)
    whole = pd.read_csv(path, dtype={"s": str})
    ds = ooc.read_csv(path, tmp_path / "one.nc", chunksize=1, progress=False, dtype={"s": str})
    _same_strings(ds, whole, ["s"])
    assert "007" in set(ds["s"].values) and "1e5" in set(ds["s"].values)


def test_store_holds_codes_and_a_sorted_table(tmp_path):
    path = tmp_path / "odd.csv"
    _odd_csv(path)
    target = tmp_path / "odd.nc"
    ooc.read_csv(path, target, chunksize=4, progress=False)
    whole = pd.read_csv(path)
    with h5py.File(target, "r") as f:
        codes = f["s"]
        assert codes.dtype == np.int8 and codes.fletcher32  # checksummed, like numbers
        table = np.array([v.decode() for v in f[codes.attrs["ooc_levels"]][:]], dtype=object)
        assert list(table) == sorted(whole["s"].dropna().unique())
        values = codes[:]
    decoded = np.append(table, np.nan)[values]  # -1: missing
    assert _plain(decoded) == _plain(whole["s"].astype(object))
    # a foreign reader: xarray shows the codes (missing as NaN) and the table
    with xr.open_dataset(target, engine="h5netcdf") as raw:
        assert raw["s"].attrs["ooc_levels"] == "s.levels"
        assert list(raw["s.levels"].values) == list(table)
        got = raw["s"].values
        assert np.isnan(got).sum() == whole["s"].isna().sum()


def test_codes_widen_when_levels_outgrow_their_type(tmp_path):
    """130 levels, most first seen after row 100: int8 codes rewritten as int16."""
    n = 400
    levels = [f"L{i:03d}" for i in range(130)]
    s = [levels[i % 5] if i < 100 else levels[i % 130] for i in range(n)]
    pd.DataFrame({"x": np.arange(n), "s": s}).to_csv(tmp_path / "w.csv", index=False)
    for chunksize in (3, 64, n):
        target = tmp_path / f"w{chunksize}.nc"
        ds = ooc.read_csv(tmp_path / "w.csv", target, chunksize=chunksize, progress=False)
        assert list(ds["s"].values) == s
        with h5py.File(target, "r") as f:
            assert f["s"].dtype == np.int16


def test_numbers_in_a_string_column_are_their_text(tmp_path):
    """Text first, numbers in a later chunk: stored as the text a whole-file read gives."""
    text = "k,v\n" + "".join(f"{i},{'x' if i < 3 else i / 4}\n" for i in range(9))
    (tmp_path / "n.csv").write_text(text)
    whole = pd.read_csv(tmp_path / "n.csv")
    ds = ooc.read_csv(tmp_path / "n.csv", tmp_path / "n.nc", chunksize=3, progress=False)
    assert _plain(ds["v"].values) == _plain(whole["v"].astype(object))


def test_nul_in_a_late_level_names_its_row(tmp_path):
    (tmp_path / "z.csv").write_text("a,b\n1,x\n2,y\n3,x\n4,q\x00r\n5,x\n")
    with pytest.raises(ooc.CSVError, match=r"column 'b' holds a NUL character .* row 3"):
        ooc.read_csv(tmp_path / "z.csv", tmp_path / "z.nc", chunksize=2, progress=False)
    assert not (tmp_path / "z.nc").exists()


def _flip_in_chunk(path, var: str) -> None:
    with h5py.File(path, "r") as f:
        info = f[var].id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + 1)
        byte = fh.read(1)
        fh.seek(info.byte_offset + 1)
        fh.write(bytes([byte[0] ^ 0x01]))


def test_a_flipped_byte_in_the_codes_fails_its_checksum(tmp_path):
    path = tmp_path / "odd.csv"
    _odd_csv(path)
    target = tmp_path / "odd.nc"
    ooc.read_csv(path, target, chunksize=16, progress=False)
    _flip_in_chunk(target, "s")
    ds = ooc.open_csv_store(target)  # structure intact: opens
    with pytest.raises(ooc.StoreError, match=r"variable 's' of .*odd\.nc"):
        ds["s"].values  # noqa: B018
    with pytest.raises(ooc.StoreError, match=r"odd\.nc.*damaged"):
        ooc.open_csv_store(target, verify=True)


def test_a_changed_level_table_is_refused(tmp_path):
    path = tmp_path / "odd.csv"
    _odd_csv(path)
    target = tmp_path / "odd.nc"
    ooc.read_csv(path, target, chunksize=16, progress=False)
    with h5py.File(target, "r") as f:
        table = f["s.levels"][:]
    with h5py.File(target, "r+") as f:  # same length and layout: only the table's sha256 tells
        f["s.levels"][0] = b"X" * len(table[0]) if table[0] else b""
        f["s.levels"][1] = table[0]
    with pytest.raises(ooc.StoreError, match=r"level table 's\.levels' of column 's'"):
        ooc.open_csv_store(target)["s"].values  # noqa: B018


def test_codes_outside_the_table_are_refused(tmp_path):
    (tmp_path / "c.csv").write_text("a,b\n1,x\n2,y\n3,x\n")
    target = tmp_path / "c.nc"
    ooc.read_csv(tmp_path / "c.csv", target, progress=False)
    with h5py.File(target, "r+") as f:
        f["b"][1] = 100  # rewritten with a valid checksum: only the range check tells
    ds = ooc.open_csv_store(target)
    with pytest.raises(ooc.StoreError, match=r"column 'b' holds codes outside its level table"):
        ds["b"].values  # noqa: B018


FORMULA = 'y ~ a + C(g) + C(r, Treatment("r03")) + C(g):a + s'


def _design_csv(path, n: int = 300, seed: int = 1) -> pd.DataFrame:
    """String factors g (3 levels, one only late), r (12 levels), s (with missing)."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["b", "a", "c"], size=n).astype(object)
    g[-20:] = "late"
    r = np.array([f"r{i:02d}" for i in rng.integers(0, 12, size=n)], dtype=object)
    s = rng.choice(["u", "v", ""], size=n)
    a = rng.normal(size=n)
    y = 1 + a + (g == "a") + rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "a": a, "g": g, "r": r, "s": s})
    frame.to_csv(path, index=False)
    return pd.read_csv(path)


def _assert_same_design(got: ooc.Design, want: ooc.Design) -> None:
    assert got.terms == want.terms
    np.testing.assert_array_equal(got.X.values, want.X.values)
    np.testing.assert_array_equal(got.y.values, want.y.values)
    assert got.n_dropped == want.n_dropped


@pytest.mark.parametrize("chunksize", [7, 97, 300])
def test_design_from_codes_equals_design_from_strings(tmp_path, chunksize):
    whole = _design_csv(tmp_path / "d.csv")
    ds = ooc.read_csv(tmp_path / "d.csv", tmp_path / "d.nc", chunksize=chunksize, progress=False)
    source = DatasetSource(ds, "index").select(
        ["y", "a", "g", "r", "s"], ["y", "a", "C(g)", 'C(r, Treatment("r03"))', "s"]
    )
    assert source.string_codes == {"g", "r", "s"}  # read as codes, never as strings
    block = source.block(0, 5)
    assert list(block["g"].cat.categories) == ["a", "b", "c", "late"]  # sorted, as patsy
    assert list(block["g"].astype(object)) == list(whole["g"].iloc[:5])
    got = ds.ooc.design(FORMULA, chunksize=chunksize)
    _assert_same_design(got, whole.ooc.design(FORMULA, chunksize=chunksize))
    assert got.n_dropped == whole["s"].isna().sum() > 0  # a missing string drops its row
    fit = ds.ooc.lstsq(FORMULA, chunksize=chunksize)
    ref = whole.ooc.lstsq(FORMULA)
    np.testing.assert_allclose(fit.params.values, ref.params.to_numpy(), rtol=1e-10)


def test_design_of_a_subset_lacking_levels(tmp_path):
    """Rows selected with isel lack the late level: the design has no column for it, as
    patsy's own read of those rows' strings (the subset is read as strings)."""
    whole = _design_csv(tmp_path / "d.csv")
    ds = ooc.read_csv(tmp_path / "d.csv", tmp_path / "d.nc", chunksize=50, progress=False)
    sub = ds.isel(index=slice(10, 200))
    source = DatasetSource(sub, "index").select(["g"], ["C(g)"])
    assert source.string_codes == frozenset()
    got = sub.ooc.design(FORMULA, chunksize=33)
    want = whole.iloc[10:200].ooc.design(FORMULA, chunksize=33)
    assert not any("late" in t for t in got.terms)
    _assert_same_design(got, want)


def test_text_used_as_text_is_read_as_strings(tmp_path):
    """A factor that computes on the text (not a plain categorical) gets the strings."""
    whole = _design_csv(tmp_path / "d.csv")
    ds = ooc.read_csv(tmp_path / "d.csv", tmp_path / "d.nc", chunksize=64, progress=False)
    formula = 'y ~ a + I(g == "a") + C(r)'
    source = DatasetSource(ds, "index").select(
        ["y", "a", "g", "r"], ["y", "a", 'I(g == "a")', "C(r)"]
    )
    assert source.string_codes == {"r"}
    _assert_same_design(ds.ooc.design(formula), whole.ooc.design(formula))


def test_build_and_predict_on_another_store(tmp_path):
    """New rows from another store (its own, smaller level table) are coded against the
    design's levels; a level the design never saw is named."""
    whole = _design_csv(tmp_path / "d.csv")
    ds = ooc.read_csv(tmp_path / "d.csv", tmp_path / "d.nc", chunksize=64, progress=False)
    whole.iloc[:30].to_csv(tmp_path / "new.csv", index=False)
    new = ooc.read_csv(tmp_path / "new.csv", tmp_path / "new.nc", progress=False)
    design = ds.ooc.design(FORMULA)
    built = design.build(new)
    want = whole.ooc.design(FORMULA).build(whole.iloc[:30])
    _assert_same_design(built, want)
    fit = ds.ooc.lstsq(FORMULA)
    np.testing.assert_allclose(
        np.asarray(fit.predict(new)), np.asarray(whole.ooc.lstsq(FORMULA).predict(whole.iloc[:30])),
        rtol=1e-10,
    )  # fmt: skip
    odd = whole.iloc[:5].assign(g="never")
    odd.to_csv(tmp_path / "odd.csv", index=False)
    other = ooc.read_csv(tmp_path / "odd.csv", tmp_path / "odd.nc", progress=False)
    with pytest.raises(ooc.UnseenLevelError, match=r"'never'.*column 'g'"):
        design.build(other)


@pytest.mark.parametrize("chunk", [1, 13, 500])
def test_level_table_merges_chunks_as_union_categoricals(chunk):
    """Codes chunk by chunk into one table equal pd.factorize of the whole column; the
    sorted table and remapped codes equal pandas' union of the chunks' categoricals."""
    from ooc_accessor.csvcodes import LevelTable

    rng = np.random.default_rng(3)
    pool = np.array([f"v{i}" for i in range(300)] + ["", " ", "é"], dtype=object)
    values = pool[np.minimum(rng.integers(0, 303, size=500), np.arange(500))]  # new ones late
    values[rng.random(500) < 0.1] = None
    series = pd.Series(values, dtype=object)
    table = LevelTable()
    parts = [series.iloc[a : a + chunk] for a in range(0, 500, chunk)]
    codes = np.concatenate([table.codes(p)[0].astype(np.int64) for p in parts])
    first, uniques = pd.factorize(series)  # the order first seen, over the whole column
    assert list(table.levels()) == list(uniques)
    np.testing.assert_array_equal(codes, first)
    levels, rank = table.sorted()
    union = pd.api.types.union_categoricals(
        [pd.Categorical(p) for p in parts], sort_categories=True
    )
    assert list(levels) == list(union.categories)
    np.testing.assert_array_equal(np.append(rank, -1)[codes], union.codes)
    assert table.codes(parts[0])[0].dtype == np.int16  # 303 levels: int16 codes


def test_the_design_never_decodes_strings(tmp_path, monkeypatch):
    """A design (and a fit) from the store read the codes: no chunk is decoded to text."""
    from ooc_accessor import csvcodes

    whole = _design_csv(tmp_path / "d.csv")
    ds = ooc.read_csv(tmp_path / "d.csv", tmp_path / "d.nc", chunksize=64, progress=False)

    def refuse(self, codes):
        raise AssertionError("a string chunk was decoded")

    monkeypatch.setattr(csvcodes.CodesDecoder, "__call__", refuse)
    formula = "y ~ a + C(g) + C(r)"
    _assert_same_design(ds.ooc.design(formula), whole.ooc.design(formula))
    with pytest.raises(AssertionError, match="decoded"):  # reading the strings does decode
        ds["g"].values  # noqa: B018


def test_compressed_codes_round_trip(tmp_path):
    path = tmp_path / "odd.csv"
    _odd_csv(path)
    target = tmp_path / "z.nc"
    ds = ooc.read_csv(path, target, chunksize=9, compression="gzip", progress=False)
    _same_strings(ds, pd.read_csv(path))
    with h5py.File(target, "r") as f:
        assert f["s"].compression == "gzip" and f["s"].fletcher32
