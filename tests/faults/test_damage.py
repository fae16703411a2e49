"""Damaged stores are refused with the reason, never read as numbers.

A design store carries fletcher32 checksums on every numeric chunk and a manifest of its
attributes, variables, shapes and string hashes (``ooc_accessor.store``). Here stores are
truncated, have bytes flipped (in a chunk of X, and at 300 random offsets anywhere in the
file), lose a variable or have attributes edited; ``open_design`` must refuse each with a
StoreError naming the file and what is wrong, or (a flip in bytes nothing reads) open a
store whose every value is the original's.
"""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import make_frame

import ooc_accessor as ooc

FORMULA = "y ~ a + b + C(cat1)"


@pytest.fixture
def stored(tmp_path):
    df = make_frame(300)
    df.index = df.index.astype(str)  # string labels: hashed by the manifest, not fletcher32
    path = tmp_path / "d.nc"
    df.ooc.design(FORMULA, chunksize=37, path=path, weights="w")
    return path, _content(path)


def _content(path):
    """Every value a fit would read, straight from the file.

    Read with h5py and closed again: a handle left open (xarray caches them) would make
    HDF5 serve later opens of the same inode from its cache, not from the damaged bytes.
    """
    design = ooc.open_design(path)
    with h5py.File(path, "r") as f:
        arrays = [f[n][()] for n in ("X", "y", "weights")]
        labels = [v.decode() for v in f["obs"][()]]
    return (*arrays, labels, design.terms, design.spec)


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a[:3], b[:3], strict=True)) and a[3:] == b[3:]


def test_truncated_store_is_refused(stored):
    path, _ = stored
    raw = path.read_bytes()
    for keep in (len(raw) - 1, len(raw) // 2, 100):
        path.write_bytes(raw[:keep])
        with pytest.raises(ooc.StoreError, match=r"d\.nc'.*(truncated|damaged)"):
            ooc.open_design(path)


def test_flipped_byte_in_a_chunk_names_the_rows(stored):
    path, _ = stored
    with h5py.File(path, "r") as f:
        info = f["X"].id.get_chunk_info(2)  # rows 74-110
    raw = bytearray(path.read_bytes())
    raw[info.byte_offset + 17] ^= 0x01  # one bit of one number
    path.write_bytes(bytes(raw))
    with pytest.raises(ooc.StoreError, match=r"variable 'X' rows 74-110 fail their checksum"):
        ooc.open_design(path)
    # without the verifying pass the store opens, but a fit reading that chunk refuses it
    design = ooc.open_design(path, verify=False)
    with pytest.raises(ooc.StoreError, match=r"cannot read rows 74-110 of .*d\.nc"):
        design.lstsq()


def test_random_flips_are_refused_or_harmless(stored):
    path, original = stored
    raw = path.read_bytes()
    rng = np.random.default_rng(0)
    outcomes = {"refused": 0, "same": 0}
    for pos in rng.choice(len(raw), 300, replace=False):
        damaged = bytearray(raw)
        damaged[pos] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                content = _content(path)
        except ooc.StoreError:
            outcomes["refused"] += 1
            continue
        assert _same(content, original), f"a flip at byte {pos} changed the data silently"
        outcomes["same"] += 1
    assert outcomes["refused"] > 200, outcomes


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda f: f.attrs.__setitem__("n_obs", 5), r"attribute 'n_obs' is 5 but was written as"),
        (lambda f: f.attrs.__setitem__("formula", "y ~ a"), r"attribute 'formula' is 'y ~ a'"),
        (lambda f: f.attrs.__delitem__("spec"), r"attribute 'spec' was removed"),
        (lambda f: f.__delitem__("weights"), r"variable 'weights' was removed"),
        (lambda f: f["y"].attrs.__setitem__("long_name", "z"), r"variable 'y''s attributes"),
        (lambda f: f.attrs.__setitem__("manifest", "{"), r"manifest attribute is not valid"),
        (lambda f: f.attrs.__delitem__("manifest"), r"manifest attribute is missing"),
        (lambda f: f.attrs.__setitem__("complete", 0), r"incomplete: its writer did not finish"),
        (lambda f: f.attrs.__setitem__("store_version", 1), r"store version 1.*reads version 2"),
    ],
    ids=[
        "n_obs",
        "formula",
        "spec",
        "weights",
        "var-attr",
        "bad-manifest",
        "no-manifest",
        "incomplete",
        "version",
    ],
)
def test_edited_store_is_refused_with_the_reason(stored, edit, match):
    path, _ = stored
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(ooc.StoreError, match=match) as info:
        ooc.open_design(path, verify=False)
    assert "d.nc" in str(info.value) and "rebuild" in str(info.value)


def test_edited_string_labels_are_caught_by_their_hash(stored):
    path, _ = stored
    with h5py.File(path, "r+") as f:
        f["obs"][3] = "not-a-row"
    ooc.open_design(path, verify=False)  # the hashes are read only when verifying
    with pytest.raises(ooc.StoreError, match=r"variable 'obs''s values changed"):
        ooc.open_design(path)


def test_damaged_csv_store_is_refused(tmp_path):
    csv = tmp_path / "in.csv"
    make_frame(200).to_csv(csv)
    store = tmp_path / "c.nc"
    ooc.read_csv(csv, store, chunksize=50, progress=False)
    with h5py.File(store, "r") as f:
        info = f["a"].id.get_chunk_info(1)
    raw = bytearray(store.read_bytes())
    raw[info.byte_offset + 3] ^= 0x10
    store.write_bytes(bytes(raw))
    with pytest.raises(ooc.StoreError, match=r"variable 'a' rows 50-99 fail their checksum"):
        ooc.open_csv_store(store, verify=True)
    with h5py.File(store, "r+") as f:
        f.attrs["n_rows"] = 10
    with pytest.raises(ooc.StoreError, match=r"attribute 'n_rows' is 10 but was written as 200"):
        ooc.open_csv_store(store)


def test_other_files_are_refused_by_name(tmp_path):
    import xarray as xr

    plain = tmp_path / "plain.nc"
    xr.Dataset({"X": ("obs", np.arange(3.0))}).to_netcdf(plain, engine="h5netcdf")
    with pytest.raises(ooc.StoreError, match=r"plain\.nc' is not an ooc_accessor design store"):
        ooc.open_design(plain)
    csv = tmp_path / "in.csv"
    make_frame(50).to_csv(csv)
    ooc.read_csv(csv, tmp_path / "c.nc", progress=False)
    with pytest.raises(ooc.StoreError, match=r"format attribute is 'ooc_accessor.csv"):
        ooc.open_design(tmp_path / "c.nc")


def test_time_zone_index_is_refused_by_name(tmp_path):
    df = make_frame(50)
    df.index = pd.date_range("2024-01-01", periods=50, freq="h", tz="Europe/Paris")
    with pytest.raises(ooc.StoreError, match=r"time zone Europe/Paris.*tz_convert\(None\)"):
        df.ooc.design(FORMULA, path=tmp_path / "d.nc")
    assert not (tmp_path / "d.nc").exists()
