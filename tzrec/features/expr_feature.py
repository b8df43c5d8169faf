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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.feature import (
    SequenceSpec,
    check_value_dim,
    column_of,
    split_sequence,
    to_float,
)
from tzrec.features.numeric import NumericFeature
from tzrec.features.safe_expr import Expression, from_c_style
from tzrec.utils.errors import ConfigError, DataError

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
        # In a sequence, TorchEasyRec reads a multi-input feature's item-side
        # (or unprefixed) inputs per position and the others once per row.
        single = len(self.var_names) == 1
        self.per_position = [
            sequence is not None and (single or not v.startswith(("user:", "context:")))
            for v in config.variables
        ]
        if sequence is not None and not any(self.per_position):
            raise ConfigError(
                "a sequence expr_feature needs a per-position (item-side) variable",
                f"{where}.variables",
                'e.g. variables: ["user:now", "item:click_time"]',
            )

    @property
    def inputs(self) -> list[str]:
        """The variables' columns (per-position ones with the sequence prefix)."""
        prefix = self.sequence.prefix if self.sequence else ""
        return [
            (prefix if seq else "") + v
            for v, seq in zip(self.var_names, self.per_position, strict=True)
        ]

    def compute_sequence(
        self, columns: dict[str, pa.Array]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The expression per position; per-row variables repeat over positions."""
        lengths: np.ndarray | None = None
        flat: dict[str, np.ndarray] = {}
        for var, col, seq in zip(
            self.var_names, self.inputs, self.per_position, strict=True
        ):
            if not seq:
                continue
            tokens, n = split_sequence(
                self.column(columns, col), self.sequence.delim, self.sequence.length
            )
            if lengths is not None and not np.array_equal(lengths, n):
                row = int(np.flatnonzero(lengths != n)[0])
                raise DataError(
                    f"sequence lengths differ in row {row} of a batch",
                    self.where(col),
                    "give the variables of one sequence one value per position",
                )
            lengths = n
            flat[var] = self._number(tokens, col)
        assert lengths is not None
        for var, col, seq in zip(
            self.var_names, self.inputs, self.per_position, strict=True
        ):
            if not seq:
                flat[var] = np.repeat(
                    self._number(self.column(columns, col), col), lengths
                )
        return self._evaluate(flat, int(lengths.sum())), lengths

    def compute(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The expression per row (NaN where an input or the result is missing)."""
        env = {
            var: self._number(self.column(columns, col), col)
            for var, col in zip(self.var_names, self.inputs, strict=True)
        }
        return self._evaluate(env, len(env[self.var_names[0]]))

    def _evaluate(self, env: dict[str, np.ndarray], n: int) -> np.ndarray:
        used = {k: v for k, v in env.items() if k in self.expr.used}
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
