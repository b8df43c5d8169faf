"""Each single-task example config trains and evaluates end to end.

The margin: eval AUC above 0.65 after 80 steps of 256 rows, where a
constant prediction scores 0.5 (the data's oracle AUC is about 0.8).
"""

import math

import pyarrow.parquet as pq
import pytest

from tests.unit.models.conftest import example_config, train

pytestmark = pytest.mark.slow

MARGIN_AUC = 0.65


def base_rate_entropy(data) -> float:
    p = pq.read_table(data / "eval", columns=["label"])["label"].to_numpy().mean()
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


@pytest.mark.parametrize(
    "name", ["wide_and_deep", "dlrm", "multi_tower", "dcn_v2", "mask_net"]
)
def test_example_beats_constant_baseline(name, model_data, dist_info, tmp_path):
    records = train(example_config(name, model_data, tmp_path / name), dist_info)
    assert [r["global_step"] for r in records] == [40, 80]
    last = records[-1]
    assert last["auc"] > MARGIN_AUC, last
    # The best constant predicts the click rate; its log loss is the entropy.
    assert last["loss_binary_cross_entropy"] < base_rate_entropy(model_data), last
