"""Benchmark of the PCA of a gridded field: ``ds.ooc.pca`` against xeofs and numpy.

One float32 NetCDF4 file (an SST-like field ``sst(time, lat, lon)``: 48,000 daily steps on a
90 x 120 grid by default, 2.07 GB, time-chunked on disk) holds a mean field, a seasonal
cycle, 30 smooth spatial modes with decaying amplitudes and white noise; 30% of the cells
are land, NaN at every step. The file is written once, by slabs of time (xarray
``to_netcdf`` of a dask array, engine h5netcdf), so that the whole field never sits in
memory. On it, with 10 components, one run measures the wall time, the peak anonymous
memory and the accuracy of

1. the library: ``xr.open_dataset(file, engine="h5netcdf", chunks={"time": T})`` then
   ``ds.ooc.pca(10, dim="time", variables=["sst"])`` (``svd_solver="auto"``, with the
   solver it picked), and the same with ``svd_solver="randomized"``;
2. xeofs: ``xeofs.single.EOF(n_modes=10, standardize=False, use_coslat=False)`` and
   ``model.fit(da, dim="time")``, with its default solver (``"auto"``: randomized) and its
   exact one (``solver="full"``), on the same lazily opened, dask-chunked DataArray, and
   again on that DataArray ``.load()``-ed into memory (the exact solver then with
   ``solver_kwargs={"full_matrices": False}``, as ``np.linalg.svd``'s default would
   allocate an n x n U);
3. the reference: the ocean cells read into a float64 ``(time, cell)`` array in memory,
   centred, then ``np.linalg.svd(x, full_matrices=False)``, or the top eigenpairs of
   ``x'x`` by ``scipy.linalg.eigh``; explained variance ``s**2 / (n - 1)``. By default
   (``--reference auto``) the SVD when ``n p**2`` is at most :data:`SVD_MAX_WORK`, ``eigh``
   above: in a trial run on two cores the SVD of a 12,000 x 7,560 matrix already took
   263 s; at the full size it would take most of the run's time budget alone.

Each method runs in a fresh interpreter (imports done first) while this process samples the
child's ``RssAnon`` every 15 ms: the peak growth over the post-import baseline is the memory
the method needed (pages of the file in the page cache do not count). Each child caps its
address space with ``RLIMIT_AS`` (12 GiB of growth; 18 GiB for the methods that load the
whole field into memory: the reference and xeofs on the loaded DataArray) and is
stopped after ``--timeout`` seconds (420 by default, so that a full run stays under ~25
minutes). Accuracy: the largest relative error of the explained
variances over the 10 components, and the largest absolute difference between a method's
components and the reference's on the ocean cells, each component's sign matched to the
reference first. The library's child also checks that ``components_`` comes back with dims
``(component, lat, lon)`` and NaN exactly at the land cells.

The file is read right after being written, from the page cache. When xeofs is not installed
(it is not in the ``[test]`` extra) its rows say so. The report (markdown) goes to stdout
and, with ``--out FILE``, to a file. The data lives in a temporary directory removed at the
end.

Run from the repository root::

    python bench/bench_field_pca.py [--rows 48000] [--lat 90] [--lon 120] [--out FILE]
    python bench/bench_field_pca.py --smoke   # 600 steps on a 12 x 16 grid
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import (  # noqa: E402 - the helpers sit beside the scripts, not in a package
    CpuMonitor,
    Report,
    SampledRun,
    build_parser,
    child_handshake,
    child_result,
    machine_info,
    machine_markdown,
    markdown_table,
    ratio,
    resolve_args,
    run_sampled,
    scratch_dir,
    seconds,
)

#: size of a full run: time steps and grid (about 2 GB of float32 on disk; 70% of the
#: 10,800 cells are ocean, so p ~ 7,560 features and "auto" keeps an exact solver)
DEFAULT_TIMES = 48_000
DEFAULT_LAT = 90
DEFAULT_LON = 120
#: time steps per chunk on disk and per dask chunk when the file is opened
DEFAULT_CHUNK = 1_000
#: size of a ``--smoke`` run
SMOKE_TIMES = 600
SMOKE_LAT = 12
SMOKE_LON = 16
SMOKE_CHUNK = 100
#: components of every method
COMPONENTS = 10
#: the generated field: land share, spatial modes, their amplitudes a0 * decay**j, noise
LAND_FRACTION = 0.3
N_MODES = 30
MODE_AMP0 = 1.5
MODE_DECAY = 0.85
NOISE = 0.3
#: period of the seasonal cycle, in time steps (days)
YEAR = 365.25
#: address-space growth allowed to each child (bytes), and to those that load the field
MEMORY_CAP = 12 * 2**30
IN_MEMORY_CAP = 18 * 2**30
#: seconds after which a child is killed
DEFAULT_TIMEOUT = 420.0
#: ``n p**2`` up to which ``--reference auto`` takes the SVD of the data (else ``eigh``)
SVD_MAX_WORK = 1e11
#: packages listed in the machine section besides those of ``_common.PACKAGES``
EXTRA_PACKAGES = ("xeofs", "scikit-learn", "numba")
#: name of the variable and of the land mask in the file
VAR = "sst"
MASK = "land"

_CHILD_CODE = (
    "import sys; sys.path.insert(0, {bench!r}); import bench_field_pca; "
    "bench_field_pca.child_main(sys.argv[1])"
)


# -- data --------------------------------------------------------------------------------
@dataclass
class FieldSpec:
    """The static parts of the generated field: grid, land, mean, seasonal cycle, modes.

    Attributes
    ----------
    lat, lon : ndarray
        Cell centres (degrees).
    land : ndarray of bool
        ``(lat, lon)``: cells missing at every time step.
    mean : ndarray
        ``(lat, lon)`` time mean (degrees C).
    season_amp, season_phase : ndarray
        ``(lat, lon)`` amplitude and phase of the annual harmonic.
    patterns : ndarray
        ``(N_MODES, lat * lon)`` spatial modes, each of unit RMS over the ocean.
    amps : ndarray
        ``(N_MODES,)`` standard deviation of each mode's time series.
    """

    lat: np.ndarray
    lon: np.ndarray
    land: np.ndarray
    mean: np.ndarray
    season_amp: np.ndarray
    season_phase: np.ndarray
    patterns: np.ndarray
    amps: np.ndarray


def _smooth_field(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, waves: int, terms: int = 4
) -> np.ndarray:
    """A sum of ``terms`` random plane waves of up to ``waves`` cycles over the sphere."""
    la, lo = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    out = np.zeros(la.shape)
    for _ in range(terms):
        kx = rng.integers(1, waves + 1)
        ky = rng.integers(0, waves + 1)
        out += (
            rng.normal()
            * np.cos(kx * lo + rng.uniform(0, 2 * np.pi))
            * np.cos(ky * la + rng.uniform(0, 2 * np.pi))
        )
    return out


def field_spec(nlat: int, nlon: int, seed: int = 0) -> FieldSpec:
    """Grid, land mask (``LAND_FRACTION`` of the cells), mean, seasonal cycle and modes.

    Parameters
    ----------
    nlat, nlon : int
        Cells along latitude and longitude (a regular global grid).
    seed : int

    Returns
    -------
    FieldSpec
    """
    rng = np.random.default_rng(seed)
    lat = -90 + (np.arange(nlat) + 0.5) * 180 / nlat
    lon = (np.arange(nlon) + 0.5) * 360 / nlon
    continents = _smooth_field(rng, lat, lon, 3, terms=6)
    n_land = round(LAND_FRACTION * nlat * nlon)
    land = np.zeros(nlat * nlon, dtype=bool)
    land[np.argsort(continents, axis=None)[::-1][:n_land]] = True
    land = land.reshape(nlat, nlon)
    la, lo = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    mean = 28.0 - 26.0 * np.sin(la) ** 2 + 0.5 * _smooth_field(rng, lat, lon, 4)
    season_amp = 1.0 + 4.0 * np.abs(np.sin(la))
    season_phase = np.where(la >= 0, 0.0, np.pi) + 0.3 * np.sin(lo)
    ocean = ~land.ravel()
    patterns = np.empty((N_MODES, nlat * nlon))
    for j in range(N_MODES):
        p = _smooth_field(rng, lat, lon, 2 + j // 3).ravel()
        p -= p[ocean].mean()
        patterns[j] = p / np.sqrt(np.mean(p[ocean] ** 2))
    amps = MODE_AMP0 * MODE_DECAY ** np.arange(N_MODES)
    return FieldSpec(lat, lon, land, mean, season_amp, season_phase, patterns, amps)


def field_slab(spec: FieldSpec, a: int, b: int, seed: int = 0) -> np.ndarray:
    """Time steps ``a:b`` of the field, float32 ``(b - a, lat, lon)``, NaN on land.

    Mean + seasonal cycle + ``sum_j amps_j z_j(t) patterns_j`` + ``NOISE`` white noise, with
    ``z`` and the noise standard normal, drawn from a generator seeded by ``(seed, a)``:
    the same slab always gets the same values.
    """
    rng = np.random.default_rng([seed, a])
    nlat, nlon = spec.land.shape
    t = np.arange(a, b, dtype=np.float64)[:, None]
    phase = 2 * np.pi * t / YEAR - spec.season_phase.ravel()
    out = spec.mean.ravel() + spec.season_amp.ravel() * np.cos(phase)
    out += (rng.standard_normal((b - a, N_MODES)) * spec.amps) @ spec.patterns
    out += NOISE * rng.standard_normal(out.shape)
    out[:, spec.land.ravel()] = np.nan
    return out.astype(np.float32).reshape(b - a, nlat, nlon)


def write_field(path: Path, n: int, nlat: int, nlon: int, chunk: int, seed: int = 0) -> None:
    """Write the benchmark's field to a NetCDF4 file, one time slab at a time.

    ``sst(time, lat, lon)`` float32 (chunks of ``chunk`` steps by the whole grid on disk,
    uncompressed) and the land mask ``land(lat, lon)``, by xarray's ``to_netcdf`` (engine
    h5netcdf) of a dask array whose chunks are made by :func:`field_slab` as they are
    written.

    Parameters
    ----------
    path : Path
    n, nlat, nlon : int
        Time steps and grid.
    chunk : int
        Time steps per chunk.
    seed : int
    """
    import dask.array as da
    import pandas as pd
    import xarray as xr

    spec = field_spec(nlat, nlon, seed)
    bounds = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]

    def make(block_id: tuple[int, int, int]) -> np.ndarray:
        a, b = bounds[block_id[0]]
        return field_slab(spec, a, b, seed)

    sizes = tuple(b - a for a, b in bounds)
    data = da.map_blocks(
        make,
        chunks=(sizes, (nlat,), (nlon,)),
        dtype=np.float32,
        meta=np.empty((0, 0, 0), dtype=np.float32),
    )
    ds = xr.Dataset(
        {
            VAR: (
                ("time", "lat", "lon"),
                data,
                {"units": "degC", "long_name": "synthetic sea surface temperature"},
            ),
            MASK: (("lat", "lon"), spec.land.astype(np.int8), {"long_name": "1 on land"}),
        },
        coords={
            "time": pd.date_range("1900-01-01", periods=n, freq="D"),
            "lat": ("lat", spec.lat, {"units": "degrees_north"}),
            "lon": ("lon", spec.lon, {"units": "degrees_east"}),
        },
    )
    encoding = {VAR: {"chunksizes": (chunk, nlat, nlon), "_FillValue": np.float32(np.nan)}}
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)


# -- the methods (each runs in a child process) --------------------------------------------
@dataclass
class Outcome:
    """What a method returns: explained variances, components on ocean cells, a note."""

    ev: np.ndarray
    components: np.ndarray
    note: str
    checks: dict[str, Any] = field(default_factory=dict)


def open_field(path: str, chunk: int | None):
    """``xr.open_dataset(path, engine="h5netcdf")``, dask-chunked along time if asked."""
    import xarray as xr

    chunks = None if chunk is None else {"time": chunk}
    return xr.open_dataset(path, engine="h5netcdf", chunks=chunks)


def _ocean(ds) -> np.ndarray:
    """Flat indices of the ocean cells, from the file's land mask."""
    return np.flatnonzero(np.asarray(ds[MASK].values).ravel() == 0)


