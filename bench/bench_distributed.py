"""Benchmark of the reductions on a dask.distributed LocalCluster against the threaded scheduler.

Two cases, on data written once into a scratch directory:

1. ``design.lstsq()`` on the data and formula of ``bench_lstsq.py`` (2,500,000 rows x 12
   design columns by default, stored blocks of ``--chunksize`` rows, "auto" as there), and
   the same data at twice the rows and at a smaller block size (``--small-chunksize``);
2. ``ooc.IncrementalPCA(50).fit(design)`` on a float64 design store of 140,000 x 3,504
   (3.9 GB, X only, low rank plus noise as in ``bench_pca.py``) written block by block with
   :class:`~ooc_accessor.store.DesignWriter`: ``svd_solver="auto"`` (which picks
   ``"covariance_eigh"`` at that width) and ``"full"`` (unless ``--skip-full``).

Each case runs on three engines: the threaded scheduler (no Client), a LocalCluster of one
worker process with ``--single-threads`` threads (2 by default), and a LocalCluster of two
worker processes of one thread each; ``processes=True`` and no dashboard for both. A
cluster's start-up (until its workers are connected) and the import of ``ooc_accessor`` on
its workers are timed apart and excluded from the fit times. Every fit time is the best of
``--repeats`` runs after a warm-up (lstsq) or of ``--pca-repeats`` runs (PCA, no warm-up;
``--full-repeats`` for the ``"full"`` solver); the answers are compared with the threaded
scheduler's (largest relative difference of the coefficients, or of the explained
variances).

After the timed runs, one more run of each case is traced on the cluster: the names of the
tasks the workers ran (``distributed.get_task_stream``), the bytes the workers sent each
other and sent back for the client (read from every worker's ``transfer_outgoing_log`` and
``transfer_incoming_log``, cleared before the run; each entry's ``"total"`` is the
``sizeof`` of the keys moved and ``"compressed"`` the bytes written to the socket), and the
bytes the client sent the scheduler (``client.scheduler_comm.byte_count``: the graph and
the control messages). The lstsq grid (two row counts x two block sizes) shows that the
bytes between workers follow (leaf results) x (p+1)^2 x 8, not rows x p x 8.

Before every run on a cluster the script waits until the scheduler has forgotten the
previous run's tasks: the keys depend only on the store's path and row ranges, so a fit
submitted at once may be answered from the previous fit's result. Ten lstsq fits in a row
without that wait show how often this happens. A last probe times two threads of one
process running scipy's ``dsyrk`` and ``dgeqrf`` and numpy's matmul, to tell which BLAS
calls hold the GIL (which decides what a multi-threaded worker gains).

The report (markdown) goes to stdout and, with ``--out FILE``, to a file; data files and
the workers' scratch space live in a temporary directory removed at the end.

Run from the repository root::

    python bench/bench_distributed.py [--rows 2500000] [--pca-rows 140000] [--features 3504]
        [--skip-full] [--out FILE]
    python bench/bench_distributed.py --smoke   # 20k rows, a 2,000 x 520 PCA, seconds
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import (  # noqa: E402 - the helpers sit beside the scripts, not in a package
    CpuMonitor,
    Report,
    Timing,
    best_of,
    build_parser,
    machine_info,
    machine_markdown,
    markdown_table,
    ratio,
    resolve_args,
    scratch_dir,
    seconds,
)
from bench_lstsq import FORMULA, make_frame  # noqa: E402 - the regression bench's data

import ooc_accessor as ooc  # noqa: E402
from ooc_accessor import reduce  # noqa: E402
from ooc_accessor.arguments import resolve_chunksize  # noqa: E402
from ooc_accessor.sources import DesignMatrix  # noqa: E402
from ooc_accessor.spec import spec_from_json, spec_to_json  # noqa: E402
from ooc_accessor.store import DesignWriter, read_attrs  # noqa: E402

#: rows of the lstsq case (bench_lstsq's size); the grid adds twice as many
DEFAULT_ROWS = 2_500_000
#: the second (smaller) block size of the lstsq grid
SMALL_CHUNKSIZE = 32_768
SMOKE_SMALL_CHUNKSIZE = 1_000
#: the PCA case (the issue's size) and its ``--smoke`` size; above 500 features "auto" picks
#: the covariance solver, so the smoke run takes the same path
PCA_ROWS = 140_000
PCA_FEATURES = 3_504
PCA_COMPONENTS = 50
SMOKE_PCA_ROWS = 2_000
SMOKE_PCA_FEATURES = 520
SMOKE_PCA_COMPONENTS = 10
#: IncrementalPCA batch_size of a ``--smoke`` run, so 2,000 rows make several batches
SMOKE_PCA_BATCH = 400
#: the PCA data: x = mean + z diag(d) V' + NOISE e, d_j = D0 exp(-j / DECAY) (bench_pca's)
LATENT_RANK = 200
D0 = 8.0
DECAY = 25.0
NOISE = 0.3
#: rows generated (and appended) at a time when writing the PCA store
WRITE_ROWS = 8_192
#: the answer on a cluster must agree with the threaded one to this (relative)
LSTSQ_RTOL = 1e-10
PCA_RTOL = 1e-9
#: lstsq fits made in a row, without waiting, to see whether results are reused
BACK_TO_BACK_FITS = 10
#: a back-to-back fit faster than this share of the honest best ran (almost) nothing
REUSED_SHARE = 0.2
#: packages listed in the machine section besides those of ``_common.PACKAGES``
EXTRA_PACKAGES = ("distributed", "tornado", "msgpack", "cloudpickle")


# -- engines -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Engine:
    """Where the reductions run: the threaded scheduler, or a LocalCluster of processes.

    Attributes
    ----------
    key : str
        Short name (``"threaded"``, ``"1x2"``, ``"2x1"``).
    workers, threads : int
        Worker processes and threads per worker; 0 workers means no cluster.
    """

    key: str
    workers: int = 0
    threads: int = 0

    @property
    def label(self) -> str:
        """How the tables name the engine."""
        if not self.workers:
            return "threaded scheduler (no Client)"
        return f"LocalCluster {self.workers} worker x {self.threads} thread" + (
            "s" if self.threads > 1 else ""
        )


@dataclass
class EngineTimes:
    """Start-up and shutdown of one engine (seconds; 0 for the threaded scheduler)."""

    start: float = 0.0
    imports: float = 0.0
    close: float = 0.0
    memory_limit: str = ""
    leaked_env: dict[str, str] = field(default_factory=dict)


def _import_library() -> str:
    """Run on each worker: import the library (its first task would pay for it otherwise)."""
    import ooc_accessor

    return ooc_accessor.__version__


@contextmanager
def engine_client(engine: Engine, scratch: Path, times: EngineTimes) -> Iterator[Any]:
    """A Client on a fresh LocalCluster for ``engine`` (``None`` for the threaded scheduler).

    Parameters
    ----------
    engine : Engine
    scratch : Path
        The workers' local directory (spill space), inside the run's scratch directory.
    times : EngineTimes
        Filled with the start-up, import and shutdown times.

    Yields
    ------
    distributed.Client or None
    """
    if not engine.workers:
        yield None
        return
    import distributed

    # the nannies write distributed's pre-spawn environment (OMP_NUM_THREADS=1 ...) into this
    # process's os.environ and leave it there; put it back when the cluster is gone
    saved = dict(os.environ)
    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=engine.workers,
        threads_per_worker=engine.threads,
        processes=True,
        dashboard_address=None,
        local_directory=str(scratch),
    )
    client = distributed.Client(cluster)
    try:
        client.wait_for_workers(engine.workers)
        times.start = time.perf_counter() - t0
        limits = {w["memory_limit"] for w in client.scheduler_info()["workers"].values()}
        times.memory_limit = ", ".join(f"{v / 2**30:.1f} GiB" for v in sorted(limits))
        t0 = time.perf_counter()
        client.run(_import_library)
        times.imports = time.perf_counter() - t0
        yield client
    finally:
        t0 = time.perf_counter()
        client.close()
        cluster.close()
        times.close = time.perf_counter() - t0
        times.leaked_env = {k: v for k, v in os.environ.items() if k not in saved or saved[k] != v}
        os.environ.clear()
        os.environ.update(saved)


# -- what moved between the processes ------------------------------------------------------
def _clear_transfer_logs(dask_worker: Any) -> None:
    """Run on each worker: forget the transfers logged so far."""
    dask_worker.transfer_incoming_log.clear()
    dask_worker.transfer_outgoing_log.clear()


def _transfer_logs(dask_worker: Any) -> dict[str, Any]:
    """Run on each worker: its transfer logs (sizes only) and its running counters."""
    return {
        "outgoing": [
            {
                "who": e.get("who"),
                "total": int(e.get("total", 0)),
                "wire": int(e.get("compressed", 0) or 0),
                "keys": len(e.get("keys", ())),
            }
            for e in dask_worker.transfer_outgoing_log
        ],
        "incoming": [
            {"who": e.get("who"), "total": int(e.get("total", 0)), "keys": len(e.get("keys", ()))}
            for e in dask_worker.transfer_incoming_log
        ],
        "maxlen": dask_worker.transfer_outgoing_log.maxlen,
        "outgoing_bytes_total": int(dask_worker.transfer_outgoing_bytes_total),
        "outgoing_count_total": int(dask_worker.transfer_outgoing_count_total),
        "incoming_count_total": int(dask_worker.state.transfer_incoming_count_total),
    }


def task_name(key: Any) -> str:
    """The function name of a task key (``"_block_lstsq_stats-<token>"``, or a tuple key)."""
    name = key[0] if isinstance(key, tuple) else key
    return str(name).rsplit("-", 1)[0]


@dataclass
class Traffic:
    """What one traced run on a cluster did and moved.

    Attributes
    ----------
    tasks : Counter
        Tasks the workers ran, by function name.
    placement : dict of str to Counter
        For each function name, how many of its tasks each worker ran.
    spans : dict of str to list of (float, float)
        For each function name, the (start, stop) of each task's compute.
    workers : list of str
        The workers' addresses.
    peer_transfers, peer_keys, peer_bytes, peer_wire : int
        Worker-to-worker transfers: messages, keys moved, bytes (``sizeof`` of the keys, the logs'
        ``"total"``) and bytes written to the socket (``"compressed"``).
    peer_incoming_bytes : int
        The same bytes as the receiving workers logged them (a cross-check).
    result_bytes, result_wire : int
        Bytes the workers sent for the client (the gathered result).
    client_sent : int
        Bytes the client wrote to the scheduler during the run (graph, control messages).
    counter_bytes : int
        Growth of the workers' ``transfer_outgoing_bytes_total`` (peers and client alike).
    truncated : bool
        A log hit its ``maxlen``: the byte counts are a lower bound.
    """

    tasks: Counter = field(default_factory=Counter)
    placement: dict[str, Counter] = field(default_factory=dict)
    spans: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    workers: list[str] = field(default_factory=list)
    peer_transfers: int = 0
    peer_keys: int = 0
    peer_bytes: int = 0
    peer_wire: int = 0
    peer_incoming_bytes: int = 0
    result_bytes: int = 0
    result_wire: int = 0
    client_sent: int = 0
    counter_bytes: int = 0
    truncated: bool = False

    @property
    def n_tasks(self) -> int:
        """Tasks run in all."""
        return sum(self.tasks.values())

    def spread_over(self, name: str) -> str:
        """Tasks ``name`` per worker, e.g. ``"3+2"`` (every worker, in address order)."""
        where = self.placement.get(name, Counter())
        return "+".join(str(where.get(w, 0)) for w in self.workers)

    def concurrency(self, name: str) -> float:
        """Sum of the compute times of tasks ``name`` over the wall span they covered."""
        spans = self.spans.get(name, [])
        if not spans:
            return 0.0
        wall = max(b for _, b in spans) - min(a for a, _ in spans)
        return sum(b - a for a, b in spans) / wall if wall > 0 else 1.0


def _scheduler_task_count(dask_scheduler: Any) -> int:
    """Run on the scheduler: the tasks it still knows of."""
    return len(dask_scheduler.tasks)


def settle(client: Any, timeout: float = 10.0) -> None:
    """Wait until the scheduler has forgotten every task of the previous fits.

    Without it a fit submitted right after another can be answered from the previous fit's
    result still held on the cluster (the keys are the same), and be timed at a few ms.
    """
    if client is None:
        return
    deadline = time.perf_counter() + timeout
    while client.run_on_scheduler(_scheduler_task_count) and time.perf_counter() < deadline:
        time.sleep(0.01)


def traced_run(fn: Callable[[], Any], client: Any) -> tuple[float, Any, Traffic | None]:
    """Run ``fn()`` once, with the task stream and the transfer logs recorded.

    Parameters
    ----------
    fn : callable
        The fit.
    client : distributed.Client or None
        ``None``: just time the call.

    Returns
    -------
    (seconds, value, Traffic or None)
    """
    if client is None:
        t0 = time.perf_counter()
        value = fn()
        return time.perf_counter() - t0, value, None
    import distributed

    settle(client)
    client.run(_clear_transfer_logs)
    before = client.run(_transfer_logs)
    sent0 = client.scheduler_comm.byte_count
    with distributed.get_task_stream(client) as stream:
        t0 = time.perf_counter()
        value = fn()
        took = time.perf_counter() - t0
        time.sleep(0.2)  # the client's batched messages (key releases) go out every few ms
        client_sent = client.scheduler_comm.byte_count - sent0
    after = client.run(_transfer_logs)
    workers = set(after)
    traffic = Traffic(client_sent=client_sent, workers=sorted(workers))
    for t in stream.data:
        name = task_name(t["key"])
        traffic.tasks[name] += 1
        traffic.placement.setdefault(name, Counter())[t.get("worker")] += 1
        traffic.spans.setdefault(name, []).extend(
            (s["start"], s["stop"]) for s in t.get("startstops", ()) if s["action"] == "compute"
        )
    for addr, logs in after.items():
        traffic.counter_bytes += logs["outgoing_bytes_total"] - before[addr]["outgoing_bytes_total"]
        cap = logs["maxlen"] or math.inf
        traffic.truncated |= len(logs["outgoing"]) >= cap or len(logs["incoming"]) >= cap
        for e in logs["outgoing"]:
            if e["who"] in workers:
                traffic.peer_transfers += 1
                traffic.peer_keys += e["keys"]
                traffic.peer_bytes += e["total"]
                traffic.peer_wire += e["wire"]
            else:  # the scheduler or the client gathering the result
                traffic.result_bytes += e["total"]
                traffic.result_wire += e["wire"]
        traffic.peer_incoming_bytes += sum(e["total"] for e in logs["incoming"])
    return took, value, traffic


def merge_levels(leaves: int, fan_in: int = reduce.SPLIT_EVERY) -> list[int]:
    """Merge tasks per level of :func:`ooc_accessor.reduce.tree_reduce` over ``leaves``."""
    levels = []
    while leaves > 1:
        leaves = math.ceil(leaves / fan_in)
        levels.append(leaves)
    return levels


# -- data --------------------------------------------------------------------------------
@dataclass
class LstsqStore:
    """One design of the lstsq grid."""

    design: ooc.Design
    rows: int
    chunk_rows: int
    blocks: int
    terms: int
    build_s: float
    main: bool


def build_lstsq_stores(
    directory: Path, rows: int, chunks: list[int | str]
) -> tuple[list[LstsqStore], list[str]]:
    """The lstsq grid: ``rows`` and ``2 rows`` of bench_lstsq's data at each block size.

    The first ``rows`` rows of the larger frame are the smaller one's, as in bench_lstsq's
    scaling section. Returns the stores (the main one, ``rows`` at ``chunks[0]``, first)
    and the design's terms.
    """
    frame = make_frame(2 * rows)
    stores = []
    terms: list[str] = []
    for n in (rows, 2 * rows):
        for j, chunk in enumerate(chunks):
            path = directory / f"lstsq-{n}-{chunk}.nc"
            t0 = time.perf_counter()
            design = frame.iloc[:n].ooc.design(FORMULA, chunksize=chunk, path=path)
            took = time.perf_counter() - t0
            terms = design.terms
            stores.append(
                LstsqStore(
                    design,
                    n,
                    design.chunk_rows,
                    len(design.blocks()),
                    len(terms),
                    took,
                    main=(n == rows and j == 0),
                )
            )
    del frame
    gc.collect()
    return stores, terms


def x_only_spec(names: list[str], directory: Path) -> str:
    """The store's formula state for ``0 + x0 + x1 + ...``, one numeric column per name.

    patsy cannot parse a formula of thousands of terms (it recurses per ``+``), so the spec
    of a real one-column design (``0 + x0``) is copied once per name.
    """
    template = directory / "template.nc"
    pd.DataFrame({"x0": np.arange(4.0)}).ooc.design("0 + x0", path=template)
    try:
        spec = spec_from_json(read_attrs(os.fspath(template))["spec"])
    finally:
        template.unlink(missing_ok=True)
    factor = json.dumps(spec["factors"]["x0"])
    term = json.dumps(spec["matrices"][1]["terms"][0])

    def named(text: str, name: str) -> Any:
        return json.loads(text.replace('"x0"', json.dumps(name)))

    spec["formula"] = "0 + " + " + ".join(names)
    spec["factors"] = {name: named(factor, name) for name in names}
    spec["matrices"][1] = {"column_names": names, "terms": [named(term, n) for n in names]}
    return spec_to_json(spec)


def write_pca_store(path: Path, n: int, p: int, seed: int = 0) -> tuple[ooc.Design, float]:
    """Write an X-only float64 design store of ``n x p`` low-rank-plus-noise rows.

    Rows are ``mean + (z * d) @ V.T + NOISE * e`` (bench_pca's data, in float64); blocks of
    :data:`WRITE_ROWS` rows are appended with :class:`DesignWriter`, whose chunks are the
    rows a ``df.ooc.design(..., chunksize="auto")`` of that width would store.

    Returns
    -------
    (Design, seconds to write)
    """
    t0 = time.perf_counter()
    names = [f"x{j}" for j in range(p)]
    spec = x_only_spec(names, path.parent)
    chunk_rows = min(resolve_chunksize("auto", p + 1), n)
    rng = np.random.default_rng(seed)
    rank = min(LATENT_RANK, p)
    basis = np.linalg.qr(rng.standard_normal((p, rank)))[0]
    d = D0 * np.exp(-np.arange(rank) / DECAY)
    mean = rng.normal(3.0, 1.0, size=p)
    with DesignWriter(os.fspath(path), terms=names, responses=[], chunk_rows=chunk_rows) as w:
        for a in range(0, n, WRITE_ROWS):
            b = min(a + WRITE_ROWS, n)
            block = (rng.standard_normal((b - a, rank)) * d) @ basis.T
            block += mean
            block += NOISE * rng.standard_normal((b - a, p))
            w.append(block, None, pd.RangeIndex(a, b, name="row"))
        w.commit(
            {
                "formula": spec_from_json(spec)["formula"],
                "spec": spec,
                "n_dropped": 0,
                "weights_column": "",
                "source_kind": "pandas",
                "sample_dim": "obs",
            }
        )
    return ooc.Design(os.fspath(path)), time.perf_counter() - t0


# -- measurements --------------------------------------------------------------------------
@dataclass
class Result:
    """One case on one engine: its timings, its answer and what it moved."""

    timing: Timing | None
    traced_s: float
    value: np.ndarray
    traffic: Traffic | None
    note: str = ""

    @property
    def best(self) -> float:
        """Best timed run, or the traced run when there was none."""
        return self.timing.best if self.timing is not None else self.traced_s

    @property
    def runs(self) -> str:
        """How many runs the best is of."""
        if self.timing is None:
            return "1 (traced)"
        return str(len(self.timing.times))


def measure(
    fn: Callable[[], tuple[np.ndarray, str]], client: Any, repeats: int, *, warmup: bool
) -> Result:
    """Time ``fn`` (``repeats`` runs, optionally after a warm-up), then one traced run.

    ``fn`` returns the answer (a vector) and a note; with ``repeats == 0`` only the traced
    run is made and its time is the one reported.
    """
    timing = (
        best_of(fn, repeats, warmup=warmup, setup=lambda: settle(client)) if repeats > 0 else None
    )
    took, (value, note), traffic = traced_run(fn, client)
    return Result(timing, took, np.asarray(value, dtype=np.float64), traffic, note)


@dataclass
class Reuse:
    """Back-to-back fits on a cluster without waiting for the previous fit's keys to go."""

    fits: int
    tasks_run: int
    tasks_expected: int
    times: list[float]


def back_to_back(fn: Callable[[], Any], client: Any, tasks_per_fit: int, fits: int) -> Reuse:
    """``fits`` calls of ``fn`` in a row, counting the tasks the workers actually ran.

    The graph's keys depend only on the store's path and row ranges (``pure=True``), so a
    fit submitted while the previous fit's result is still held on the cluster may be
    answered from it without running anything.
    """
    import distributed

    settle(client)
    times = []
    with distributed.get_task_stream(client) as stream:
        for _ in range(fits):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return Reuse(fits, len(stream.data), fits * tasks_per_fit, times)


def lstsq_fn(design: ooc.Design) -> Callable[[], tuple[np.ndarray, str]]:
    """``design.lstsq()``, returning the coefficients."""
    return lambda: (design.lstsq().params.to_numpy(), "")


def pca_fn(
    design: ooc.Design, k: int, solver: str, batch: int | None
) -> Callable[[], tuple[np.ndarray, str]]:
    """``IncrementalPCA(k, svd_solver=solver).fit(design)``, returning the explained variances.

    The spectrum is solved (the p x p eigh or SVD, in this process) inside the timing.
    """

    def fit() -> tuple[np.ndarray, str]:
        est = ooc.IncrementalPCA(k, svd_solver=solver, batch_size=batch).fit(design)
        return np.asarray(est.explained_variance_), est.svd_solver_

    return fit


def max_rel_diff(value: np.ndarray, reference: np.ndarray) -> float:
    """Largest elementwise ``|value - reference| / |reference|``."""
    scale = np.maximum(np.abs(reference), np.finfo(float).tiny)
    return float(np.max(np.abs(value - reference) / scale))


@dataclass
class PcaCase:
    """One PCA solver's results on every engine."""

    solver: str
    results: dict[str, Result] = field(default_factory=dict)


def pca_batches(design: ooc.Design, k: int, batch: int | None) -> int:
    """Batches ``IncrementalPCA(k, batch_size=batch).fit(design)`` reads (as its ``fit``)."""
    src = DesignMatrix(design)
    return len(src.ranges(ooc.IncrementalPCA(k, batch_size=batch)._rows(src)))


# -- report ------------------------------------------------------------------------------
def nbytes(n: float) -> str:
    """Bytes in a readable unit (B, kB, MB, GB; powers of 10)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def tasks_cell(traffic: Traffic | None) -> str:
    """Tasks by function name and worker, e.g. ``17 `_block_lstsq_stats` (9+8) + ...``."""
    if traffic is None:
        return "none (in this process)"
    if not traffic.tasks:
        return "0"
    multi = len(traffic.workers) > 1
    return " + ".join(
        f"{c} `{name}`" + (f" ({traffic.spread_over(name)})" if multi else "")
        for name, c in sorted(traffic.tasks.items())
    )


def engine_table(engines: list[Engine], times: dict[str, EngineTimes]) -> str:
    """Markdown table of the engines and their start-up costs."""
    rows = []
    for e in engines:
        t = times[e.key]
        if not e.workers:
            rows.append([e.label, "-", "-", "-", "-", "-"])
            continue
        rows.append(
            [
                e.label,
                f"{e.workers} x {e.threads}",
                t.memory_limit,
                seconds(t.start),
                seconds(t.imports),
                seconds(t.close),
            ]
        )
    return markdown_table(
        [
            "engine",
            "workers x threads",
            "memory limit per worker",
            "start-up (s)",
            "import ooc_accessor on workers (s)",
            "shutdown (s)",
        ],
        rows,
    )


def case_table(
    engines: list[Engine],
    results: dict[str, Result],
    reference: np.ndarray,
    expected_levels: Callable[[Engine], list[int] | None],
    what: str,
) -> str:
    """Markdown table of one case on every engine.

    ``expected_levels(engine)`` gives the merge tasks per level the library should make on
    that engine (``None`` where it makes no graph).
    """
    base = results[engines[0].key].best
    rows = []
    for e in engines:
        r = results[e.key]
        t = r.traffic
        levels = expected_levels(e)
        tree = "-" if levels is None else f"{sum(levels)} in {len(levels)} level(s)"
        rows.append(
            [
                e.label,
                r.runs,
                seconds(r.best),
                "-" if r.timing is None else f"{r.timing.spread:.2f}",
                seconds(r.traced_s),
                ratio(r.best, base),
                tasks_cell(t),
                tree,
                "-"
                if t is None
                else f"{nbytes(t.peer_bytes)} ({t.peer_keys} / {t.peer_transfers})",
                "-" if t is None else nbytes(t.result_bytes),
                "-" if t is None else nbytes(t.client_sent),
                "reference" if e is engines[0] else f"{max_rel_diff(r.value, reference):.1e}",
            ]
        )
    return markdown_table(
        [
            "engine",
            "runs",
            "best (s)",
            "max/min",
            "traced run (s)",
            "vs threaded",
            "tasks run (traced run)",
            "expected merges",
            "worker-worker bytes (keys / transfers)",
            "result to client",
            "client to scheduler",
            f"{what} vs threaded (max rel.)",
        ],
        rows,
    )


def bytes_table(
    engines: list[Engine], stores: list[LstsqStore], grid: dict[tuple[str, int], Result]
) -> tuple[str, dict[str, tuple[float, float]]]:
    """Markdown table of worker-to-worker bytes against leaves x (p+1)^2 x 8 and rows x p x 8.

    Returns the table and, per engine, the spread (max/min) of the two ratios over the grid.
    """
    rows = []
    spreads: dict[str, tuple[float, float]] = {}
    for e in engines:
        if not e.workers:
            continue
        per_leaf, per_row = [], []
        for i, s in enumerate(stores):
            t = grid[e.key, i].traffic
            assert t is not None
            unit_r = s.blocks * (s.terms + 1) ** 2 * 8
            unit_x = s.rows * s.terms * 8
            levels = merge_levels(s.blocks)
            if t.peer_bytes:
                per_leaf.append(t.peer_bytes / unit_r)
                per_row.append(t.peer_bytes / unit_x)
            rows.append(
                [
                    e.label,
                    f"{s.rows:,}",
                    f"{s.chunk_rows:,}",
                    s.blocks,
                    f"{sum(levels)} / {len(levels)}",
                    t.n_tasks,
                    f"{t.peer_keys} / {t.peer_transfers}",
                    f"{t.peer_bytes:,}",
                    f"{t.peer_wire:,}",
                    f"{unit_r:,}",
                    f"{t.peer_bytes / unit_r:.3f}",
                    f"{unit_x:,}",
                    f"{t.peer_bytes / unit_x:.2e}",
                    f"{t.result_bytes:,}",
                    f"{t.client_sent:,}",
                    seconds(grid[e.key, i].best),
                ]
            )
        if per_leaf:
            spreads[e.key] = (
                max(per_leaf) / min(per_leaf),
                max(per_row) / min(per_row),
            )
    table = markdown_table(
        [
            "engine",
            "rows",
            "chunk rows",
            "leaves (blocks)",
            "merges / levels",
            "tasks run",
            "worker-worker keys / transfers",
            "bytes (sizeof)",
            "bytes on the wire",
            "leaves x (p+1)^2 x 8",
            "bytes / that",
            "rows x p x 8",
            "bytes / that",
            "result to client (B)",
            "client to scheduler (B)",
            "fit best (s)",
        ],
        rows,
    )
    return table, spreads


def notes(
    engines: list[Engine],
    stores: list[LstsqStore],
    grid: dict[tuple[str, int], Result],
    pca: list[PcaCase],
    pca_expected: dict[str, int],
) -> list[str]:
    """Bullets on what the traced runs show: rereads, missing tasks, transfers, overheads."""
    out = []
    threaded = engines[0].key
    for e in engines:
        if not e.workers:
            continue
        for i, s in enumerate(stores):
            t = grid[e.key, i].traffic
            assert t is not None
            want = {
                "_block_lstsq_stats": s.blocks,
                "merge_lstsq_stats": sum(merge_levels(s.blocks)),
            }
            extra = {k: v for k, v in t.tasks.items() if k not in want}
            short = {k: (t.tasks.get(k, 0), v) for k, v in want.items() if t.tasks.get(k, 0) != v}
            if extra or short:
                out.append(
                    f"- lstsq, {e.label}, {s.rows:,} rows / {s.chunk_rows:,}-row blocks: tasks "
                    f"differ from one leaf per block plus the merge tree: extra {extra or 'none'}"
                    f", run vs expected {short or 'as expected'} (extra `_block_gradient` tasks "
                    "are the refinement pass, which rereads every block)"
                )
            if t.truncated:
                out.append(
                    f"- lstsq, {e.label}, {s.rows:,} rows: a transfer log hit its length limit, "
                    "so its bytes are a lower bound"
                )
            if abs(t.peer_incoming_bytes - t.peer_bytes) > 0:
                out.append(
                    f"- lstsq, {e.label}, {s.rows:,} rows: sent {t.peer_bytes:,} B but the "
                    f"receivers logged {t.peer_incoming_bytes:,} B"
                )
        main = next(i for i, s in enumerate(stores) if s.main)
        r, base = grid[e.key, main], grid[threaded, main]
        t = r.traffic
        assert t is not None
        over = (r.best - base.best) / max(t.n_tasks, 1)
        out.append(
            f"- lstsq, {e.label}: {seconds(r.best)} s against {seconds(base.best)} s threaded "
            f"({ratio(r.best, base.best)}); {t.n_tasks} tasks, so about "
            f"{over * 1e3:+.1f} ms per task from the scheduler round trips and transfers"
        )
        for case in pca:
            res = case.results[e.key]
            pt = res.traffic
            assert pt is not None
            groups = pca_expected[e.key]
            folds = pt.tasks.get("_fold_rows", 0)
            if folds != groups:
                out.append(
                    f"- PCA ({case.solver}), {e.label}: {folds} `_fold_rows` tasks run, "
                    f"expected {groups} (one per worker thread)"
                )
            used = sum(1 for c in pt.placement.get("_fold_rows", Counter()).values() if c)
            out.append(
                f"- PCA ({case.solver}), {e.label}: the {folds} `_fold_rows` tasks ran on "
                f"{used} of {len(pt.workers)} worker(s) ({pt.spread_over('_fold_rows')}); "
                f"their compute times add up to {pt.concurrency('_fold_rows'):.2f}x the wall "
                "span they covered (1.00: one after the other)"
            )
            if pt.truncated:
                out.append(f"- PCA ({case.solver}), {e.label}: a transfer log was truncated")
    return out


def gil_probe(p: int = 1_000, m: int = 2_000, calls: int = 3) -> dict[str, float]:
    """How two threads of one process share the covariance kernel's BLAS calls.

    The same work (``calls`` rank-``m`` updates of a p x p matrix) runs once in one thread,
    then in each of two threads at once, with BLAS held to one thread (as on a worker).
    A ratio near 2 means the calls ran one after the other (the GIL is held during them);
    near 1, side by side.

    Returns
    -------
    dict
        ``{"scipy dsyrk": ratio, "scipy dgeqrf": ratio, "numpy a.T @ a": ratio}``: two
        threads' wall time over one thread's.
    """
    import threading

    from scipy.linalg.blas import dsyrk
    from scipy.linalg.lapack import dgeqrf
    from threadpoolctl import threadpool_limits

    a = np.asfortranarray(np.random.default_rng(0).standard_normal((p, m)))
    b = np.ascontiguousarray(a.T)

    def syrk() -> None:
        c = np.zeros((p, p), order="F")
        for _ in range(calls):
            c = dsyrk(1.0, a, beta=1.0, c=c, trans=0, overwrite_c=1)

    def gemm() -> None:
        for _ in range(calls):
            b.T @ b

    def geqrf() -> None:  # as kernels.fold_r: QR of a tall Fortran buffer, in place
        buf = np.asfortranarray(b[: p + m // 2])
        for _ in range(calls):
            dgeqrf(buf.copy(order="F"), overwrite_a=1)

    out = {}
    with threadpool_limits(limits=1, user_api="blas"):
        probes = (("scipy dsyrk", syrk), ("scipy dgeqrf", geqrf), ("numpy a.T @ a", gemm))
        for name, fn in probes:
            fn()  # warm-up
            t0 = time.perf_counter()
            fn()
            one = time.perf_counter() - t0
            threads = [threading.Thread(target=fn) for _ in range(2)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            out[name] = (time.perf_counter() - t0) / one
    return out


def package_version(name: str) -> str:
    """Installed version of ``name``, or "not installed"."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


# -- main --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its markdown report."""
    parser = build_parser(__doc__.splitlines()[0], DEFAULT_ROWS)
    parser.add_argument(
        "--small-chunksize",
        type=int,
        default=None,
        help=f"the lstsq grid's second block size in rows (default {SMALL_CHUNKSIZE:,}; "
        f"{SMOKE_SMALL_CHUNKSIZE:,} with --smoke)",
    )
    parser.add_argument(
        "--pca-rows",
        type=int,
        default=None,
        help=f"rows of the PCA store (default {PCA_ROWS:,}; {SMOKE_PCA_ROWS:,} with --smoke)",
    )
    parser.add_argument(
        "--features",
        type=int,
        default=None,
        help=f"columns of the PCA store (default {PCA_FEATURES:,}; {SMOKE_PCA_FEATURES} "
        "with --smoke)",
    )
    parser.add_argument(
        "--components",
        type=int,
        default=None,
        help=f"PCA components (default {PCA_COMPONENTS}; {SMOKE_PCA_COMPONENTS} with --smoke)",
    )
    parser.add_argument(
        "--pca-batch",
        type=int,
        default=None,
        help=f"IncrementalPCA batch_size (default: the library's; {SMOKE_PCA_BATCH} with --smoke)",
    )
    parser.add_argument(
        "--pca-repeats",
        type=int,
        default=1,
        help='timed runs of the "auto" PCA before the traced one, no warm-up (default 1)',
    )
    parser.add_argument(
        "--full-repeats",
        type=int,
        default=0,
        help='timed runs of the "full" PCA before the traced one (default 0: the traced '
        "run's time is reported)",
    )
    parser.add_argument(
        "--skip-full", action="store_true", help='skip the PCA with svd_solver="full"'
    )
    parser.add_argument(
        "--single-threads",
        type=int,
        default=2,
        help="threads of the one-worker LocalCluster (default 2)",
    )
    args = resolve_args(parser, DEFAULT_ROWS, argv)
    small = args.small_chunksize or (SMOKE_SMALL_CHUNKSIZE if args.smoke else SMALL_CHUNKSIZE)
    n_pca = args.pca_rows or (SMOKE_PCA_ROWS if args.smoke else PCA_ROWS)
    p_pca = args.features or (SMOKE_PCA_FEATURES if args.smoke else PCA_FEATURES)
    k = args.components or (SMOKE_PCA_COMPONENTS if args.smoke else PCA_COMPONENTS)
    batch = args.pca_batch or (SMOKE_PCA_BATCH if args.smoke else None)
    if not 1 <= k <= min(n_pca, p_pca):
        parser.error(f"--components must be between 1 and {min(n_pca, p_pca)}")
    engines = [
        Engine("threaded"),
        Engine(f"1x{args.single_threads}", 1, args.single_threads),
        Engine("2x1", 2, 1),
    ]
    solvers = ["auto"] + ([] if args.skip_full else ["full"])
    report = Report(args.out)
    monitor = CpuMonitor()
    times = {e.key: EngineTimes() for e in engines}
    grid: dict[tuple[str, int], Result] = {}
    reuse: dict[str, Reuse] = {}
    pca = [PcaCase(s) for s in solvers]

    def log(text: str) -> None:
        print(f"bench_distributed: {text}", file=sys.stderr, flush=True)

    with scratch_dir() as tmp, dask.config.set({"temporary-directory": str(tmp)}):
        stores, terms = build_lstsq_stores(tmp, args.rows, [args.chunksize, small])
        log(f"lstsq stores built ({sum(s.build_s for s in stores):.1f} s)")
        pca_design, pca_write_s = write_pca_store(tmp / "pca.nc", n_pca, p_pca)
        pca_gb = (tmp / "pca.nc").stat().st_size / 1e9
        log(f"PCA store written: {pca_gb:.2f} GB in {pca_write_s:.1f} s")
        for e in engines:
            with engine_client(e, tmp / f"dask-{e.key}", times[e.key]) as client:
                for i, s in enumerate(stores):
                    grid[e.key, i] = measure(lstsq_fn(s.design), client, args.repeats, warmup=True)
                    log(f"{e.key}: lstsq {s.rows:,}/{s.chunk_rows:,}: {grid[e.key, i].best:.3f} s")
                if client is not None:
                    main_store = next(s for s in stores if s.main)
                    per_fit = main_store.blocks + sum(merge_levels(main_store.blocks))
                    reuse[e.key] = back_to_back(
                        lstsq_fn(main_store.design), client, per_fit, BACK_TO_BACK_FITS
                    )
                for case in pca:
                    reps = args.pca_repeats if case.solver == "auto" else args.full_repeats
                    fn = pca_fn(pca_design, k, case.solver, batch)
                    case.results[e.key] = measure(fn, client, reps, warmup=False)
                    log(f"{e.key}: PCA {case.solver}: {case.results[e.key].best:.1f} s")
        pca_ranges = len(pca_design.blocks())
        batches = pca_batches(pca_design, k, batch)
        chunk_rows_pca = pca_design.chunk_rows
        for s in stores:
            s.design.close()
        del pca_design
        gc.collect()
    gil = gil_probe()
    monitor.stop()

    # -- report --------------------------------------------------------------------------
    main_i = next(i for i, s in enumerate(stores) if s.main)
    main = stores[main_i]
    smoke = " A `--smoke` run: its timings mean nothing." if args.smoke else ""
    report.add("### Distributed reductions: threaded scheduler against LocalCluster")
    report.add()
    report.add(
        f"The same fits on the threaded scheduler and on two LocalClusters of worker processes "
        f"(`processes=True`, no dashboard), on a machine of {os.cpu_count()} logical CPUs. "
        "Workers get BLAS at one thread (distributed's `OMP_NUM_THREADS=1` and the like); the "
        "threaded scheduler's lstsq holds BLAS to one thread per task, and its PCA folds every "
        "block in this process with BLAS at its default threads. Start-up is not in the fit "
        f"times.{smoke}"
    )
    report.add()
    report.add("#### Engines")
    report.add()
    report.add(engine_table(engines, times))
    report.add()

    report.add(
        f"#### lstsq: {main.rows:,} rows x {main.terms} design columns, {main.blocks} blocks "
        f"of {main.chunk_rows:,} rows"
    )
    report.add()
    report.add(
        f"bench_lstsq's data and formula `{FORMULA}` (chunksize={args.chunksize!r}); one "
        "`_block_lstsq_stats` leaf per stored block, merged by `merge_lstsq_stats` in a tree "
        f"of fan-in {reduce.SPLIT_EVERY}. Best of {args.repeats} after a warm-up; then one "
        "traced run (its task names and transfers are in the table)."
    )
    report.add()
    main_results = {e.key: grid[e.key, main_i] for e in engines}

    def lstsq_levels(e: Engine) -> list[int] | None:
        return merge_levels(main.blocks)

    report.add(
        case_table(engines, main_results, main_results["threaded"].value, lstsq_levels, "params")
    )
    report.add()
    worst_lstsq = max(
        max_rel_diff(grid[e.key, i].value, grid["threaded", i].value)
        for e in engines[1:]
        for i in range(len(stores))
    )
    report.add(
        f"Coefficients on the clusters agree with the threaded scheduler's to {worst_lstsq:.1e} "
        f"over the whole grid below (tolerance {LSTSQ_RTOL:g}): "
        f"{'OK' if worst_lstsq <= LSTSQ_RTOL else 'DIFFER'}."
    )
    report.add()

    report.add(
        f"#### PCA: {n_pca:,} x {p_pca:,} float64 design store ({pca_gb:.2f} GB), "
        f"IncrementalPCA({k}).fit(design)"
    )
    report.add()
    rows_per_batch = math.ceil(n_pca / batches)
    report.add(
        f"X only, written with `DesignWriter` in {pca_write_s:.0f} s ({pca_ranges} stored chunks "
        f"of {chunk_rows_pca:,} rows); the fit reads {batches} batches of about "
        f"{rows_per_batch:,} rows (batch_size={batch!r}). On a cluster each worker thread "
        "folds a contiguous run of batches into one p x p factor (`_fold_rows`) and "
        "`_merge_states` sums them; without a Client the batches are folded here. The "
        "spectrum (p x p eigh or SVD) is solved in this process, inside the time."
    )
    report.add()
    pca_expected = {e.key: min(e.workers * e.threads, batches) for e in engines}
    worst_pca = 0.0
    for case in pca:
        picked = case.results["threaded"].note
        label = case.solver if picked == case.solver else f"{case.solver} (picked {picked!r})"
        reps = args.pca_repeats if case.solver == "auto" else args.full_repeats
        runs = f"best of {reps}, no warm-up, then" if reps else "only"
        report.add(f'##### svd_solver="{label}" ({runs} one traced run)')
        report.add()

        def pca_levels(e: Engine) -> list[int] | None:
            return merge_levels(pca_expected[e.key]) if e.workers else None

        ref = case.results["threaded"].value
        report.add(case_table(engines, case.results, ref, pca_levels, "explained variance"))
        report.add()
        for e in engines[1:]:
            worst_pca = max(worst_pca, max_rel_diff(case.results[e.key].value, ref))
        factor = (p_pca + 1) ** 2 * 8 if picked == "full" else p_pca**2 * 8
        report.add(
            f"One folded factor is {nbytes(factor)} ({'(p+1)^2' if picked == 'full' else 'p^2'}"
            f" x 8); the data is {nbytes(n_pca * p_pca * 8)} (rows x p x 8)."
        )
        report.add()
    report.add(
        f"Explained variances on the clusters agree with the threaded scheduler's to "
        f"{worst_pca:.1e} (tolerance {PCA_RTOL:g}): {'OK' if worst_pca <= PCA_RTOL else 'DIFFER'}."
    )
    report.add()

    report.add("#### lstsq: bytes between workers against leaves and rows")
    report.add()
    report.add(
        f"p = {len(terms)} design columns, so one leaf result holds an R of (p+1)^2 x 8 = "
        f"{(len(terms) + 1) ** 2 * 8:,} bytes (plus a few sums). Row counts {args.rows:,} and "
        f"{2 * args.rows:,} (the first rows of one frame), blocks of "
        f"{stores[0].chunk_rows:,} and {stores[1].chunk_rows:,} rows; one traced run each. "
        "Bytes (sizeof) are the workers' `transfer_outgoing_log` totals for other workers; "
        "bytes on the wire are the same transfers' serialized size."
    )
    report.add()
    table, spreads = bytes_table(engines, stores, grid)
    report.add(table)
    report.add()
    for key, (leaf, row) in spreads.items():
        e = next(x for x in engines if x.key == key)
        report.add(
            f"- {e.label}: over the grid, bytes / (leaves x (p+1)^2 x 8) varies by "
            f"{leaf:.2f}x and bytes / (rows x p x 8) by {row:.2f}x (max/min)."
        )
    if not spreads:
        report.add("- No bytes moved between workers in any run of the grid.")
    report.add()
    report.add("#### lstsq: fits in a row without waiting (result reuse)")
    report.add()
    report.add(
        f"{BACK_TO_BACK_FITS} `design.lstsq()` calls on the main store one right after the "
        "other, not waiting for the scheduler to forget the previous fit (the timed runs above "
        "do wait). The keys are the same each time (`pure=True` over path and row range), so "
        "a fit may be answered from the previous fit's result still held on the cluster."
    )
    report.add()
    reuse_rows = []
    for e in engines:
        if e.key not in reuse:
            continue
        r = reuse[e.key]
        honest = grid[e.key, main_i].best
        quick = sum(t < REUSED_SHARE * honest for t in r.times)
        reuse_rows.append(
            [
                e.label,
                r.fits,
                f"{r.tasks_run} / {r.tasks_expected}",
                f"{quick}",
                seconds(min(r.times)),
                seconds(honest),
            ]
        )
    report.add(
        markdown_table(
            [
                "engine",
                "fits",
                "tasks run / expected",
                f"fits under {REUSED_SHARE:.0%} of the honest best",
                "fastest (s)",
                "honest best (s)",
            ],
            reuse_rows,
        )
    )
    report.add()
    report.add("#### Notes from the traced runs")
    report.add()
    for line in notes(engines, stores, grid, pca, pca_expected) or ["- nothing unusual"]:
        report.add(line)
    report.add(
        "- Two threads of one process, each running the same BLAS work with BLAS at one "
        "thread (a worker's setting), took "
        + " and ".join(f"{r:.2f}x one thread's time with {name}" for name, r in gil.items())
        + " (2x: the calls ran one after the other, the GIL held; 1x: side by side). The "
        "covariance solver folds with scipy's `dsyrk` (`kernels.cov_stats`), the full solver "
        "with scipy's `dgeqrf` (`kernels.fold_r`)."
    )
    leaked = {k: v for t in times.values() for k, v in t.leaked_env.items()}
    if leaked:
        shown = ", ".join(f"`{k}={v}`" for k, v in sorted(leaked.items()))
        report.add(
            f"- Starting a LocalCluster(processes=True) left {shown} in this process's "
            "`os.environ` (distributed's `nanny.pre-spawn-environ`); the script restores the "
            "environment after each cluster, so the machine section shows the run's own."
        )
    report.add(
        "- Transfer bytes are read with `client.run` from each worker's "
        "`transfer_outgoing_log` / `transfer_incoming_log` (entries' `total`, `compressed`, "
        "`who`), cleared before each traced run; `transfer_outgoing_bytes_total` (which also "
        "counts the result sent for the client) is diffed as a cross-check; the client's bytes "
        "to the scheduler are `client.scheduler_comm.byte_count`."
    )
    report.add()
    report.add("#### Machine")
    report.add()
    info = machine_info()
    info["packages"].update({name: package_version(name) for name in EXTRA_PACKAGES})
    report.add(machine_markdown(info, monitor))
    report.write()
    ok = worst_lstsq <= LSTSQ_RTOL and worst_pca <= PCA_RTOL
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
