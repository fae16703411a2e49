"""Predicting a lazily opened NetCDF Dataset holds a few blocks, whatever its rows.

A fit made in the child (2,000 rows) predicts a NetCDF file of 10M rows (four float64
columns and an int8 factor: 330 MB on disk, 3.3x the budget) opened with
``chunks=``: ``get_prediction`` writes its columns block by block to a temporary store,
``summary_frame()`` is reduced chunk by chunk, and ``predict`` makes its own store. The
in-memory route would hold 160 MB for ``get_prediction``'s two columns, 480 MB more for
its summary frame and 80 MB for ``predict``. Peak anonymous memory (RssAnon, sampled
from /proc by :mod:`memtools`) grows by less than ``BUDGET_MB``, and by under
``GROWTH_SLACK_MB`` from 1M to 10M rows (where those in-memory outputs would grow by
648 MB).

The answers are checked in the child: row ranges of the stored summary frame (first,
last, across a block edge) equal the in-memory route on those rows loaded (1e-12), the
NaN rows (every 1000th ``a`` missing) are where they should be, and ``predict`` equals
``summary_frame()["mean"]``. Run ``pytest -s`` to see the figures.
"""

from __future__ import annotations

import h5netcdf
import numpy as np
import pytest
from memtools import DEFAULT_IMPORTS, run_measured

N_ROWS = 10_000_000
SMALL_ROWS = 1_000_000
SLAB = 1_000_000
CHUNK = 100_000  # rows per dask chunk of the opened file (and per HDF5 chunk in it)
BYTES_PER_ROW = 4 * 8 + 1
BUDGET_MB = 100.0
# what does grow, with the number of chunks rather than the bytes of rows: the opened
# Dataset's dask graph (~2 MB from 10 to 160 chunks) and HDF5's bookkeeping of the chunks it
# writes (a bare h5py write of 3 checksummed columns: 21 MB at 5 chunks, 25 MB at 69)
GROWTH_SLACK_MB = 24.0
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
# distributed is imported by the library's first fit (to look for a client): ~12 MB of
# modules, a constant counted in the baseline as the other imports are
IMPORTS = (*DEFAULT_IMPORTS, "distributed", "patsy")

SNIPPET = """
import time
import pandas as pd
import xarray as xr
rng = np.random.default_rng(1)
n = 2000
df = pd.DataFrame({{c: rng.normal(size=n) for c in "abcd"}})
df["g"] = rng.integers(0, 5, size=n)
df["y"] = 1 + df.a - df.b + df.a * df.b + 2 * df.c - df.d + df.g + rng.normal(size=n)
fit = df.ooc.lstsq("y ~ a + b + a:b + c + d + C(g)")
ds = xr.open_dataset({path!r}, engine="h5netcdf", chunks={{"time": {chunk}}})
ds = ds.isel(time=slice(0, {rows}))
t0 = time.perf_counter()
gp = fit.get_prediction(ds)
t1 = time.perf_counter()
sf = gp.summary_frame(0.1)
upper = float(sf["obs_ci_upper"].sum().compute())
nan_rows = int(sf["mean"].isnull().sum().compute())
t2 = time.perf_counter()
pred = fit.predict(ds)
gap = float(abs(pred - sf["mean"]).max().compute())
t3 = time.perf_counter()
worst = 0.0
for a, b in [(0, 3000), ({chunk} - 1500, {chunk} + 1500), ({rows} - 3000, {rows})]:
    ref = fit.get_prediction(ds.isel(time=slice(a, b)).load()).summary_frame(0.1)
    got = sf.isel(time=slice(a, b)).compute()
    for c in ref.data_vars:
        x, y = got[c].values, ref[c].values
        assert np.array_equal(np.isnan(x), np.isnan(y)), c
        # relative to the column's scale: blocks of other lengths sum x b in another order
        worst = max(worst, float(np.nanmax(np.abs(x - y)) / np.nanmax(np.abs(y))))
return {{
    "upper": upper, "nan_rows": nan_rows, "gap": gap, "worst": worst,
    "pass_s": t1 - t0, "summary_s": t2 - t1, "predict_s": t3 - t2,
}}
"""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """10M rows along ``time`` (no coordinate: positions), ``a`` NaN every 1000th row."""
    path = tmp_path_factory.mktemp("pred") / "new.nc"
    rng = np.random.default_rng(0)
    with h5netcdf.File(path, "w") as f:
        f.dimensions = {"time": N_ROWS}
        cols = {
            c: f.create_variable(c, ("time",), dtype, chunks=(CHUNK,))
            for c, dtype in [("a", "f8"), ("b", "f8"), ("c", "f8"), ("d", "f8"), ("g", "i1")]
        }
        for a in range(0, N_ROWS, SLAB):
            x = rng.normal(size=(4, SLAB))
            x[0, ::1000] = np.nan
            for i, c in enumerate("abcd"):
                cols[c][a : a + SLAB] = x[i]
            cols["g"][a : a + SLAB] = rng.integers(0, 5, size=SLAB)
    return str(path)


def _measure(path: str, rows: int):
    snippet = SNIPPET.format(path=path, chunk=CHUNK, rows=rows)
    return run_measured(snippet, imports=IMPORTS, env=ONE_THREAD, timeout=300.0)


@pytest.mark.slow
def test_prediction_of_lazy_netcdf_within_budget(big_file):
    small = _measure(big_file, SMALL_ROWS)
    big = _measure(big_file, N_ROWS)
    r = big.result
    print(
        f"\npredictions of {N_ROWS} rows ({N_ROWS * BYTES_PER_ROW / 1e6:.0f} MB on disk): "
        f"growth {big.growth_mb:.0f} MB (at {SMALL_ROWS} rows {small.growth_mb:.0f} MB), "
        f"get_prediction pass {r['pass_s']:.1f} s, summary sums {r['summary_s']:.1f} s, "
        f"predict {r['predict_s']:.1f} s"
    )
    assert N_ROWS * BYTES_PER_ROW / 1e6 > 3.2 * BUDGET_MB  # the data: several times the budget
    for m, rows in ((small, SMALL_ROWS), (big, N_ROWS)):
        assert m.result["nan_rows"] == rows // 1000  # a missing: NaN, in place
        assert m.result["worst"] < 1e-12  # equal to the in-memory route on those rows
        assert m.result["gap"] < 1e-10  # predict == summary_frame()["mean"] (values ~10)
        assert np.isfinite(m.result["upper"])
    assert big.growth_mb < BUDGET_MB
    assert big.growth_mb < small.growth_mb + GROWTH_SLACK_MB  # 10x the rows, same memory