def ooc_method(path: str, k: int, *, chunk: int, solver: str) -> Outcome:
    """The library: ``ds.ooc.pca(k, dim="time", variables=["sst"])`` on the opened file.

    Also checks what ``components_`` looks like: its dims, and NaN at exactly the land cells
    of every component (an ``AssertionError`` otherwise).
    """
    import ooc_accessor  # noqa: F401 - registers the .ooc accessor

    ds = open_field(path, chunk)
    kwargs: dict[str, Any] = {}
    if solver != "auto":
        kwargs = {"svd_solver": solver, "random_state": 0}
    est = ds.ooc.pca(k, dim="time", variables=[VAR], **kwargs)
    comps = est.components_
    ev = np.asarray(est.explained_variance_.values, dtype=np.float64)
    land = np.asarray(ds[MASK].values) != 0
    values = np.asarray(comps.values)
    assert comps.dims == ("component", "lat", "lon"), f"components_ dims are {comps.dims}"
    assert values.shape == (k, *land.shape), f"components_ shape is {values.shape}"
    nan = np.isnan(values)
    assert (nan == land[None]).all(), (
        f"components_ NaN at {int(nan.sum())} cells, land is {k} x {int(land.sum())}"
    )
    checks = {
        "dims": list(comps.dims),
        "land_cells": int(land.sum()),
        "nan_exactly_at_land": True,
        "features": int(est.n_features_in_),
    }
    ocean = _ocean(ds)
    flat = values.reshape(k, -1)[:, ocean]
    return Outcome(ev, flat, f"solver `{est.svd_solver_}`", checks)


