"""The library's exceptions, in one place.

Every message names the offending object (column, term, level, file) and says what to do.
Errors about the data, the formula, files and stores inherit from :class:`OOCError`, and
each also from the built-in type a pandas or scikit-learn user would catch
(``ValueError``, ``KeyError``...). A misused argument (``missing="ignore"``, a
``chunksize`` that is not a positive int, ``dim=`` on a DataFrame) raises a plain
``ValueError`` or ``TypeError``, as pandas and scikit-learn do.
"""

from __future__ import annotations

__all__ = [
    "CSVError",
    "ChunkingError",
    "ColumnTypeError",
    "DataError",
    "FormulaError",
    "MissingColumnError",
    "NotFittedError",
    "OOCError",
    "RankWarning",
    "StoreError",
    "UnseenLevelError",
]


class OOCError(Exception):
    """Base class of every error raised by ooc_accessor."""


class FormulaError(OOCError, ValueError):
    """A formula that cannot be parsed or evaluated (patsy's caret message is kept)."""


class MissingColumnError(OOCError, KeyError):
    """A formula names a column that the data does not have."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class ColumnTypeError(OOCError, TypeError):
    """A column's dtype cannot be used where the formula uses it."""


class DataError(OOCError, ValueError):
    """The data cannot give a fit: empty, all rows dropped, too few rows, inf values."""


class CSVError(OOCError, ValueError):
    """A CSV file that cannot be read: the file (and line, when known) is named."""


class ChunkingError(OOCError, ValueError):
    """Dask chunks that a computation cannot read in bounded memory (the fix is named)."""


class UnseenLevelError(OOCError, ValueError):
    """New data holds a categorical level the design never saw."""


class StoreError(OOCError, OSError):
    """A design store that is missing, incomplete, or not one of ours."""


class NotFittedError(OOCError, ValueError, AttributeError):
    """An estimator used before it was fitted (as scikit-learn's NotFittedError)."""


class RankWarning(UserWarning):
    """The design matrix is rank deficient: the fit is the minimum-norm solution."""


class PrecisionWarning(UserWarning):
    """A result may have fewer correct digits than usual; the message says what to use."""
