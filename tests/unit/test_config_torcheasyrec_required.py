"""TorchEasyRec's required fields: tzrec reports each missing one, or says why not.

tzrec declares no proto field ``required`` (a missing one would fail parsing
with the protobuf library's message); config validation reports what it
needs instead, one line per field. For every field TorchEasyRec marks
required (the facts in ``tests/unit/data/torcheasyrec_schema``) and every
place the repository's configs set it, the field is cleared and
``collect_problems`` must report a new problem, unless ``REQUIRED_AS_OPTIONAL`` says why
tzrec accepts it missing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.message import Message

from tzrec.config import load_pipeline_config
from tzrec.config.validation import collect_problems

ROOT = Path(__file__).resolve().parents[2]
FACTS = Path(__file__).parent / "data" / "torcheasyrec_schema"
CONFIGS = sorted(
    [*ROOT.glob("experiments/*.config"), *ROOT.glob("tests/configs/**/*.config")]
)

_DEFAULT = "TorchEasyRec's own default value applies when it is missing"
_ONE_SEQUENCE = "may be left out when the feature group has one sequence group"
_COLUMN = "defaults to the feature's name as its column"
_NO_FINAL = "optional in tzrec: without it the towers feed the output layer"
_BUILD_MLP = "the model build stops with the one-line error 'MLP has no hidden_units'"

# TorchEasyRec-required fields tzrec accepts missing, with the reason.
REQUIRED_AS_OPTIONAL: dict[str, str] = {
    "FeatureGroupConfig.group_type": _DEFAULT,
    "SequenceFeature.sequence_delim": _DEFAULT,
    "MMoE.num_expert": _DEFAULT,
    **{
        f"{opt}.lr": _DEFAULT
        for opt in ("SGDOptimizer", "AdagradOptimizer", "AdamOptimizer")
        + ("AdamWOptimizer", "FusedSGDOptimizer", "FusedAdagradOptimizer")
        + ("FusedAdamOptimizer", "FusedRowWiseAdagradOptimizer")
    },
    **{
        f"{enc}.input": _ONE_SEQUENCE
        for enc in ("DINEncoder", "SimpleAttention", "PoolingEncoder")
        + ("MultiWindowDINEncoder",)
    },
    **{
        f"{feature}.expression": _COLUMN
        for feature in ("IdFeature", "RawFeature", "CombineFeature", "TokenizeFeature")
    },
    "DINEncoder.attn_mlp": _BUILD_MLP,
    "MultiWindowDINEncoder.attn_mlp": _BUILD_MLP,
    "DINTower.attn_mlp": _BUILD_MLP,
    "Tower.mlp": _BUILD_MLP,
    "MultiTower.final": _NO_FINAL,
    "MultiTowerDIN.final": _NO_FINAL,
}


def _required() -> set[str]:
    found = set()
    for path in FACTS.glob("*.json"):
        for msg, fields in json.loads(path.read_text())["messages"].items():
            found |= {
                f"{msg}.{n}" for n, f in fields.items() if f["label"] == "required"
            }
    return found


REQUIRED = _required()


def _messages(msg: Message) -> Iterator[Message]:
    """``msg`` and every message under it, depth first (maps skipped)."""
    yield msg
    for fd, value in msg.ListFields():
        if fd.message_type is None or fd.message_type.GetOptions().map_entry:
            continue
        for item in value if fd.is_repeated else [value]:
            yield from _messages(item)


def _errors(config: Message) -> set[str]:
    return {str(e) for e in collect_problems(config).errors}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_missing_required_field_is_reported(path: Path) -> None:
    """Clearing a required field set in a config adds a problem."""
    base = load_pipeline_config(str(path))
    for top in ("train_input_path", "eval_input_path", "model_dir"):
        setattr(base, top, getattr(base, top) or "x")
    before = _errors(base)
    silent = []
    for i, msg in enumerate(_messages(base)):
        kind = msg.DESCRIPTOR.full_name.removeprefix("tzrec.protos.")
        for fd, _ in msg.ListFields():
            key = f"{kind}.{fd.name}"
            if key not in REQUIRED or key in REQUIRED_AS_OPTIONAL or fd.is_repeated:
                continue
            config = copy.deepcopy(base)
            list(_messages(config))[i].ClearField(fd.name)
            # Any new problem counts: it may name the path of what the field
            # fed (e.g. mask_net.n_mask_blocks for a missing mask_net_module).
            if not _errors(config) - before:
                silent.append(key)
    assert not silent, f"{path.name}: missing and not reported: {sorted(set(silent))}"


def test_allow_list_names_required_fields() -> None:
    """Every REQUIRED_AS_OPTIONAL entry is a field TorchEasyRec marks required."""
    assert sorted(set(REQUIRED_AS_OPTIONAL) - REQUIRED) == []


@pytest.mark.parametrize(
    "kind,field",
    [
        ("match_feature", "pkey"),
        ("kv_dot_product", "document"),
        ("overlap_feature", "title"),
        ("bool_mask_feature", "embedding_dim"),
        ("tokenize_feature", "embedding_dim"),
        ("raw_feature", "autodis.num_channels"),
    ],
)
def test_missing_feature_field_is_one_line_naming_it(kind: str, field: str) -> None:
    """The feature types' required fields read 'not set (<path>): <hint>'."""
    config = load_pipeline_config(str(ROOT / "tests/configs/derived_features.config"))
    i, fc = next(
        (i, fc)
        for i, fc in enumerate(config.feature_configs)
        if fc.WhichOneof("feature") == kind
        and (field != "autodis.num_channels" or fc.raw_feature.HasField("autodis"))
    )
    *path, name = field.split(".")
    msg = getattr(fc, kind)
    for part in path:
        msg = getattr(msg, part)
    msg.ClearField(name)
    where = f"feature_configs[{i}].{kind}.{field}"
    found = [e for e in _errors(config) if f"({where})" in e]
    assert len(found) == 1 and found[0].startswith("not set ("), found
    assert "\n" not in found[0] and found[0].split("): ", 1)[1]
