"""Out-of-core linear algebra and statistics for pandas and xarray users.

``import ooc_accessor`` registers the ``.ooc`` accessor on ``pandas.DataFrame`` and
``xarray.DataArray``.
"""

from importlib.metadata import PackageNotFoundError, version

from . import accessors as _accessors  # noqa: F401 - registers .ooc
from .design import Design, open_design
from .errors import (
    ColumnTypeError,
    DataError,
    FormulaError,
    MissingColumnError,
    NotFittedError,
    OOCError,
    PrecisionWarning,
    RankWarning,
    StoreError,
    UnseenLevelError,
)
from .pca import IncrementalPCA
from .results import LstsqResult, Summary, SVDResult

try:
    __version__ = version("ooc_accessor")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "ColumnTypeError",
    "DataError",
    "Design",
    "FormulaError",
    "IncrementalPCA",
    "LstsqResult",
    "MissingColumnError",
    "NotFittedError",
    "OOCError",
    "PrecisionWarning",
    "RankWarning",
    "SVDResult",
    "StoreError",
    "Summary",
    "UnseenLevelError",
    "__version__",
    "open_design",
]
