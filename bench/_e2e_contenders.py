"""The contenders of ``bench_e2e.py`` and its data: what runs in each child process.

``bench_e2e.py`` writes the CSV with :func:`make_csv`, then starts one fresh interpreter per
contender, each running :func:`child_main` with the contender's key: ``"library"``
(:func:`run_library`), ``"script"`` (:func:`run_script`, the hand-made pre-scan + patsy +
h5py + dask script the library replaces) or ``"parse"`` (:func:`run_parse`). Kept apart from
the script's orchestration and report so a child imports only what it measures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _process import child_handshake, child_result  # the bench folder is on sys.path

FORMULA = "y ~ a + b + c + d + d:c + a:b + a:c + C(cat1) + C(region)"
#: the script's formula: its user passes the pre-scanned levels, as patsy needs per chunk
SCRIPT_FORMULA = "y ~ a + b + c + d + d:c + a:b + a:c + C(cat1, levels=L1) + C(region, levels=L2)"
CAT1_LEVELS = ("north", "south", "east", "west", "centre")
REGIONS = tuple(f"region_{i:02d}" for i in range(30))
#: each level's effect on y
CAT1_EFFECT = np.array([0.0, 1.0, -0.5, 0.25, 2.0])
REGION_EFFECT = np.linspace(-1.5, 1.5, len(REGIONS))
#: the numeric terms' coefficients in y
COEFFICIENTS = {"Intercept": 1.0, "a": 0.5, "b": -2.0, "c": 0.3, "d": 1.0}
INTERACTIONS = {("d", "c"): 0.2, ("a", "b"): -0.1, ("a", "c"): 0.4}
NOISE = 1.0
#: digits of the floats in the file (about 60 bytes a row)
FLOAT_FORMAT = "%.6g"
#: rows generated (and appended to the file) at a time
WRITE_ROWS = 250_000


# -- data --------------------------------------------------------------------------------
def make_block(rng: np.random.Generator, m: int) -> pd.DataFrame:
    """``m`` rows of the benchmark's data: ``y, a, b, c, d, cat1, region``."""
    cols = {k: rng.normal(size=m) for k in "abcd"}
    c1 = rng.integers(0, len(CAT1_LEVELS), size=m)
    reg = rng.integers(0, len(REGIONS), size=m)
    y = COEFFICIENTS["Intercept"] + CAT1_EFFECT[c1] + REGION_EFFECT[reg]
    for name, coef in COEFFICIENTS.items():
        if name != "Intercept":
            y = y + coef * cols[name]
    for (u, v), coef in INTERACTIONS.items():
        y = y + coef * cols[u] * cols[v]
    y = y + NOISE * rng.normal(size=m)
    return pd.DataFrame(
        {
            "y": y,
            **cols,
            "cat1": np.asarray(CAT1_LEVELS, dtype=object)[c1],
            "region": np.asarray(REGIONS, dtype=object)[reg],
        }
    )


