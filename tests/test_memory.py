"""Memory bound of an out-of-core fit, measured in a subprocess on a store of over 2 GB.

A store much larger than the budget is written block by block with
:class:`~ooc_accessor.store.DesignWriter` (the formula state comes from a real design built
on a small frame), then fitted in a fresh interpreter whose anonymous memory (``RssAnon``)
is sampled from outside (:mod:`memtools`). The fit must stay within the budget and must
give the right answer: the coefficients used to generate y, and a float64 reference from
the normal equations accumulated block by block (in extended precision) while writing.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from memtools import Measurement, run_measured

import ooc_accessor  # noqa: F401 - registers .ooc
from ooc_accessor.store import DesignWriter, read_attrs

FORMULA = "y ~ a + b + c + d + e + f + g + h + i + j + a:b"
NUMERIC = list("abcdefghij")
#: rows per stored chunk, the unit the fit reads: 262144 x 12 float64 is 24 MiB of X
CHUNK_ROWS = 262_144
#: 80 chunks: 21M rows x (12 terms + y) float64 = 2.18 GB, plus 168 MB of int64 labels
BIG_CHUNKS = 80
#: a quarter of the rows, for the check that the peak does not grow with them
SMALL_CHUNKS = 20
BUDGET_MB = 300.0
#: allowed difference of the fit's peak growth between the big and the small store
ROWS_SLACK_MB = 50.0
SIGMA = 0.5
SEED = 20250101

#: the fit, run in the measured child (``path`` is filled in by str.format)
FIT_SNIPPET = """
import time
t0 = time.perf_counter()
res = ooc_accessor.open_design({path!r}).lstsq()
return {{
    "params": res.params.tolist(),
    "bse": res.bse.tolist(),
    "terms": list(res.params.index),
    "nobs": res.nobs,
    "scale": res.scale,
    "seconds": time.perf_counter() - t0,
}}
"""


@dataclass
class StoreInfo:
    """A synthetic store and what was used to make it."""

    path: Path
    n_obs: int
    beta: np.ndarray
    terms: list[str]
    reference: np.ndarray  # normal-equations solution, accumulated while writing
    gigabytes: float
    write_seconds: float


def true_beta(p: int) -> np.ndarray:
    """The coefficients y is generated from: distinct, of both signs, none near zero."""
    return np.array([1.5, -2.0, 0.75, 3.0, -1.25, 0.5, 2.5, -0.8, 1.1, -3.3, 0.9, 0.6])[:p]


def block_design(rng: np.random.Generator, m: int) -> np.ndarray:
    """``m`` rows of X for :data:`FORMULA`: intercept, ten numeric columns, ``a*b``."""
    z = rng.standard_normal((m, len(NUMERIC)))
    z *= np.linspace(0.5, 3.0, len(NUMERIC))  # columns of different scales
    z += np.linspace(-2.0, 2.0, len(NUMERIC))  # and means, so the intercept matters
    x = np.empty((m, len(NUMERIC) + 2))
    x[:, 0] = 1.0
    x[:, 1:-1] = z
    x[:, -1] = z[:, 0] * z[:, 1]
    return x


def write_big_store(path: Path, chunks: int, seed: int = SEED) -> StoreInfo:
    """Write ``chunks`` chunks of :data:`CHUNK_ROWS` synthetic rows to a store at ``path``.

    The formula state (``spec``) is that of a real design of :data:`FORMULA` built on a
    small frame; X and y are generated one block at a time, so the writer holds one block.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    small = pd.DataFrame(rng.standard_normal((64, 11)), columns=[*NUMERIC, "y"])
    template = path.with_suffix(".template.nc")
    try:
        terms = small.ooc.design(FORMULA, path=template).terms
        spec = read_attrs(os.fspath(template))["spec"]
    finally:
        template.unlink(missing_ok=True)
    beta = true_beta(len(terms))
    xtx = np.zeros((len(terms), len(terms)), dtype=np.longdouble)
    xty = np.zeros(len(terms), dtype=np.longdouble)
    with DesignWriter(
        os.fspath(path), terms=terms, responses=["y"], chunk_rows=CHUNK_ROWS
    ) as writer:
        for k in range(chunks):
            x = block_design(rng, CHUNK_ROWS)
            y = x @ beta
            y += SIGMA * rng.standard_normal(CHUNK_ROWS)
            xtx += x.T @ x
            xty += x.T @ y
            writer.append(x, y, pd.RangeIndex(k * CHUNK_ROWS, (k + 1) * CHUNK_ROWS, name="row"))
        writer.commit({"formula": FORMULA, "spec": spec, "n_dropped": 0})
    reference = np.linalg.solve(xtx.astype(np.float64), xty.astype(np.float64))
    return StoreInfo(
        path=path,
        n_obs=chunks * CHUNK_ROWS,
        beta=beta,
        terms=terms,
        reference=reference,
        gigabytes=path.stat().st_size / 1e9,
        write_seconds=time.perf_counter() - t0,
    )


