"""Benchmark of CSV ingestion: ``ooc.read_csv`` then ``lstsq``, against pandas and pyarrow.

On one synthetic CSV of ``--size-gb`` (2 GB by default; columns ``y``, four floats ``a``-``d``
written with 12 significant digits, a 5-level string ``cat1`` whose fifth level appears only
in the last 5% of rows, an int ``n_int`` that gains empty fields only after the first 60% of
rows, and a quoted ``label`` with commas, ``"Smith, John"``), one run measures the wall time,
the throughput (file size / seconds) and the peak anonymous memory of

1. the library's workflow: ``ds = ooc.read_csv(csv, path)`` (parse and write the chunked
   NetCDF store), then ``ds.ooc.lstsq("y ~ a + b + c + d + c:d + C(cat1) + n_int")``; the
   fit is checked against the coefficients that generated ``y``; and, to tell which part
   needs the memory, ``read_csv`` alone and the fit alone (on the store, reopened with
   ``ooc.open_csv_store``), each in its own process;
2. pandas parsing the file chunk by chunk, ``for chunk in pd.read_csv(csv, chunksize=rows):
   pass``, with the rows per chunk of the library's ``chunksize="auto"`` (parse only:
   nothing is kept or written);
3. pyarrow's streaming reader, ``pyarrow.csv.open_csv`` with 32 MiB blocks (types are
   inferred from the first block; a later block that does not fit them fails the read, and
   that failure is the result), and its whole-file, multithreaded ``pyarrow.csv.read_csv``.

Each method runs in a fresh interpreter (imports done first; ``--repeats`` times, default
once, the best time kept) while this process samples the child's ``RssAnon`` every 15 ms:
the report gives the peak growth over the post-import baseline and the absolute peak. The
issue's bound is an absolute peak under 500 MB for reading and fitting a CSV of 2 GB or more.

The CSV is written once, chunk by chunk (pandas ``to_csv`` in append mode), and read right
after, so it is read from the page cache; the library's time includes writing (and syncing)
its NetCDF store. The report (markdown) goes to stdout and, with ``--out FILE``, to a file.
Data files live in a temporary directory removed at the end. Without pyarrow its rows say
"not installed".

Run from the repository root::

    python bench/bench_read_csv.py [--size-gb 2.0] [--repeats 1] [--out FILE]
    python bench/bench_read_csv.py --smoke   # 30,000 rows (about 3 MB), 5,000-row chunks
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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

FORMULA = "y ~ a + b + c + d + c:d + C(cat1) + n_int"
#: the levels of ``cat1`` over the whole file, and the one seen only in its last rows
EARLY_LEVELS = ("coast", "east", "north", "south")
LATE_LEVEL = "west"
#: each level's effect on y (the first, patsy's reference level, has none)
LEVEL_EFFECT = {"coast": 0.0, "east": 1.0, "north": -0.5, "south": 0.25, "west": 2.0}
#: the coefficients that generate y (n_int is in the formula but not in y)
COEFFICIENTS = {"Intercept": 1.0, "a": 0.5, "b": -2.0, "c": 0.3, "d": 1.0, "c:d": 0.2, "n_int": 0.0}
NOISE = 1.0
#: ``cat1`` takes its late level only from this share of the rows on
LATE_FROM = 0.95
#: ``n_int`` has empty fields only from this share of the rows on, in this share of them
MISSING_FROM = 0.60
MISSING_SHARE = 0.10
SURNAMES = ("Smith", "Jones", "Garcia", "Nguyen", "Müller", "O'Brien", "Kowalski", "Rossi")
FIRST_NAMES = ("John", "Mary", "Ana", "Wei", "Jürgen", "Siobhan", "Piotr", "Giulia")
#: digits of the floats in the file
FLOAT_FORMAT = "%.12g"
#: rows generated (and appended to the file) at a time
WRITE_ROWS = 250_000
#: size of a full run (GB, 10**9 bytes); the rows are chosen so the file is at least this
DEFAULT_SIZE_GB = 2.0
#: headroom over the estimated rows, so the file is not short of the size asked for
SIZE_MARGIN = 1.02
#: rows and rows per chunk of a ``--smoke`` run
SMOKE_ROWS = 30_000
SMOKE_CHUNKSIZE = 5_000
#: pyarrow's block size in a full run (the library's "auto" also takes about 32 MiB of text)
ARROW_BLOCK = 32 * 2**20
#: the issue's bound on the absolute peak RssAnon of read_csv + lstsq (MB)
TARGET_MB = 500.0
#: seconds after which a child is killed
DEFAULT_TIMEOUT = 3_600.0
#: packages listed in the machine section besides those of ``_common.PACKAGES``
EXTRA_PACKAGES = ("pyarrow", "tqdm")

_CHILD_CODE = (
    "import sys; sys.path.insert(0, {bench!r}); import bench_read_csv; "
    "bench_read_csv.child_main(sys.argv[1])"
)


# -- data --------------------------------------------------------------------------------
@dataclass
class CsvInfo:
    """What was written: the file, its rows and size, and the rows the fit should use.

    Attributes
    ----------
    path : Path
    rows : int
        Data rows (the header not counted).
    nbytes : int
        Size on disk.
    missing : int
        Rows whose ``n_int`` is empty (the fit drops them).
    seconds : float
        Time taken to write it.
    """

    path: Path
    rows: int
    nbytes: int
    missing: int
    seconds: float

    @property
    def complete_rows(self) -> int:
        """Rows without a missing value: the fit's ``nobs``."""
        return self.rows - self.missing