def xeofs_method(
    path: str, k: int, *, chunk: int, solver: str, load: bool, full_matrices: bool | None
) -> Outcome:
    """xeofs: ``EOF(n_modes=k, standardize=False, use_coslat=False, solver=solver)``.

    Fitted with ``model.fit(da, dim="time")`` on the lazily opened, dask-chunked DataArray
    (``load=False``) or on it loaded into memory. ``full_matrices`` (when not ``None``) goes
    to ``np.linalg.svd`` through ``solver_kwargs``. The SVD routine xeofs called is recorded
    by wrapping (not changing) its ``Decomposer._svd``.
    """
    import dask.array
    import xeofs
    from xeofs.linalg import decomposer

    used: list[str] = []
    original = decomposer.Decomposer._svd

    def spy(self, X, dims, func, kwargs):  # noqa: N803 - xeofs' own argument name
        name = f"{getattr(func, '__module__', '')}.{getattr(func, '__name__', func)}"
        if func is np.linalg.svd and isinstance(X.data, dask.array.Array):
            name += " on a dask array (dispatched to dask.array.linalg.svd)"
        used.append(name)
        return original(self, X, dims, func, kwargs)

    decomposer.Decomposer._svd = spy
    ds = open_field(path, chunk)
    da_ = ds[VAR]
    if load:
        da_ = da_.load()
    solver_kwargs = {} if full_matrices is None else {"full_matrices": full_matrices}
    model = xeofs.single.EOF(
        n_modes=k,
        standardize=False,
        use_coslat=False,
        solver=solver,
        solver_kwargs=solver_kwargs,
        random_state=0,
    )
    model.fit(da_, dim="time")
    ev = np.asarray(model.explained_variance().values, dtype=np.float64)
    comps = model.components()
    land = np.asarray(ds[MASK].values) != 0
    values = np.asarray(comps.transpose("mode", "lat", "lon").values, dtype=np.float64)
    nan = np.isnan(values)
    checks = {
        "dims": list(comps.dims),
        "nan_exactly_at_land": bool((nan == land[None]).all()),
        "dtype": str(da_.dtype),
    }
    ocean = _ocean(ds)
    routine = ", ".join(dict.fromkeys(used)) or "unknown"
    routine = routine.replace("dask.array.linalg.", "dask ").replace("sklearn.utils._", "")
    return Outcome(ev, values.reshape(k, -1)[:, ocean], f"calls `{routine}`", checks)


