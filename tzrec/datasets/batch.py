"""A training batch and the code that builds one from a pyarrow record batch.

Every feature encodes its whole column at once (numpy / pyarrow compute); the
batch is then a handful of tensor constructions: no Python loop over rows.

A KJT whose features include a ``weighted`` one carries weights for all of
them (1.0 for the unweighted). Features of one sequence (the sub-features of
a ``sequence_feature``, or sequences listed together in ``sequence_groups``)
must have equal lengths in every row; a mismatch is a DataError naming both
columns.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torchrec import KeyedJaggedTensor

from tzrec.datasets.labels import LabelRange
from tzrec.features.feature import BaseFeature, base_feature_name
from tzrec.features.mask import masked_columns, uses_mask
from tzrec.utils.errors import DataError


@dataclasses.dataclass
class Batch:
    """Model input for one step.

    Attributes:
        dense: dense feature name -> float32 [B, value_dim]; a sequence raw
            feature's is [B, sequence_length, value_dim], zero-padded.
        sparse: KeyedJaggedTensors by embedding-collection name (``deep``,
            ``wide``), each holding the ids of the features that collection reads.
        labels: label column -> float32 [B] (int64 for multi-class).
        weights: sample-weight column -> float32 [B].
        extras: other columns kept for metrics (e.g. grouped AUC keys) -> int64 [B].
        batch_size: rows in this batch.

    """

    dense: dict[str, torch.Tensor]
    sparse: dict[str, KeyedJaggedTensor]
    labels: dict[str, torch.Tensor]
    weights: dict[str, torch.Tensor]
    extras: dict[str, torch.Tensor]
    batch_size: int

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        """A copy on ``device``."""
        if device.type == "cpu":
            return self

        def move(d: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {k: v.to(device, non_blocking=non_blocking) for k, v in d.items()}

        return Batch(
            move(self.dense),
            {
                k: v.to(device, non_blocking=non_blocking)
                for k, v in self.sparse.items()
            },
            move(self.labels),
            move(self.weights),
            move(self.extras),
            self.batch_size,
        )

    def pin_memory(self) -> Batch:
        """A copy in pinned host memory (called by the DataLoader's pin thread)."""

        def pin(d: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {k: v.pin_memory() for k, v in d.items()}

        return Batch(
            pin(self.dense),
            {k: v.pin_memory() for k, v in self.sparse.items()},
            pin(self.labels),
            pin(self.weights),
            pin(self.extras),
            self.batch_size,
        )


class BatchBuilder:
    """Turns pyarrow record batches into :class:`Batch` objects.

    Args:
        features: all configured features.
        label_fields: label columns (required in the data).
        weight_fields: sample-weight columns.
        extra_fields: other int64 columns to carry (grouping keys).
        require_labels: False for prediction input, which has no labels.
        sparse_groups: collection name -> the sparse feature names it reads;
            default: one ``deep`` collection of every sparse feature.
        sequence_groups: lists of sequence features whose lengths must agree
            row by row (``EmbeddingGroup.aligned_sequences``); sub-features of
            one ``sequence_feature`` are always checked.
        label_ranges: label column -> allowed values
            (``tzrec.datasets.labels.label_ranges``); NaN is always refused.
        mask_prob: ``data_config.sample_mask_prob`` for a training builder:
            the share of samples whose ``use_mask`` features read as missing
            (tzrec.features.mask); 0 for evaluation and prediction.
        seed: seeds the draw of masked samples.

    """

    def __init__(
        self,
        features: list[BaseFeature],
        label_fields: list[str],
        weight_fields: list[str] | None = None,
        extra_fields: list[str] | None = None,
        require_labels: bool = True,
        sparse_groups: dict[str, list[str]] | None = None,
        sequence_groups: list[list[str]] | None = None,
        label_ranges: dict[str, LabelRange] | None = None,
        mask_prob: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.features = features
        self.sparse_features = [f for f in features if f.is_sparse]
        self.dense_features = [f for f in features if not f.is_sparse]
        self.label_fields = list(label_fields) if require_labels else []
        self.weight_fields = list(weight_fields or [])
        self.extra_fields = list(extra_fields or [])
        self.sparse_groups = sparse_groups or {
            "deep": [f.name for f in self.sparse_features]
        }
        by_name = {f.name: f for f in features}
        self.weighted_groups = {
            g for g, keys in self.sparse_groups.items()
            if any(
                by_name[base_feature_name(k)].is_weighted
                for k in keys if base_feature_name(k) in by_name
            )
        }  # fmt: skip
        self.aligned = _aligned_sets(features, sequence_groups or [])
        self.label_ranges = dict(label_ranges or {})
        self.masked = [f for f in features if uses_mask(f)] if mask_prob > 0 else []
        self.mask_prob = mask_prob
        self._seed = seed
        self._rng: np.random.Generator | None = None

    @property
    def columns(self) -> list[str]:
        """Every column a batch needs, without duplicates, in a stable order."""
        cols: list[str] = []
        for f in self.features:
            cols += f.inputs
        cols += self.label_fields + self.weight_fields + self.extra_fields
        return list(dict.fromkeys(cols))

    def build(self, rb: pa.RecordBatch | pa.Table) -> Batch:
        """Encodes one record batch."""
        columns = {name: rb.column(name) for name in rb.schema.names}
        n = rb.num_rows
        if self.masked:
            if self._rng is None:
                # Per DataLoader worker: forked copies must not draw alike.
                worker = torch.utils.data.get_worker_info()
                wid = worker.id if worker is not None else 0
                self._rng = np.random.default_rng([self._seed, wid])
            drawn = self._rng.random(n) < self.mask_prob
            columns = masked_columns(columns, self.masked, drawn)
        dense: dict[str, torch.Tensor] = {}
        seq_lengths: dict[str, np.ndarray] = {}
        for f in self.dense_features:
            if f.is_sequence:
                values, seq_lengths[f.name] = f.encode_sequence_dense(columns)
            else:
                values = f.encode_dense(columns)
            dense[f.name] = torch.from_numpy(np.array(values, dtype=np.float32))
        encoded = {f.name: f.encode_sparse(columns) for f in self.sparse_features}
        for f in self.sparse_features:
            if f.is_sequence:
                seq_lengths[f.name] = encoded[f.name].lengths
        self._check_aligned(seq_lengths, {f.name: f for f in self.features})
        sparse = {
            group: _to_kjt(
                [encoded[base_feature_name(k)] for k in keys],
                keys,
                n,
                group in self.weighted_groups,
            )
            for group, keys in self.sparse_groups.items()
        }
        labels = {k: self._label(columns, k) for k in self.label_fields}
        weights = {
            k: self._float(columns, k, "sample weight") for k in self.weight_fields
        }
        extras = {k: self._int(columns, k) for k in self.extra_fields}
        return Batch(dense, sparse, labels, weights, extras, n)

    def _check_aligned(
        self, lengths: dict[str, np.ndarray], by_name: dict[str, BaseFeature]
    ) -> None:
        for names in self.aligned:
            present = [n for n in names if n in lengths]
            for other in present[1:]:
                diff = lengths[present[0]] != lengths[other]
                if diff.any():
                    row = int(np.flatnonzero(diff)[0])
                    a, b = by_name[present[0]], by_name[other]
                    raise DataError(
                        f"sequence lengths differ in row {row} of a batch: "
                        f"{lengths[present[0]][row]} vs {lengths[other][row]}",
                        f'columns "{a.inputs[0]}" and "{b.inputs[0]}"',
                        "give the features of one sequence one value per position",
                    )

    def _label(self, columns: dict[str, pa.Array], name: str) -> torch.Tensor:
        t = self._float(columns, name, "label")
        values = t.numpy()
        bad = np.isnan(values)
        if bad.any():
            raise DataError(
                "label is NaN or missing",
                f'column "{name}"',
                "drop or fix rows without a label",
                row=int(np.flatnonzero(bad)[0]),
            )
        allowed = self.label_ranges.get(name)
        if allowed is not None:
            bad = (values < allowed.low) | (values > allowed.high)
            if allowed.integer:
                bad |= values != np.round(values)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"label {values[row]:g} is out of range: {allowed.reason}",
                    f'column "{name}"',
                    "fix the label values, or choose a loss that fits them",
                    row=row,
                )
        return t

    def _float(
        self, columns: dict[str, pa.Array], name: str, what: str
    ) -> torch.Tensor:
        col = _get(columns, name, what)
        try:
            arr = pc.cast(col, pa.float32()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError(
                f"{what} column has non-numeric values of type {col.type}",
                f'column "{name}"',
                "store the column as a number",
            ) from None
        return torch.from_numpy(np.array(arr, dtype=np.float32))

    def _int(self, columns: dict[str, pa.Array], name: str) -> torch.Tensor:
        col = _get(columns, name, "extra")
        if not pa.types.is_integer(col.type):
            from tzrec.features.hashing import hash_strings

            return torch.from_numpy(
                hash_strings(pc.fill_null(col.cast(pa.string()), ""), 2**62)
            )
        return torch.from_numpy(pc.fill_null(col, -1).to_numpy().astype(np.int64))


def _aligned_sets(
    features: list[BaseFeature], sequence_groups: list[list[str]]
) -> list[list[str]]:
    """Name lists whose sequence lengths must agree (per sequence, and given)."""
    by_sequence: dict[str, list[str]] = {}
    for f in features:
        if f.sequence is not None:
            by_sequence.setdefault(f.sequence.name, []).append(f.name)
    sets = [names for names in by_sequence.values() if len(names) > 1]
    return sets + [list(g) for g in sequence_groups if len(g) > 1]


def _to_kjt(
    parts: list, keys: list[str], batch_size: int, weighted: bool = False
) -> KeyedJaggedTensor:
    """One KeyedJaggedTensor from per-feature ids, feature-major."""
    values = [p.values for p in parts]
    lengths = [p.lengths for p in parts]
    weights = None
    if weighted:
        w = [
            p.weights if p.weights is not None else np.ones(len(p.values), np.float32)
            for p in parts
        ]
        weights = torch.from_numpy(np.concatenate(w).astype(np.float32))
    return KeyedJaggedTensor(
        keys=keys,
        values=torch.from_numpy(
            np.concatenate(values) if values else np.zeros(0, np.int64)
        ),
        lengths=torch.from_numpy(
            np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
        ),
        weights=weights,
        stride=batch_size,
        # Known here for free; torchrec would otherwise derive it from the
        # lengths with a .tolist() every step (a device sync on GPU).
        length_per_key=[len(v) for v in values],
    )


def _get(columns: dict[str, pa.Array], name: str, what: str) -> pa.Array:
    try:
        return columns[name]
    except KeyError:
        raise DataError(
            f'missing {what} column "{name}"',
            f"columns present: {', '.join(list(columns)[:20])}",
            "fix label_fields / the data",
        ) from None
