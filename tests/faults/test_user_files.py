"""The user's files (Step 6, class 8): what a write does to the files around its target.

A rewrite keeps the target's mode and owner; stale-temporary cleanup removes only a file
provably this library's (its mark inside the HDF5 file and a dead writer on this host);
a target that is a directory, in a missing or read-only directory, a symlink, a path with
spaces or unicode, the input CSV itself, or a user's file that is not a store: each gives
a clear library error (and leaves nothing behind) or does what ``shutil.copy`` would.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ooc_accessor as ooc


def _frame(seed: int = 0, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n)})
    df["y"] = seed + 2 * df.a + rng.normal(size=n)
    return df


def _design(path, seed: int = 0) -> ooc.Design:
    return _frame(seed).ooc.design("y ~ a", chunksize=8, path=path)


def _csv(tmp_path, name: str = "in.csv"):
    path = tmp_path / name
    _frame().to_csv(path, index=False)
    return path


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _leftovers(directory, keep: set[str]) -> list[str]:
    return sorted(set(os.listdir(directory)) - keep)


# -- mode and owner ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["design", "read_csv", "save"])
def test_rewrite_keeps_mode(tmp_path, kind):
    target = tmp_path / "s.nc"
    src = _csv(tmp_path)
    write = {
        "design": lambda seed: _design(target, seed),
        "read_csv": lambda seed: ooc.read_csv(src, target, progress=False),
        "save": lambda seed: _frame(seed).ooc.design("y ~ a").save(target),
    }[kind]
    write(1)
    os.chmod(target, 0o600)
    write(2)
    assert _mode(target) == 0o600
    os.chmod(target, 0o640)
    write(3)
    assert _mode(target) == 0o640


def test_new_store_has_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        _design(tmp_path / "d.nc")
        ooc.read_csv(_csv(tmp_path), tmp_path / "c.nc", progress=False)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "d.nc") == 0o640
    assert _mode(tmp_path / "c.nc") == 0o640


def test_rewrite_keeps_owner(tmp_path):
    target = tmp_path / "d.nc"
    _design(target, 1)
    st = os.stat(target)
    if os.geteuid() == 0:  # only root can give a file to someone else: check it is kept
        os.chown(target, 12345, 23456)
        _design(target, 2)
        st2 = os.stat(target)
        assert (st2.st_uid, st2.st_gid) == (12345, 23456)
    else:  # a user rewriting their own file: still theirs
        _design(target, 2)
        st2 = os.stat(target)
        assert (st2.st_uid, st2.st_gid) == (st.st_uid, st.st_gid)


# -- stale temporaries --------------------------------------------------------------------------
KILLED_WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np, pandas as pd
    from ooc_accessor import store
    w = store.DesignWriter(sys.argv[1], terms=["a"], responses=["y"], chunk_rows=4)
    w.append(np.ones((3, 1)), np.ones(3), pd.RangeIndex(3))
    w._f.flush()
    os._exit(0)  # as a SIGKILL would: no cleanup
    """
)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporary_of_ours_is_removed(tmp_path):
    target = tmp_path / "d.nc"
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], check=True)
    stale = [n for n in os.listdir(tmp_path) if n.startswith(".d.nc.tmp-")]
    assert len(stale) == 1
    _design(target)
    assert _leftovers(tmp_path, {"d.nc"}) == []


def test_user_file_that_looks_like_a_temporary_is_kept(tmp_path):
    target = tmp_path / "d.nc"
    host = socket.gethostname()
    pid = _dead_pid()
    # a user's text file, a user's own HDF5 file, and a temporary of ours renamed by the
    # user: names of the pattern, dead writer on this host, but none carries its own mark
    text = tmp_path / f".d.nc.tmp-notes-{pid}@{host}"
    text.write_text("my notes\n")
    h5 = tmp_path / f".d.nc.tmp-0123456789ab-{pid}@{host}"
    xr.Dataset({"v": ("x", np.arange(3.0))}).to_netcdf(h5, engine="h5netcdf")
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], check=True)
    (ours,) = [
        n
        for n in os.listdir(tmp_path)
        if n.startswith(".d.nc.tmp-") and "notes" not in n and n != h5.name
    ]
    renamed = tmp_path / f".d.nc.tmp-fedcba987654-{pid}@{host}"
    os.rename(tmp_path / ours, renamed)
    _design(target)
    assert text.read_text() == "my notes\n"
    assert h5.exists() and renamed.exists()
    with xr.open_dataset(h5, engine="h5netcdf") as ds:
        np.testing.assert_array_equal(ds["v"].values, [0.0, 1.0, 2.0])


# -- where the target is ------------------------------------------------------------------------
def test_target_is_a_directory(tmp_path):
    target = tmp_path / "adir"
    target.mkdir()
    with pytest.raises(ooc.StoreError, match=r"adir'.*is a directory"):
        _design(target)
    with pytest.raises(ooc.CSVError, match=r"adir'.*is a directory"):
        ooc.read_csv(_csv(tmp_path), target, progress=False)
    assert _leftovers(tmp_path, {"adir", "in.csv"}) == []
    assert os.listdir(target) == []


