"""Every public name's docstring: numpydoc-valid, with Examples that run.

The objects are found, not listed: every name in ``ooc_accessor.__all__``, the public
methods (functions, not properties) of its classes that this package defines, and the
``.ooc`` accessor methods. Each object's examples run with :mod:`doctest` as a test of its
own, in a fresh namespace (each example imports what it uses).
"""

from __future__ import annotations

import doctest
import gc
import inspect
import os

import numpydoc.docscrape
import numpydoc.validate
import pandas as pd
import pytest
import xarray as xr

import ooc_accessor as ooc
from ooc_accessor.design import build_design
from ooc_accessor.pca import IncrementalPCA
from ooc_accessor.pca_call import pca
from ooc_accessor.results import LSTSQ_KEYWORDS, lstsq
from ooc_accessor.stats.glmfit import GLM_DESIGN_KEYWORDS, glm
from ooc_accessor.svdresult import SVD_KEYWORDS, svd

#: numpydoc checks that must pass: a docstring (GL08), an Examples section (EX01), every
#: parameter documented (PR01) and no unknown one (PR02)
CHECKS = {"GL08", "EX01", "PR01", "PR02"}

#: the accessor methods each class offers (a DataArray has no named columns for a formula)
ACCESSORS = {
    "pandas.DataFrame": (pd.DataFrame, ("design", "lstsq", "glm", "svd", "pca")),
    "xarray.Dataset": (xr.Dataset, ("design", "lstsq", "glm", "svd", "pca")),
    "xarray.DataArray": (xr.DataArray, ("pca",)),
}


def _own(obj: object) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("ooc_accessor")


def _public_objects() -> dict[str, object]:
    found: dict[str, object] = {}
    for name in ooc.__all__:
        if name == "__version__":
            continue
        obj = getattr(ooc, name)
        found[f"ooc_accessor.{name}"] = obj
        if not inspect.isclass(obj) or issubclass(obj, BaseException):
            continue
        for attr, member in inspect.getmembers(obj):
            # methods this package wrote: scikit-learn's inherited ones (get_params,
            # set_output...) are scikit-learn's to document; properties are attributes,
            # described in their class's docstring
            if not attr.startswith("_") and inspect.isfunction(member) and _own(member):
                found[f"ooc_accessor.{name}.{attr}"] = member
    for prefix, (cls, methods) in ACCESSORS.items():
        for method in methods:
            found[f"{prefix}.ooc.{method}"] = getattr(cls.ooc, method)
    return found


OBJECTS = _public_objects()


#: the only checks left out, each for a reason
EXEMPT = {
    # built by the library, never by users: their __init__ arguments are internal
    # (a store's factors and labels), so the class docs describe attributes instead
    **dict.fromkeys(
        [f"ooc_accessor.{c}" for c in ("Design", "LstsqResult", "GLMResults", "SVDResult")],
        frozenset({"PR01", "PR02"}),
    ),
    "ooc_accessor.Summary": frozenset({"PR01", "PR02"}),
    # xarray's set_options(**kwargs) shape: every option is documented by its name
    "ooc_accessor.set_options": frozenset({"PR01", "PR02"}),
}


def _validate(path: str) -> dict:
    """numpydoc's validation of ``path`` (an import path, accessors included)."""
    return numpydoc.validate.validate(path)


@pytest.mark.parametrize("path", sorted(OBJECTS))
def test_docstring_is_numpydoc_with_examples(path):
    checks = CHECKS - EXEMPT.get(path, set())
    errors = [f"{code}: {msg}" for code, msg in _validate(path)["errors"] if code in checks]
    assert not errors, f"{path}:\n" + "\n".join(errors)


@pytest.fixture
def in_tmpdir(tmp_path, monkeypatch):
    """Run in an empty directory, and assert the example leaves nothing behind there or
    among the temporary stores."""
    monkeypatch.chdir(tmp_path)
    stores = tmp_path / "stores"
    stores.mkdir()
    with ooc.set_options(tmpdir=str(stores)):
        yield tmp_path
    gc.collect()  # temporary stores go with their (collected) results
    assert sorted(os.listdir(tmp_path)) == ["stores"]
    assert not os.listdir(stores)


