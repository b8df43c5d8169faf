"""EasyRec's DLRM names (bot_mlp / top_mlp) read as TorchEasyRec's."""

from pathlib import Path

import pytest

from tzrec.config import load_pipeline_config, validate
from tzrec.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
DLRM = (REPO / "experiments" / "dlrm_synthetic.config").read_text()


def _write(tmp_path, text):
    path = tmp_path / "dlrm.config"
    path.write_text(text)
    return str(path)


def test_bot_and_top_mlp_become_dense_mlp_and_final(tmp_path):
    text = DLRM.replace("dense_mlp {", "bot_mlp {").replace("final {", "top_mlp {")
    assert "bot_mlp" in text and "top_mlp" in text
    config = load_pipeline_config(_write(tmp_path, text))
    dlrm = config.model_config.dlrm
    assert list(dlrm.dense_mlp.hidden_units) == [32, 16]
    assert list(dlrm.final.hidden_units) == [256, 128, 64]
    assert not dlrm.HasField("bot_mlp") and not dlrm.HasField("top_mlp")
    validate(config)


def test_alias_and_its_field_together_are_an_error(tmp_path):
    text = DLRM.replace("final {", "top_mlp { hidden_units: [8] }\n    final {")
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(_write(tmp_path, text))
    assert e.value.where == "model_config.dlrm.top_mlp"
    assert "keep only final" in str(e.value)


MASKNET = (REPO / "experiments" / "mask_net_synthetic.config").read_text()


def test_mask_net_fields_set_on_mask_net_move_into_its_module(tmp_path):
    text = MASKNET.replace("    mask_net_module {\n", "").replace(
        "      use_parallel: true\n    }\n", "      use_parallel: true\n"
    )
    assert "mask_net_module" not in text
    want = load_pipeline_config(
        str(REPO / "experiments" / "mask_net_synthetic.config")
    ).model_config.mask_net.mask_net_module
    config = load_pipeline_config(_write(tmp_path, text))
    got = config.model_config.mask_net
    assert got.mask_net_module == want
    assert not got.HasField("n_mask_blocks") and not got.HasField("top_mlp")
    validate(config)
