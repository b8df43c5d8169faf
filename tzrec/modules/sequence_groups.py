"""A feature group's ``sequence_groups`` and ``sequence_encoders`` (TorchEasyRec's).

Any model's DEEP feature group may carry sequence groups (each: query
features plus sequence features, looked up unpooled like a SEQUENCE group,
see tzrec.modules.sequence_embedding) and sequence encoders (each reads one
sequence group, named by its ``input``, which may be omitted when the group
has a single sequence group). The group's output is its features' embeddings
followed by every encoder's output, in config order, so a model reading the
group sees one wider input. Internally a sequence group is looked up as the
SEQUENCE group ``<group>/<sequence group>``.
"""

from torch import Tensor, nn

from tzrec.modules.sequence_embedding import SequenceGroupSpec
from tzrec.modules.sequence_encoders import build_encoder
from tzrec.utils.errors import ConfigError

SEP = "/"


def internal_name(group: str, sequence_group: str) -> str:
    """Lookup name of a feature group's sequence group."""
    return f"{group}{SEP}{sequence_group}"


class SequenceGroupEncoders(nn.Module):
    """Every feature group's sequence encoders.

    Args:
        feature_groups: the model's FeatureGroupConfigs.
        specs: the looked-up sequence groups by internal name.
    """

    parents: list[str]
    inputs: list[str]

    def __init__(self, feature_groups, specs: dict[str, SequenceGroupSpec]) -> None:
        super().__init__()
        self.parents, self.inputs = [], []
        self.extra_dims: dict[str, int] = {}
        encoders: list[nn.Module] = []
        for i, g in enumerate(feature_groups):
            where = f"model_config.feature_groups[{i}]"
            names = [sg.group_name for sg in g.sequence_groups]
            used = set()
            for j, enc in enumerate(g.sequence_encoders):
                at = f"{where}.sequence_encoders[{j}]"
                name = self._input(enc, names, at)
                used.add(name)
                spec = specs[internal_name(g.group_name, name)]
                module = build_encoder(enc, spec.query_dim, spec.sequence_dim, at)
                encoders.append(module)
                self.parents.append(g.group_name)
                self.inputs.append(internal_name(g.group_name, name))
                self.extra_dims[g.group_name] = (
                    self.extra_dims.get(g.group_name, 0) + module.output_dim
                )
            for j, name in enumerate(names):
                if name not in used:
                    raise ConfigError(
                        f'sequence group "{name}" is read by no sequence encoder',
                        f"{where}.sequence_groups[{j}]",
                        "add a sequence_encoders entry with input: "
                        f'"{name}", or remove the group',
                    )
        self.encoders = nn.ModuleList(encoders)

    @staticmethod
    def _input(enc, names: list[str], at: str) -> str:
        kind = enc.WhichOneof("seq_module")
        name = getattr(enc, kind).input if kind else ""
        if not names:
            raise ConfigError(
                "sequence_encoders without sequence_groups",
                at,
                "add a sequence_groups entry for the encoder to read",
            )
        if not name:
            if len(names) > 1:
                raise ConfigError(
                    "input not set and the group has several sequence groups",
                    f"{at}.{kind}.input",
                    f"use one of {', '.join(names)}",
                )
            return names[0]
        if name not in names:
            raise ConfigError(
                f'input "{name}" is not a sequence group of this feature group',
                f"{at}.{kind}.input",
                f"use one of {', '.join(names)}",
            )
        return name

    def forward(self, out: dict[str, list[Tensor]]) -> dict[str, list[Tensor]]:
        """Appends each encoder's output to its group; drops the internal groups."""
        for i, enc in enumerate(self.encoders):
            seq = out[self.inputs[i]]
            out[self.parents[i]].append(enc(seq[0], seq[1], seq[2]))
        for name in self.inputs:
            if name in out:
                del out[name]
        return out
