"""The independent reference models: independent, and they learn."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torchrec import KeyedJaggedTensor

from tzrec.benchmark import reference as ref

_FORBIDDEN = ("tzrec.models", "tzrec.modules", "tzrec.features")


def test_reference_imports_nothing_of_tzrec_models_modules_features():
    folder = Path(ref.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(_FORBIDDEN), f"{path.name} imports {name}"


_FEATURES = [
    ref.SparseFeature("a", 50, 8),
    ref.SparseFeature("b", 30, 8),
    ref.SparseFeature("tags", 20, 8, pooling="mean"),
]


def _batches(n_batches: int, batch_size: int, seed: int) -> list[ref.ReferenceBatch]:
    """Learnable rows: the label is whether id ``a`` is even; ``tags`` 0..3 ids."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        a = torch.randint(0, 50, (batch_size,), generator=g)
        b = torch.randint(0, 30, (batch_size,), generator=g)
        tag_len = torch.randint(0, 4, (batch_size,), generator=g)
        tags = torch.randint(0, 20, (int(tag_len.sum()),), generator=g)
        kjt = KeyedJaggedTensor.from_lengths_sync(
            keys=["a", "b", "tags"],
            values=torch.cat([a, b, tags]),
            lengths=torch.cat(
                [torch.ones(batch_size, dtype=torch.long)] * 2 + [tag_len]
            ),
        )
        dense = torch.randn(batch_size, 2, generator=g)
        labels = (a % 2 == 0).float()
        out.append(ref.ReferenceBatch(kjt, dense, labels))
    return out


def test_reference_deepfm_learns_with_one_lookup():
    torch.manual_seed(0)
    model = ref.ReferenceDeepFM(
        _FEATURES,
        num_dense=2,
        wide_dim=4,
        deep=(32, 16),
        final=(16,),
        device=torch.device("meta"),
    )
    ebcs = [m for m in model.modules() if type(m).__name__ == "EmbeddingBagCollection"]
    assert len(ebcs) == 1 and len(ebcs[0].embedding_bag_configs()) == 6
    trainer = ref.shard(model, torch.device("cpu"), sparse_lr=0.1, dense_lr=0.01)
    train_batches, eval_batches = _batches(12, 64, 1), _batches(4, 64, 2)
    before = ref.evaluate_auc(trainer, eval_batches)
    for _ in range(3):
        times = ref.train(trainer, train_batches, warmup_steps=2)
    after = ref.evaluate_auc(trainer, eval_batches)
    assert times.steps == 10 and times.rows == 10 * 64 and times.forward > 0
    assert after > 0.9 and after > before
    probs, labels = ref.predict(trainer, eval_batches)
    assert probs.shape == labels.shape == (256,)
    assert ((probs >= 0) & (probs <= 1)).all()


def test_reference_deepfm_without_final_adds_wide_fm_and_deep_logits():
    torch.manual_seed(0)
    model = ref.ReferenceDeepFM(_FEATURES, 2, wide_dim=4, deep=(8,), final=())
    batch = _batches(1, 5, 3)[0]
    emb, wide = model.lookup(batch.sparse)
    fields = emb.view(5, 3, 8)
    fm = 0.5 * (fields.sum(1) ** 2 - (fields**2).sum(1)).sum(1, keepdim=True)
    deep = model.output(model.deep(torch.cat([emb, batch.dense], dim=1)))
    expected = deep + wide.sum(1, keepdim=True) + fm
    torch.testing.assert_close(model(batch.sparse, batch.dense), expected)


def test_reference_deepfm_rejects_mixed_dims():
    with pytest.raises(ValueError, match="one embedding_dim"):
        ref.ReferenceDeepFM(
            [ref.SparseFeature("a", 5, 8), ref.SparseFeature("b", 5, 4)]
        )


def _same_dim_features() -> list[ref.SparseFeature]:
    return [
        ref.SparseFeature(f.name, f.num_embeddings, 8, f.pooling) for f in _FEATURES
    ]


@pytest.mark.parametrize(
    "build",
    [
        lambda d: ref.ReferenceDLRM(
            _same_dim_features(), 2, (16, 8), (16,), arch_with_sparse=True, device=d
        ),
        lambda d: ref.ReferenceDCNV2(
            _FEATURES,
            2,
            cross_num=2,
            low_rank=4,
            backbone=(16,),
            deep=(16,),
            final=(8,),
            device=d,
        ),
        lambda d: ref.ReferenceWideAndDeep(
            _FEATURES, 2, wide_dim=4, deep=(16,), final=(8,), device=d
        ),
    ],
    ids=["dlrm", "dcn_v2", "wide_and_deep"],
)
def test_other_references_learn(build):
    torch.manual_seed(0)
    trainer = ref.shard(
        build(torch.device("meta")), torch.device("cpu"), sparse_lr=0.1, dense_lr=0.01
    )
    train_batches = _batches(12, 64, 1)
    for _ in range(3):
        ref.train(trainer, train_batches, timed=False)
    assert ref.evaluate_auc(trainer, _batches(4, 64, 2)) > 0.9
