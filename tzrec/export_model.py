"""The scriptable inference model an export holds.

Training models take a :class:`~tzrec.datasets.batch.Batch` (a dataclass of
KeyedJaggedTensors) and run torchrec modules, neither of which TorchScript
compiles or a plain ``torch.jit.load`` can run. :class:`InferenceModel` takes
plain tensors instead and pools embeddings with ``F.embedding_bag``, which is
what torchrec's unsharded ``EmbeddingBagCollection`` computes per feature, so
the scripted file needs nothing but torch to load and run.

Inputs of ``forward`` (``B`` rows):

* ``dense``: dense feature name -> float32 ``[B, dim]``.
* ``sparse_values``: per sparse group (``deep``, ``wide``) the ids of its
  features, feature-major: exactly ``KeyedJaggedTensor.values()``.
* ``sparse_lengths``: per group ``[num_keys * B]`` bag lengths, feature-major:
  ``KeyedJaggedTensor.lengths()``. The feature keys of each group and their
  order are fixed by the export (``meta.json`` ``inputs.sparse``).

Output: ``{"logits": [B], "probs": [B]}``.

The model-specific part after the embedding lookup is a *head* built from the
trained model's own modules (:class:`DeepFMHead`); a model without one is a
clear export error.
"""

import typing

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tzrec.models.deepfm import DeepFM
from tzrec.models.model import RankModel
from tzrec.utils.errors import ConfigError

# Where a group member comes from (InferenceModel.sources).
_DEEP, _WIDE, _DENSE = 0, 1, 2
OUTPUT_NAMES = ("logits", "probs")


class _Bag(nn.Module):
    """One feature's pooled lookup in its (possibly shared) table."""

    def __init__(self, weight: Tensor, mode: str) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.mode = mode

    def forward(self, values: Tensor, offsets: Tensor) -> Tensor:
        """Pools each bag ``values[offsets[i]:offsets[i+1]]``; empty bags give 0."""
        return F.embedding_bag(
            values, self.weight, offsets, mode=self.mode, include_last_offset=True
        ).float()


class SparseLookup(nn.Module):
    """Pools every feature of one KJT group from flat values and lengths.

    Args:
        keys: the group's feature keys in KJT order.
        bags: one :class:`_Bag` per key, same order.
    """

    def __init__(self, keys: list[str], bags: list[_Bag]) -> None:
        super().__init__()
        self.keys = list(keys)
        self.bags = nn.ModuleList(bags)

    def forward(self, values: Tensor, lengths: Tensor) -> dict[str, Tensor]:
        """Feature key -> pooled ``[B, dim]``."""
        out: dict[str, Tensor] = {}
        n = len(self.keys)
        if n == 0:
            return out
        batch = lengths.numel() // n
        per_key = lengths.view(n, batch).long()
        counts: list[int] = per_key.sum(dim=1).tolist()
        parts = torch.split(values.long(), counts)
        offsets = torch.zeros(n, batch + 1, dtype=torch.long, device=lengths.device)
        offsets[:, 1:] = torch.cumsum(per_key, dim=1)
        for i, bag in enumerate(self.bags):
            out[self.keys[i]] = bag(parts[i], offsets[i])
        return out


class DeepFMHead(nn.Module):
    """DeepFM after the lookup (mirrors :meth:`DeepFM.predict`), on its modules.

    Args:
        model: the trained DeepFM (its modules are reused, not copied).
    """

    def __init__(self, model: DeepFM) -> None:
        super().__init__()
        self.fm_group = model.fm_group
        self.fm = model.fm
        # tzrec's MLP.forward calls super(), which TorchScript cannot compile;
        # a plain Sequential of the same layers computes the same.
        self.deep = nn.Sequential(*model.deep)
        self.has_final = model.final is not None
        self.final = (
            nn.Sequential(*model.final) if model.final is not None else nn.Identity()
        )
        self.output = model.output

    def forward(self, groups: dict[str, list[Tensor]]) -> Tensor:
        """Logits ``[B]``."""
        wide = torch.stack(groups["wide"], dim=1).sum(dim=1)
        fm = self.fm(torch.stack(groups[self.fm_group], dim=1))
        deep = self.deep(torch.cat(groups["deep"], dim=1))
        if self.has_final:
            logits = self.output(self.final(torch.cat([wide, fm, deep], dim=1)))
        else:
            logits = (
                self.output(deep)
                + wide.sum(dim=1, keepdim=True)
                + fm.sum(dim=1, keepdim=True)
            )
        return logits.squeeze(1)


_HEADS: dict[type, typing.Callable[[typing.Any], nn.Module]] = {DeepFM: DeepFMHead}