def make_block(rng: np.random.Generator, start: int, stop: int, n: int) -> pd.DataFrame:
    """Rows ``start`` to ``stop`` of a file of ``n`` rows.

    Parameters
    ----------
    rng : numpy.random.Generator
        Drawn from in row order, so a file is the same however it is cut into blocks of
        :data:`WRITE_ROWS`.
    start, stop : int
        The rows (0-based, ``stop`` excluded).
    n : int
        Rows of the whole file: ``cat1``'s late level and ``n_int``'s empty fields depend
        on a row's position in it.

    Returns
    -------
    pandas.DataFrame
        Columns ``y, a, b, c, d, cat1, n_int, label``; ``n_int`` is pandas' nullable
        ``Int64`` (a missing value is written as an empty field).
    """
    m = stop - start
    row = np.arange(start, stop)
    cols = {k: rng.normal(size=m) for k in "abcd"}
    late = row >= int(LATE_FROM * n)
    levels = np.array([*EARLY_LEVELS, LATE_LEVEL], dtype=object)
    codes = np.where(
        late,
        rng.integers(0, len(levels), size=m),
        rng.integers(0, len(EARLY_LEVELS), size=m),
    )
    cat1 = levels[codes]
    effect = np.array([LEVEL_EFFECT[v] for v in levels])[codes]
    n_int = pd.array(rng.integers(0, 1_000, size=m), dtype="Int64")
    empty = (row >= int(MISSING_FROM * n)) & (rng.random(m) < MISSING_SHARE)
    n_int[empty] = pd.NA
    a, b, c, d = (cols[k] for k in "abcd")
    y = (
        COEFFICIENTS["Intercept"]
        + COEFFICIENTS["a"] * a
        + COEFFICIENTS["b"] * b
        + COEFFICIENTS["c"] * c
        + COEFFICIENTS["d"] * d
        + COEFFICIENTS["c:d"] * c * d
        + effect
        + NOISE * rng.normal(size=m)
    )
    surname = np.asarray(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), size=m)]
    first = np.asarray(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), size=m)]
    label = surname + ", " + first
    return pd.DataFrame({"y": y, **cols, "cat1": cat1, "n_int": n_int, "label": label}, index=row)


def bytes_per_row(seed: int = 1, rows: int = 20_000) -> float:
    """Mean size of a row of the file, from formatting a sample of the first rows."""
    block = make_block(np.random.default_rng(seed), 0, rows, 10 * rows)
    text = block.to_csv(index=False, header=False, float_format=FLOAT_FORMAT)
    return len(text.encode()) / rows


def rows_for_size(nbytes: float) -> int:
    """Rows that make a file of at least ``nbytes`` (with :data:`SIZE_MARGIN` headroom)."""
    return math.ceil(nbytes * SIZE_MARGIN / bytes_per_row())


