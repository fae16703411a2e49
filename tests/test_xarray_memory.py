"""Memory of the xarray paths, measured in a subprocess on data several times the bound.

1. A NetCDF field on disk (float32, time x lat x lon with land cells NaN), opened lazily with
   ``chunks=`` and decomposed with ``ds.ooc.pca(dim="time")``: never loaded whole (a float64
   copy of the ocean cells would be 3x the budget).
2. A CSV read with ``ooc.read_csv`` into NetCDF and fitted with ``ds.ooc.lstsq``: the whole
   job's peak anonymous memory stays under 500 MB, whatever the file's size (the 2 GB case
   is in ``bench/bench_read_csv.py``; here a smaller file keeps CI short).

Both answers are checked: the field's explained variances against a float64 scatter matrix
accumulated slab by slab while writing, the CSV fit against statsmodels on the whole file.
Run ``pytest -s`` to see the figures.
"""

from __future__ import annotations

import h5netcdf
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from memtools import run_measured
from scipy import linalg as sla

# -- the field ------------------------------------------------------------------------------------
NT, NY, NX = 72_000, 50, 80
SLAB = 2_000
N_COMPONENTS = 10
FIELD_BUDGET_MB = 400.0
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

FIELD_SNIPPET = """
import time
import xarray as xr
t0 = time.perf_counter()
ds = xr.open_dataset({path!r}, engine="h5netcdf", chunks={{"time": {slab}}})
pca = ds.ooc.pca({k}, dim="time", variables=["sst"])
comps = pca.components_
return {{
    "ev": pca.explained_variance_.values.tolist(),
    "solver": pca.svd_solver_,
    "dims": list(comps.dims),
    "land_nan": bool(np.isnan(comps.values[0]).sum()),
    "n_features": int(pca.n_features_in_),
    "seconds": time.perf_counter() - t0,
}}
"""


def _land() -> np.ndarray:
    yy, xx = np.meshgrid(np.arange(NY), np.arange(NX), indexing="ij")
    return ((yy - 20) ** 2 + (xx - 30) ** 2 < 150) | (xx > 72)


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    """The field file and the float64 scatter of its ocean cells (about their true mean)."""
    path = tmp_path_factory.mktemp("field") / "sst.nc"
    rng = np.random.default_rng(7)
    land = _land()
    ocean = ~land.ravel()
    p = int(ocean.sum())
    modes = rng.normal(size=(12, NY * NX)) * np.geomspace(4.0, 0.5, 12)[:, None]
    mean = 15 + rng.normal(size=NY * NX)
    scatter = np.zeros((p, p))
    total = np.zeros(p)
    with h5netcdf.File(path, "w") as f:
        f.dimensions = {"time": NT, "lat": NY, "lon": NX}
        f.create_variable("lat", ("lat",), np.float64)[:] = np.linspace(-60, 60, NY)
        f.create_variable("lon", ("lon",), np.float64)[:] = np.linspace(0, 355, NX)
        sst = f.create_variable(
            "sst", ("time", "lat", "lon"), np.float32, chunks=(SLAB, NY, NX), fillvalue=np.nan
        )
        for a in range(0, NT, SLAB):
            m = min(SLAB, NT - a)
            x = mean + rng.normal(size=(m, 12)) @ modes + 0.3 * rng.normal(size=(m, NY * NX))
            x32 = x.astype(np.float32)
            x32[:, ~ocean] = np.nan
            sst[a : a + m] = x32.reshape(m, NY, NX)
            xo = x32[:, ocean].astype(np.float64) - mean[ocean]
            total += xo.sum(axis=0)
            scatter += xo.T @ xo
    d = total / NT
    centred = scatter - NT * np.outer(d, d)
    ev = sla.eigh(centred, eigvals_only=True, subset_by_index=[p - N_COMPONENTS, p - 1])
    return path, ev[::-1] / (NT - 1), p


