"""How a dense (numeric) feature is embedded: ``autodis`` or ``mlp``.

TorchEasyRec's ``dense_emb`` oneof on raw, lookup, expr, combine, match,
overlap, kv_dot_product and custom features. The value (``value_dim`` wide)
goes through a small learned module (tzrec.modules.dense_embedding) and
enters the feature group as ``embedding_dim`` numbers instead of itself:

- ``mlp {}``: one linear layer ``value_dim -> embedding_dim``.
- ``autodis { num_channels temperature keep_prob }``: AutoDis (Guo et al.,
  2021, arXiv:2012.08986): per value, ``num_channels`` meta-embeddings mixed
  by a temperature softmax over a two-layer scoring of the value (skip
  connection weighted by ``keep_prob``).

Only a value that stays dense can be embedded: with ``boundaries`` (or
``num_buckets``) the feature already has an embedding table.
"""

from __future__ import annotations

import dataclasses

from tzrec.utils.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class DenseEmbSpec:
    """A dense feature's embedding module.

    Attributes:
        kind: ``mlp`` or ``autodis``.
        value_dim: width of the value.
        embedding_dim: width of the output.
        num_channels: AutoDis meta-embeddings per value.
        temperature: AutoDis softmax temperature.
        keep_prob: AutoDis skip-connection weight.

    """

    kind: str
    value_dim: int
    embedding_dim: int
    num_channels: int = 0
    temperature: float = 0.1
    keep_prob: float = 0.8


def dense_emb_spec(
    config,  # noqa: ANN001
    value_dim: int,
    where: str,
    bucketized: bool,
) -> DenseEmbSpec | None:
    """The feature's ``autodis`` / ``mlp`` setting, checked; None when unset."""
    if "dense_emb" not in config.DESCRIPTOR.oneofs_by_name:
        return None
    kind = config.WhichOneof("dense_emb")
    if kind is None:
        return None
    if bucketized:
        raise ConfigError(
            f"{kind} embeds a dense value, but the feature is bucketized",
            f"{where}.{kind}",
            f"remove {kind} or the boundaries / bucket setting",
        )
    dim = int(config.embedding_dim)
    if dim == 0:
        raise ConfigError(
            f"{kind} needs embedding_dim", f"{where}.embedding_dim", "e.g. 8"
        )
    if kind == "mlp":
        return DenseEmbSpec("mlp", value_dim, dim)
    a = config.autodis
    if a.num_channels == 0:
        raise ConfigError(
            "autodis needs num_channels > 0", f"{where}.autodis.num_channels", "e.g. 3"
        )
    if a.temperature <= 0:
        raise ConfigError(
            "autodis temperature must be > 0", f"{where}.autodis.temperature"
        )
    return DenseEmbSpec(
        "autodis",
        value_dim,
        dim,
        int(a.num_channels),
        float(a.temperature),
        float(a.keep_prob),
    )