def reference_method(path: str, k: int, *, chunk: int, kind: str) -> Outcome:
    """numpy in memory: the ocean cells as float64, centred, then an SVD (or ``eigh``).

    The field is read ``chunk`` steps at a time into one float64 ``(time, ocean cell)``
    array, centred in place, then ``np.linalg.svd(x, full_matrices=False)``; with
    ``kind="eigh"``, ``scipy.linalg.eigh`` of ``x'x`` (its top ``k`` eigenpairs) instead.
    Explained variance is ``s**2 / (n - 1)``. Component signs are left as they come.
    """
    from scipy import linalg as sla

    ds = open_field(path, None)
    ocean = _ocean(ds)
    var = ds[VAR]
    n = var.sizes["time"]
    x = np.empty((n, ocean.size))
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        x[a:b] = np.asarray(var.isel(time=slice(a, b)).values).reshape(b - a, -1)[:, ocean]
    x -= x.mean(axis=0)
    if kind == "svd":
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        ev, comps = s[:k] ** 2 / (n - 1), vt[:k]
        note = "`np.linalg.svd(x, full_matrices=False)`, float64"
    else:
        p = x.shape[1]
        w, v = sla.eigh(x.T @ x, subset_by_index=[p - k, p - 1], overwrite_a=True)
        ev, comps = w[::-1] / (n - 1), v[:, ::-1].T
        note = "`scipy.linalg.eigh(x'x)`, float64"
    return Outcome(np.asarray(ev), np.asarray(comps), note, {"features": int(ocean.size)})


def child_main(spec_json: str) -> None:
    """Entry point of a child process: import, hand-shake, run one method, report.

    ``spec_json`` holds the data file, components, the method's kind and options, where to
    save the components (``.npy``) and the address-space cap. The result is ``{"outcome",
    "seconds", "ev", "note", "checks", "warnings"}`` with ``outcome`` ``"ok"``, ``"out of
    memory"``, ``"check failed"`` or ``"error"`` (then with ``"error"``).
    """
    spec = json.loads(spec_json)
    kind, opts = spec["method"], spec["options"]
    k = spec["components"]
    import dask.array  # noqa: F401 - every method's imports, done before the baseline
    import h5netcdf  # noqa: F401
    import scipy.linalg  # noqa: F401
    import xarray  # noqa: F401

    if kind == "ooc":
        import ooc_accessor  # noqa: F401
    if kind == "xeofs":
        try:
            import xeofs  # noqa: F401
        except ImportError:
            pass  # reported by the method's own import
    methods: dict[str, Callable[[], Outcome]] = {
        "ooc": lambda: ooc_method(spec["path"], k, **opts),
        "xeofs": lambda: xeofs_method(spec["path"], k, **opts),
        "reference": lambda: reference_method(spec["path"], k, **opts),
    }
    child_handshake(spec["cap"] or None)
    out: dict[str, Any] = {"outcome": "ok"}
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = methods[kind]()
            out["seconds"] = time.perf_counter() - t0
            out["ev"] = [float(v) for v in res.ev]
            out["note"] = res.note
            out["checks"] = res.checks
            np.save(spec["components_out"], np.asarray(res.components, dtype=np.float64))
        except MemoryError as exc:
            out = {"outcome": "out of memory", "error": _first_line(exc)}
        except AssertionError as exc:
            out = {"outcome": "check failed", "error": _first_line(exc)}
        except Exception as exc:  # a method that fails is a result, not a crash
            out = {"outcome": "error", "error": f"{type(exc).__name__}: {_first_line(exc)}"}
    noisy = (FutureWarning, DeprecationWarning, PendingDeprecationWarning)
    out["warnings"] = list(
        dict.fromkeys(
            f"{w.category.__name__}: {_first_line(w.message)}"
            for w in caught
            if not issubclass(w.category, noisy)
        )
    )
    out.setdefault("seconds", time.perf_counter() - t0)
    child_result(out)