def make_csv(path: Path, n: int, seed: int = 0) -> CsvInfo:
    """Write the benchmark's CSV of ``n`` rows to ``path``, :data:`WRITE_ROWS` at a time.

    Only one block of rows exists in memory at a time; each is appended to the file with
    ``DataFrame.to_csv(mode="a")``.

    Parameters
    ----------
    path : Path
    n : int
        Data rows.
    seed : int

    Returns
    -------
    CsvInfo
    """
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    missing = 0
    path.unlink(missing_ok=True)
    for start in range(0, n, WRITE_ROWS):
        block = make_block(rng, start, min(start + WRITE_ROWS, n), n)
        missing += int(block["n_int"].isna().sum())
        block.to_csv(path, mode="a", header=start == 0, index=False, float_format=FLOAT_FORMAT)
    return CsvInfo(path, n, path.stat().st_size, missing, time.perf_counter() - t0)


def true_params(terms: list[str]) -> np.ndarray:
    """The generating coefficient of each term of the fit (patsy's names)."""
    reference = LEVEL_EFFECT[sorted(LEVEL_EFFECT)[0]]
    out = []
    for term in terms:
        if term.startswith("C(cat1)[T."):
            out.append(LEVEL_EFFECT[term[len("C(cat1)[T.") : -1]] - reference)
        elif term == "Intercept":
            out.append(COEFFICIENTS[term] + reference)
        else:
            out.append(COEFFICIENTS[term])
    return np.asarray(out)


# -- the methods (each runs in a child process) --------------------------------------------
def ooc_read(csv: str, out: str, chunksize: int | str) -> tuple[Any, dict[str, Any]]:
    """The library's ``read_csv`` into the store ``out``; the Dataset and what to report."""
    import ooc_accessor as ooc

    t0 = time.perf_counter()
    ds = ooc.read_csv(csv, out, chunksize=chunksize, progress=False)
    took = time.perf_counter() - t0
    info = {
        "read_seconds": took,
        "rows": int(ds.sizes["index"]),
        "chunk_rows": int(ds.chunksizes["index"][0]),
        "store_bytes": Path(out).stat().st_size,
        "dtypes": {str(k): str(v.dtype) for k, v in ds.data_vars.items()},
    }
    return ds, info


def ooc_fit(ds: Any) -> dict[str, Any]:
    """``ds.ooc.lstsq(FORMULA)``, timed, with its coefficients against the true ones."""
    t0 = time.perf_counter()
    fit = ds.ooc.lstsq(FORMULA, dim="index")
    params = np.asarray(fit.params.values, dtype=np.float64)
    took = time.perf_counter() - t0
    terms = [str(t) for t in fit.params["term"].values]
    bse = np.asarray(fit.bse.values if hasattr(fit.bse, "values") else fit.bse, dtype=float)
    err = params - true_params(terms)
    worst = int(np.argmax(np.abs(err)))
    return {
        "fit_seconds": took,
        "nobs": float(fit.nobs),
        "rsquared": float(fit.rsquared),
        "terms": terms,
        "params": params.tolist(),
        "max_abs_err": float(np.abs(err[worst])),
        "worst_term": terms[worst],
        "max_z": float(np.max(np.abs(err) / bse)),
    }


def pandas_chunks(csv: str, rows: int) -> dict[str, Any]:
    """Parse only: ``for chunk in pd.read_csv(csv, chunksize=rows): pass``."""
    n = chunks = 0
    dtype = "n/a"
    for chunk in pd.read_csv(csv, chunksize=rows):
        n += len(chunk)
        chunks += 1
        dtype = str(chunk["n_int"].dtype)
    return {"rows": n, "note": f"{rows:,} rows per chunk, {chunks} chunks; last n_int: {dtype}"}


def arrow_stream(csv: str, block: int) -> dict[str, Any]:
    """pyarrow's streaming reader, ``open_csv`` with ``block``-byte blocks, every batch read."""
    from pyarrow import csv as pacsv

    reader = pacsv.open_csv(csv, read_options=pacsv.ReadOptions(block_size=block))
    n = batches = 0
    for batch in reader:
        n += batch.num_rows
        batches += 1
    n_int = reader.schema.field("n_int").type
    note = f"{block / 2**20:.3g} MiB blocks, {batches} batches; n_int inferred as {n_int}"
    return {"rows": n, "note": note}


