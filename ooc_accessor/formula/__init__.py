"""The formula engine: patsy's language and columns, learned and built vectorized.

patsy parses the formula (:func:`ooc_accessor.spec.model_desc`) and its ``DesignInfo``
objects describe the result (names, contrasts, term order), as before; what this
package replaces are patsy's per-value Python loops (level sniffing, and the
``categorical_to_int`` lookup), which took nearly all of a design's build time.

The learn pass is mergeable, so it can run per block and per dask worker:

``learn_block(desc, block, env, NA_action, string_codes) -> State``
    What one block of rows teaches: per factor, numerical with ``k`` columns, or
    categorical with a level set (or fixed levels: ``C(x, levels=...)``, a pandas
    Categorical's categories, bool as ``{False, True}``) and its contrast; per
    ``center()``/``standardize()``/``scale()``, the count, sum, mean and M2 of its input.
    For columns in ``string_codes`` (strings a source delivers as a pandas Categorical)
    the levels are the categories present, as patsy would sniff the strings.
``merge_states(states) -> State``
    Associative: level sets are unions, moments merge exactly (Chan et al.'s parallel
    variance formula). What patsy decides on the first block (a numerical factor's
    width, a Categorical's categories, fixed levels) comes from the left-most state, as
    does the name of a level given by equal values (``1 == 1.0 == True``).
``finish(desc, state, env, NA_action, data_iter_maker=None) -> [DesignInfo, DesignInfo]``
    The response's and the predictors' DesignInfo, as patsy's
    ``design_matrix_builders`` makes them (levels sorted by patsy's ``SortAnythingKey``).
``build_arrays(infos, data, NA_action) -> ([y, X], row labels kept)``
    One block built with fixed infos, bit for bit patsy's ``build_design_matrices``.

:class:`State` and everything in it are plain picklable objects (factors are keyed by
their code; a ``desc`` may be given as the formula's text).

What still goes through patsy's own code, for that factor alone:

- a factor with a stateful transform of the user's own, or nested transforms
  (``memorize_passes_needed > 1``), or a categorical factor whose values come out of
  ``center()``/``standardize()``: patsy's sequential memorize and sniff passes, which
  need ``finish(..., data_iter_maker=...)``;
- categorical values that are 2-D, scalars, unhashable, dates, of an extension dtype
  other than pandas' strings, or with nulls other than ``None``/NaN (patsy's NA for
  levels is exactly ``None`` or what ``float()`` reads as NaN; ``pd.NA`` and ``NaT``
  are levels to it): patsy's ``CategoricalSniffer`` and ``categorical_to_int``;
- a value outside the learned levels: patsy's ``categorical_to_int`` raises its own
  error (which the library translates into ``UnseenLevelError``/``ColumnTypeError``);
- numerical factors: patsy's ``_eval_factor`` (already vectorized).

Levels are those patsy finds when it sniffs all rows at once. patsy's own chunked
sniff stops at the first chunk whose level set equals ``{False, True}`` (as ``{0, 1}``
does), so there an integer factor whose first chunk holds only 0 and 1 loses its other
levels; the merge has no such rule, so chunking does not change the levels.
"""

from __future__ import annotations

from .build import build_arrays
from .finish import finish
from .learn import Learner, learn_block
from .state import FactorState, Moments, State, merge, merge_states

__all__ = [
    "FactorState",
    "Learner",
    "Moments",
    "State",
    "build_arrays",
    "finish",
    "learn_block",
    "merge",
    "merge_states",
]