def _first_line(exc: BaseException | Warning | str) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- the parent: plan, run, compare ---------------------------------------------------------
@dataclass
class Method:
    """One row of the report: what runs in the child, and how it went."""

    key: str
    label: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    slow: bool = False
    cap: int = MEMORY_CAP
    run: SampledRun | None = None
    skipped: str = ""
    components: np.ndarray | None = None

    @property
    def result(self) -> dict[str, Any]:
        """The child's result (an empty dict if it gave none)."""
        return (self.run.result if self.run is not None else None) or {}

    @property
    def ok(self) -> bool:
        """Whether the method ran to the end and returned a spectrum."""
        return self.result.get("outcome") == "ok"

    @property
    def seconds(self) -> float | None:
        """Seconds of the method itself (timed inside the child), if it finished."""
        return self.result.get("seconds") if self.ok else None


def plan(chunk: int, reference: str) -> list[Method]:
    """The methods of a run, in the order they run (the reference first)."""
    xe = 'xeofs `EOF(n_modes=10, standardize=False, use_coslat=False, solver="{s}")`, {on}'
    lazy = "lazy dask-chunked DataArray"
    loaded = "DataArray `.load()`-ed"
    return [
        Method(
            "reference",
            "numpy: float64 ocean cells in memory, centred, "
            + ("SVD (reference)" if reference == "svd" else "`eigh` of `x'x` (reference)"),
            "reference",
            {"chunk": chunk, "kind": reference},
            cap=IN_MEMORY_CAP,
        ),
        Method(
            "ooc_auto",
            'ooc `ds.ooc.pca(10, dim="time", variables=["sst"])`, lazy dask-chunked file',
            "ooc",
            {"chunk": chunk, "solver": "auto"},
        ),
        Method(
            "ooc_randomized",
            'ooc, `svd_solver="randomized"`',
            "ooc",
            {"chunk": chunk, "solver": "randomized"},
        ),
        Method(
            "xeofs_auto",
            xe.format(s="auto", on=lazy),
            "xeofs",
            {"chunk": chunk, "solver": "auto", "load": False, "full_matrices": None},
        ),
        Method(
            "xeofs_full",
            xe.format(s="full", on=lazy),
            "xeofs",
            {"chunk": chunk, "solver": "full", "load": False, "full_matrices": None},
            slow=True,
        ),
        Method(
            "xeofs_auto_loaded",
            xe.format(s="auto", on=loaded),
            "xeofs",
            {"chunk": chunk, "solver": "auto", "load": True, "full_matrices": None},
            cap=IN_MEMORY_CAP,
        ),
        Method(
            "xeofs_full_loaded",
            xe.format(s="full", on=loaded) + ', `solver_kwargs={"full_matrices": False}`',
            "xeofs",
            {"chunk": chunk, "solver": "full", "load": True, "full_matrices": False},
            slow=True,
            cap=IN_MEMORY_CAP,
        ),
    ]


def run_method(
    method: Method, path: Path, k: int, comps_out: Path, *, capped: bool, timeout: float
) -> SampledRun:
    """Run one method in a fresh interpreter and sample its memory."""
    spec = {
        "path": str(path),
        "components": k,
        "method": method.kind,
        "options": method.options,
        "components_out": str(comps_out),
        "cap": method.cap if capped else 0,
    }
    code = _CHILD_CODE.format(bench=str(BENCH_DIR))
    return run_sampled([sys.executable, "-c", code, json.dumps(spec)], timeout=timeout)


#: what a child says when an allocation failed under its cap (besides ``MemoryError``)
OOM_MESSAGES = ("Memory allocation", "Cannot allocate memory", "can't start new thread")


def _bytes(nbytes: float) -> str:
    """Bytes as GB (10**9) or, below 1 GB, MB."""
    return f"{nbytes / 1e9:.2f} GB" if nbytes >= 1e9 else f"{nbytes / 1e6:.1f} MB"


