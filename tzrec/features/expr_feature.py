"""ExprFeature: an arithmetic expression over numeric columns.

TorchEasyRec's ``expr_feature``: ``variables`` name the columns (side
prefix dropped: ``user:u_age`` is the column and the variable ``u_age``),
``expression`` is the formula in TorchEasyRec's C-style syntax (``?:``,
``&&``, ``||``, ``!``, ``^`` for power, comparisons giving 1/0, ``_pi``,
``_e``) or Python syntax, evaluated by the whitelisting evaluator
tzrec.features.safe_expr over whole columns (never ``eval``). Functions:
those of ``safe_expr.FUNCTIONS``; TorchEasyRec's vector functions (``dot``,
``len``, ``reduce_*``...) and ``rnd`` are not supported (a ConfigError names
the function).

Each variable is one number per row; a missing one (null, empty, NaN) takes
``fill_missing`` when set, otherwise the row's result is missing and takes
``default_value``. A NaN or infinite result is missing too. Then, as for a
RawFeature: ``boundaries`` (bucket ids) or the dense value (see
tzrec.features.numeric).

As a sequence feature (``sequence_expr_feature`` or a ``sequence_feature``
sub-feature) the result is one number per position: as in TorchEasyRec, a
lone variable, and the item-side (or unprefixed) variables of several, are
read per position (split by ``sequence_delim``; their lengths must agree),
while ``user:`` / ``context:`` variables are one number per row, repeated
over the row's positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.feature import (
    SequenceSpec,
    check_value_dim,
    column_of,
    to_float,
)
from tzrec.features.numeric import NumericFeature
from tzrec.features.safe_expr import Expression, from_c_style
from tzrec.utils.errors import ConfigError

CONSTANTS = {"_pi": np.pi, "_e": np.e}


class ExprFeature(NumericFeature):
    """One number per row computed from ``variables`` by ``expression``."""

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:  # noqa: ANN001
        super().__init__(config, sequence)
        where = f"feature {self.name}"
        if not config.variables:
            raise ConfigError(
                "expr_feature needs variables",
                f"{where}.variables",
                'e.g. variables: ["user:u_age", "item:i_age"]',
            )
        self.var_names = [
            column_of(v, "", f"{where}.variables") for v in config.variables
        ]
        self.expr = Expression(
            from_c_style(config.expression),
            tuple(self.var_names) + tuple(CONSTANTS),
            f"{where}.expression",
        )
        check_value_dim(config, where)  # one number per row: 0 or 1 mean that
        self.fill = config.fill_missing if config.HasField("fill_missing") else None
        self.check_sequence()

    def input_expressions(self) -> list[str]:
        """The variables (side prefix kept)."""
        return list(self.config.variables)

    def compute(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The expression per row (NaN where an input or the result is missing)."""
        env = {
            var: self._number(self.column(columns, col), col)
            for var, col in zip(self.var_names, self.inputs, strict=True)
        }
        return self._evaluate(env, len(env[self.var_names[0]]))

    def _evaluate(self, env: dict[str, np.ndarray], n: int) -> np.ndarray:
        used: dict[str, Any] = {k: v for k, v in env.items() if k in self.expr.used}
        for name in self.expr.used:
            if name in CONSTANTS:
                used[name] = np.float64(CONSTANTS[name])
        if not used:
            used = {self.var_names[0]: np.zeros(n)}
        out = np.asarray(self.expr(**used), dtype=np.float64)
        out = np.broadcast_to(out, (n,)).astype(np.float32)
        return np.where(np.isfinite(out), out, np.nan)

    def _number(self, col: pa.Array, name: str) -> np.ndarray:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
        v = to_float(col, self.where(name)).astype(np.float64)
        if self.fill is not None:
            v = np.where(np.isnan(v), self.fill, v)
        return v
