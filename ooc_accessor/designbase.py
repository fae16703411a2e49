"""What a design knows without its rows: the formula, its learned state, its labels.

:class:`DesignBase` is shared by :class:`~ooc_accessor.design.Design` (a stored design)
and :class:`~ooc_accessor.streamfit.DeferredDesign` (a fit's design not yet written):
the column names, patsy's DesignInfos rebuilt from the JSON spec, and building the same
columns for new data, none of which reads a stored row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr
from patsy import EvalEnvironment
from patsy.design_info import DesignInfo

from .arguments import resolve_chunksize
from .blocks import Block, build_block, check_missing_policy, empty_info
from .coltypes import check_numeric_inputs
from .sources import missing_columns, table_source, used_columns
from .spec import default_eval_env, infos_from_spec

if TYPE_CHECKING:
    from .design import Design

__all__ = ["DesignBase"]


class DesignBase:
    """The formula side of a design: names, state, and building new data's columns.

    A subclass sets ``formula``, ``_spec`` (the JSON-able state), ``_eval_env``,
    ``_where`` (None for a spec this session wrote, else where it was read from, for
    messages and the allow-list), ``_trust``, ``_infos`` (None until rebuilt),
    ``_column_dtypes`` and ``sample_dim``.
    """

    formula: str
    sample_dim: str
    _spec: dict
    _eval_env: EvalEnvironment | None
    _where: str | None
    _trust: frozenset[str]
    _infos: list[DesignInfo] | None
    _column_dtypes: dict[str, str] | None

    @property
    def terms(self) -> list[str]:
        """Column names of X."""
        return list(self._spec["matrices"][1]["column_names"])

    @property
    def responses(self) -> list[str]:
        """Column names of y (empty without a left side)."""
        return list(self._spec["matrices"][0]["column_names"])

    @property
    def spec(self) -> dict:
        """The JSON-able formula state (levels, transform state), as saved in the store."""
        return self._spec

    @property
    def design_infos(self) -> list[DesignInfo]:
        """patsy's DesignInfo of y and X, rebuilt from the saved spec."""
        if self._infos is None:
            self._infos = infos_from_spec(
                self._spec,
                self._eval_env,
                where=self._where,
                formula=self.formula,
                trust=self._trust,
            )
        return self._infos

    def build(
        self,
        data: pd.DataFrame | xr.Dataset,
        *,
        dim: str | None = None,
        path: str | os.PathLike | None = None,
        chunksize: int | str = "auto",
        missing: str = "drop",
        weights: str | Any | None = None,
    ) -> Design:
        """The same columns (levels, transform state) for new data, stored.

        A response column absent from ``data`` is left out (a design for prediction). A
        categorical level the design never saw raises :class:`UnseenLevelError`.
        ``weights`` is a column name or one weight per row, as in
        :func:`~ooc_accessor.design.build_design`.
        """
        check_missing_policy(missing)
        y_info, x_info = self.design_infos
        env = self._eval_env if self._eval_env is not None else default_eval_env()
        table = table_source(data, dim)
        if missing_columns(table, [f.code for f in y_info.factor_infos], env):
            y_info = empty_info()
        codes = [f.code for info in (y_info, x_info) for f in info.factor_infos]
        table, wcol = table.with_weights(weights)
        used = used_columns(table, codes, env, self.formula)
        self._check_inputs(table, [y_info, x_info])
        columns = used + ([wcol] if wcol and wcol not in used else [])
        from .design import write_design  # the writer sits a floor above (Design's module)

        return write_design(
            table.select(columns, codes),
            [y_info, x_info],
            self.formula,
            chunksize=chunksize,
            path=path,
            missing=missing,
            wcol=wcol,
            eval_env=self._eval_env,
            compression=None,
        )

    def predictor_blocks(
        self, data: pd.DataFrame | xr.Dataset, chunksize: int | str = "auto", dim: str | None = None
    ) -> Iterator[tuple[int, Block]]:
        """X of ``data`` built block by block in memory: ``(first row, Block)`` pairs."""
        x_info = self.design_infos[1]
        env = self._eval_env if self._eval_env is not None else default_eval_env()
        table = table_source(data, dim)
        used = used_columns(table, [f.code for f in x_info.factor_infos], env, self.formula)
        self._check_inputs(table, [x_info])
        rows = resolve_chunksize(chunksize, len(self.terms), table.n_rows)
        start = 0
        for block in table.select(used, [f.code for f in x_info.factor_infos]).blocks(rows):
            yield start, build_block([empty_info(), x_info], block, "drop", None, self.formula)
            start += len(block)

    def _check_inputs(self, table: Any, infos: list[DesignInfo]) -> None:
        """New data's columns are of the kinds the design was built from (numbers stay
        numbers), checked before a block is read."""
        if self._column_dtypes is not None:
            check_numeric_inputs(infos, table.dtype, set(table.names), self._column_dtypes)