def _size(nbytes: float) -> str:
    return f"{nbytes / 2**30:.0f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"


def _cell(text: str, width: int = 160) -> str:
    """Text for a table cell: one line, no pipes, at most ``width`` characters."""
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= width else text[: width - 3] + "..."


def outcome(method: Method, timeout: float) -> str:
    """A short description of how the method ended, for the table."""
    if method.skipped:
        return method.skipped
    run = method.run
    assert run is not None
    res = method.result
    if run.returncode is None:
        return f"timed out after {timeout:.0f} s"
    if res.get("outcome") == "ok":
        note = res.get("note", "ok")
        warned = res.get("warnings") or []
        if warned:
            note += "; warned: " + "; ".join(f"`{_cell(w, 120)}`" for w in warned)
        return note
    cap = f" under the {_size(run.cap)} cap" if run.cap else ""
    err = _cell(res.get("error", ""))
    tail = _cell((run.stderr.strip().splitlines() or [""])[-1], 120)
    if res.get("outcome") == "out of memory" or any(
        msg in err or msg in tail for msg in OOM_MESSAGES
    ):
        what = f"`{err}`" if err else f"`{tail}`" if tail else "no message"
        return f"out of memory{cap} after {run.seconds:.0f} s ({what})"
    if res.get("outcome") == "check failed":
        return f"CHECK FAILED: `{err}`"
    if res.get("outcome") == "error":
        return f"failed: `{err}`"
    if run.returncode < 0:
        return f"killed by signal {-run.returncode}{cap} after {run.seconds:.0f} s"
    return f"failed (exit {run.returncode}) after {run.seconds:.0f} s: `{tail or 'no output'}`"


def max_rel_error(values: list[float], reference: list[float]) -> float:
    """Largest ``|v - ref| / |ref|`` over the components."""
    v, r = np.asarray(values, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(v - r) / np.abs(r)))


def component_error(comps: np.ndarray, reference: np.ndarray) -> float:
    """Largest ``|s_j c_j - r_j|`` over components and ocean cells, ``s_j = sign(c_j . r_j)``.

    Matching each component's sign to the reference's first: components are defined up to
    sign, and each library fixes it its own way.
    """
    signs = np.sign(np.einsum("ij,ij->i", comps, reference))
    signs[signs == 0] = 1.0
    return float(np.max(np.abs(comps * signs[:, None] - reference)))


def errors(method: Method, reference: Method) -> tuple[float, float] | None:
    """Max relative error of the explained variances, max abs error of the components."""
    if not (method.ok and reference.ok):
        return None
    if method.components is None or reference.components is None:
        return None
    return (
        max_rel_error(method.result["ev"], reference.result["ev"]),
        component_error(method.components, reference.components),
    )


