"""The examples run, and every user guide has one.

Each ``examples/*.py`` runs at its small size (``--small``; the quickstart, which has no such
flag, at 20,000 and 5,000 rows) in a fresh interpreter whose temporary directory is a pytest
one, so that the run can be checked to leave nothing behind. Each example checks its own
numbers against a reference (numpy, statsmodels) and exits non-zero when one is off; the test
asserts the exit status and a line of the expected output. The guides in ``docs/guide/``
(except the index) each have an example of the same name, and the index lists every guide.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GUIDES = ROOT / "docs" / "guide"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
TIMEOUT_S = 600

#: the arguments of a small run, where they are not ``--small``
ARGS = {"quickstart": ["--rows", "20000", "--csv-rows", "5000"]}

#: a line each script prints only when it got to its end (the guides' own print "OK: name")
EXPECTED = {
    "quickstart": r"^R\^2 = 0\.\d+, nobs = 4,9\d\d, dropped = \d+\n(.*\n)*"
    r"peak memory growth over part 2",
    "regression_csv": r"^params vs numpy: max relative error .*\nHC3 standard errors vs "
    r"statsmodels: .*\nOK: regression_csv$",
    "pca_memmap": r"^explained variance vs numpy's covariance eigh: .*\nOK: pca_memmap$",
    "glm_robust": r"^  Poisson params vs statsmodels: .*\n(.*\n)*OK: glm_robust$",
    "cluster": r"^  tasks per worker: \[\d+, \d+\]\n(.*\n)*OK: cluster$",
}


def guide_names() -> list[str]:
    return sorted(p.stem for p in GUIDES.glob("*.md") if p.name != "index.md")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    # the checkout's package first, so a worktree's examples run its own code
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": path, "MPLBACKEND": "Agg"}
    # one BLAS thread: at these sizes threads gain nothing, and on a busy 2-core runner
    # OpenBLAS's spinning threads made a 600 x 600 eigh take seconds (a 20 s run, 4 s without)
    env.update({f"{lib}_NUM_THREADS": "1" for lib in ("OPENBLAS", "OMP", "MKL")})
    env.pop("OOC_ACCESSOR_TMPDIR", None)  # the examples' temporary stores go to TMPDIR
    args = ARGS.get(script.stem, ["--small"])
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (
        f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    expected = EXPECTED.get(script.stem)
    if expected is None:  # an example without a known line: it must at least say something
        assert proc.stdout.strip(), f"{script.name} printed nothing"
    else:
        assert re.search(expected, proc.stdout, re.MULTILINE), proc.stdout[-3000:]
    assert sorted(os.listdir(scratch)) == [], f"{script.name} left files in its temporary directory"
    assert sorted(os.listdir(tmp_path)) == ["scratch"], f"{script.name} wrote into its cwd"


def test_each_guide_has_an_example() -> None:
    guides = guide_names()
    assert {"regression_csv", "pca_memmap", "glm_robust", "cluster"} <= set(guides)
    missing = [g for g in guides if not (EXAMPLES / f"{g}.py").is_file()]
    assert missing == [], f"guides without an example of the same name: {missing}"


def test_each_example_has_a_guide() -> None:
    examples = {s.stem for s in SCRIPTS} - {"quickstart"}  # the README's demo, not a guide
    assert sorted(examples - set(guide_names())) == []


def test_the_index_lists_every_guide() -> None:
    text = (GUIDES / "index.md").read_text()
    toctree = re.search(r"```\{toctree\}\n(.*?)```", text, re.DOTALL)
    assert toctree is not None, "docs/guide/index.md has no toctree"
    entries = [
        line.strip() for line in toctree.group(1).splitlines() if line.strip() and ":" not in line
    ]
    for name in ["regression_csv", "pca_memmap", "eofs", "glm_robust", "cluster"]:
        assert name in entries, f"the guide index's toctree does not name {name}"
    # every guide that exists is reachable (eofs.md may land later: listed before it exists)
    assert set(guide_names()) <= set(entries)


def test_the_guides_name_only_what_exists() -> None:
    """Every ``ooc.name``, ``ooc_accessor.dotted.name`` and ``.ooc.method`` a guide shows
    exists (a renamed function or a typo in a guide fails here, not in a reader's session)."""
    import pandas as pd
    import xarray as xr

    import ooc_accessor as ooc

    accessors = [pd.DataFrame().ooc, xr.Dataset().ooc]
    for guide in sorted(GUIDES.glob("*.md")):
        text = guide.read_text()
        for name in set(re.findall(r"(?<![\w.])ooc\.(\w+)", text)):
            assert hasattr(ooc, name), f"{guide.name} shows ooc.{name}, which does not exist"
        for dotted in set(re.findall(r"\booc_accessor((?:\.\w+)+)", text)):
            obj: object = ooc
            for part in dotted.strip(".").split("."):
                assert hasattr(obj, part), f"{guide.name} names ooc_accessor{dotted}"
                obj = getattr(obj, part)
        for method in set(re.findall(r"\.ooc\.(\w+)\(", text)):
            assert any(hasattr(acc, method) for acc in accessors), (
                f"{guide.name} calls .ooc.{method}(), which no accessor has"
            )
