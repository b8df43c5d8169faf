"""DCN v1, xDeepFM, SimpleMultiTask and DC2VR train on the bundled synthetic data.

Margin: every task's eval AUC above 0.65 after 80 steps (a constant
prediction scores 0.5). The examples' options show in the eval log:
dcn_v1's variational dropout penalty is a named loss.
"""

import pytest

from tests.unit.models.conftest import example_config, train

pytestmark = pytest.mark.slow

MARGIN_AUC = 0.65
# Eval-log keys each example must write, with an AUC above the margin.
EXPECTED = {
    "dcn_v1": ("auc",),
    "xdeepfm": ("auc",),
    "simple_multi_task": ("auc_ctr", "auc_cvr"),
    "dc2vr": ("auc_ctr", "auc_cvr"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trains_above_margin(name, model_data, dist_info, tmp_path):
    records = train(example_config(name, model_data, tmp_path / "md"), dist_info)
    last = records[-1]
    for key in EXPECTED[name]:
        assert last[key] > MARGIN_AUC, (key, last)
    if name == "dcn_v1":
        assert last["loss_all_feature_p_loss"] > 0, sorted(last)