def measure_fit(info: StoreInfo) -> Measurement:
    """Fit the store in a fresh interpreter; check the answer; return the measurement."""
    m = run_measured(FIT_SNIPPET.format(path=os.fspath(info.path)))
    out = m.result
    assert out["terms"] == info.terms
    assert out["nobs"] == info.n_obs
    params, bse = np.asarray(out["params"]), np.asarray(out["bse"])
    # same rows as the extended-precision normal equations: agree to rounding
    np.testing.assert_allclose(params, info.reference, rtol=1e-10, atol=1e-10)
    # (measured: 5e-13; leaving out or repeating one of 80 blocks moves them by ~1e-5)
    # and the coefficients y came from, within noise (bse ~ 1e-4 here)
    z = (params - info.beta) / bse
    assert np.all(np.abs(z) < 6), f"params off the true coefficients by {z} standard errors"
    assert abs(out["scale"] / SIGMA**2 - 1) < 0.01, out["scale"]
    return m


def report(label: str, info: StoreInfo, m: Measurement) -> str:
    """One line of figures, printed so ``pytest -s`` shows them."""
    line = (
        f"[memory] {label}: store {info.gigabytes:.2f} GB ({info.n_obs:,} rows x "
        f"{len(info.terms)} terms + y, chunk {CHUNK_ROWS} rows), written in "
        f"{info.write_seconds:.1f} s; fit {m.result['seconds']:.1f} s "
        f"(child {m.seconds:.1f} s, {m.samples} samples): RssAnon baseline "
        f"{m.baseline_mb:.0f} MB, peak {m.peak_mb:.0f} MB, growth {m.growth_mb:.0f} MB"
    )
    print(line)
    return line


def test_sampler_sees_an_allocation_of_known_size() -> None:
    m = run_measured("a = np.ones(25_000_000)\nimport time\ntime.sleep(0.2)\nreturn 0")
    assert 195 < m.growth_mb < 210, m  # 200 MB of float64


def test_sampler_leaves_out_file_pages(tmp_path: Path) -> None:
    path = tmp_path / "pages.bin"
    np.ones(256 * 2**20 // 8).tofile(path)
    body = f"""
    def rss_file_mb():
        status = open("/proc/self/status").read().split()
        return int(status[status.index("RssFile:") + 1]) * 1024 / 1e6

    before = rss_file_mb()
    mm = np.memmap({os.fspath(path)!r}, dtype=np.float64, mode="r")
    total = float(mm.sum())  # every page read through the mapping
    return [total, rss_file_mb() - before]
    """
    try:
        m = run_measured(body)
    finally:
        path.unlink()
    total, file_pages_mb = m.result
    assert total == 256 * 2**20 // 8
    assert file_pages_mb > 260  # the file's 268 MB of pages became resident
    assert m.growth_mb < 20, m  # but are not counted


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory):
    """The > 2 GB store, removed after the module's tests."""
    directory = tmp_path_factory.mktemp("memory")
    free_gb = shutil.disk_usage(directory).free / 1e9
    if free_gb < 4.0:  # the big and the small store, with room to spare
        pytest.skip(
            f"the memory check writes 3 GB of stores; {directory} has {free_gb:.1f} GB free"
        )
    info = write_big_store(directory / "big.nc", BIG_CHUNKS)
    yield info
    info.path.unlink(missing_ok=True)


@pytest.mark.slow
def test_fit_of_store_beyond_budget_stays_within_budget(big_store: StoreInfo) -> None:
    assert big_store.gigabytes >= 2.0
    assert big_store.gigabytes * 1e3 > 6 * BUDGET_MB  # several times the budget
    m = measure_fit(big_store)
    report("big", big_store, m)
    assert m.growth_mb < BUDGET_MB, (
        f"fitting a {big_store.gigabytes:.2f} GB store grew RssAnon by {m.growth_mb:.0f} MB"
    )


@pytest.mark.slow
def test_fit_peak_does_not_grow_with_rows(big_store: StoreInfo, tmp_path: Path) -> None:
    small = write_big_store(tmp_path / "small.nc", SMALL_CHUNKS, seed=SEED + 1)
    try:
        m_small = measure_fit(small)
        m_big = measure_fit(big_store)
    finally:
        small.path.unlink(missing_ok=True)
    report("small", small, m_small)
    report("big", big_store, m_big)
    diff = m_big.growth_mb - m_small.growth_mb
    print(
        f"[memory] peak growth, big less small ({big_store.n_obs // small.n_obs}x rows): "
        f"{diff:.0f} MB"
    )
    assert abs(diff) < ROWS_SLACK_MB, json.dumps(
        {"small_growth_mb": m_small.growth_mb, "big_growth_mb": m_big.growth_mb}
    )
