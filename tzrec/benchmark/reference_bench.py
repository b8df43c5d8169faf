"""Case (f): the independent reference, on the rows tzrec trains on.

The reference model (:mod:`tzrec.benchmark.reference`, written on torchrec
alone) is built from the benchmarked config's architecture; its batches are
the first ``warmup + steps`` batches of the same train split, read once
through tzrec's loader and held in memory (ids already hashed and
bucketized: the reference measures the model path, as a hand-written loop
over pre-built batches does). It trains as many steps as the train case and
is evaluated on the whole eval split, so the two AUCs compare the same data
and the same amount of training.
"""

from __future__ import annotations

import gc
import itertools
import time
from typing import Any

import torch
from torch import nn

from tzrec.benchmark import reference as ref
from tzrec.benchmark.rss import PeakRss
from tzrec.benchmark.train_bench import cpu_seconds, sync
from tzrec.benchmark.workload import Workload
from tzrec.datasets.batch import Batch
from tzrec.optim.build import dense_optimizer_factory
from tzrec.protos import pipeline_pb2
from tzrec.train.setup import build_dataset, loader_for
from tzrec.utils.dist import DistInfo
from tzrec.utils.errors import ConfigError

MODELS = ("deepfm", "dlrm", "dcn_v2", "wide_and_deep")


def _hidden(mlp_config, where: str) -> tuple[int, ...]:
    """An MLP proto's widths; options the reference does not model are refused."""
    if mlp_config.use_bn or mlp_config.use_ln or any(mlp_config.dropout_ratio):
        raise ConfigError(
            "the reference models plain Linear+ReLU MLPs",
            where,
            "drop use_bn / use_ln / dropout_ratio to benchmark against it",
        )
    if mlp_config.activation not in ("", "nn.ReLU"):
        raise ConfigError("the reference uses ReLU", where, "use nn.ReLU")
    return tuple(mlp_config.hidden_units)


def build_reference(
    config: pipeline_pb2.EasyRecConfig,
    sparse: list[ref.SparseFeature],
    num_dense: int,
) -> nn.Module:
    """The reference of the config's model, on the meta device (for DMP).

    Raises:
        ConfigError: a model or option the references do not cover.
    """
    mc = config.model_config
    kind = mc.WhichOneof("model")
    sparse_kind = config.train_config.sparse_optimizer.WhichOneof("optimizer")
    if sparse_kind != "adagrad_optimizer":
        raise ConfigError(
            f"the reference trains its tables with adagrad, not {sparse_kind}",
            "train_config.sparse_optimizer",
            "use adagrad_optimizer to benchmark against it",
        )
    meta = torch.device("meta")  # DMP materialises tables and moves dense layers
    where = f"model_config.{kind}"
    if kind in ("deepfm", "wide_and_deep"):  # the same config shape
        m = getattr(mc, kind)
        final = _hidden(m.final, f"{where}.final") if m.HasField("final") else ()
        cls = ref.ReferenceDeepFM if kind == "deepfm" else ref.ReferenceWideAndDeep
        return cls(
            sparse,
            num_dense,
            m.wide_embedding_dim or 4,
            _hidden(m.deep, f"{where}.deep"),
            final,
            device=meta,
        )
    if kind == "dlrm":
        m = mc.dlrm
        return ref.ReferenceDLRM(
            sparse,
            num_dense,
            _hidden(m.dense_mlp, f"{where}.dense_mlp") if num_dense else (),
            _hidden(m.final, f"{where}.final"),
            m.arch_with_sparse,
            device=meta,
        )
    if kind == "dcn_v2":
        m = mc.dcn_v2
        return ref.ReferenceDCNV2(
            sparse,
            num_dense,
            m.cross.cross_num or 3,
            m.cross.low_rank or 32,
            _hidden(m.backbone, f"{where}.backbone") if m.HasField("backbone") else (),
            _hidden(m.deep, f"{where}.deep") if m.HasField("deep") else (),
            _hidden(m.final, f"{where}.final"),
            device=meta,
        )
    raise ConfigError(
        f"no independent reference for {kind}",
        "model_config",
        f"benchmark one of {', '.join(MODELS)}, or --skip reference",
    )


