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

Output: the model's predictions (:mod:`tzrec.models.outputs`), e.g.
``{"logits": [B], "probs": [B]}`` or, for a multi-task model,
``probs_<task>``/``logits_<task>`` per task.

After the lookup the wrapper runs the trained model's own ``head`` and
``outputs`` modules (TorchScript-compatible by design), so the export cannot
drift from the model; a model whose head does not script is a clear export
error.
"""

import typing

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tzrec.models.model import RankModel
from tzrec.modules.variational_dropout import DroppedHead
from tzrec.utils.errors import ConfigError

# Where a group member comes from (InferenceModel.sources).
_DEEP, _WIDE, _DENSE = 0, 1, 2
OUTPUT_NAMES = ("logits", "probs")  # a single-task binary model's outputs


class _Bag(nn.Module):
    """One feature's pooled lookup in its (possibly shared) table."""

    weight: Tensor  # a buffer

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

    keys: list[str]

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


class InferenceModel(nn.Module):
    """Plain-tensor inputs -> the model's predictions; see the module doc.

    Args:
        deep: lookup of the ``deep`` KJT group.
        wide: lookup of the ``wide`` KJT group (empty when the model has none).
        groups: feature group -> member feature names, in group order.
        sources: feature group -> where each member comes from (deep, wide
            or dense).
        head: the model-specific part: groups -> raw outputs by task.
        outputs: raw outputs -> named predictions.
        dense_embs: autodis / mlp modules of dense features (by module key).
        dense_emb_names: module key -> the dense feature it embeds.
    """

    dense_emb_names: dict[str, str]

    def __init__(
        self,
        deep: SparseLookup,
        wide: SparseLookup,
        groups: dict[str, list[str]],
        sources: dict[str, list[int]],
        head: nn.Module,
        outputs: nn.Module,
        dense_embs: nn.ModuleDict | None = None,
        dense_emb_names: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.dense_embs = dense_embs if dense_embs is not None else nn.ModuleDict()
        self.dense_emb_names = dict(dense_emb_names or {})
        self.deep = deep
        self.wide = wide
        self.groups = groups
        self.sources = sources
        self.head = head
        self.outputs = outputs

    def forward(
        self,
        dense: dict[str, Tensor],
        sparse_values: dict[str, Tensor],
        sparse_lengths: dict[str, Tensor],
    ) -> dict[str, Tensor]:
        """Predicts a batch; see the module doc for the layout."""
        deep: dict[str, Tensor] = {}
        wide: dict[str, Tensor] = {}
        if len(self.dense_emb_names) > 0:
            embedded: dict[str, Tensor] = {}
            for key, value in dense.items():
                embedded[key] = value
            for key, module in self.dense_embs.items():
                name = self.dense_emb_names[key]
                embedded[name] = module(dense[name].float())
            dense = embedded
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
        return self.outputs(self.head(groups))


def _lookup(ebc: typing.Any, keys: list[str]) -> SparseLookup:
    """A SparseLookup over ``keys`` from a torchrec EmbeddingBagCollection."""
    bags: dict[str, _Bag] = {}
    if ebc is not None:
        for cfg in ebc.embedding_bag_configs():
            # FP16 tables are served in float32, as the trained model reads them.
            weight = ebc.embedding_bags[cfg.name].weight.detach().float()
            mode = "mean" if cfg.pooling.name == "MEAN" else "sum"
            for feature in cfg.feature_names:
                bags[feature] = _Bag(weight, mode)
    return SparseLookup(keys, [bags[k] for k in keys])


def build_inference_model(model: RankModel) -> InferenceModel:
    """The inference wrapper of an unsharded, loaded model (in eval mode).

    Raises:
        ConfigError: the model type has no inference head yet.
    """
    head = getattr(model, "head", None)
    if head is None:
        raise ConfigError(
            f"export of {type(model).__name__} is not supported yet",
            "model_config",
            "the model has no scriptable head",
        )
    if model.group_dropout is not None:
        head = DroppedHead(model.group_dropout, head)
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
        head,
        model.outputs,
        eg.dense_embs,
        eg.dense_emb_names,
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
        "outputs": model.output_names(),
    }


def script_model(model: RankModel) -> torch.jit.ScriptModule:
    """``torch.jit.script`` of the inference wrapper of ``model``.

    Raises:
        ConfigError: the model's head does not compile with TorchScript.
    """
    wrapper = build_inference_model(model)
    try:
        return torch.jit.script(wrapper)
    except (RuntimeError, torch.jit.frontend.FrontendError) as e:
        raise ConfigError(
            f"export of {type(model).__name__} is not supported yet",
            "model_config",
            f"its head does not compile with TorchScript ({_first_line(e)})",
        ) from e


def _first_line(e: Exception) -> str:
    return next((line.strip() for line in str(e).splitlines() if line.strip()), "")


def scripted_inputs(
    batch: typing.Any,
) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
    """A Batch as ``forward``'s arguments: dense, sparse values, lengths."""
    values = {g: kjt.values() for g, kjt in batch.sparse.items()}
    lengths = {g: kjt.lengths() for g, kjt in batch.sparse.items()}
    return batch.dense, values, lengths
