"""Memory bound of a logistic GLM of a stored design, measured in a subprocess.

A logistic design store of 623 MB (3.5M rows x 20 terms + y) is written block by block with
:class:`~ooc_accessor.store.DesignWriter` (the formula state comes from a real design built
on a small frame; y is drawn from known coefficients), then ``open_design(path).glm(
"binomial")`` runs in a fresh interpreter whose anonymous memory (``RssAnon``) is sampled
from outside (:mod:`memtools`). Every IRLS iteration reads the whole store once, so the
peak must stay a few blocks plus O(p^2) however many rows: within a budget of a quarter of
the store, and the same for a store of a quarter of the rows. The fit must also be right:
converged, and the coefficients y came from within a few standard errors.
"""

from __future__ import annotations

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

NUMERIC = [f"x{i:02d}" for i in range(1, 18)]
#: 20 design columns: the intercept, 17 numeric terms and two interactions
FORMULA = "y ~ " + " + ".join(NUMERIC) + " + x01:x02 + x03:x04"
#: rows per stored chunk, the unit each IRLS pass reads: 98304 x 20 float64 is 15.7 MB of
#: X, about the 16 MiB block of ``chunksize="auto"``
CHUNK_ROWS = 98_304
#: 36 chunks: 3.5M rows x (20 terms + y + the int64 row label) x 8 bytes = 623 MB
BIG_CHUNKS = 36
#: a quarter of the rows, for the check that the peak does not grow with them
SMALL_CHUNKS = 9
BUDGET_MB = 150.0
#: allowed difference of the peak growth between the big and the small store
ROWS_SLACK_MB = 40.0
SEED = 20261206

#: the fit, run in the measured child (``path`` is filled in by str.format)
GLM_SNIPPET = """
import time
t0 = time.perf_counter()
res = ooc_accessor.open_design({path!r}).glm("binomial")
return {{
    "params": res.params.tolist(),
    "bse": res.bse.tolist(),
    "terms": list(res.params.index),
    "nobs": res.nobs,
    "converged": bool(res.converged),
    "iterations": int(res.fit_history["iteration"]),
    "seconds": time.perf_counter() - t0,
}}
"""


@dataclass
class StoreInfo:
    """A synthetic logistic store and what was used to make it."""

    path: Path
    n_obs: int
    beta: np.ndarray
    terms: list[str]
    megabytes: float
    write_seconds: float


def true_beta(p: int) -> np.ndarray:
    """The coefficients of the logit: of both signs, none near zero, |eta| mostly under 3."""
    return np.resize([0.4, -0.3, 0.25, -0.2, 0.15, 0.35, -0.1], p) * np.resize([1, 1, -1], p)


def block_design(rng: np.random.Generator, m: int) -> np.ndarray:
    """``m`` rows of X for :data:`FORMULA`: intercept, 17 numeric columns, two products."""
    z = rng.standard_normal((m, len(NUMERIC)))
    z *= np.linspace(0.5, 1.5, len(NUMERIC))  # columns of different scales
    z += np.linspace(-0.5, 0.5, len(NUMERIC))  # and means
    x = np.empty((m, len(NUMERIC) + 3))
    x[:, 0] = 1.0
    x[:, 1:-2] = z
    x[:, -2] = z[:, 0] * z[:, 1]
    x[:, -1] = z[:, 2] * z[:, 3]
    return x


