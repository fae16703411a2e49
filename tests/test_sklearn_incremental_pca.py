"""scikit-learn's own ``test_incremental_pca.py``, run on ``ooc.IncrementalPCA``.

The file is read from the installed scikit-learn at test time; only its import of
``IncrementalPCA`` is swapped for ours (its reference ``PCA`` stays scikit-learn's). Every
one of its tests is exposed here under its own name and must pass.
"""

from __future__ import annotations

import pathlib
import types

import pytest
import sklearn

_SOURCE = pathlib.Path(sklearn.__file__).parent / "decomposition/tests/test_incremental_pca.py"
_IMPORT = "from sklearn.decomposition import PCA, IncrementalPCA"


def _load() -> types.ModuleType:
    text = _SOURCE.read_text()
    assert text.count(_IMPORT) == 1, f"the import line moved in {_SOURCE}"
    text = text.replace(
        _IMPORT,
        "from sklearn.decomposition import PCA\nfrom ooc_accessor import IncrementalPCA",
    )
    module = types.ModuleType("sklearn_test_incremental_pca_on_ooc")
    module.__file__ = str(_SOURCE)
    # scikit-learn's own test file, from the installed package
    exec(compile(text, str(_SOURCE), "exec"), module.__dict__)
    return module


_MODULE = _load()
assert _MODULE.IncrementalPCA.__module__.startswith("ooc_accessor")


@pytest.fixture(params=[0, 42])
def global_random_seed(request) -> int:
    """scikit-learn's fixture (its conftest): here two seeds, every test run with each."""
    return request.param


for _name, _obj in vars(_MODULE).items():
    if _name.startswith("test_") and callable(_obj):
        globals()[_name] = _obj


def test_every_test_was_exposed() -> None:
    names = [n for n in vars(_MODULE) if n.startswith("test_")]
    assert len(names) >= 20
    assert all(n in globals() for n in names)