def arrow_whole(csv: str) -> dict[str, Any]:
    """pyarrow's whole-file ``read_csv`` (multithreaded): the table is held in memory."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    table = pacsv.read_csv(csv)
    note = (
        f"whole table in memory ({table.nbytes / 1e6:,.0f} MB of Arrow buffers), "
        f"{pa.cpu_count()} threads"
    )
    return {"rows": table.num_rows, "note": note}


def child_main(spec_json: str) -> None:
    """Entry point of a child process: import, hand-shake, run one method, report.

    ``spec_json`` holds the CSV, the store path, the method's key, the rows per chunk and
    the pyarrow block size. The result is a dict with ``outcome`` (``"ok"``, ``"out of
    memory"``, ``"error"`` or ``"not installed"``), ``seconds`` and the method's figures.
    """
    spec = json.loads(spec_json)
    kind, csv, store = spec["method"], spec["csv"], spec["store"]
    try:
        if kind.startswith("ooc"):
            import ooc_accessor  # noqa: F401 - imported before the baseline
        if kind.startswith("arrow"):
            import pyarrow.csv  # noqa: F401
    except ImportError as exc:
        child_handshake()
        child_result({"outcome": "not installed", "error": _first_line(exc)})
        return
    child_handshake()
    out: dict[str, Any] = {"outcome": "ok"}
    t0 = time.perf_counter()
    try:
        if kind == "ooc":
            ds, out_read = ooc_read(csv, store, spec["chunksize"])
            out.update(out_read)
            out.update(ooc_fit(ds))
        elif kind == "ooc_read":
            out.update(ooc_read(csv, store, spec["chunksize"])[1])
        elif kind == "ooc_fit":
            import ooc_accessor as ooc

            out.update(ooc_fit(ooc.open_csv_store(store)))
        elif kind == "pandas":
            out.update(pandas_chunks(csv, spec["rows"]))
        elif kind == "arrow_stream":
            out.update(arrow_stream(csv, spec["block"]))
        elif kind == "arrow_whole":
            out.update(arrow_whole(csv))
        else:
            raise ValueError(f"unknown method {kind!r}")
        out["seconds"] = time.perf_counter() - t0
    except MemoryError as exc:
        out = {"outcome": "out of memory", "error": _first_line(exc), "where": _where(exc)}
    except Exception as exc:  # a reader that refuses the file is a result, not a crash
        out = {
            "outcome": "error",
            "error": f"{type(exc).__name__}: {_first_line(exc)}",
            "where": _where(exc),
        }
    out.setdefault("seconds", time.perf_counter() - t0)
    child_result(out)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _where(exc: BaseException) -> str:
    """Where ``exc`` was raised: the innermost frame, as ``file.py:line in function``."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


# -- the parent: plan, run, compare ---------------------------------------------------------
@dataclass
class Method:
    """One child of the run: what it does, and how it went."""

    key: str
    label: str
    needs_arrow: bool = False
    run: SampledRun | None = None
    skipped: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> dict[str, Any]:
        """The child's result (an empty dict if it gave none)."""
        return (self.run.result if self.run is not None else None) or {}

    @property
    def ok(self) -> bool:
        """Whether the method ran to the end."""
        return self.result.get("outcome") == "ok"

    @property
    def seconds(self) -> float | None:
        """Seconds of the work (timed inside the child), if it finished."""
        return self.result.get("seconds") if self.ok else None


def plan() -> list[Method]:
    """The children of a run, in the order they run (``ooc_fit`` needs ``ooc``'s store)."""
    return [
        Method("ooc", "ooc `read_csv` then `ds.ooc.lstsq` (the issue's workflow)"),
        Method("ooc_fit", "ooc `ds.ooc.lstsq` alone, on the store (`ooc.open_csv_store`)"),
        Method("ooc_read", "ooc `read_csv` alone"),
        Method("pandas", "pandas `read_csv(chunksize=rows)`, parse only"),
        Method("arrow_stream", "pyarrow `csv.open_csv` (streaming batches)", needs_arrow=True),
        Method(
            "arrow_whole", "pyarrow `csv.read_csv` (whole file, multithreaded)", needs_arrow=True
        ),
    ]


def run_method(method: Method, spec: dict[str, Any], timeout: float) -> SampledRun:
    """Run one method in a fresh interpreter and sample its memory."""
    code = _CHILD_CODE.format(bench=str(BENCH_DIR))
    argv = [sys.executable, "-c", code, json.dumps({**spec, "method": method.key})]
    return run_sampled(argv, timeout=timeout)


#: what a child says when an allocation failed (besides ``MemoryError``)
OOM_MESSAGES = ("Memory allocation", "Cannot allocate memory", "std::bad_alloc")


def outcome(method: Method, timeout: float) -> str:
    """A short description of how the method ended (for the notes column)."""
    if method.skipped:
        return method.skipped
    run = method.run
    assert run is not None
    res = method.result
    if run.returncode is None:
        return f"timed out after {timeout:.0f} s"
    if res.get("outcome") == "ok":
        return "ok"
    if res.get("outcome") == "not installed":
        return f"not installed ({res.get('error', '')})"
    err = str(res.get("error", "")).replace("|", "/")
    tail = (run.stderr.strip().splitlines() or [""])[-1][:160].replace("|", "/")
    if res.get("outcome") == "out of memory" or any(m in err or m in tail for m in OOM_MESSAGES):
        return f"out of memory after {run.seconds:.0f} s (`{err or tail}`)"
    if res.get("outcome") == "error":
        where = f" (raised at {res['where']})" if res.get("where") else ""
        return f"failed: `{err}`{where}"
    if run.returncode < 0:
        return f"killed by signal {-run.returncode} after {run.seconds:.0f} s"
    return f"failed (exit {run.returncode}): `{tail or 'no output'}`"


def _size(nbytes: float) -> str:
    """A file size in GB (10**9 bytes), or in MB below 1 GB."""
    return f"{nbytes / 1e9:.2f} GB" if nbytes >= 1e9 else f"{nbytes / 1e6:.1f} MB"


def _mb(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.0f}"


def _rate(nbytes: int, secs: float | None) -> str:
    if secs is None or secs <= 0:
        return "n/a"
    return f"{nbytes / 1e6 / secs:,.1f}"


def _memory(method: Method) -> tuple[str, str]:
    run = method.run
    if run is None or method.result.get("outcome") == "not installed":
        return "n/a", "n/a"
    return _mb(run.growth_mb), _mb(run.peak_mb)


def fit_note(res: dict[str, Any], expected_nobs: int) -> str:
    """nobs (against the rows without a missing value) and the coefficients' error."""
    nobs = res["nobs"]
    check = "as expected" if nobs == expected_nobs else f"EXPECTED {expected_nobs:,}"
    return (
        f"nobs {nobs:,.0f} ({check}); params vs generating coefficients: max abs error "
        f"{res['max_abs_err']:.1e} ({res['worst_term']}), largest error / bse "
        f"{res['max_z']:.1f}; R² {res['rsquared']:.4f}"
    )


def results_table(methods: list[Method], csv: CsvInfo, timeout: float) -> str:
    """Markdown table: seconds, MB/s, time against ooc's read, memory and notes."""
    by = {m.key: m for m in methods}
    main = by["ooc"]
    read_s = main.result.get("read_seconds") if main.ok else None
    fit_s = main.result.get("fit_seconds") if main.ok else None
    size = csv.nbytes
    rows: list[list[str]] = []
    growth, peak = _memory(main)
    store = main.result.get("store_bytes")
    store_text = f"the {_size(store)} store" if store else "the store"
    if main.ok:
        rows.append(
            [
                "ooc `read_csv` (parse + write the NetCDF store), in the child below",
                seconds(read_s),
                _rate(size, read_s),
                "1.00x",
                "(whole child below)",
                "(whole child below)",
                f"includes writing and syncing {store_text}; "
                f"{main.result['chunk_rows']:,} rows per chunk",
            ]
        )
        rows.append(
            [
                "ooc `ds.ooc.lstsq(formula)`, in the child below",
                seconds(fit_s),
                "n/a",
                ratio(fit_s, read_s),
                "(whole child below)",
                "(whole child below)",
                fit_note(main.result, csv.complete_rows),
            ]
        )
    total = main.seconds
    rows.append(
        [
            main.label + ", one child",
            seconds(total),
            _rate(size, total),
            ratio(total, read_s),
            growth,
            peak,
            outcome(main, timeout) if not main.ok else "read + fit",
        ]
    )
    for m in methods[1:]:
        growth, peak = _memory(m)
        note = outcome(m, timeout)
        if m.ok:
            if m.key == "ooc_fit":
                note = fit_note(m.result, csv.complete_rows)
            elif m.key == "ooc_read":
                note = f"{m.result['chunk_rows']:,} rows per chunk"
            else:
                note = m.result.get("note", "ok")
            if "rows" in m.result and m.result["rows"] != csv.rows:
                note += f"; READ {m.result['rows']:,} ROWS OF {csv.rows:,}"
        rate = "n/a" if m.key == "ooc_fit" else _rate(size, m.seconds)
        rows.append(
            [
                m.label,
                seconds(m.seconds),
                rate,
                ratio(m.seconds, read_s),
                growth,
                peak,
                note.replace("|", "/"),
            ]
        )
    return markdown_table(
        [
            "method",
            "seconds",
            "MB/s",
            "time vs ooc read",
            "peak RssAnon growth (MB)",
            "absolute peak RssAnon (MB)",
            "notes",
        ],
        rows,
    )


def target_lines(methods: list[Method], csv: CsvInfo) -> list[str]:
    """The issue's memory bound on read + fit, and which part used the memory."""
    by = {m.key: m for m in methods}
    main = by["ooc"]
    big = csv.nbytes >= 2e9
    lines = [
        f"- The file: {_size(csv.nbytes)} ({csv.nbytes / 2**30:.2f} GiB), "
        f"{'at least' if big else 'UNDER'} the issue's 2 GB."
    ]
    if main.run is None or math.isnan(main.run.peak_mb):
        return [*lines, "- read_csv + lstsq: no memory figures."]
    peak, growth, base = main.run.peak_mb, main.run.growth_mb, main.run.baseline_mb
    met = main.ok and peak < TARGET_MB
    lines.append(
        f"- read_csv + lstsq in one process: absolute peak RssAnon {peak:,.0f} MB "
        f"(post-import baseline {base:,.0f} MB + growth {growth:,.0f} MB); bound "
        f"< {TARGET_MB:g} MB on the absolute peak: {'met' if met else 'MISSED'}"
        + ("" if main.ok else f" (the child did not finish: {outcome(main, 0)})")
        + f"; on the growth alone: {'met' if main.ok and growth < TARGET_MB else 'MISSED'}."
    )
    parts = []
    for key, what in (("ooc_read", "read_csv alone"), ("ooc_fit", "lstsq alone")):
        m = by[key]
        if m.run is not None and not math.isnan(m.run.peak_mb):
            parts.append(
                f"{what} peaks at {m.run.peak_mb:,.0f} MB absolute "
                f"({m.run.growth_mb:,.0f} MB growth)"
            )
    if parts:
        lines.append("- Which part needs the memory: " + "; ".join(parts) + ".")
    return lines


def source_digest() -> str:
    """A short SHA-256 of the library's ``.py`` files, to tell which version was measured."""
    import hashlib

    spec = importlib.util.find_spec("ooc_accessor")
    if spec is None or not spec.submodule_search_locations:
        return "n/a"
    digest = hashlib.sha256()
    for path in sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _package_versions(names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its markdown report."""
    description = __doc__.splitlines()[0]
    sizes = {"smoke_rows": SMOKE_ROWS, "smoke_chunksize": SMOKE_CHUNKSIZE, "default_repeats": 1}
    parser = build_parser(description, SMOKE_ROWS, **sizes)
    for action in parser._actions:  # --rows is optional here: the size decides by default
        if "--rows" in action.option_strings:
            action.help = "rows of the CSV (default: as many as make --size-gb)"
    parser.add_argument(
        "--size-gb",
        type=float,
        default=None,
        help=f"size of the CSV in GB, 10**9 bytes (default {DEFAULT_SIZE_GB:g}; "
        f"with --smoke, {SMOKE_ROWS:,} rows)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds after which a method is stopped (default {DEFAULT_TIMEOUT:.0f})",
    )
    rows_given = parser.parse_args(argv).rows is not None
    args = resolve_args(parser, SMOKE_ROWS, argv, **sizes)
    if not rows_given and (args.size_gb is not None or not args.smoke):
        size = args.size_gb if args.size_gb is not None else DEFAULT_SIZE_GB
        if size <= 0:
            parser.error("--size-gb must be positive")
        args.rows = rows_for_size(size * 1e9)
    have_arrow = importlib.util.find_spec("pyarrow") is not None
    report = Report(args.out)
    monitor = CpuMonitor()
    digest = source_digest()
    methods = plan()
    with scratch_dir("ooc-bench-csv-") as tmp:
        print(f"bench_read_csv: writing {args.rows:,} rows", file=sys.stderr, flush=True)
        csv = make_csv(tmp / "data.csv", args.rows)
        print(
            f"bench_read_csv: {csv.nbytes / 1e9:.2f} GB in {csv.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        from ooc_accessor.csvio import _auto_rows

        chunk_rows = _auto_rows(str(csv.path)) if args.chunksize == "auto" else args.chunksize
        per_row = csv.nbytes / csv.rows
        block = ARROW_BLOCK if args.chunksize == "auto" else max(2**16, int(chunk_rows * per_row))
        store = tmp / "data.nc"
        spec = {
            "csv": str(csv.path),
            "store": str(store),
            "chunksize": args.chunksize,
            "rows": chunk_rows,
            "block": block,
        }
        for m in methods:
            if m.needs_arrow and not have_arrow:
                m.skipped = "not installed"
                continue
            for _ in range(args.repeats):
                if m.key != "ooc_fit":
                    store.unlink(missing_ok=True)
                run = run_method(m, spec, args.timeout)
                best = m.run
                if best is None or (run.result or {}).get("seconds", math.inf) < (
                    best.result or {}
                ).get("seconds", math.inf):
                    m.run = run
            took = "n/a" if m.seconds is None else f"{m.seconds:.1f} s"
            print(
                f"bench_read_csv: {m.key}: {took}, {outcome(m, args.timeout)}",
                file=sys.stderr,
                flush=True,
            )
            if m.key == "ooc_fit":
                store.unlink(missing_ok=True)
        store.unlink(missing_ok=True)
    monitor.stop()
    digest_end = source_digest()

    by = {m.key: m for m in methods}
    runs = "once" if args.repeats == 1 else f"{args.repeats} times (best time kept)"
    report.add(f"### read_csv: {_size(csv.nbytes)} CSV, {csv.rows:,} rows")
    report.add()
    late = csv.rows - int(LATE_FROM * csv.rows)
    report.add(
        f"Data: columns `y, a, b, c, d, cat1, n_int, label` ({csv.nbytes / csv.rows:.0f} bytes "
        f"a row; written in {csv.seconds:.0f} s with pandas `to_csv`, {WRITE_ROWS:,} rows at "
        f"a time, and read from the page cache): floats `a`-`d` ~ N(0, 1) with 12 significant "
        f"digits; `cat1` with levels {', '.join(EARLY_LEVELS)} and `{LATE_LEVEL}` only in the "
        f"last {late:,} rows; `n_int` integers 0-999 with {csv.missing:,} empty fields, all "
        f'after row {int(MISSING_FROM * csv.rows):,}; `label` quoted, e.g. `"Smith, John"`; '
        "y = 1 + 0.5 a - 2 b + 0.3 c + d + 0.2 c d + level effect "
        f"({', '.join(f'{k} {v:g}' for k, v in LEVEL_EFFECT.items())}) + N(0, {NOISE:g}^2). "
        f"Formula `{FORMULA}`."
    )
    report.add()
    report.add(
        f"Each method runs {runs} in a fresh interpreter; seconds are timed inside the child "
        "around the work; MB/s is the CSV's size over those seconds (MB = 10^6 bytes). "
        "The library's read writes the NetCDF store as it goes (and syncs it at the end), so "
        "its throughput includes that write; the pandas and pyarrow readers only parse. "
        "Memory is the child's `RssAnon`, sampled every 15 ms: its peak growth over the "
        "post-import baseline, and its absolute peak. pandas parses "
        f"{chunk_rows:,} rows per chunk (the library's rows per chunk), pyarrow's streaming "
        f"reader reads {block / 2**20:.3g} MiB blocks."
        + (" A `--smoke` run: its timings and verdicts mean nothing." if args.smoke else "")
    )
    report.add()
    report.add("#### Time, throughput and memory")
    report.add()
    report.add(results_table(methods, csv, args.timeout))
    report.add()
    report.add("#### Memory bound")
    report.add()
    for line in target_lines(methods, csv):
        report.add(line)
    if by["ooc"].ok:
        dtypes = ", ".join(f"{k} {v}" for k, v in by["ooc"].result["dtypes"].items())
        report.add(f"- The store's variables: {dtypes}.")
    report.add()
    report.add("#### Machine")
    report.add()
    import scipy.linalg  # noqa: F401 - so that the machine section lists scipy's BLAS

    info = machine_info()
    info["packages"].update(_package_versions(EXTRA_PACKAGES))
    report.add(machine_markdown(info, monitor))
    same = (
        "unchanged during the run"
        if digest == digest_end
        else f"CHANGED during the run (now {digest_end}): the rows may mix library versions"
    )
    report.add(f"- ooc_accessor sources (SHA-256 of its `.py` files): {digest}, {same}")
    report.write()
    return 0 if by["ooc"].ok else 1


if __name__ == "__main__":
    sys.exit(main())