def write_logistic_store(path: Path, chunks: int, seed: int = SEED) -> StoreInfo:
    """Write ``chunks`` chunks of :data:`CHUNK_ROWS` rows of a logistic model at ``path``.

    The formula state (``spec``) is that of a real design of :data:`FORMULA` built on a
    small frame; X and y are generated one block at a time, so the writer holds one block.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    small = pd.DataFrame(rng.standard_normal((64, len(NUMERIC) + 1)), columns=[*NUMERIC, "y"])
    template = path.with_suffix(".template.nc")
    try:
        terms = small.ooc.design(FORMULA, path=template).terms
        spec = read_attrs(os.fspath(template))["spec"]
    finally:
        template.unlink(missing_ok=True)
    assert len(terms) == 20, terms
    beta = true_beta(len(terms))
    with DesignWriter(
        os.fspath(path), terms=terms, responses=["y"], chunk_rows=CHUNK_ROWS
    ) as writer:
        for k in range(chunks):
            x = block_design(rng, CHUNK_ROWS)
            y = (rng.random(CHUNK_ROWS) < 1.0 / (1.0 + np.exp(-(x @ beta)))).astype(np.float64)
            writer.append(x, y, pd.RangeIndex(k * CHUNK_ROWS, (k + 1) * CHUNK_ROWS, name="row"))
        writer.commit({"formula": FORMULA, "spec": spec, "n_dropped": 0})
    return StoreInfo(
        path=path,
        n_obs=chunks * CHUNK_ROWS,
        beta=beta,
        terms=terms,
        megabytes=path.stat().st_size / 1e6,
        write_seconds=time.perf_counter() - t0,
    )


def measure_glm(info: StoreInfo) -> Measurement:
    """Fit the store's logistic GLM in a fresh interpreter; check it; return the measurement."""
    m = run_measured(GLM_SNIPPET.format(path=os.fspath(info.path)))
    out = m.result
    assert out["terms"] == info.terms
    assert out["nobs"] == info.n_obs
    assert out["converged"] and 3 <= out["iterations"] <= 12, out["iterations"]
    params, bse = np.asarray(out["params"]), np.asarray(out["bse"])
    # the coefficients y came from, within noise (bse ~ 2e-3 here)
    z = (params - info.beta) / bse
    assert np.all(np.abs(z) < 6), f"params off the true coefficients by {z} standard errors"
    return m


def report(label: str, info: StoreInfo, m: Measurement) -> str:
    """One line of figures, printed so ``pytest -s`` shows them."""
    line = (
        f"[glm memory] {label}: store {info.megabytes:.0f} MB ({info.n_obs:,} rows x "
        f"{len(info.terms)} terms + y, chunk {CHUNK_ROWS} rows), written in "
        f"{info.write_seconds:.1f} s; logistic GLM {m.result['seconds']:.1f} s, "
        f"{m.result['iterations']} iterations (child {m.seconds:.1f} s, {m.samples} samples): "
        f"RssAnon baseline {m.baseline_mb:.0f} MB, peak {m.peak_mb:.0f} MB, growth "
        f"{m.growth_mb:.0f} MB"
    )
    print(line)
    return line


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory):
    """The 623 MB store, removed after the module's tests."""
    directory = tmp_path_factory.mktemp("glm-memory")
    free_gb = shutil.disk_usage(directory).free / 1e9
    if free_gb < 2.0:  # the big and the small store, with room to spare
        pytest.skip(
            f"the GLM memory check writes 0.8 GB of stores; {directory} has {free_gb:.1f} GB free"
        )
    info = write_logistic_store(directory / "big.nc", BIG_CHUNKS)
    yield info
    info.path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def big_fit(big_store: StoreInfo) -> Measurement:
    """The big store's GLM, measured once for the module's tests."""
    m = measure_glm(big_store)
    report("big", big_store, m)
    return m


@pytest.mark.slow
def test_logistic_glm_of_store_beyond_budget_stays_within_budget(
    big_store: StoreInfo, big_fit: Measurement
) -> None:
    assert big_store.megabytes > 4 * BUDGET_MB  # several times the budget
    m = big_fit
    assert m.growth_mb < BUDGET_MB, (
        f"a logistic GLM of a {big_store.megabytes:.0f} MB store grew RssAnon by "
        f"{m.growth_mb:.0f} MB"
    )


@pytest.mark.slow
def test_logistic_glm_peak_does_not_grow_with_rows(
    big_store: StoreInfo, big_fit: Measurement, tmp_path: Path
) -> None:
    small = write_logistic_store(tmp_path / "small.nc", SMALL_CHUNKS, seed=SEED + 1)
    try:
        m_small = measure_glm(small)
    finally:
        small.path.unlink(missing_ok=True)
    m_big = big_fit
    report("small", small, m_small)
    diff = m_big.growth_mb - m_small.growth_mb
    print(
        f"[glm memory] peak growth, big less small ({big_store.n_obs / small.n_obs:.1f}x "
        f"rows): {diff:.0f} MB"
    )
    assert abs(diff) < ROWS_SLACK_MB, (m_small.growth_mb, m_big.growth_mb)
