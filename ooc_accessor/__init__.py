"""Out-of-core linear algebra and statistics for pandas and xarray users.

``import ooc_accessor`` registers the ``.ooc`` accessor on ``pandas.DataFrame``,
``xarray.Dataset`` and ``xarray.DataArray``; :func:`read_csv` streams CSV files into a
chunked NetCDF store.
"""

from importlib.metadata import PackageNotFoundError, version

from . import accessors as _accessors  # noqa: F401 - registers .ooc
from . import signatures as _signatures
from .csvio import open_csv_store, read_csv
from .design import Design
from .docstrings import attach as _attach_docs
from .errors import (
    AccessorAttributeError,
    ArgumentError,
    ArgumentTypeError,
    ChunkingError,
    ColumnTypeError,
    ConvergenceError,
    CSVError,
    CSVNotFoundError,
    DataError,
    FormulaError,
    MissingColumnError,
    NotFittedError,
    OOCError,
    PerfectSeparationError,
    PerfectSeparationWarning,
    PlotError,
    PrecisionWarning,
    RankWarning,
    StoreError,
    StoreNotFoundError,
    UnsafeCodeError,
    UnseenLevelError,
)
from .opening import open_design
from .options import get_options as _get_options
from .options import set_options
from .pca import IncrementalPCA
from .results import LstsqResult, Summary, SVDResult
from .stats.glmresults import GLMResults

_attach_docs()  # the Examples sections (see ooc_accessor/docstrings)

# a misspelt keyword is an ArgumentTypeError naming the accepted ones, as everywhere
get_options = _signatures.checked(_get_options)

try:
    __version__ = version("ooc_accessor")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "AccessorAttributeError",
    "ArgumentError",
    "ArgumentTypeError",
    "CSVError",
    "CSVNotFoundError",
    "ChunkingError",
    "ColumnTypeError",
    "ConvergenceError",
    "DataError",
    "Design",
    "FormulaError",
    "GLMResults",
    "IncrementalPCA",
    "LstsqResult",
    "MissingColumnError",
    "NotFittedError",
    "OOCError",
    "PerfectSeparationError",
    "PerfectSeparationWarning",
    "PlotError",
    "PrecisionWarning",
    "RankWarning",
    "SVDResult",
    "StoreError",
    "StoreNotFoundError",
    "Summary",
    "UnsafeCodeError",
    "UnseenLevelError",
    "__version__",
    "get_options",
    "open_csv_store",
    "open_design",
    "read_csv",
    "set_options",
]


def __dir__() -> list[str]:
    """The public names only: ``ooc.<TAB>`` does not offer the internal modules."""
    return sorted(__all__)