class InferenceModel(nn.Module):
    """Plain-tensor inputs -> ``{"logits", "probs"}``; see the module doc.

    Args:
        deep: lookup of the ``deep`` KJT group.
        wide: lookup of the ``wide`` KJT group (empty when the model has none).
        groups: feature group -> member feature names, in group order.
        sources: feature group -> where each member comes from (deep, wide
            or dense).
        head: the model-specific part: groups -> logits.
    """

    def __init__(
        self,
        deep: SparseLookup,
        wide: SparseLookup,
        groups: dict[str, list[str]],
        sources: dict[str, list[int]],
        head: nn.Module,
    ) -> None:
        super().__init__()
        self.deep = deep
        self.wide = wide
        self.groups = groups
        self.sources = sources
        self.head = head

    def forward(
        self,
        dense: dict[str, Tensor],
        sparse_values: dict[str, Tensor],
        sparse_lengths: dict[str, Tensor],
    ) -> dict[str, Tensor]:
        """Predicts a batch; see the module doc for the layout."""
        deep: dict[str, Tensor] = {}
        wide: dict[str, Tensor] = {}
        if "deep" in sparse_values:
            deep = self.deep(sparse_values["deep"], sparse_lengths["deep"])
        if "wide" in sparse_values:
            wide = self.wide(sparse_values["wide"], sparse_lengths["wide"])
        groups: dict[str, list[Tensor]] = {}
        for name, members in self.groups.items():
            sources = self.sources[name]
            outs: list[Tensor] = []
            for j, member in enumerate(members):
                source = sources[j]
                if source == 0:  # _DEEP (TorchScript reads no module globals)
                    outs.append(deep[member])
                elif source == 1:  # _WIDE
                    outs.append(wide[member])
                else:
                    outs.append(dense[member].float())
            groups[name] = outs
        logits = self.head(groups)
        return {"logits": logits, "probs": torch.sigmoid(logits)}


def _lookup(ebc: typing.Any, keys: list[str]) -> SparseLookup:
    """A SparseLookup over ``keys`` from a torchrec EmbeddingBagCollection."""
    bags: dict[str, _Bag] = {}
    if ebc is not None:
        for cfg in ebc.embedding_bag_configs():
            weight = ebc.embedding_bags[cfg.name].weight.detach()
            mode = "mean" if cfg.pooling.name == "MEAN" else "sum"
            for feature in cfg.feature_names:
                bags[feature] = _Bag(weight, mode)
    return SparseLookup(keys, [bags[k] for k in keys])


def build_inference_model(model: RankModel) -> InferenceModel:
    """The inference wrapper of an unsharded, loaded model (in eval mode).

    Raises:
        ConfigError: the model type has no inference head yet.
    """
    head_cls = _HEADS.get(type(model))
    if head_cls is None:
        raise ConfigError(
            f"export of {type(model).__name__} is not supported yet",
            "model_config",
            f"export supports {', '.join(c.__name__ for c in _HEADS)}",
        )
    eg = model.embedding_group
    layout = eg.sparse_groups
    groups: dict[str, list[str]] = {}
    sources: dict[str, list[int]] = {}
    for name, members in eg.groups.items():
        groups[name] = list(members)
        if name in eg.wide_groups:
            sources[name] = [_WIDE] * len(members)
        else:
            deep_keys = set(layout["deep"])
            sources[name] = [_DEEP if m in deep_keys else _DENSE for m in members]
    wrapper = InferenceModel(
        _lookup(eg.ebc, layout["deep"]),
        _lookup(eg.wide_ebc, layout.get("wide", [])),
        groups,
        sources,
        head_cls(model),
    )
    return wrapper.eval()


def input_layout(model: RankModel) -> dict[str, typing.Any]:
    """What ``forward`` takes: dense names and widths, sparse groups' keys."""
    eg = model.embedding_group
    used = {m for members in eg.groups.values() for m in members}
    dense = [
        {"name": name, "dim": int(dim)}
        for name, dim in eg.dense_dims.items()
        if name in used
    ]
    return {
        "dense": dense,
        "sparse": {g: list(k) for g, k in eg.sparse_groups.items()},
        "outputs": list(OUTPUT_NAMES),
    }


def script_model(model: RankModel) -> torch.jit.ScriptModule:
    """``torch.jit.script`` of the inference wrapper of ``model``."""
    return torch.jit.script(build_inference_model(model))


def scripted_inputs(
    batch: typing.Any,
) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
    """A Batch as ``forward``'s arguments: dense, sparse values, lengths."""
    values = {g: kjt.values() for g, kjt in batch.sparse.items()}
    lengths = {g: kjt.lengths() for g, kjt in batch.sparse.items()}
    return batch.dense, values, lengths