@pytest.mark.parametrize("path", sorted(OBJECTS))
def test_examples_run(path, in_tmpdir):
    obj = OBJECTS[path]
    finder = doctest.DocTestFinder(recurse=False)
    tests = [t for t in finder.find(obj, path, globs={}) if t.examples]
    assert tests, f"{path} has no examples"
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    runner = doctest.DocTestRunner(optionflags=flags)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {path} failed"


# -- the accessors document every parameter their plain function takes -----------------------

#: accessor method -> (plain function, keywords it takes beyond its signature's names)
PLAIN = {
    "design": (build_design, ()),
    "lstsq": (lstsq, LSTSQ_KEYWORDS),
    "glm": (glm, GLM_DESIGN_KEYWORDS),
    "svd": (svd, SVD_KEYWORDS),
    "pca": (pca, tuple(IncrementalPCA._get_param_names())),
}

#: the shared contract documents these on every accessor method before the plain functions
#: take them on other branches (progress bars; PCA feature weights)
CONTRACT = {"design": {"progress"}, "lstsq": {"progress"}, "glm": {"progress"}}
CONTRACT.update(svd={"progress"}, pca={"progress", "weights"})


def _named(fn: object) -> set[str]:
    sig = inspect.signature(fn)
    kinds = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return {n for n, p in sig.parameters.items() if p.kind not in kinds and n != "self"}


def _documented(fn: object) -> set[str]:
    doc = numpydoc.docscrape.FunctionDoc(fn)
    names: set[str] = set()
    for param in doc["Parameters"]:
        names.update(n.strip() for n in param.name.split(","))
    return names


@pytest.mark.parametrize("method", sorted(PLAIN))
def test_accessor_documents_every_parameter_of_its_function(method):
    plain, extra = PLAIN[method]
    takes = (_named(plain) | set(extra)) - {"data"}
    accessor = getattr(pd.DataFrame.ooc, method)
    documented = _documented(accessor)
    assert not takes - documented, f"{method}: undocumented {sorted(takes - documented)}"
    # and the accessor's own signature is what the docstring documents, no more, no less
    assert _named(accessor) == documented
    assert documented - takes <= CONTRACT[method]
    assert "See :func:" not in accessor.__doc__


@pytest.mark.parametrize("method", sorted(PLAIN))
def test_accessor_defaults_are_the_functions(method):
    plain, _ = PLAIN[method]
    ours = inspect.signature(getattr(pd.DataFrame.ooc, method)).parameters
    defaults = {n: p.default for n, p in inspect.signature(plain).parameters.items()}
    if method == "pca":  # the estimator's parameters' defaults are the estimator's
        defaults.update(IncrementalPCA().get_params())
    for name, param in ours.items():
        if name in defaults and defaults[name] is not inspect.Parameter.empty:
            assert param.default == defaults[name], f"{method}({name}=) default differs"


def test_help_lists_the_full_parameters():
    text = pd.DataFrame.ooc.lstsq.__doc__
    for name in ("formula", "weights", "dim", "chunksize", "path", "missing", "cov_type"):
        assert f"\n    {name} : " in text
    assert "cov_kwds : dict, optional" in text and "progress : bool, optional" in text


# -- DataArray.ooc: pca only ----------------------------------------------------------------


def test_dataarray_accessor_offers_pca_only():
    da = xr.DataArray([[1.0, 2.0], [3.0, 5.0], [4.0, 4.0]], dims=("sample", "feature"))
    public = {n for n in dir(da.ooc) if not n.startswith("_")}
    assert public == {"pca"}
    for name in ("design", "lstsq", "glm", "svd"):
        assert not hasattr(da.ooc, name)
        with pytest.raises(ooc.AccessorAttributeError, match=rf"no '{name}'.*da\.to_dataset"):
            getattr(da.ooc, name)
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        da.ooc.nonesuch  # noqa: B018 - the lookup is the test
    # what it does offer works, and the Dataset route still has the fits
    assert da.ooc.pca(1, dim="sample").n_components_ == 1
    assert hasattr(da.to_dataset(name="v").ooc, "lstsq")
