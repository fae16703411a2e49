"""Examples of IncrementalPCA.

Attached to the objects' docstrings by :func:`ooc_accessor.docstrings.attach`.
"""

from __future__ import annotations

from ..pca import IncrementalPCA

#: (object, attribute or None) -> sections appended to its docstring
SECTIONS = {
    (IncrementalPCA, None): r"""
Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> pca = ooc.IncrementalPCA(n_components=2).fit(X)
>>> pca.explained_variance_ratio_.round(4)
array([0.9859, 0.0141])
>>> pca.transform(X).round(3)
array([[-3.354,  0.072],
       [-1.031, -0.346],
       [ 1.032,  0.445],
       [ 3.353, -0.171]])
""",
    (IncrementalPCA, "fit"): r"""
Parameters
----------
X : array-like, DataFrame, Design, DataArray or Dataset
    The samples, one row (or one step of ``dim``) each.
y : None
    Ignored (scikit-learn's protocol).
columns : list, optional
    A DataFrame's columns to use.
dim : str, optional
    The sample dimension of a DataArray or Dataset.
variables : list of str, optional
    A Dataset's variables to decompose together.

Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> pca = ooc.IncrementalPCA(n_components=1, batch_size=2).fit(X)
>>> pca.n_samples_seen_, pca.components_.round(4)
(4, array([[0.4506, 0.8927, 0.0063]]))
""",
    (IncrementalPCA, "partial_fit"): r"""
Parameters
----------
X : array-like, DataFrame, DataArray or Dataset
    More samples, with the features of the first call.
y : None
    Ignored (scikit-learn's protocol).
check_input : bool, default True
    Kept for scikit-learn compatibility; the input is always checked.
dim : str, optional
    The sample dimension of a DataArray or Dataset.
variables : list of str, optional
    A Dataset's variables.

Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> pca = ooc.IncrementalPCA(n_components=1)
>>> pca = pca.partial_fit(X[:2]).partial_fit(X[2:])
>>> whole = ooc.IncrementalPCA(n_components=1).fit(X)
>>> pca.n_samples_seen_, bool(np.allclose(pca.components_, whole.components_))
(4, True)
""",
    (IncrementalPCA, "transform"): r"""
Parameters
----------
X : array-like, DataFrame, Design, DataArray or Dataset
    Samples with the fitted features.
dim : str, optional
    The sample dimension of a DataArray or Dataset (default: the fitted one).

Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> pca = ooc.IncrementalPCA(n_components=2).fit(X)
>>> pca.transform(X[:2]).round(3)
array([[-3.354,  0.072],
       [-1.031, -0.346]])
""",
    (IncrementalPCA, "fit_transform"): r"""
Parameters
----------
X : array-like, DataFrame, Design, DataArray or Dataset
    The samples.
y : None
    Ignored (scikit-learn's protocol).
**kwargs
    :meth:`fit`'s keywords (``columns``, ``dim``, ``variables``).

Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> ooc.IncrementalPCA(n_components=1).fit_transform(X).round(3)
array([[-3.354],
       [-1.031],
       [ 1.032],
       [ 3.353]])
""",
    (IncrementalPCA, "inverse_transform"): r"""
Parameters
----------
X : array-like, DataFrame or DataArray
    Scores, one column per fitted component.

Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> pca = ooc.IncrementalPCA(n_components=3).fit(X)
>>> bool(np.allclose(pca.inverse_transform(pca.transform(X)), X))
True
""",
    (IncrementalPCA, "get_covariance"): r"""
Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> pca = ooc.IncrementalPCA(n_components=3).fit(X)
>>> bool(np.allclose(pca.get_covariance(), np.cov(X.T, ddof=1)))
True
""",
    (IncrementalPCA, "get_precision"): r"""
Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> pca = ooc.IncrementalPCA(n_components=3).fit(X)
>>> bool(np.allclose(pca.get_precision() @ pca.get_covariance(), np.eye(3)))
True
""",
    (IncrementalPCA, "get_feature_names_out"): r"""
Parameters
----------
input_features : array-like of str, optional
    Ignored beyond scikit-learn's checks (the output names do not depend on them).

Examples
--------
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> X = np.array([[1.0, 2.0, 0.5], [2.0, 4.1, 0.1], [3.0, 5.9, 0.9], [4.0, 8.0, 0.3]])
>>> ooc.IncrementalPCA(n_components=2).fit(X).get_feature_names_out()
array(['incrementalpca0', 'incrementalpca1'], dtype=object)
""",
    (IncrementalPCA, "set_params"): r"""
Parameters
----------
**params
    Parameter names and their new values.

Examples
--------
>>> import ooc_accessor as ooc
>>> pca = ooc.IncrementalPCA().set_params(n_components=2, whiten=True)
>>> pca.n_components, pca.whiten
(2, True)
""",
}
