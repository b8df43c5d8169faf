"""Export-time check that the saved TorchScript file predicts like the model.

Runs the reloaded scripted file and the eager model on a small synthetic
batch (two batch sizes, empty and multi-id bags) and fails the export on any
difference, so a drift between a model and its inference head never ships.
"""

from __future__ import annotations

import warnings

import torch
from torchrec import KeyedJaggedTensor

from tzrec.datasets.batch import Batch
from tzrec.export.inference_model import scripted_inputs
from tzrec.models.model import RankModel
from tzrec.utils.errors import CheckpointError


def _table_sizes(model: RankModel) -> dict[str, int]:
    sizes: dict[str, int] = {}
    eg = model.embedding_group
    for ebc in (eg.ebc, eg.wide_ebc):
        if ebc is None:
            continue
        for cfg in ebc.embedding_bag_configs():
            for name in cfg.feature_names:
                sizes[name] = min(
                    sizes.get(name, cfg.num_embeddings), cfg.num_embeddings
                )
    return sizes


def synthetic_batch(model: RankModel, batch_size: int, seed: int = 0) -> Batch:
    """A Batch of valid random ids and dense values in the model's layout."""
    gen = torch.Generator().manual_seed(seed)
    eg = model.embedding_group
    dense = {
        n: torch.randn(batch_size, d, generator=gen) for n, d in eg.dense_dims.items()
    }
    sizes = _table_sizes(model)
    sparse = {}
    for group, keys in eg.sparse_groups.items():
        lengths = torch.randint(0, 3, (len(keys) * batch_size,), generator=gen)
        values = [
            torch.randint(0, sizes[k], (int(per_key.sum()),), generator=gen)
            for k, per_key in zip(keys, lengths.view(len(keys), batch_size))
        ]
        sparse[group] = KeyedJaggedTensor(
            keys=list(keys),
            values=torch.cat(values) if values else torch.zeros(0, dtype=torch.long),
            lengths=lengths.int(),
            stride=batch_size,
        )
    return Batch(dense, sparse, {}, {}, {}, batch_size)


def check_scripted(path: str, model: RankModel, atol: float = 1e-5) -> None:
    """Reloads ``path`` and compares it with ``model`` (CPU, eval mode).

    Raises:
        RuntimeError: the outputs differ (a bug in the inference head).

    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*torch.jit.*deprecated", DeprecationWarning)
        scripted = torch.jit.load(path, map_location="cpu")
    with torch.no_grad():
        for batch_size in (1, 5):
            batch = synthetic_batch(model, batch_size, seed=batch_size)
            want = model.predict(batch)
            got = scripted(*scripted_inputs(batch))
            if sorted(got) != sorted(want):
                raise RuntimeError(
                    f"scripted model outputs {sorted(got)}, eager {sorted(want)}"
                )
            for name in want:
                if not torch.allclose(got[name], want[name], atol=atol, rtol=1e-4):
                    diff = (got[name] - want[name]).abs().max().item()
                    raise RuntimeError(
                        f"scripted model differs from the eager model on {name} "
                        f"(max abs diff {diff:.3g}, batch size {batch_size})"
                    )


def check_finite(model: RankModel, ckpt_path: str, batch_size: int = 64) -> None:
    """The model's weights and its predictions on a sample batch are finite.

    Raises:
        CheckpointError: naming the first non-finite weight or output.

    """
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(
                f"the checkpoint's weight {name} holds {bad} NaN/inf values",
                ckpt_path,
                "export an earlier checkpoint (--checkpoint_path)",
            )
    with torch.no_grad():
        out = model.predict(synthetic_batch(model, batch_size, seed=batch_size))
    for name, tensor in out.items():
        if not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(
                f"the exported model predicts {bad} of {tensor.numel()} {name} "
                "values as NaN/inf on a sample batch",
                ckpt_path,
                "export an earlier checkpoint (--checkpoint_path)",
            )
