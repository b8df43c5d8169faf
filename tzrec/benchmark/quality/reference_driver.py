"""Trains the independent torchrec DeepFM (tzrec.benchmark.reference) on id fields.

The architecture and optimizers come from the same tzrec config (embedding
dims, ``wide_embedding_dim``, ``deep`` / ``final`` widths, sparse Adagrad
and dense Adam learning rates, batch size, epochs, shuffling); the rows are
the ones tzrec reads (tzrec.benchmark.quality.fields). The reference keeps
torchrec's own defaults for everything else (table init included).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from tzrec.benchmark.quality.fields import PAD, Field, Rows


def _kjt(fields: list[Field], rows: np.ndarray):
    from torchrec import KeyedJaggedTensor

    values, lengths = [], []
    for f in fields:
        ids = f.ids[rows]
        if f.multi:
            keep = ids != PAD
            values.append(ids[keep])
            lengths.append(keep.sum(axis=1))
        else:
            values.append(ids)
            lengths.append(np.ones(len(rows), dtype=np.int64))
    return KeyedJaggedTensor.from_lengths_sync(
        keys=[f.name for f in fields],
        values=torch.from_numpy(np.concatenate(values)),
        lengths=torch.from_numpy(np.concatenate(lengths).astype(np.int32)),
    )


def _batches(data: Rows, order: np.ndarray, batch_size: int) -> list:
    from tzrec.benchmark.reference import ReferenceBatch

    return [
        ReferenceBatch(
            _kjt(data.fields, order[s : s + batch_size]),
            None,
            torch.from_numpy(data.labels[order[s : s + batch_size]]),
        )
        for s in range(0, len(data), batch_size)
    ]


def _model(config, train: Rows):
    from tzrec.benchmark.reference import ReferenceDeepFM, SparseFeature

    configs = [getattr(fc, fc.WhichOneof("feature")) for fc in config.feature_configs]
    by_name = {c.feature_name: c for c in configs}
    features = [
        SparseFeature(f.name, f.vocab, by_name[f.name].embedding_dim, f.pooling)
        for f in train.fields
    ]
    cfg = config.model_config.deepfm
    return ReferenceDeepFM(
        features,
        wide_dim=cfg.wide_embedding_dim or 4,
        deep=tuple(cfg.deep.hidden_units),
        final=tuple(cfg.final.hidden_units) if cfg.HasField("final") else (),
        device=torch.device("meta"),
    )


def run(
    config,
    rows: tuple[Rows, Rows],
    seed: int,
    threads: int = 1,
) -> tuple[list[dict], float]:
    """Trains ``num_epochs`` epochs, evaluating after each; evaluations, seconds."""
    from tzrec.benchmark.reference import predict, shard, train

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train_rows, eval_rows = rows
    tc = config.train_config
    sparse = tc.sparse_optimizer.adagrad_optimizer
    dense = tc.dense_optimizer.adam_optimizer
    trainer = shard(
        _model(config, train_rows),
        torch.device("cpu"),
        sparse_lr=sparse.lr,
        dense_lr=dense.lr,
    )
    batch_size = config.data_config.batch_size
    rng = np.random.default_rng(seed)
    eval_batches = _batches(eval_rows, np.arange(len(eval_rows)), 16384)
    evals = []
    start = time.perf_counter()
    for _ in range(tc.num_epochs or 1):
        order = (
            rng.permutation(len(train_rows))
            if config.data_config.shuffle
            else np.arange(len(train_rows))
        )
        train(trainer, _batches(train_rows, order, batch_size), timed=False)
        probs, labels = predict(trainer, eval_batches)
        evals.append(_metrics(probs.double(), labels.double()))
    return evals, time.perf_counter() - start


def _metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict:
    from torchmetrics.functional.classification import binary_auroc

    p = probs.clamp(1e-7, 1 - 1e-7)
    logloss = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    return {
        "auc": float(binary_auroc(probs, labels.long())),
        "logloss": float(logloss),
    }