def test_field_pca_from_netcdf_in_bounded_memory(field):
    path, ev_ref, p = field
    snippet = FIELD_SNIPPET.format(path=str(path), slab=SLAB, k=N_COMPONENTS)
    m = run_measured(snippet, env=ONE_THREAD, timeout=900.0)
    data_mb = NT * NY * NX * 4 / 1e6
    print(
        f"\nfield PCA: {data_mb:.0f} MB float32 on disk ({NT * p * 8 / 1e6:.0f} MB as float64 "
        f"ocean cells), growth {m.growth_mb:.0f} MB, {m.result['seconds']:.1f} s, "
        f"solver {m.result['solver']}"
    )
    assert m.result["dims"] == ["component", "lat", "lon"]
    assert m.result["land_nan"] and m.result["n_features"] == p
    np.testing.assert_allclose(m.result["ev"], ev_ref, rtol=1e-8)
    assert NT * p * 8 / 1e6 > 3 * FIELD_BUDGET_MB
    assert m.growth_mb < FIELD_BUDGET_MB


# -- the CSV --------------------------------------------------------------------------------------
CSV_ROWS = 2_500_000
CSV_WRITE_ROWS = 250_000
CSV_PEAK_MB = 500.0
CSV_FORMULA = "y ~ a + b + c + c:b + C(g) + k"

CSV_SNIPPET = """
import time
t0 = time.perf_counter()
ds = ooc_accessor.read_csv({csv!r}, {nc!r}, progress=False)
t1 = time.perf_counter()
fit = ds.ooc.lstsq({formula!r})
return {{
    "params": fit.params.values.tolist(),
    "terms": [str(t) for t in fit.params["term"].values],
    "nobs": fit.nobs,
    "read_seconds": t1 - t0,
    "fit_seconds": time.perf_counter() - t1,
}}
"""


def test_csv_read_and_fit_under_500_mb(tmp_path):
    csv = tmp_path / "big.csv"
    rng = np.random.default_rng(11)
    for i, a in enumerate(range(0, CSV_ROWS, CSV_WRITE_ROWS)):
        m = min(CSV_WRITE_ROWS, CSV_ROWS - a)
        df = pd.DataFrame(
            {
                "a": rng.normal(size=m).round(9),
                "b": rng.normal(size=m).round(9),
                "c": rng.uniform(size=m).round(9),
                "g": rng.choice(["north, east", "south", "west"], size=m),
                "k": rng.integers(0, 50, size=m).astype(float),
            }
        )
        if a > CSV_ROWS // 2:  # an int column that gains missing values late
            df.loc[df.index[::97], "k"] = np.nan
        df["y"] = (1 + df.a - 2 * df.b + df.c * df.b + 0.1 * df.k + rng.normal(size=m)).round(9)
        df.to_csv(csv, mode="a", header=i == 0, index=False, float_format="%.9g")
    size_mb = csv.stat().st_size / 1e6
    snippet = CSV_SNIPPET.format(csv=str(csv), nc=str(tmp_path / "big.nc"), formula=CSV_FORMULA)
    m = run_measured(snippet, env=ONE_THREAD, timeout=900.0)
    print(
        f"\nread_csv + lstsq: {size_mb:.0f} MB CSV, read {m.result['read_seconds']:.1f} s "
        f"({size_mb / m.result['read_seconds']:.0f} MB/s), fit {m.result['fit_seconds']:.1f} s, "
        f"peak {m.peak_mb:.0f} MB (growth {m.growth_mb:.0f} MB)"
    )
    whole = pd.read_csv(csv)
    ref = smf.ols(CSV_FORMULA, whole).fit()
    assert m.result["terms"] == list(ref.params.index)
    assert m.result["nobs"] == ref.nobs
    np.testing.assert_allclose(m.result["params"], ref.params.to_numpy(), rtol=1e-9)
    assert m.peak_mb < CSV_PEAK_MB