def make_csv(path: Path, n: int, seed: int = 0) -> float:
    """Write the CSV of ``n`` rows, :data:`WRITE_ROWS` at a time; the seconds it took."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    path.unlink(missing_ok=True)
    for start in range(0, n, WRITE_ROWS):
        block = make_block(rng, min(WRITE_ROWS, n - start))
        block.to_csv(path, mode="a", header=start == 0, index=False, float_format=FLOAT_FORMAT)
    return time.perf_counter() - t0


# -- the contenders (each runs in a child process) ---------------------------------------
def run_library(csv: str, store: str, chunksize: int | str) -> dict[str, Any]:
    """The library: ``ooc.read_csv`` into ``store``, then ``ds.ooc.lstsq(FORMULA)``."""
    import ooc_accessor as ooc

    t0 = time.perf_counter()
    ds = ooc.read_csv(csv, store, chunksize=chunksize, progress=False)
    t1 = time.perf_counter()
    fit = ds.ooc.lstsq(FORMULA)
    params = np.asarray(fit.params.values, dtype=np.float64)
    t2 = time.perf_counter()
    dim = next(iter(ds.sizes))
    return {
        "read_seconds": t1 - t0,
        "fit_seconds": t2 - t1,
        "seconds": t2 - t0,
        "chunk_rows": int(ds.chunksizes[dim][0]),
        "store_bytes": Path(store).stat().st_size,
        "nobs": float(fit.nobs),
        "terms": [str(t) for t in fit.params["term"].values],
        "params": params.tolist(),
    }


def run_script(csv: str, h5path: str, rows: int) -> dict[str, Any]:
    """The hand-made script, as its user writes it: pre-scan, patsy, h5py, dask.

    Parameters
    ----------
    csv : str
    h5path : str
        The HDF5 file the design is appended to.
    rows : int
        Rows per chunk of both passes over the CSV (and per dask block).
    """
    import dask.array as da
    import h5py
    import patsy

    t0 = time.perf_counter()
    # 1. the levels: patsy learns them from each chunk alone, so a chunk missing a level
    #    would get fewer columns; the user scans the file for them first
    seen1: set[str] = set()
    seen2: set[str] = set()
    for chunk in pd.read_csv(csv, usecols=["cat1", "region"], chunksize=rows):
        seen1.update(chunk["cat1"].unique())
        seen2.update(chunk["region"].unique())
    # the formula names L1 and L2: patsy looks them up among this function's locals
    L1, L2 = sorted(seen1), sorted(seen2)  # noqa: N806, F841
    t1 = time.perf_counter()
    # 2. the design, chunk by chunk, appended to resizable datasets
    with h5py.File(h5path, "w") as f:
        xs = ys = None
        names: list[str] = []
        for chunk in pd.read_csv(csv, chunksize=rows):
            y_c, x_c = patsy.dmatrices(SCRIPT_FORMULA, chunk)
            if xs is None:
                names = x_c.design_info.column_names
                p = x_c.shape[1]
                # one HDF5 chunk per block, as dask reads them back (h5py's own guess for a
                # dataset created empty, chunks=True, is (128, 11): about 6x the solve's time)
                xs = f.create_dataset("X", (0, p), maxshape=(None, p), dtype="f8", chunks=(rows, p))
                ys = f.create_dataset("y", (0,), maxshape=(None,), dtype="f8", chunks=(rows,))
            start = xs.shape[0]
            xs.resize(start + x_c.shape[0], axis=0)
            ys.resize(start + x_c.shape[0], axis=0)
            xs[start:] = np.asarray(x_c)
            ys[start:] = np.asarray(y_c)[:, 0]
    t2 = time.perf_counter()
    # 3. the solve: dask over the stored arrays, normal equations
    with h5py.File(h5path, "r") as f:
        x = da.from_array(f["X"], chunks=(rows, f["X"].shape[1]))
        y = da.from_array(f["y"], chunks=(rows,))
        beta = da.linalg.solve(x.T @ x, x.T @ y).compute()
        n = int(x.shape[0])
    t3 = time.perf_counter()
    return {
        "prescan_seconds": t1 - t0,
        "build_seconds": t2 - t1,
        "solve_seconds": t3 - t2,
        "seconds": t3 - t0,
        "nobs": float(n),
        "terms": [t.replace(", levels=L1", "").replace(", levels=L2", "") for t in names],
        "params": np.asarray(beta, dtype=np.float64).tolist(),
    }


def run_parse(csv: str, rows: int) -> dict[str, Any]:
    """The bare parse: ``pd.read_csv(csv, chunksize=rows)`` iterated, nothing kept."""
    t0 = time.perf_counter()
    n = chunks = 0
    for chunk in pd.read_csv(csv, chunksize=rows):
        n += len(chunk)
        chunks += 1
    return {"seconds": time.perf_counter() - t0, "rows": n, "chunks": chunks}


def child_main(spec_json: str) -> None:
    """Entry point of a child: import, hand-shake, run one contender, report its figures.

    ``spec_json`` holds the contender's key, the CSV, the output file and the rows per
    chunk. A failure is reported as ``{"outcome": "error", ...}``, not raised.
    """
    spec = json.loads(spec_json)
    kind = spec["method"]
    # the contender's imports are done before the clock and the memory baseline
    if kind == "library":
        import ooc_accessor  # noqa: F401
    elif kind == "script":
        import dask.array  # noqa: F401
        import h5py  # noqa: F401
        import patsy  # noqa: F401
    child_handshake()
    cpu = time.process_time()
    try:
        if kind == "library":
            out = run_library(spec["csv"], spec["out"], spec["chunksize"])
        elif kind == "script":
            out = run_script(spec["csv"], spec["out"], spec["rows"])
        elif kind == "parse":
            out = run_parse(spec["csv"], spec["rows"])
        else:
            raise ValueError(f"unknown method {kind!r}")
        out["outcome"] = "ok"
        # CPU seconds of all the child's threads: against the wall time, how busy it was
        out["cpu_seconds"] = time.process_time() - cpu
    except Exception as exc:  # a contender that fails is a result, not a crash of the run
        text = (str(exc).strip().splitlines() or [""])[0]
        out = {"outcome": "error", "error": f"{type(exc).__name__}: {text}"}
    child_result(out)
