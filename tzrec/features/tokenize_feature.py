"""TokenizeFeature: a text column split into word tokens looked up in a vocabulary.

TorchEasyRec's ``tokenize_feature``, for word-level vocabularies.
``vocab_file`` is either a Hugging Face ``tokenizer.json`` whose model is
``WordLevel`` (its ``vocab`` and ``unk_token``), or a plain text file with
one token per line (line i -> id i, no unknown token). The text is optionally
normalised (``text_normalizer.norm_options``: ``TEXT_LOWER2UPPER``,
``TEXT_UPPER2LOWER``, ``TEXT_FILTER`` (drops characters other than letters,
digits and spaces), ``TEXT_SPLITCHRS`` (each CJK character its own word),
``TEXT_REMOVE_SPACE``), cut to ``max_length`` characters, then split into
words (runs of letters/digits, and runs of other non-space characters, as
the ``Whitespace`` pre-tokenizer does). Each word is one token: its vocab
id, or the unknown token's id (dropped when there is none). An empty text
takes ``default_value`` when it is set. All of it vectorised over the batch
(pyarrow compute).

Not supported yet (a ConfigError says so): BPE / WordPiece / Unigram
models (merges and sub-word splitting), ``tokenizer_type:
"sentencepiece"``, the ``TEXT_SBC2DBC`` / ``TEXT_CHT2CHS`` normalisations and
``stop_char_file``.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.feature import (
    BaseFeature,
    SequenceSpec,
    SparseValues,
    TableSpec,
    drop_values,
)
from tzrec.protos import feature_pb2
from tzrec.utils.errors import ConfigError

_OPTIONS = feature_pb2.TextNormalizeOption
_UNSUPPORTED_OPTIONS = {
    _OPTIONS.TEXT_SBC2DBC: "full-width to half-width",
    _OPTIONS.TEXT_CHT2CHS: "traditional to simplified Chinese",
}
_CJK = "[\u4e00-\u9fff\u3400-\u4dbf]"


def load_word_vocab(path: str, where: str) -> tuple[list[str], np.ndarray, int | None]:
    """Tokens, ids and the unknown id of a WordLevel tokenizer.json or a word list."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"cannot read vocab_file: {getattr(e, 'strerror', None) or e}",
            f"{where}.vocab_file ({path})",
            "give a readable UTF-8 file",
        ) from None
    if not text.lstrip().startswith("{"):
        words = [w.strip() for w in text.splitlines() if w.strip()]
        if not words:
            raise ConfigError("vocab_file is empty", f"{where}.vocab_file ({path})")
        return words, np.arange(len(words), dtype=np.int64), None
    try:
        model = json.loads(text)["model"]
        kind = model.get("type", "")
        vocab = model["vocab"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError(
            "vocab_file is not a tokenizer.json with a model vocab",
            f"{where}.vocab_file ({path})",
            "give a Hugging Face tokenizer.json or a word list",
        ) from None
    if kind != "WordLevel":
        raise ConfigError(
            f"{kind or 'this'} tokenizer models are not supported yet",
            f"{where}.vocab_file ({path})",
            "use a WordLevel tokenizer.json or a word list (one word a line)",
        )
    tokens = list(vocab)
    ids = np.array([int(vocab[t]) for t in tokens], dtype=np.int64)
    unk = model.get("unk_token")
    return tokens, ids, (int(vocab[unk]) if unk in vocab else None)


class TokenizeFeature(BaseFeature):
    """Word ids of a text column (see module doc)."""

    is_sparse = True

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:  # noqa: ANN001
        super().__init__(config, sequence)
        where = f"feature {self.name}"
        if config.tokenizer_type not in ("bpe", ""):
            raise ConfigError(
                f'tokenizer_type "{config.tokenizer_type}" is not supported yet',
                f"{where}.tokenizer_type",
                "use a WordLevel tokenizer.json (tokenizer_type bpe, the default)",
            )
        if not config.vocab_file:
            raise ConfigError(
                "tokenize_feature needs vocab_file",
                f"{where}.vocab_file",
                "a WordLevel tokenizer.json or a word list",
            )
        tokens, ids, self.unknown = load_word_vocab(config.vocab_file, where)
        self.vocab = pa.array(tokens, pa.string())
        self.vocab_ids = ids
        self.size = int(ids.max()) + 1
        self.options = self._options(config.text_normalizer, where)
        self.max_length = int(config.text_normalizer.max_length)
        self.default = config.default_value or None

    @staticmethod
    def _options(tn, where: str) -> list[int]:  # noqa: ANN001
        if tn.stop_char_file:  # also refused by config validation
            raise ConfigError(
                "stop_char_file is not supported yet",
                f"{where}.text_normalizer.stop_char_file",
                "remove it (use TEXT_FILTER)",
            )
        for opt in tn.norm_options:
            if opt in _UNSUPPORTED_OPTIONS:
                raise ConfigError(
                    f"{_OPTIONS.Name(opt)} ({_UNSUPPORTED_OPTIONS[opt]}) is not "
                    "supported yet",
                    f"{where}.text_normalizer.norm_options",
                    "remove it",
                )
        return list(tn.norm_options)

    @property
    def output_dim(self) -> int:
        """Embedding width."""
        return int(self.config.embedding_dim)

    @property
    def table(self) -> TableSpec:
        """The embedding table (rows: the largest vocab id + 1)."""
        return self.embedding_table(self.size)

    def normalize(self, text: pa.Array) -> pa.Array:
        """The text after ``text_normalizer`` (options in the config's order)."""
        for opt in self.options:
            if opt == _OPTIONS.TEXT_LOWER2UPPER:
                text = pc.utf8_upper(text)
            elif opt == _OPTIONS.TEXT_UPPER2LOWER:
                text = pc.utf8_lower(text)
            elif opt == _OPTIONS.TEXT_FILTER:
                text = pc.replace_substring_regex(text, r"[^\p{L}\p{N}\s]", "")
            elif opt == _OPTIONS.TEXT_SPLITCHRS:
                text = pc.replace_substring_regex(text, f"({_CJK})", r" \1 ")
            elif opt == _OPTIONS.TEXT_REMOVE_SPACE:
                text = pc.replace_substring_regex(text, r"\s+", "")
        if self.max_length:
            text = pc.utf8_slice_codeunits(text, 0, self.max_length)
        return text

    def words(self, text: pa.Array) -> tuple[pa.Array, np.ndarray]:
        """Flat words and per-row counts (word-character runs and punctuation runs)."""
        text = pc.replace_substring_regex(text, r"(\w)([^\w\s])", r"\1 \2")
        text = pc.replace_substring_regex(text, r"([^\w\s])(\w)", r"\1 \2")
        parts = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(text))
        lengths = pc.fill_null(pc.list_value_length(parts), 0).to_numpy()
        flat, lengths = pc.list_flatten(parts), lengths.astype(np.int32)
        empty = pc.equal(flat, "").to_numpy(zero_copy_only=False)
        if empty.any():  # "" splits into one empty word
            flat = pc.filter(flat, pa.array(~empty))
            lengths = drop_values(lengths, ~empty)
        return flat, lengths

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Word ids per row."""
        text = self.column(columns).cast(pa.string())
        if self.default is not None:
            empty = pc.or_kleene(pc.is_null(text), pc.equal(text, ""))
            text = pc.if_else(empty, self.default, text)
        words, lengths = self.words(self.normalize(pc.fill_null(text, "")))
        idx = pc.fill_null(pc.index_in(words, value_set=self.vocab), -1)
        idx = idx.to_numpy(zero_copy_only=False)
        known = idx >= 0
        if self.unknown is None:
            ids = self.vocab_ids[idx[known]]
            lengths = drop_values(lengths, known)
        else:
            ids = np.where(known, self.vocab_ids[np.maximum(idx, 0)], self.unknown)
        return SparseValues(ids.astype(np.int64), lengths)
