"""Independent reference models: CTR rankers written directly on torchrec.

Nothing here imports ``tzrec.models``, ``tzrec.modules`` or
``tzrec.features``: these are the models a torchrec user would write by
hand, so that the benchmark (and the quality benchmarks) can measure tzrec
against them rather than against tzrec itself.

Every model takes ``forward(sparse, dense)``: a ``KeyedJaggedTensor`` of id
features (multi-valued allowed; keys are the :class:`SparseFeature` names)
and an optional ``[B, num_dense]`` float tensor, and returns logits
``[B, 1]``. Each model holds exactly one ``EmbeddingBagCollection`` (wide
tables share the KJT keys of the deep ones), looked up in one call, and reads
the pooled ``KeyedTensor`` as one tensor.

Typical use::

    from tzrec.benchmark.reference import (
        ReferenceBatch, ReferenceDeepFM, SparseFeature, evaluate_auc, shard, train)

    features = [SparseFeature("user_id", 2000, 16), SparseFeature("genres", 40, 16)]
    model = ReferenceDeepFM(features, wide_dim=4, deep=(256, 128, 64), final=(64,),
                            device=torch.device("meta"))
    trainer = shard(model, torch.device("cpu"), sparse_lr=0.01, dense_lr=0.001)
    batches = [ReferenceBatch(kjt, None, labels), ...]   # built up front
    for epoch in range(10):
        train(trainer, batches)
    auc = evaluate_auc(trainer, eval_batches)

Seed ``torch.manual_seed`` before building the model for a repeatable run.
"""

from tzrec.benchmark.reference.common import (
    PooledLookup,
    ReferenceBatch,
    SparseFeature,
    bag_configs,
    mlp,
)
from tzrec.benchmark.reference.dcn_v2 import ReferenceDCNV2
from tzrec.benchmark.reference.deepfm import ReferenceDeepFM
from tzrec.benchmark.reference.dlrm import ReferenceDLRM
from tzrec.benchmark.reference.train import (
    ReferenceTrainer,
    TrainTimes,
    evaluate_auc,
    predict,
    shard,
    train,
)
from tzrec.benchmark.reference.wide_and_deep import ReferenceWideAndDeep

__all__ = [
    "PooledLookup",
    "ReferenceBatch",
    "ReferenceDCNV2",
    "ReferenceDLRM",
    "ReferenceDeepFM",
    "ReferenceTrainer",
    "ReferenceWideAndDeep",
    "SparseFeature",
    "TrainTimes",
    "bag_configs",
    "evaluate_auc",
    "mlp",
    "predict",
    "shard",
    "train",
]
