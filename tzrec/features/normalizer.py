"""Numeric normalizers in TorchEasyRec's ``normalizer`` syntax.

``method=log10,threshold=1e-10,default=-10``: ``log10(x)`` if ``x > threshold``
else ``default`` (defaults: threshold 1e-10, default -10).
``method=zscore,mean=M,standard_deviation=S``: ``(x - M) / S`` (defaults 0, 1).
``method=minmax,min=A,max=B``: ``(x - A) / (B - A)`` (both required).
``method=expression,...`` is not supported yet. Unknown methods or keys,
non-numbers, a zero standard deviation and ``max <= min`` are ConfigErrors.

This module needs only numpy, so config validation can parse normalizers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tzrec.utils.errors import ConfigError

_PARAMS = {
    "log10": {"threshold": 1e-10, "default": -10.0},
    "zscore": {"mean": 0.0, "standard_deviation": 1.0},
    "minmax": {"min": None, "max": None},
}


@dataclasses.dataclass(frozen=True)
class Normalizer:
    """A parsed normalizer: ``method`` and its numeric parameters."""

    method: str
    params: dict

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Normalizes float values (any shape); returns float32."""
        p = self.params
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
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f'bad normalizer part "{part}"', where, "write key=value")
        fields[key.strip()] = value.strip()
    method = fields.pop("method", "")
    if method == "expression":
        raise ConfigError(
            "normalizer method=expression is not supported yet",
            where,
            "use log10, zscore or minmax, or transform the column beforehand",
        )
    if method not in _PARAMS:
        raise ConfigError(
            f'unknown normalizer method "{method}"',
            where,
            "use log10, zscore or minmax",
        )
    allowed = _PARAMS[method]
    params: dict[str, float] = {}
    for key, default in allowed.items():
        if key in fields:
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
