"""Token -> embedding-row mapping shared by id, combo, lookup and sequence features.

Exactly one of the config's bucketing fields decides (checked at validation):

- ``num_buckets``: the token is the id; ids outside ``[0, num_buckets)`` are
  invalid (the caller drops them or uses ``default_value``), and a token that
  is not an integer is a DataError.
- ``hash_bucket_size``: integers and strings are hashed, stable across
  processes (tzrec.features.hashing).
- ``vocab_list``: entry i gets id i; an unknown token gets the extra last id
  ``len(vocab_list)``.
- ``vocab_dict``: the dict's ids (several tokens may share one); an unknown
  token gets the extra id ``max(id) + 1``.
- ``vocab_file``: one token per line (line i -> id i) or ``token id`` per line
  (split at the last run of whitespace, id a non-negative integer); the path is
  relative to the working directory. Unknown tokens get the extra last id, as
  for the list and dict forms. Blank lines are skipped.

``default_bucketize_value`` (TorchEasyRec's id for what the bucketing does not
know): an unknown vocab token gets this id instead of the extra last one (the
table has ``max(largest id, default_bucketize_value) + 1`` rows), and with
``num_buckets`` an id outside ``[0, num_buckets)`` gets it instead of being
dropped. It has no meaning with ``hash_bucket_size`` (a ConfigError).

``fg_value_type`` (TorchEasyRec: the type FG gives the values): ``string``
buckets every value by its text (an integer 5 hashes as "5"); ``int32`` /
``int64`` read every value as an integer (text that is not one is a
DataError); empty keeps the column's own type.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.hashing import hash_ints, hash_strings
from tzrec.utils.errors import ConfigError, DataError


def load_vocab_file(path: str, where: str) -> tuple[list[str], np.ndarray]:
    """Tokens and ids of a vocab file (list or ``token id`` dict form)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise ConfigError(
            f"cannot read vocab_file: {reason}",
            f"{where}.vocab_file ({path})",
            "give a readable UTF-8 file (paths are relative to the working directory)",
        ) from None
    lines = [line for line in lines if line]
    if not lines:
        raise ConfigError("vocab_file is empty", f"{where}.vocab_file ({path})")
    pairs = [line.rsplit(None, 1) for line in lines]
    is_dict = all(len(p) == 2 and p[1].isdigit() for p in pairs)
    if is_dict:
        tokens = [p[0] for p in pairs]
        ids = np.array([int(p[1]) for p in pairs], dtype=np.int64)
    else:
        tokens, ids = lines, np.arange(len(lines), dtype=np.int64)
    _check_unique(tokens, f"{where}.vocab_file ({path})")
    return tokens, ids


def _check_unique(tokens: list[str], where: str) -> None:
    seen: set[str] = set()
    for t in tokens:
        if t in seen:
            raise ConfigError(
                f'duplicate vocab entry "{t}"', where, "list each token once"
            )
        seen.add(t)


