"""Numeric normalizers in TorchEasyRec's ``normalizer`` syntax.

``method=log10,threshold=1e-10,default=-10``: ``log10(x)`` if ``x > threshold``
else ``default`` (defaults: threshold 1e-10, default -10).
``method=zscore,mean=M,standard_deviation=S``: ``(x - M) / S`` (defaults 0, 1).
``method=minmax,min=A,max=B``: ``(x - A) / (B - A)`` (both required).
``method=expression,expr=log(x+3)``: the expression of ``x`` (the value),
evaluated by tzrec.features.safe_expr; ``expr`` comes last and takes the rest
of the text, commas included (``expr=min(x,100)``). Unknown methods or keys,
non-numbers, a zero standard deviation, ``max <= min`` and expressions
outside the whitelist are ConfigErrors.

This module needs only numpy, so config validation can parse normalizers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tzrec.features.safe_expr import Expression
from tzrec.utils.errors import ConfigError

_PARAMS: dict[str, dict[str, float | None]] = {
    "log10": {"threshold": 1e-10, "default": -10.0},
    "zscore": {"mean": 0.0, "standard_deviation": 1.0},
    "minmax": {"min": None, "max": None},
    "expression": {"expr": None},
}


@dataclasses.dataclass(frozen=True)
class Normalizer:
    """A parsed normalizer: ``method`` and its numeric parameters."""

    method: str
    params: dict

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Normalizes float values (any shape); returns float32."""
        p = self.params
        if self.method == "expression":  # float64 inside: wide ints keep digits
            return p["expr"](x=x).astype(np.float32)
        x = x.astype(np.float32, copy=False)
        if self.method == "log10":
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.where(
                    x > p["threshold"],
                    np.log10(np.maximum(x, p["threshold"])),
                    p["default"],
                )
        elif self.method == "zscore":
            out = (x - p["mean"]) / p["standard_deviation"]
        else:
            out = (x - p["min"]) / (p["max"] - p["min"])
        return out.astype(np.float32)


def parse_normalizer(text: str, where: str) -> Normalizer | None:
    """Parses ``method=...,key=value`` text (None for "")."""
    if not text.strip():
        return None
    fields: dict[str, str] = {}
    head, sep, expr = text.partition("expr=")
    if sep:  # the expression is the rest of the text: it may hold commas
        if head.strip() and not head.rstrip().endswith(","):
            raise ConfigError(
                f'bad normalizer text before "expr=": "{head}"',
                where,
                "write method=expression,expr=...",
            )
        fields["expr"] = expr.strip()
    for part in [p.strip() for p in head.split(",") if p.strip()]:
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f'bad normalizer part "{part}"', where, "write key=value")
        fields[key.strip()] = value.strip()
    method = fields.pop("method", "")
    if method not in _PARAMS:
        raise ConfigError(
            f'unknown normalizer method "{method}"',
            where,
            "use log10, zscore, minmax or expression",
        )
    allowed = _PARAMS[method]
    params: dict = {}
    for key, default in allowed.items():
        if key == "expr" and key in fields:
            params[key] = Expression(fields.pop(key), ("x",), where)
        elif key in fields:
            try:
                params[key] = float(fields.pop(key))
            except ValueError:
                raise ConfigError(
                    f"normalizer {key} is not a number", where, f"e.g. {key}=1.0"
                ) from None
        elif default is None:
            raise ConfigError(
                f"normalizer {method} needs {key}", where, f"add {key}=..."
            )
        else:
            params[key] = default
    if fields:
        raise ConfigError(
            f"unknown normalizer key(s) {', '.join(fields)} for method={method}",
            where,
            f"valid: {', '.join(allowed)}",
        )
    if method == "zscore" and params["standard_deviation"] == 0:
        raise ConfigError(
            "normalizer standard_deviation is 0", where, "give a non-zero value"
        )
    if method == "minmax" and params["max"] <= params["min"]:
        raise ConfigError("normalizer needs max > min", where, "fix min / max")
    return Normalizer(method, params)
