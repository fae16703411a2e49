"""The library's exceptions, in one place.

Every message names the offending object (column, term, level, file, argument) and says
what to do. Every error the library raises inherits from :class:`OOCError`, and each also
from the built-in type a pandas or scikit-learn user would catch (``ValueError``,
``KeyError``, ``TypeError``, ``FileNotFoundError``...), so ``except ValueError`` keeps
working while ``except ooc.OOCError`` catches everything of ours. A misused argument
(``missing="ignore"``, a ``chunksize`` that is not a positive int, ``dim=`` naming no
dimension, more components than features) is an :class:`ArgumentError` (a ``ValueError``)
or an :class:`ArgumentTypeError` (a ``TypeError``).
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

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
    "FormulaError",
    "MissingColumnError",
    "NotFittedError",
    "OOCError",
    "PerfectSeparationError",
    "PerfectSeparationWarning",
    "PlotError",
    "RankWarning",
    "StoreError",
    "StoreNotFoundError",
    "UnsafeCodeError",
    "UnseenLevelError",
]


class OOCError(Exception):
    """Base class of every error raised by ooc_accessor."""


class ArgumentError(OOCError, ValueError):
    """An argument's value that cannot be used (the argument and the values allowed are named)."""


class ArgumentTypeError(OOCError, TypeError):
    """An argument of a type that cannot be used (the argument and the types allowed are named)."""


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


class CSVNotFoundError(CSVError, FileNotFoundError):
    """A CSV path (or glob) that names no file."""


class ChunkingError(OOCError, ValueError):
    """Dask chunks that a computation cannot read in bounded memory (the fix is named)."""


class UnseenLevelError(OOCError, ValueError):
    """New data holds a categorical level the design never saw."""


class StoreError(OOCError, OSError):
    """A design store that is missing, incomplete, or not one of ours."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """A store path that names no file (never created, or removed since)."""


class UnsafeCodeError(OOCError, ValueError):
    """A store holds formula code outside the allow-list; it is refused, never run.

    A store is data: its formula's expressions are checked to be made only of column names,
    literals and allow-listed functions before anything is evaluated. Opening a store whose
    formula calls other functions needs an explicit opt-in naming them.
    """


class PerfectSeparationError(DataError):
    """A GLM's fitted means meet every response (perfect separation or prediction): its
    coefficients are not identified."""


class ConvergenceError(OOCError, RuntimeError):
    """An iterative fit (a GLM's IRLS) did not converge; the message holds its history."""


class NotFittedError(OOCError, _SklearnNotFittedError):
    """An estimator used before it was fitted: scikit-learn's NotFittedError (so also a
    ``ValueError`` and an ``AttributeError``), caught by ``except
    sklearn.exceptions.NotFittedError`` as by ``except ooc.OOCError``."""


class PlotError(OOCError, ImportError):
    """A plot asked for without matplotlib installed (``pip install ooc_accessor[plot]``)."""


class AccessorAttributeError(OOCError, AttributeError):
    """A method the ``.ooc`` accessor of this kind of object does not offer (a DataArray's
    has only ``pca``); an ``AttributeError``, so ``hasattr`` is False."""


class RankWarning(UserWarning):
    """The design matrix is rank deficient: the fit is the minimum-norm solution."""


class PerfectSeparationWarning(UserWarning):
    """A binomial GLM fitted probabilities numerically 0 or 1 (R's warning): the data may be
    quasi-separated, and the coefficients of the separating terms are not identified."""


class PrecisionWarning(UserWarning):
    """A result may have fewer correct digits than usual; the message says what to use."""