class Bucketizer:
    """Maps a flat token array to ids in ``[0, num_embeddings)``.

    Args:
        config: a feature proto with some of ``num_buckets``,
            ``hash_bucket_size``, ``vocab_list``, ``vocab_dict``, ``vocab_file``.
        where: the feature's config path, for errors.

    """

    def __init__(self, config, where: str) -> None:
        fields = config.DESCRIPTOR.fields_by_name
        self.mode = ""
        self.size = 0
        self.value_type = self._value_type(config, fields, where)
        dbv = (
            int(config.default_bucketize_value)
            if "default_bucketize_value" in fields
            and config.HasField("default_bucketize_value")
            else None
        )
        self.out_of_range = dbv
        if "num_buckets" in fields and config.num_buckets:
            self.mode, self.size = "num", int(config.num_buckets)
            if dbv is not None and dbv >= self.size:
                raise ConfigError(
                    f"default_bucketize_value {dbv} is not below num_buckets "
                    f"{self.size}",
                    f"{where}.default_bucketize_value",
                    f"give an id in [0, {self.size})",
                )
        elif "hash_bucket_size" in fields and config.hash_bucket_size:
            self.mode, self.size = "hash", int(config.hash_bucket_size)
            if dbv is not None:
                raise ConfigError(
                    "default_bucketize_value has no meaning with hash_bucket_size",
                    f"{where}.default_bucketize_value",
                    "remove it (every hashed value has a bucket)",
                )
        else:
            tokens, ids = self._vocab(config, fields, where)
            self.mode = "vocab"
            self.vocab = pa.array(tokens, pa.string())
            self.vocab_ids = ids
            largest = int(ids.max()) if len(ids) else -1
            if dbv is None:
                self.unknown = largest + 1
                self.size = self.unknown + 1
            else:
                self.unknown = dbv
                self.size = max(largest, dbv) + 1

    @staticmethod
    def _value_type(config, fields, where: str) -> str:  # noqa: ANN001
        kind = config.fg_value_type if "fg_value_type" in fields else ""
        if kind not in ("", "string", "int32", "int64"):
            raise ConfigError(
                f'fg_value_type "{kind}" is not supported yet',
                f"{where}.fg_value_type",
                "use string, int32 or int64",
            )
        return kind

    def _typed(self, tokens: pa.Array, where: str) -> pa.Array:
        if self.value_type == "string":
            return tokens.cast(pa.string())
        if self.value_type in ("int32", "int64"):
            return pa.array(_as_int(tokens, where))
        return tokens

    @staticmethod
    def _vocab(config, fields, where: str) -> tuple[list[str], np.ndarray]:
        if "vocab_list" in fields and len(config.vocab_list):
            tokens = list(config.vocab_list)
            _check_unique(tokens, f"{where}.vocab_list")
            return tokens, np.arange(len(tokens), dtype=np.int64)
        if "vocab_dict" in fields and len(config.vocab_dict):
            items = sorted(config.vocab_dict.items())
            return [k for k, _ in items], np.array([v for _, v in items], np.int64)
        if "vocab_file" in fields and config.vocab_file:
            return load_vocab_file(config.vocab_file, where)
        raise ConfigError(
            "no bucketing field set",
            where,
            "set one of num_buckets, hash_bucket_size, vocab_list, vocab_dict, "
            "vocab_file",
        )

    def __call__(
        self, tokens: pa.Array, where: str
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Ids of ``tokens`` and a validity mask (None when all are valid)."""
        tokens = self._typed(tokens, where)
        if self.mode == "num":
            ids = _as_int(tokens, where)
            valid = (ids >= 0) & (ids < self.size)
            if self.out_of_range is not None:
                return np.where(valid, ids, self.out_of_range), None
            return ids, (None if valid.all() else valid)
        if self.mode == "hash":
            if pa.types.is_integer(tokens.type):
                ints = tokens.to_numpy(zero_copy_only=False).astype(np.int64)
                return hash_ints(ints, self.size), None
            return hash_strings(tokens.cast(pa.string()), self.size), None
        idx = pc.index_in(tokens.cast(pa.string()), value_set=self.vocab)
        idx = pc.fill_null(idx, -1).to_numpy(zero_copy_only=False)
        ids = np.where(idx >= 0, self.vocab_ids[np.maximum(idx, 0)], self.unknown)
        return ids.astype(np.int64), None

    def token_id(self, token: str, where: str) -> int:
        """The id of a configured token (``default_value``); ConfigError if invalid."""
        try:
            ids, valid = self(pa.array([token], pa.string()), where)
        except DataError:
            valid = np.array([False])
        if valid is not None and not valid[0]:
            raise ConfigError(
                f'default_value "{token}" is not a valid id',
                where,
                f"give an integer in [0, {self.size})",
            )
        return int(ids[0])


def _as_int(tokens: pa.Array, where: str) -> np.ndarray:
    if pa.types.is_integer(tokens.type):
        return tokens.to_numpy(zero_copy_only=False).astype(np.int64)
    try:
        return (
            pc.cast(tokens, pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(
            f"non-integer value in a num_buckets id column: {str(e)[:80]}",
            where,
            "use hash_bucket_size or a vocab for string ids",
        ) from None
