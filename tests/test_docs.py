"""The Sphinx site builds warning-free and documents every accessor method on its own page.

One build (about 35 s on a loaded 2-core machine, 11 s of CPU) shared by the checks below.
The sources are copied to a temporary directory so autosummary's generated stubs never
land in the repository.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ooc_accessor as ooc

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: each accessor method's page, with parameters its text must explain (not merely point to)
PAGES = {
    "pandas.DataFrame.ooc.design": ["formula", "chunksize", "path", "missing", "weights"],
    "pandas.DataFrame.ooc.lstsq": [
        "formula",
        "weights",
        "dim",
        "chunksize",
        "path",
        "missing",
        "cov_type",
        "cov_kwds",
        "use_t",
        "eval_env",
        "progress",
    ],
    "pandas.DataFrame.ooc.glm": ["family", "link", "offset", "exposure", "maxiter", "scale"],
    "pandas.DataFrame.ooc.svd": ["formula", "k", "chunksize", "path", "missing"],
    "pandas.DataFrame.ooc.pca": ["n_components", "columns", "whiten", "svd_solver"],
    "xarray.Dataset.ooc.design": ["formula", "dim", "chunksize"],
    "xarray.Dataset.ooc.lstsq": ["formula", "dim", "cov_type", "progress"],
    "xarray.Dataset.ooc.glm": ["family", "dim"],
    "xarray.Dataset.ooc.svd": ["k", "dim"],
    "xarray.Dataset.ooc.pca": ["n_components", "dim", "variables", "weights"],
    "xarray.DataArray.ooc.pca": ["n_components", "dim", "weights", "progress"],
}


def _text(page: Path) -> str:
    """A page's visible text, whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page.read_text(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("docs")
    src = tmp / "src"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated"))
    guide = src / "guide" / "index.md"
    if not guide.exists():  # the user guide is written on another branch: a stand-in
        guide.parent.mkdir(parents=True, exist_ok=True)
        guide.write_text("# User guide\n\nWhole jobs, step by step.\n")
    out = tmp / "html"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    proc = subprocess.run(
        [*cmd, str(src), str(out)], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_accessor_method_has_a_page_with_its_parameters(site, name):
    page = site / "generated" / f"{name}.html"
    assert page.exists(), f"no page for {name}"
    text = _text(page)
    params = text[text.index("Parameters") :]
    for param in PAGES[name]:
        # "name : type" rendered as "name type ..." followed by its meaning
        assert re.search(rf"\b{param}\b", params), f"{name}: parameter {param!r} missing"
    assert "Returns" in text and "Examples" in text
    assert "See :func:" not in text


def test_every_public_name_has_an_api_page(site):
    missing = [
        name
        for name in ooc.__all__
        if name != "__version__" and not (site / "generated" / f"ooc_accessor.{name}.html").exists()
    ]
    assert not missing


def test_dataarray_page_offers_pca_only(site):
    gen = site / "generated"
    assert not list(gen.glob("xarray.DataArray.ooc.lstsq*"))
    assert "components_" in _text(gen / "xarray.DataArray.ooc.pca.html")


def test_class_pages_list_their_methods(site):
    text = _text(site / "generated" / "ooc_accessor.LstsqResult.html")
    for method in ("summary", "predict", "t_test", "f_test", "wald_test", "update", "conf_int"):
        assert f"LstsqResult.{method}" in text
    pca = _text(site / "generated" / "ooc_accessor.IncrementalPCA.html")
    for method in ("partial_fit", "transform", "inverse_transform"):
        assert f"IncrementalPCA.{method}" in pca
    # scikit-learn's own methods are documented by scikit-learn
    assert "IncrementalPCA.set_output" not in pca
    assert "IncrementalPCA.get_params" not in pca


def test_topic_pages_are_built(site):
    for page in ("index", "results", "api", "xarray", "statistics", "pca", "accuracy"):
        assert (site / f"{page}.html").exists()
    assert "xarray in, xarray out" in _text(site / "results.html")