def _err(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "0 (reference)" if value == 0 else f"{value:.1e}"


def results_table(methods: list[Method], reference: Method, timeout: float) -> str:
    """Markdown table: seconds, ratio to the library's auto, memory, accuracy, notes."""
    base = next(m for m in methods if m.key == "ooc_auto").seconds
    rows = []
    for m in methods:
        run = m.run
        err = errors(m, reference)
        if m is reference and m.ok:
            err = (0.0, 0.0)
        if run is None:
            time_s, growth, busy = "n/a", "n/a", "n/a"
        else:
            time_s = seconds(m.seconds)
            growth = "n/a" if math.isnan(run.growth_mb) else f"{run.growth_mb:,.0f}"
            busy = "n/a" if math.isnan(run.others) else f"{run.others:.2f}"
        rows.append(
            [
                m.label,
                time_s,
                ratio(m.seconds, base),
                growth,
                _err(err[0] if err else None),
                _err(err[1] if err else None),
                busy,
                outcome(m, timeout),
            ]
        )
    return markdown_table(
        [
            "method",
            "seconds",
            "vs ooc auto",
            "peak anon growth (MB)",
            "explained variance max rel err",
            "components max abs err (sign-matched)",
            "other CPUs busy",
            "notes (solver used, failures)",
        ],
        rows,
    )


def check_lines(methods: list[Method]) -> list[str]:
    """One bullet per method that reported the shape of its components."""
    lines = []
    for m in methods:
        checks = m.result.get("checks") or {}
        if m.kind == "ooc":
            if m.ok:
                lines.append(
                    f"- {m.label}: `components_` has dims `{tuple(checks['dims'])}` and NaN "
                    f"exactly at the {checks['land_cells']:,} land cells of every component "
                    f"({checks['features']:,} features kept): OK (asserted in the child)."
                )
            elif m.run is not None:
                lines.append(f"- {m.label}: no check ({outcome(m, 0.0)}).")
        elif m.kind == "xeofs" and m.ok:
            nan_ok = "NaN exactly at land" if checks["nan_exactly_at_land"] else "NaN NOT at land"
            lines.append(
                f"- {m.label}: `components()` has dims `{tuple(checks['dims'])}`, {nan_ok} "
                f"(input dtype {checks['dtype']})."
            )
    return lines


def auto_sentence(p: int, picked: str) -> str:
    """Which solver ``"auto"`` picked, and the library's rule that made it."""
    from ooc_accessor.pca import MATRIX_BYTES, QR_MAX_FEATURES

    size = 8 * p * p
    return (
        f'ooc\'s `"auto"` picked {picked}: its rule is `"full"` up to {QR_MAX_FEATURES} '
        f'features, `"covariance_eigh"` above, `"randomized"` when a p x p float64 matrix '
        f"exceeds {MATRIX_BYTES / 2**20:.0f} MiB; here p = {p:,} ocean cells and that matrix "
        f"takes {size / 2**20:.0f} MiB."
    )


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its markdown report."""
    description = __doc__.splitlines()[0]
    sizes = {"smoke_rows": SMOKE_TIMES, "smoke_chunksize": SMOKE_CHUNK, "default_repeats": 1}
    parser = build_parser(description, DEFAULT_TIMES, **sizes)
    parser.add_argument(
        "--lat",
        type=int,
        default=None,
        help=f"cells along latitude (default {DEFAULT_LAT}; {SMOKE_LAT} with --smoke)",
    )
    parser.add_argument(
        "--lon",
        type=int,
        default=None,
        help=f"cells along longitude (default {DEFAULT_LON}; {SMOKE_LON} with --smoke)",
    )
    parser.add_argument(
        "--reference",
        choices=("auto", "svd", "eigh"),
        default="auto",
        help="how the in-memory reference decomposes: np.linalg.svd of the data, "
        "scipy.linalg.eigh of x'x, or auto (default): the SVD when n p^2 <= "
        f"{SVD_MAX_WORK:.0e}, else eigh",
    )
    parser.add_argument(
        "--skip-slow",
        action="store_true",
        help="skip xeofs' exact solver (on the lazy and on the loaded DataArray)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds after which a method is stopped (default {DEFAULT_TIMEOUT:.0f})",
    )
    args = resolve_args(parser, DEFAULT_TIMES, argv, **sizes)
    n = args.rows
    nlat = args.lat or (SMOKE_LAT if args.smoke else DEFAULT_LAT)
    nlon = args.lon or (SMOKE_LON if args.smoke else DEFAULT_LON)
    chunk = DEFAULT_CHUNK if args.chunksize == "auto" else int(args.chunksize)
    chunk = min(chunk, n)
    k = COMPONENTS
    if nlat < 2 or nlon < 2:
        parser.error("--lat and --lon must be at least 2")
    capped = not args.smoke
    xeofs_version = _package_version("xeofs")
    report = Report(args.out)
    monitor = CpuMonitor()
    land = field_spec(nlat, nlon).land
    p = int((~land).sum())
    if not 1 <= k <= min(n, p):
        parser.error(f"need at least {k} time steps and {k} ocean cells")
    reference_kind = args.reference
    if reference_kind == "auto":
        reference_kind = "svd" if n * p * p <= SVD_MAX_WORK else "eigh"
    methods = plan(chunk, reference_kind)
    with scratch_dir() as tmp:
        path = tmp / "field.nc"
        t0 = time.perf_counter()
        write_field(path, n, nlat, nlon, chunk)
        write_s = time.perf_counter() - t0
        disk = os.path.getsize(path)
        print(f"bench_field_pca: wrote {_bytes(disk)} in {write_s:.0f} s", file=sys.stderr)
        for m in methods:
            if m.kind == "xeofs" and xeofs_version is None:
                m.skipped = "xeofs not installed"
                continue
            if m.slow and args.skip_slow:
                m.skipped = "skipped (`--skip-slow`)"
                continue
            out = tmp / f"{m.key}.npy"
            for _ in range(args.repeats):
                run = run_method(m, path, k, out, capped=capped, timeout=args.timeout)
                best = m.run
                if best is None or (run.result or {}).get("seconds", math.inf) < (
                    best.result or {}
                ).get("seconds", math.inf):
                    m.run = run
                    if m.ok and out.exists():
                        m.components = np.load(out)
            took = "n/a" if m.seconds is None else f"{m.seconds:.1f} s"
            print(f"bench_field_pca: {m.key}: {took}, {outcome(m, args.timeout)}", file=sys.stderr)
    monitor.stop()

    by = {m.key: m for m in methods}
    reference = by["reference"]
    cells = nlat * nlon
    runs = "once" if args.repeats == 1 else f"{args.repeats} times (best time kept)"
    report.add(
        f"### PCA of a gridded field: {n:,} time steps x {nlat} x {nlon} float32 NetCDF, "
        f"{k} components"
    )
    report.add()
    report.add(
        f"Data: `{VAR}(time, lat, lon)` float32 in one NetCDF4 file of {_bytes(disk)} on "
        f"disk (written in {write_s:.0f} s by slabs of {chunk:,} steps; chunks of {chunk:,} "
        f"steps x the whole grid, uncompressed; read from the page cache). "
        f"{cells - p:,} of the {cells:,} cells ({(cells - p) / cells:.0%}) are land, NaN at "
        f"every step, which leaves p = {p:,} ocean features. In float64 the whole field takes "
        f"{_bytes(n * cells * 8)} and its ocean cells {_bytes(n * p * 8)}. The "
        f"field is a mean, a seasonal cycle (period {YEAR:g} steps), {N_MODES} smooth spatial "
        f"modes with amplitudes {MODE_AMP0:g} x {MODE_DECAY:g}^j and N(0, {NOISE:g}^2) noise. "
        f"The lazy methods open it with `chunks={{'time': {chunk:,}}}` "
        f"({chunk * cells * 4 / 2**20:.0f} MiB per dask chunk). "
        f"Each method runs {runs} in a fresh interpreter; seconds are timed inside the child "
        "from opening the file to reading the explained variances and components; memory is "
        "the peak growth of the child's `RssAnon` over its post-import baseline, sampled "
        "every 15 ms; errors are against the reference row, the largest over the "
        f"{k} components (component entries are about 1/sqrt(p) = {1 / math.sqrt(p):.3f}). "
        + (
            f"Each child may grow its address space by {MEMORY_CAP / 2**30:.0f} GiB "
            f"({IN_MEMORY_CAP / 2**30:.0f} GiB for those that load the field into memory; "
            "`RLIMIT_AS`) and is stopped "
            f"after {args.timeout:.0f} s."
            if capped
            else "A `--smoke` run: no memory caps, and its timings mean nothing."
        )
    )
    report.add()
    if reference.ok:
        ev = np.asarray(reference.result["ev"])
        report.add(
            f"Reference spectrum: explained variance {ev[0]:.4g} (first) to {ev[-1]:.4g} "
            f"(component {k}), from {reference.result['note']}."
            + (
                " (`eigh` of `x'x`, not the SVD: "
                + (
                    f"n p^2 = {n * p * p:.1e} is above {SVD_MAX_WORK:.0e}"
                    if args.reference == "auto"
                    else "`--reference eigh`"
                )
                + f". It squares the condition number, but the {k} "
                f"components' variances span a factor {ev[0] / ev[-1]:.0f} only, so their "
                f"relative error stays near p eps x that = "
                f"{p * np.finfo(float).eps * ev[0] / ev[-1]:.0e}.)"
                if reference_kind == "eigh"
                else ""
            )
        )
    else:
        report.add(
            f"The reference did not finish ({outcome(reference, args.timeout)}): no accuracy."
        )
    report.add()
    report.add("#### Time, memory and accuracy")
    report.add()
    report.add(results_table(methods, reference, args.timeout))
    report.add()
    picked = by["ooc_auto"].result.get("note")
    if picked:
        report.add(auto_sentence(p, picked.replace("solver ", "")))
        report.add()
    report.add("#### Checks")
    report.add()
    for line in check_lines(methods):
        report.add(line)
    if xeofs_version is None:
        report.add("- xeofs is not installed: its rows were not run (`pip install xeofs`).")
    else:
        report.add(
            f'- xeofs {xeofs_version}: `xeofs.single.EOF(...).fit(da, dim="time")`; '
            "`explained_variance()` is `s**2 / (n - 1)` (ddof 1), as ooc's "
            "`explained_variance_` and the reference, so compared unscaled; `components()` "
            "are unit vectors like ooc's. Its preprocessing multiplies the data by float64 "
            "feature weights (ones when none are given), so a float32 field becomes float64 "
            'before the decomposition. Its `"auto"` solver takes the exact SVD only when '
            "both sides of the matrix are under 500 and the modes exceed 80% of the rank: "
            "otherwise `dask.array.linalg.svd_compressed` (4 power iterations) on dask input, "
            'scikit-learn\'s `randomized_svd` on numpy input. `"full"` calls '
            "`np.linalg.svd` (dispatched to `dask.array.linalg.svd`, a tall-skinny QR, on "
            "dask input) with `full_matrices=True` unless `solver_kwargs` say otherwise: "
            f"in memory that is an n x n U ({_bytes(n * n * 4)} in float32)."
        )
    report.add()
    report.add("#### Machine")
    report.add()
    import scipy.linalg  # noqa: F401 - so that the machine section lists scipy's BLAS

    info = machine_info()
    info["packages"].update(
        {name: _package_version(name) or "not installed" for name in EXTRA_PACKAGES}
    )
    report.add(machine_markdown(info, monitor))
    report.write()
    return 0 if reference.ok else 1


if __name__ == "__main__":
    sys.exit(main())
