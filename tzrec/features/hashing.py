"""Vectorized, process-independent hashing of ids and strings into buckets.

Python's ``hash`` is salted per process, so it would give each DataLoader worker
different buckets; these functions are pure numpy and stable everywhere.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_POLY = np.uint64(0x100000001B3)  # FNV prime: odd, so invertible mod 2**64
_POLY_INV = np.uint64(pow(0x100000001B3, -1, 2**64))


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64, copy=True) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def hash_ints(ids: np.ndarray, num_buckets: int) -> np.ndarray:
    """Hashes int64 ids into ``[0, num_buckets)``."""
    return (mix64(ids.view(np.uint64)) % np.uint64(num_buckets)).astype(np.int64)


def _inverse_powers(n: int) -> np.ndarray:
    """``_POLY ** -i`` for i in [0, n), modulo 2**64."""
    powers = np.full(max(n, 1), _POLY_INV, dtype=np.uint64)
    powers[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(powers, dtype=np.uint64)[:n]


def hash_strings(arr: pa.Array, num_buckets: int) -> np.ndarray:
    """Hashes a pyarrow string array (no nulls) into ``[0, num_buckets)``.

    A polynomial hash over each string's bytes, computed for all strings at once
    from Arrow's offsets and data buffers, then mixed with splitmix64.
    """
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
        arr.offset : arr.offset + n + 1
    ]
    data_buf = arr.buffers()[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8).astype(np.uint64)
        if data_buf is not None
        else np.zeros(0, dtype=np.uint64)
    )
    start, end = offsets[:-1], offsets[1:]
    lengths = (end - start).astype(np.uint64)
    base = int(start[0])
    stop = int(end[-1])
    span = data[base:stop]
    with np.errstate(over="ignore"):
        weighted = span * _inverse_powers(len(span))
        cumsum = np.concatenate([[np.uint64(0)], np.cumsum(weighted, dtype=np.uint64)])
        seg = cumsum[end - base] - cumsum[start - base]
        # Undo the inverse power of each string's first byte position.
        pos_pow = _powers_at(start - base)
        h = seg * pos_pow
        h = h * _POLY + lengths
    return (mix64(h) % np.uint64(num_buckets)).astype(np.int64)


def _powers_at(positions: np.ndarray) -> np.ndarray:
    """``_POLY ** p`` for each position p, by square-and-multiply over all at once."""
    result = np.ones(len(positions), dtype=np.uint64)
    base = np.full(len(positions), _POLY, dtype=np.uint64)
    exp = positions.astype(np.uint64)
    with np.errstate(over="ignore"):
        while np.any(exp):
            odd = (exp & np.uint64(1)).astype(bool)
            result[odd] *= base[odd]
            base *= base
            exp >>= np.uint64(1)
    return result
