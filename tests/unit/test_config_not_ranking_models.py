"""TorchEasyRec's retrieval, generative and SID models: they parse, then are refused.

Each snippet sets the fields TorchEasyRec requires of the model, in the shapes
of its documented configs (written here, not copied). Validation answers with
one line naming the model and why it is not supported yet.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import TINY_CONFIG
from tzrec.config import load_pipeline_config, validate
from tzrec.config.unsupported import NOT_RANKING_MODELS
from tzrec.models.build import MODELS
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError

_MLP = "mlp { hidden_units: [8] }"


def _tower(group: str) -> str:
    return f'{{ input: "{group}" {_MLP} }}'


_HSTU = (
    "stu { embedding_dim: 16 num_heads: 1 hidden_dim: 8 attention_dim: 8 } "
    "positional_encoder { num_position_buckets: 64 } "
    "input_preprocessor { contextual_preprocessor { "
    "content_encoder { slice_content_encoder {} } "
    "content_mlp { simple_mlp { hidden_dim: 8 } } } } "
    "output_postprocessor { layernorm_postprocessor {} }"
)
_FUSION = (
    "fusion_mtl_tower { mlp { hidden_units: [8] } task_configs { "
    'task_name: "is_click" label_name: "label" task_bitmask: 1 '
    "losses { binary_cross_entropy {} } } }"
)

# oneof name -> the model block, its required fields set.
SNIPPETS: dict[str, str] = {
    "dssm": f"dssm {{ user_tower {_tower('user')} "
    f"item_tower {_tower('item')} output_dim: 8 }}",
    "dssm_v2": f"dssm_v2 {{ user_tower {_tower('user')} "
    f"item_tower {_tower('item')} output_dim: 8 temperature: 0.05 }}",
    "dat": 'dat { user_tower { input: "user" augment_input: "user_aug" '
    f'{_MLP} }} item_tower {{ input: "item" augment_input: "item_aug" {_MLP} }} '
    "output_dim: 8 amm_i_weight: 0.5 amm_u_weight: 0.5 }",
    "mind": 'mind { user_tower { input: "user" history_input: "hist" '
    "user_mlp { hidden_units: [8] } capsule_config { max_seq_len: 10 high_dim: 8 } "
    f"concat_mlp {{ hidden_units: [8] }} }} item_tower {_tower('item')} "
    "output_dim: 8 }",
    "hstu_match": f'hstu_match {{ user_tower {{ input: "uih" hstu {{ {_HSTU} }} '
    f"max_seq_len: 10 }} item_tower {_tower('candidate')} }}",
    "tdm": "tdm { multiwindow_din { windows_len: [1, 2] attn_mlp { hidden_units: "
    "[8] } } final { hidden_units: [8] } }",
    "dlrm_hstu": f"dlrm_hstu {{ hstu {{ {_HSTU} }} {_FUSION} max_seq_len: 10 }}",
    "ultra_hstu": f"ultra_hstu {{ hstu {{ {_HSTU} }} {_FUSION} max_seq_len: 10 }}",
    "sid_rqvae": "sid_rqvae { codebook: [8, 8] hidden_dims: [16] }",
    "sid_rqkmeans": "sid_rqkmeans { codebook: [8, 8] }",
    "generative_qwen": "generative_qwen { common { beam_widths: [4, 8] "
    "num_return_sequences: 8 max_sequence_length: 64 } }",
    "prompt_generative_qwen": "prompt_generative_qwen { common { "
    "beam_widths: [4, 8] num_return_sequences: 8 } }",
}


def _config_text(model_block: str) -> str:
    """The tiny DeepFM config with ``model_block`` in place of its deepfm block."""
    text = TINY_CONFIG.read_text()
    start = text.index("  deepfm {")
    end = text.index("  losses {", start)
    return text[:start] + f"  {model_block}\n" + text[end:]


def test_every_model_in_the_oneof_is_built_or_refused() -> None:
    oneof = model_pb2.ModelConfig.DESCRIPTOR.oneofs_by_name["model"]
    names = {f.name for f in oneof.fields}
    assert not set(MODELS) & set(NOT_RANKING_MODELS)
    assert names == set(MODELS) | set(NOT_RANKING_MODELS)
    assert set(SNIPPETS) == set(NOT_RANKING_MODELS)


@pytest.mark.parametrize("model", list(SNIPPETS))
def test_model_parses_and_is_refused_in_one_line(model: str, tmp_path: Path) -> None:
    path = tmp_path / "c.config"
    path.write_text(_config_text(SNIPPETS[model]))
    config = load_pipeline_config(str(path))
    assert config.model_config.WhichOneof("model") == model
    with pytest.raises(ConfigError) as info:
        validate(config)
    line = info.value.one_line()
    why = NOT_RANKING_MODELS[model]
    assert line == f"not supported yet (model_config.{model}): {model} is {why}"
    assert "\n" not in line


def test_a_snippet_missing_a_field_still_parses(tmp_path: Path) -> None:
    """TorchEasyRec's required fields are optional here: the refusal still comes."""
    path = tmp_path / "c.config"
    path.write_text(_config_text("dssm { output_dim: 8 }"))
    with pytest.raises(ConfigError) as info:
        validate(load_pipeline_config(str(path)))
    assert info.value.one_line().startswith("not supported yet (model_config.dssm)")


def test_the_sampler_of_a_refused_retrieval_model_adds_no_second_line(
    tmp_path: Path,
) -> None:
    """TorchEasyRec's retrieval configs carry a negative sampler: one line still."""
    text = _config_text(SNIPPETS["dssm"]).replace(
        'label_fields: "label"',
        'label_fields: "label"\n  negative_sampler { input_path: "items" '
        'num_sample: 8 attr_fields: ["cat_5"] item_id_field: "cat_5" }',
    )
    path = tmp_path / "c.config"
    path.write_text(text)
    config = load_pipeline_config(str(path))
    assert config.data_config.negative_sampler.num_sample == 8
    with pytest.raises(ConfigError) as info:
        validate(config)
    assert info.value.one_line().startswith("not supported yet (model_config.dssm)")
    assert "\n" not in info.value.one_line()