def test_parent_does_not_exist(tmp_path):
    target = tmp_path / "nope" / "d.nc"
    with pytest.raises(ooc.StoreError, match=r"nope'.*does not exist"):
        _design(target)
    with pytest.raises(ooc.CSVError, match=r"nope'.*does not exist"):
        ooc.read_csv(_csv(tmp_path), target, progress=False)
    assert not (tmp_path / "nope").exists()


def test_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK):  # root writes anywhere: the write is then simply made
            d = _design(ro / "d.nc")
            np.testing.assert_allclose(d.y.values, _frame().y.to_numpy())
        else:
            with pytest.raises(ooc.StoreError, match=r"ro'.*not writable"):
                _design(ro / "d.nc")
            assert os.listdir(ro) == []
    finally:
        os.chmod(ro, 0o755)


def test_symlink_is_written_through(tmp_path):
    """As shutil.copy: the file the link points to is rewritten, and the link stays."""
    real = tmp_path / "real.nc"
    link = tmp_path / "link.nc"
    _design(real, 1)
    os.symlink(real, link)
    _design(link, 2)
    assert os.path.islink(link) and os.readlink(link) == str(real)
    np.testing.assert_allclose(ooc.open_design(link).y.values, _frame(2).y.to_numpy())
    np.testing.assert_allclose(ooc.open_design(real).y.values, _frame(2).y.to_numpy())
    # a dangling link: the store is made where it points
    dangling = tmp_path / "dangling.nc"
    os.symlink(tmp_path / "later.nc", dangling)
    ooc.read_csv(_csv(tmp_path), dangling, progress=False)
    assert os.path.islink(dangling) and (tmp_path / "later.nc").is_file()
    assert _leftovers(tmp_path, {"real.nc", "link.nc", "dangling.nc", "later.nc", "in.csv"}) == []


def test_spaces_and_unicode_in_paths(tmp_path):
    where = tmp_path / "my data é ß 数据"
    where.mkdir()
    csv = _csv(where, "in put é.csv")
    ds = ooc.read_csv(csv, where / "out é ö.nc", progress=False)
    np.testing.assert_allclose(ds["a"].values, _frame().a.to_numpy())
    d = _design(where / "d ü 設計.nc")
    again = ooc.open_design(where / "d ü 設計.nc")
    np.testing.assert_allclose(again.y.values, d.y.values)
    assert ooc.read_csv(where / "in put *.csv", progress=False)["a"].size == 30


# -- never a user's other file ------------------------------------------------------------------
def test_read_csv_refuses_its_input_as_output(tmp_path):
    csv = _csv(tmp_path)
    before = csv.read_bytes()
    with pytest.raises(ooc.CSVError, match=r"in\.csv'.* is the CSV file being read"):
        ooc.read_csv(csv, csv, progress=False)
    link = tmp_path / "alias.nc"
    os.symlink(csv, link)
    with pytest.raises(ooc.CSVError, match=r"is the CSV file being read"):
        ooc.read_csv(csv, link, progress=False)
    assert csv.read_bytes() == before
    assert _leftovers(tmp_path, {"in.csv", "alias.nc"}) == []


@pytest.mark.parametrize("what", ["text", "netcdf", "empty"])
def test_user_file_at_target_is_not_overwritten(tmp_path, what):
    target = tmp_path / "mine.nc"
    if what == "text":
        target.write_text("precious\n")
    elif what == "netcdf":
        xr.Dataset({"v": ("x", np.arange(3.0))}).to_netcdf(target, engine="h5netcdf")
    else:
        target.write_bytes(b"")
    before = target.read_bytes()
    with pytest.raises(ooc.StoreError, match=r"mine\.nc'.*not an ooc_accessor store"):
        _design(target)
    with pytest.raises(ooc.CSVError, match=r"mine\.nc'.*not an ooc_accessor store"):
        ooc.read_csv(_csv(tmp_path), target, progress=False)
    with pytest.raises(ooc.StoreError, match=r"not an ooc_accessor store"):
        _frame().ooc.design("y ~ a").save(target)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, {"mine.nc", "in.csv"}) == []


def test_our_stores_are_overwritten(tmp_path):
    """A store of ours (any kind) at the target is replaced, as before."""
    target = tmp_path / "s.nc"
    ooc.read_csv(_csv(tmp_path), target, progress=False)
    d = _design(target, 3)  # a design over a read_csv store
    np.testing.assert_allclose(d.y.values, _frame(3).y.to_numpy())
    ds = ooc.read_csv(_csv(tmp_path), target, progress=False)  # and back
    np.testing.assert_allclose(ds["y"].values, _frame().y.to_numpy())