class BatchAdapter:
    """Turns tzrec batches into reference batches: the same rows and ids.

    The reference reads the ``deep`` KJT (every sparse feature once), the
    dense features of the config's feature groups side by side, and the
    first label.
    """

    def __init__(self, workload: Workload) -> None:
        parts = workload.data_parts()
        group = parts.model.embedding_group
        by_name = {f.name: f for f in parts.features}
        self.sparse_keys = list(group.sparse_groups["deep"])
        self.features = []
        for n in self.sparse_keys:
            table = by_name[n].table
            assert table is not None, f"sparse feature {n} has no embedding table"
            self.features.append(
                ref.SparseFeature(
                    n, table.num_embeddings, table.embedding_dim, table.pooling
                )
            )
        seen: list[str] = []
        for names in group.groups.values():
            seen += [n for n in names if n in group.dense_dims and n not in seen]
        self.dense_names = seen
        self.num_dense = sum(group.dense_dims[n] for n in seen)
        self.label = workload.base.data_config.label_fields[0]
        self.parts = parts

    def __call__(self, batch: Batch) -> ref.ReferenceBatch:
        """The reference batch of ``batch``."""
        dense = (
            torch.cat([batch.dense[n] for n in self.dense_names], dim=1)
            if self.dense_names
            else None
        )
        return ref.ReferenceBatch(
            batch.sparse["deep"], dense, batch.labels[self.label].float()
        )

    def batches(
        self,
        workload: Workload,
        dist_info: DistInfo,
        batch_size: int,
        split: str,
        count: int | None,
    ) -> list[ref.ReferenceBatch]:
        """The first ``count`` batches of ``split`` (all when None), on the device."""
        config = workload.config(batch_size)
        path = config.train_input_path if split == "train" else config.eval_input_path
        dataset = build_dataset(config, self.parts, path, dist_info, split != "train")
        loader = loader_for(dataset, config)
        batches = list(itertools.islice(loader, count) if count else loader)
        out = [self(b.to(dist_info.device)) for b in batches]
        if count:
            out = [out[i % len(out)] for i in range(count)]
        return out


def run_reference(
    workload: Workload, dist_info: DistInfo, batch_size: int, measure_eval: bool
) -> dict[str, Any]:
    """Trains the reference for the train case's steps; returns its figures.

    Returns:
        ``samples_per_s``, ``cpu_us_per_sample``, the phase shares
        ``forward_pct``, ``backward_pct``, ``optimizer_pct``,
        ``data_wait_pct`` (0: batches are pre-built), ``peak_rss_mb``, and
        ``eval_auc`` when ``measure_eval``.
    """
    sizes = workload.sizes
    steps = sizes.steps(batch_size)
    config = workload.config(batch_size)
    adapter = BatchAdapter(workload)
    batches = adapter.batches(
        workload, dist_info, batch_size, "train", sizes.warmup_steps + steps
    )
    with PeakRss() as rss:
        torch.manual_seed(config.train_config.seed)
        model = build_reference(config, adapter.features, adapter.num_dense)
        trainer = ref.shard(
            model,
            dist_info.device,
            sparse_lr=config.train_config.sparse_optimizer.adagrad_optimizer.lr,
            dense_optimizer=dense_optimizer_factory(
                config.train_config.dense_optimizer
            ),
        )
        ref.train(trainer, batches[: sizes.warmup_steps], timed=False)
        sync(dist_info.device)
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        times = ref.train(trainer, batches[sizes.warmup_steps :])
        sync(dist_info.device)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    result: dict[str, Any] = {
        "samples_per_s": steps * batch_size * dist_info.world_size / seconds,
        "cpu_us_per_sample": 1e6 * cpu / (steps * batch_size),
        "forward_pct": 100.0 * times.forward / seconds,
        "backward_pct": 100.0 * times.backward / seconds,
        "optimizer_pct": 100.0 * times.optimizer / seconds,
        "data_wait_pct": 0.0,
        "peak_rss_mb": rss.peak_mb,
    }
    del batches
    if measure_eval:
        eval_batches = adapter.batches(workload, dist_info, batch_size, "eval", None)
        result["eval_auc"] = ref.evaluate_auc(trainer, eval_batches)
        del eval_batches
    del trainer, model
    gc.collect()
    return result
