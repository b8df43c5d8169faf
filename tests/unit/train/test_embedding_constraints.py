"""embedding_constraints and global_embedding_constraints reach torchrec's planner."""

from __future__ import annotations

import pytest
import torch
from google.protobuf import text_format

from tzrec.protos import pipeline_pb2


def _plan(global_types: list[str], cat_0_types: list[str]) -> dict[str, str]:
    """Sharding type per table of the shrunk DeepFM with these constraints."""
    from tests.unit.models.test_models import shrunk_config
    from tzrec.train.setup import build_model_parts
    from tzrec.utils.dist import init_distributed

    config = shrunk_config("deepfm")
    if global_types:
        config.train_config.global_embedding_constraints.sharding_types.extend(
            global_types
        )
    for fc in config.feature_configs:
        if (
            fc.WhichOneof("feature") == "id_feature"
            and fc.id_feature.feature_name == "cat_0"
        ):
            fc.id_feature.embedding_constraints.sharding_types.extend(cat_0_types)
    parts = build_model_parts(config, init_distributed())
    return {
        name: ps.sharding_type
        for params in parts.plan.plan.values()
        for name, ps in params.items()
    }


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize(
    ("global_type", "own_type"),
    [("table_wise", "column_wise"), ("column_wise", "table_column_wise")],
)
def test_feature_constraints_win_over_global_ones(global_type, own_type):
    # On CPU torchrec shards tables table-, column- or table-column-wise; left
    # free, its planner's pick varies between runs.
    plan = _plan([global_type], [own_type])
    cat_0 = ["cat_0", "wide_cat_0"]  # the feature's table and its wide copy
    assert set(cat_0) < set(plan), plan
    for table, kind in plan.items():
        assert kind == (own_type if table in cat_0 else global_type), table


def _problems(text: str) -> dict[str, str]:
    from tzrec.optim.validate import optim_option_problems

    config = text_format.Parse(text, pipeline_pb2.EasyRecConfig())
    return {e.where: e.what for e in optim_option_problems(config)}


def test_unknown_unfused_and_cuda_only_choices_are_config_problems():
    found = _problems(
        """
        train_config {
          global_embedding_constraints { sharding_types: ["data_parallel", "tw"] }
        }
        feature_configs {
          id_feature {
            feature_name: "a"
            embedding_constraints { compute_kernels: ["dense", "fused_uvm", "fused"] }
          }
        }
        """
    )
    g = "train_config.global_embedding_constraints.sharding_types"
    assert found[f"{g}[0]"] == "data_parallel is not supported yet"
    assert found[f"{g}[1]"] == 'unknown sharding type "tw"'
    k = "feature_configs[0].id_feature.embedding_constraints.compute_kernels"
    assert found[f"{k}[0]"] == "the dense kernel is not supported yet"
    if torch.cuda.is_available():
        assert f"{k}[1]" not in found
    else:
        assert found[f"{k}[1]"] == "fused_uvm needs CUDA"
    assert f"{k}[2]" not in found


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_constraints_no_device_can_meet_are_one_config_error():
    from tzrec.utils.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("row_wise is plannable on CUDA")
    with pytest.raises(ConfigError, match="no sharding type and compute kernel"):
        _plan(["row_wise"], [])
