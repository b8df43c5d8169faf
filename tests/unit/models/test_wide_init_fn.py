"""TorchEasyRec's ``wide_init_fn`` (DeepFM, WideAndDeep): the wide tables' init."""

import pytest
import torch

from tests.unit.models.test_models import _model, shrunk_config
from tzrec.utils.errors import ConfigError


def _tables(model, wide: bool) -> list[torch.Tensor]:
    ebc = model.embedding_group.wide_ebc if wide else model.embedding_group.ebc
    return [bag.weight for bag in ebc.embedding_bags.values()]


@pytest.mark.parametrize("name", ["deepfm", "wide_and_deep"])
def test_wide_init_fn_initialises_only_the_wide_tables(name):
    config = shrunk_config(
        name, **{f"model_config.{name}.wide_init_fn": "nn.init.constant_,val=0.25"}
    )
    model = _model(config)
    assert all(bool((w == 0.25).all()) for w in _tables(model, wide=True))
    assert not any(bool((w == 0.25).all()) for w in _tables(model, wide=False))
    default = _model(shrunk_config(name))
    assert not any(bool((w == 0.25).all()) for w in _tables(default, wide=True))


def test_wide_init_fn_reaches_tables_materialised_by_dmp(dist_info):
    from tzrec.train.setup import build_model_parts

    config = shrunk_config(
        "deepfm", **{"model_config.deepfm.wide_init_fn": "nn.init.zeros_"}
    )
    parts = build_model_parts(config, dist_info)
    wide = {
        k: v
        for k, v in parts.dmp.state_dict().items()
        if "wide_ebc" in k and k.endswith("weight")
    }
    assert wide
    for value in wide.values():
        local = (
            value.local_shards()[0].tensor if hasattr(value, "local_shards") else value
        )
        assert bool((local == 0).all())


def test_unknown_wide_init_fn_names_the_field():
    config = shrunk_config(
        "wide_and_deep", **{"model_config.wide_and_deep.wide_init_fn": "nn.init.nope_"}
    )
    with pytest.raises(ConfigError, match="wide_and_deep.wide_init_fn"):
        _model(config)
