"""Smoke runs of the benchmark scripts: each completes at a tiny size and prints its tables.

Every ``bench/bench_*.py`` script is run with ``--smoke`` (20k rows, one repeat) in a fresh
interpreter whose temporary directory is a pytest one, so that the run's data files can be
checked to be gone afterwards. Timings at this size mean nothing: no test asserts one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
def test_bench_script_smoke(script: Path, tmp_path: Path) -> None:
    stdout, report = run_script(script, tmp_path, "--smoke")
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
    assert len(re.findall(r"^- ", targets, flags=re.MULTILINE)) == 4


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


def test_markdown_table_and_machine_section() -> None:
    table = _common.markdown_table(["a", "b"], [["x", 1], ["y", 2]])
    assert table.splitlines() == ["| a | b |", "|:---|---:|", "| x | 1 |", "| y | 2 |"]
    monitor = _common.CpuMonitor()
    monitor.stop()
    text = _common.machine_markdown(_common.machine_info(), monitor)
    for key in ("CPU:", "RAM:", "numpy", "pandas", "dask", "patsy", "h5py", "statsmodels"):
        assert key in text
