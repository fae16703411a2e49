"""Smoke runs of the benchmark scripts: each completes at a tiny size and prints its tables.

Every ``bench/bench_*.py`` script is run with ``--smoke`` (20k rows, one repeat) in a fresh
interpreter whose temporary directory is a pytest one, so that the run's data files can be
checked to be gone afterwards. Timings at this size mean nothing: no test asserts one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))
TIMEOUT_S = 600

sys.path.insert(0, str(BENCH))
import _common  # noqa: E402 - the helpers sit beside the scripts, not in a package


def run_script(script: Path, tmp_path: Path, *args: str) -> tuple[str, str]:
    """Run ``script`` with ``args`` in a fresh interpreter; its stdout and its report file."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = tmp_path / "report.md"
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.run(
        [sys.executable, str(script), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert list(scratch.iterdir()) == [], "the run left temporary files behind"
    return proc.stdout, out.read_text()


#: scripts that also write their figures as JSON (``--json FILE``) in the smoke run
WRITES_JSON = ("bench_design.py", "bench_e2e.py")


@dataclass
class SmokeRun:
    """What one ``--smoke`` run of a script printed, wrote, and gave as JSON (or None)."""

    stdout: str
    report: str
    figures: dict[str, Any] | None


_SMOKE_RUNS: dict[str, SmokeRun] = {}


def smoke_run(script: Path, factory: pytest.TempPathFactory) -> SmokeRun:
    """The ``--smoke`` run of ``script``, made once per session (shared by the tests)."""
    if script.name not in _SMOKE_RUNS:
        tmp = factory.mktemp(script.stem)
        figures = tmp / "figures.json"
        extra = ("--json", str(figures)) if script.name in WRITES_JSON else ()
        stdout, report = run_script(script, tmp, "--smoke", *extra)
        data = json.loads(figures.read_text()) if extra else None
        _SMOKE_RUNS[script.name] = SmokeRun(stdout, report, data)
    return _SMOKE_RUNS[script.name]


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The body rows (cells) of the first markdown table after ``heading``."""
    lines: list[str] = []
    for line in text.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def test_every_bench_script_is_found() -> None:
    assert BENCH / "bench_lstsq.py" in SCRIPTS


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_bench_script_smoke(script: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    run = smoke_run(script, tmp_path_factory)
    stdout, report = run.stdout, run.report
    assert report.strip() and report.strip() in stdout  # printed and written alike
    assert re.search(r"^\|:---\|(---:\|)+$", report, flags=re.MULTILINE), "no table"
    assert re.search(r"^#+ Machine$", report, flags=re.MULTILINE)
    assert "BLAS" in report


@pytest.mark.slow
def test_bench_lstsq_smoke_tables(tmp_path: Path) -> None:
    _, report = run_script(BENCH / "bench_lstsq.py", tmp_path, "--smoke", "--rows", "12000")
    assert "12,000 rows x 12 design columns" in report
    build = table_rows(report, "#### Design build")
    assert len(build) == 5
    fits = table_rows(report, "#### Fit from the stored design")
    names = [r[0] for r in fits]
    for key in ("design.lstsq()", "hand loop", "dask.array.linalg.lstsq", "normal equations"):
        assert any(key in n for n in names), key
    assert any("statsmodels" in n for n in names) and any("np.linalg.lstsq" in n for n in names)
    assert any("raw read" in n for n in names)
    for row in fits:
        float(row[1]), float(row[2])  # both BLAS settings were timed
    assert "agree with numpy's lstsq" in report and ": OK." in report
    scale = table_rows(report, "#### Fit time against rows")
    assert [r[0] for r in scale] == ["2,400", "4,800", "12,000", "24,000"]
    targets = report.split("#### Targets", 1)[1].split("#### Machine", 1)[0]
    assert len(re.findall(r"^- ", targets, flags=re.MULTILINE)) == 5
    assert any("get_robustcov_results('HC3')" in n for n in names)
    assert re.search(r"HC3 pass / the fit alone = \d+\.\d\dx", targets)


@pytest.mark.slow
def test_bench_glm_smoke_tables(tmp_path_factory: pytest.TempPathFactory) -> None:
    report = smoke_run(BENCH / "bench_glm.py", tmp_path_factory).report
    assert "### GLM (IRLS): 20,000 rows x 20 design columns" in report
    fits = table_rows(report, "#### Fits")
    names = [r[0] for r in fits]
    # glum is timed only when it is installed (the machine section then gives its version)
    glum = re.search(r"glum \d", report.split("#### Machine", 1)[1]) is not None
    assert glum != ("glum is not installed" in report)
    per_model = 4 if glum else 2
    assert len(fits) == 1 + 3 * per_model, names
    for model, call in (
        ("logistic", "design.glm('binomial')"),
        ("Poisson", "design.glm('poisson', exposure=)"),
        ("Gamma", "design.glm('gamma', 'log')"),
    ):
        rows = [r for r in fits if r[0].startswith(model)]
        assert call in rows[0][0] and any("statsmodels `GLM(" in r[0] for r in rows)
        assert sum("glum" in r[0] for r in rows) == (2 if glum else 0)
        for row in rows:
            float(row[1]), float(row[3])  # timed, and per iteration
            if "lstsq" not in row[0]:
                assert int(row[2]) > 0 and float(row[5]) >= 0  # iterations, params checked
        ooc = rows[0]
        assert float(ooc[5]) < 1e-7 and ooc[4].endswith("x")  # agrees; ratio to statsmodels
    assert any("design.lstsq()" in n for n in names)
    assert "agree with statsmodels' to" in report and ": OK." in report
    its = table_rows(report, "#### IRLS iteration against one lstsq pass")
    assert [r[0].split()[0] for r in its] == ["logistic", "Poisson", "Gamma"]
    for row in its:
        assert int(row[2]) == int(row[1]) + 1  # passes over X = iterations + 1
        assert row[7].endswith("x") and row[8].endswith("x")
    memory = table_rows(report, "#### Memory: logistic GLM of a 20,000 x 20 stored design")
    assert len(memory) == 2 and "glm" in memory[0][0] and "lstsq" in memory[1][0]
    for row in memory:
        assert float(row[1]) > 0 and float(row[6]) >= 0  # timed, memory sampled
    targets = report.split("#### Targets", 1)[1].split("#### Machine", 1)[0]
    assert len(re.findall(r"\(target at most 2.0x\): (met|MISSED)$", targets, re.M)) == 2
    assert re.search(r"peak RssAnon growth = \d+ MB \(target under 500 MB\)", targets)


#: what the machine section of the Step 7 scripts must list
VERSIONS = ("Python", "numpy", "pandas", "patsy", "formulaic", "h5py", "dask", "ooc_accessor")


def check_machine(report: str) -> None:
    """The machine section names the CPU model, the cores and every version asked for."""
    machine = report.split("#### Machine", 1)[1]
    assert re.search(r"CPU: .+; cores: \d+ logical", machine)
    for name in VERSIONS:
        assert re.search(rf"{name} \d", machine), name


@pytest.mark.slow
def test_bench_design_smoke_tables(tmp_path_factory: pytest.TempPathFactory) -> None:
    run = smoke_run(BENCH / "bench_design.py", tmp_path_factory)
    report = run.report
    assert "### Design build: 2,000 rows x 12 design columns" in report
    rows = table_rows(report, "#### Build times")
    assert len(rows) == 6  # library, patsy chunked, formulaic; for Categorical and str cat1
    for case in ("Categorical `cat1`", "`str` `cat1`"):
        names = [r[0] for r in rows if r[0].endswith(case)]
        assert [n.split()[0] for n in names] == ["ooc", "patsy", "formulaic"], names
        assert "WHOLE frame" in names[2]  # formulaic's build is said not to be chunked
    for row in rows:
        float(row[1])  # every build was timed
        assert "DIFFER" not in row[3]
    assert rows[1][2] == "1.00x" and rows[4][2] == "1.00x"  # ratios are to patsy chunked
    assert "500-row chunks" in rows[0][3] and "4 blocks" in rows[0][3]
    assert "the same column sums" in report and ": OK." in report
    targets = report.split("#### Targets", 1)[1].split("#### Machine", 1)[0]
    assert len(re.findall(r"^- .* \(target at most 0.2x\): ", targets, flags=re.M)) == 2
    check_machine(report)
    figures = run.figures
    assert figures is not None and figures["rows"] == 2000 and figures["columns_checked"]
    for case in figures["cases"]:
        ratio = case["ooc_seconds"]["best"] / case["patsy_chunked_seconds"]["best"]
        assert case["ratio_ooc_to_patsy"] == pytest.approx(ratio)
        assert case["chunk_rows"] == 500 and case["formulaic_whole_seconds"]["best"] > 0


@pytest.mark.slow
def test_bench_e2e_smoke_tables(tmp_path_factory: pytest.TempPathFactory) -> None:
    run = smoke_run(BENCH / "bench_e2e.py", tmp_path_factory)
    report = run.report
    for n in ("1,500", "3,000"):  # --smoke runs two sizes, as a full run does
        heading = f"#### {n} rows ("
        rows = table_rows(report, heading)
        names = [r[0] for r in rows]
        assert len(rows) == 5, names
        assert "read_csv" in names[0] and "lstsq" in names[1] and "**" in names[2]
        assert names[3].startswith("hand-made script") and names[4].startswith("bare parse")
        for row in rows:
            float(row[1])  # every path was timed
        assert rows[3][3] == "1.00x" and rows[4][4] == "1.00x"
        for row in rows[2:]:
            assert float(row[5]) >= 0  # each process's memory was sampled
        assert "pre-scan" in rows[3][6] and "dask solve" in rows[3][6]
        # the library's coefficients equal the script's, on every row
        section = report.split(heading, 1)[1].split("####", 1)[0]
        assert "Coefficients, library against the script: 41 coefficients" in section
        assert f"nobs {n} and {n}: OK." in section
    targets = report.split("#### Targets", 1)[1].split("#### Machine", 1)[0]
    assert len(re.findall(r"^- [\d,]+ rows: ", targets, flags=re.M)) == 8
    assert "(target at most 0.35x)" in targets and "(target at most 4x)" in targets
    assert "read_csv's MB/s / the bare parse's = " in targets
    assert "Memory against rows: from 1,500 to 3,000 rows" in targets
    check_machine(report)
    figures = run.figures
    assert figures is not None and [s["rows"] for s in figures["sizes"]] == [1500, 3000]
    for size in figures["sizes"]:
        assert size["params_equal"] and size["bound_mb"] > 0
        lib, script, parse = size["library"], size["script"], size["parse"]
        assert lib["chunk_rows"] == 500 and parse["chunks"] == size["rows"] // 500
        assert lib["seconds"] == pytest.approx(lib["read_seconds"] + lib["fit_seconds"])
        assert size["ratio_library_to_script"] == pytest.approx(lib["seconds"] / script["seconds"])
        assert size["ratio_library_to_parse"] == pytest.approx(lib["seconds"] / parse["seconds"])
        assert lib["growth_mb"] >= 0 and lib["peak_mb"] > 0


@pytest.mark.slow
def test_nist_accuracy_script_runs(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH.parent / "tests"))
    proc = subprocess.run(
        [sys.executable, str(BENCH / "nist_accuracy.py")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "### Parameter estimates" in proc.stdout
    assert "| Norris |" in proc.stdout


# -- the shared helpers ------------------------------------------------------------------
def test_parse_args_smoke_defaults_and_overrides() -> None:
    a = _common.parse_args("x", 1_000_000, ["--smoke"])
    assert (a.rows, a.repeats, a.chunksize, a.out) == (
        _common.SMOKE_ROWS,
        1,
        _common.SMOKE_CHUNKSIZE,
        None,
    )
    b = _common.parse_args("x", 1_000_000, ["--smoke", "--rows", "50", "--chunksize", "auto"])
    assert (b.rows, b.chunksize) == (50, "auto")
    c = _common.parse_args("x", 1_000_000, [])
    assert (c.rows, c.repeats, c.chunksize) == (1_000_000, _common.DEFAULT_REPEATS, "auto")


def test_best_of_warms_up_and_keeps_the_first_value() -> None:
    calls: list[int] = []

    def fn() -> int:
        calls.append(len(calls))
        return len(calls)

    t = _common.best_of(fn, 3)
    assert len(calls) == 4 and len(t.times) == 3 and t.value == 1
    assert t.best == min(t.times) and t.spread >= 1.0
    u = _common.best_of(fn, 2, warmup=False)
    assert len(u.times) == 2 and u.value == 5


# -- the scripts' own checks: a wrong answer is reported, never passed --------------------
def test_design_columns_check_flags_other_columns_or_sums() -> None:
    import bench_design
    import pandas as pd

    ref = pd.Series([2000.0, 370.0, -56.0, 0.0], index=["Intercept", "C(g)[T.b]", "a", "d:c"])
    assert bench_design.same_columns(ref.copy(), ref) == "same"
    off = ref.copy()
    off["a"] += 1e-6  # a relative error of 2e-8, above the 1e-10 tolerance
    assert bench_design.same_columns(off, ref).startswith("COLUMN SUMS DIFFER by 1.8e-08")
    near_zero = ref.copy()
    near_zero["d:c"] = 1e-6  # a column summing to ~0 is checked against 1, not its sum
    assert "DIFFER" in bench_design.same_columns(near_zero, ref)
    swapped = ref[["Intercept", "a", "C(g)[T.b]", "d:c"]]
    assert bench_design.same_columns(swapped, ref).startswith("DIFFERENT COLUMNS")
    # formulaic's order of terms and of an interaction's factors is its own
    theirs = swapped.rename({"d:c": "c:d"})
    assert bench_design.same_columns(theirs, ref, by_set=True) == "same"
    renamed = ref.rename({"a": "b"})
    assert bench_design.same_columns(renamed, ref, by_set=True).startswith("DIFFERENT COLUMNS")


def _size_with(lib: dict[str, Any], script: dict[str, Any]) -> Any:
    import bench_e2e

    def contender(key: str, result: dict[str, Any]) -> Any:
        run = _common.SampledRun(100.0, 150.0, 1.0, 10, 0, result, "", 0, 0.0)
        return bench_e2e.Contender(key, run)

    size = bench_e2e.Size(1000, 60_000, 0.1)
    size.contenders = {
        "library": contender("library", {"outcome": "ok", "chunk_rows": 500, **lib}),
        "script": contender("script", {"outcome": "ok", **script}),
    }
    return size


def test_e2e_params_check_flags_other_coefficients() -> None:
    import bench_e2e

    same = {"terms": ["Intercept", "a"], "params": [1.0, 0.5], "nobs": 1000.0}
    ok, text = bench_e2e.params_check(_size_with(same, same))
    assert ok and text.endswith(": OK")
    off = {**same, "params": [1.0, 0.5 * (1 + 2e-6)]}  # beyond rtol 1e-6 on one term
    ok, text = bench_e2e.params_check(_size_with(off, same))
    assert not ok and "largest relative difference 2.0e-06" in text and "DIFFER" in text
    fewer = {**same, "nobs": 999.0}  # rows dropped by one of them
    assert not bench_e2e.params_check(_size_with(fewer, same))[0]
    other = {**same, "terms": ["Intercept", "b"]}
    ok, text = bench_e2e.params_check(_size_with(other, same))
    assert not ok and text.startswith("DIFFERENT TERMS: a, b")
    failed = _size_with(same, same)
    failed["script"].run.result = {"outcome": "error", "error": "MemoryError: x"}
    assert bench_e2e.params_check(failed) == (False, "not compared (a contender failed)")


def test_e2e_memory_bound_is_blocks_plus_p_squared() -> None:
    import bench_e2e

    terms = [f"t{i}" for i in range(41)]
    size = _size_with({"terms": terms, "params": [0.0] * 41, "nobs": 1.0}, {})
    block = 500 * (7 + 41 + 1) * 8  # rows per chunk x (CSV + design + y columns) x 8 bytes
    expected = (bench_e2e.BOUND_BLOCKS * block + 8 * 41**2) / 1e6 + bench_e2e.BOUND_SLACK_MB
    assert bench_e2e.bound_mb(size) == pytest.approx(expected)


def test_progress_check_flags_any_difference_between_settings(tmp_path: Path) -> None:
    import bench_progress
    import h5py
    import numpy as np

    # stored files are compared by their variables' values, not their bytes
    for name, value in (("a.h5", 1.0), ("b.h5", 1.0), ("c.h5", 1.0 + 2**-40)):
        with h5py.File(tmp_path / name, "w") as f:
            f["X"] = np.full((5, 2), value)
    a, b, c = (bench_progress.file_digest(tmp_path / n) for n in ("a.h5", "b.h5", "c.h5"))
    assert a == b != c
    assert bench_progress.difference(b, a) == 0.0
    assert bench_progress.difference(c, a) == float("inf")
    assert bench_progress.difference(np.array([1.0, 2.5]), np.array([1.0, 2.0])) == 0.5
    assert bench_progress.difference(np.ones(3), np.ones(2)) == float("inf")

    case = bench_progress.Case("`fit`", lambda s: None, lambda r: {})
    same = bench_progress.Measured(case, compared=["params"])
    assert bench_progress.check_outputs([same]).endswith(": OK.")
    off = bench_progress.Measured(case, max_diff=1e-17, compared=["params"])
    with pytest.raises(SystemExit, match="DIFFER between the progress settings: `fit`: 1e-17"):
        bench_progress.check_outputs([same, off])


def test_rows_can_be_several_sizes() -> None:
    sizes = {"smoke_rows": (15, 30), "smoke_chunksize": 5}
    parser = _common.build_parser("x", (2_000, 10_000), **sizes)
    a = _common.resolve_args(parser, (2_000, 10_000), ["--smoke"], **sizes)
    assert (a.rows, a.chunksize, a.repeats) == ([15, 30], 5, 1)
    b = _common.resolve_args(parser, (2_000, 10_000), ["--rows", "7", "9"], **sizes)
    assert b.rows == [7, 9]
    c = _common.resolve_args(parser, (2_000, 10_000), [], **sizes)
    assert c.rows == [2_000, 10_000]
    with pytest.raises(SystemExit):
        _common.resolve_args(parser, (2_000, 10_000), ["--rows", "7", "0"], **sizes)


def test_write_json_writes_non_finite_floats_as_null(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "figures.json"
    _common.write_json(path, {"a": float("nan"), "b": [1.5, float("inf")], "c": {"d": 2}})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.5, None], "c": {"d": 2}}
    _common.write_json(None, {"a": 1})  # no file asked for: nothing written, no error


def test_markdown_table_and_machine_section() -> None:
    table = _common.markdown_table(["a", "b"], [["x", 1], ["y", 2]])
    assert table.splitlines() == ["| a | b |", "|:---|---:|", "| x | 1 |", "| y | 2 |"]
    monitor = _common.CpuMonitor()
    monitor.stop()
    text = _common.machine_markdown(_common.machine_info(), monitor)
    for key in ("CPU:", "RAM:", "numpy", "pandas", "dask", "patsy", "h5py", "statsmodels"):
        assert key in text
    assert "formulaic" not in text
    extra = _common.machine_markdown(_common.machine_info(("formulaic",)))
    assert re.search(r"formulaic \d", extra)
