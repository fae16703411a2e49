"""read_csv on valid but unusual files (Step 6, class 9).

Each file gives the same values as ``pandas.read_csv`` of the file (through the returned
Dataset, :func:`open_csv_store` and xarray's own reader), or a CSVError naming the column
and row. And the work grows linearly with the column count (counted, not timed).
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ooc_accessor as ooc


def _plain(values) -> list:
    return [None if (isinstance(v, float) and math.isnan(v)) or v is pd.NaT else v for v in values]


def _check(ds: xr.Dataset, whole: pd.DataFrame) -> None:
    assert list(ds.data_vars) == [str(c) for c in whole.columns]
    for col in whole.columns:
        got, want = ds[str(col)].values, whole[col]
        assert len(got) == len(want), col
        if want.dtype.kind in "fiub":
            assert got.dtype.kind == want.dtype.kind, (col, got.dtype, want.dtype)
            np.testing.assert_array_equal(got, want.to_numpy(), err_msg=str(col))
        elif want.dtype.kind == "M":
            np.testing.assert_array_equal(got, want.to_numpy(dtype="datetime64[ns]"))
        else:
            assert _plain(got) == _plain(want.astype(object)), col


def _round_trip(path, tmp_path, chunksize=2, **kwargs) -> xr.Dataset:
    """read_csv at two chunk sizes and open_csv_store all equal pandas.read_csv."""
    whole = pd.read_csv(path, **kwargs)
    for i, cs in enumerate((chunksize, "auto")):
        target = tmp_path / f"out{i}.nc"
        ds = ooc.read_csv(path, target, chunksize=cs, progress=False, **kwargs)
        _check(ds, whole)
        _check(ooc.open_csv_store(target, verify=True), whole)
    return ds


def _write(tmp_path, name: str, data: bytes | str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


NAMES = {
    "slash": "a/b,c//d,/\n1,2,3\n4,5,6\n",
    "empty": ",a,\n1,2,3\n4,5,6\n",  # pandas: Unnamed: 0, a, Unnamed: 2
    "duplicated": "a,a,a.1,b\n1,2,3,4\n5,6,7,8\n",  # pandas: a, a.1, a.1.1, b
    "digits": "1,2,30\n1,2,3\n4,5,6\n",
    "dots": "a.b,.,..,x.\n1,2,3,4\n5,6,7,8\n",
    "spaces": " a,b , c ,d\n1,2,3,4\n5,6,7,8\n",
    "unicode": "température,名前,ü/ß,😀\n1,x,3,4\n5,y,7,8\n",
    "percent": "%,a%2Fb,%%,100%\n1,2,3,4\n5,6,7,8\n",
    "long": ",".join("c" * 300 + str(i) for i in range(3)) + "\n1,2,3\n4,5,6\n",
}


@pytest.mark.parametrize("case", sorted(NAMES))
def test_column_names(tmp_path, case):
    path = _write(tmp_path, f"{case}.csv", NAMES[case])
    ds = _round_trip(path, tmp_path)
    # xarray reads the store itself: a name HDF5 cannot hold is there under its escape; a
    # string column is its codes into a level table, a coordinate named by "ooc_levels"
    with xr.open_dataset(tmp_path / "out0.nc", engine="h5netcdf") as raw:
        assert raw.sizes["index"] == 2
        for name in ds.data_vars:
            if "/" not in name and "%" not in name and name not in (".", ".."):
                got = raw[name]
                if "ooc_levels" in got.attrs:
                    table = raw[got.attrs["ooc_levels"]].values
                    got = table[got.values.astype(int)]
                np.testing.assert_array_equal(np.asarray(got), ds[name].values)


def test_slash_names_in_a_design(tmp_path):
    """A column whose name holds '/' is used in a formula through Q()."""
    path = _write(tmp_path, "s.csv", "y,a/b\n" + "".join(f"{i * 2 + 1},{i}\n" for i in range(9)))
    ds = ooc.read_csv(path, tmp_path / "s.nc", chunksize=4, progress=False)
    fit = ds.ooc.lstsq('y ~ Q("a/b")')
    np.testing.assert_allclose(fit.params.values, [1.0, 2.0], rtol=1e-10)


def test_nul_in_a_value_names_column_and_row(tmp_path):
    path = _write(tmp_path, "nul.csv", "a,b\n1,x\n2,y\n3,x\x00y\n")
    with pytest.raises(ooc.CSVError, match=r"column 'b' holds a NUL character .* row 2"):
        ooc.read_csv(path, tmp_path / "n.nc", chunksize=2, progress=False)
    assert not (tmp_path / "n.nc").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["nul.csv"]


def test_nul_in_a_value_names_the_row_label(tmp_path):
    path = _write(tmp_path, "nul.csv", "id,b\nk1,x\nk2,y\x00\n")
    with pytest.raises(ooc.CSVError, match=r"column 'b' holds a NUL .* row labelled 'k2'"):
        ooc.read_csv(path, tmp_path / "n.nc", index_col="id", progress=False)
    assert not (tmp_path / "n.nc").exists()


def test_nul_in_a_column_name(tmp_path):
    path = _write(tmp_path, "nuln.csv", "a,b\x00c\n1,2\n")
    with pytest.raises(ooc.CSVError, match=r"column name 'b\\x00c' holds a NUL"):
        ooc.read_csv(path, tmp_path / "n.nc", progress=False)


def test_quoted_newlines_bom_crlf(tmp_path):
    text = '\ufeffa,b,c\r\n1,"x\r\ny",2\r\n3,"p, q",4\r\n5,"""quoted""",6\r\n'
    path = _write(tmp_path, "q.csv", text)
    ds = _round_trip(path, tmp_path)
    assert list(ds.data_vars) == ["a", "b", "c"]  # the BOM is not part of the first name
    assert ds["b"].values[0] == "x\r\ny"


def test_header_only(tmp_path):
    path = _write(tmp_path, "h.csv", "a,b,c\n")
    with pytest.raises(ooc.CSVError, match=r"h\.csv' has no rows"):
        ooc.read_csv(path, tmp_path / "h.nc", progress=False)
    assert not (tmp_path / "h.nc").exists()


def test_single_column(tmp_path):
    path = _write(tmp_path, "one.csv", "x\n" + "".join(f"{i}\n" for i in range(7)))
    _round_trip(path, tmp_path, chunksize=3)


def test_all_empty_column(tmp_path):
    path = _write(tmp_path, "e.csv", "a,b,c\n1,,x\n2,,\n3,,z\n")
    ds = _round_trip(path, tmp_path)
    assert ds["b"].dtype == np.float64 and np.isnan(ds["b"].values).all()


def test_latin1_with_encoding(tmp_path):
    path = _write(tmp_path, "l.csv", "nom,ville\nJosé,Orléans\nZoë,Besançon\n", "latin-1")
    with pytest.raises(ooc.CSVError, match=r"l\.csv"):
        ooc.read_csv(path, tmp_path / "bad.nc", progress=False)
    ds = _round_trip(path, tmp_path, encoding="latin-1")
    assert list(ds["ville"].values) == ["Orléans", "Besançon"]


def test_very_long_strings(tmp_path):
    long = "é" * 200_000
    path = _write(tmp_path, "long.csv", f"a,b\n1,{long}\n2,short\n3,\n")
    ds = _round_trip(path, tmp_path)
    assert ds["b"].values[0] == long


def test_mixed_kinds_and_dates(tmp_path):
    text = "d,i,f,s,t\n" + "".join(
        f"2020-01-{i + 1:02d},{i},{'' if i == 3 else i / 2},{'x' * i},{i % 2 == 0}\n"
        for i in range(8)
    )
    path = _write(tmp_path, "m.csv", text)
    _round_trip(path, tmp_path, chunksize=3, parse_dates=["d"])


def test_index_col_with_odd_name(tmp_path):
    path = _write(tmp_path, "i.csv", "a/b,x\nk1,1\nk2,2\nk3,3\n")
    ds = ooc.read_csv(path, tmp_path / "i.nc", chunksize=2, index_col="a/b", progress=False)
    assert list(ds.indexes["a/b"]) == ["k1", "k2", "k3"]
    np.testing.assert_array_equal(ds["x"].values, [1, 2, 3])


def _wide(tmp_path, n_cols: int, rows: int = 5):
    frame = pd.DataFrame(
        np.arange(rows * n_cols, dtype=float).reshape(rows, n_cols),
        columns=[f"c{i}" for i in range(n_cols)],
    )
    path = tmp_path / f"wide{n_cols}.csv"
    frame.to_csv(path, index=False)
    return path


def _lookups(monkeypatch, fn) -> int:
    """HDF5 object lookups (h5py Group.__getitem__) made while ``fn`` runs."""
    count = [0]
    original = h5py.Group.__getitem__

    def counted(self, name):
        count[0] += 1
        return original(self, name)

    with monkeypatch.context() as m:
        m.setattr(h5py.Group, "__getitem__", counted)
        fn()
    return count[0]


def test_work_is_linear_in_columns(tmp_path, monkeypatch):
    """Writing and opening a wide CSV makes a constant number of HDF5 lookups a column.

    h5netcdf answers an unlimited dimension's length by visiting every variable attached
    to it, once per variable touched: 4x the columns cost 16x the lookups (a 1,000-column
    file took minutes). The count, not the time, is what is checked.
    """
    counts = {}
    for n in (50, 200):
        path = _wide(tmp_path, n)

        def run(path=path, n=n):
            ds = ooc.read_csv(path, tmp_path / f"w{n}.nc", progress=False)
            ds[f"c{n - 1}"].values  # noqa: B018 - one column read

        counts[n] = _lookups(monkeypatch, run)
    assert counts[200] < 5 * counts[50], counts  # linear: about 4x; quadratic: 16x
    ds = ooc.open_csv_store(tmp_path / "w200.nc")
    _check(ds, pd.read_csv(tmp_path / "wide200.csv"))
