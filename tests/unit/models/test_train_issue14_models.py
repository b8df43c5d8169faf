"""PLE, PEPNet, Rocket Launching and WuKong train on the bundled synthetic data.

Margin: every task's (every net's) eval AUC above 0.65 after 80 steps (a
constant prediction scores 0.5).
"""

import pytest

from tests.unit.models.conftest import example_config, train

pytestmark = pytest.mark.slow

MARGIN_AUC = 0.65
# Eval-log keys each model must write, with an AUC above the margin.
EXPECTED = {
    "ple": ("auc_ctr", "auc_cvr"),
    "pepnet": ("auc_ctr", "auc_cvr"),
    "rocket_launching": ("auc_light", "auc_booster"),
    "wukong": ("auc",),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trains_above_margin(name, model_data, dist_info, tmp_path):
    config = example_config(name, model_data, tmp_path / "md")
    records = train(config, dist_info)
    last = records[-1]
    for key in EXPECTED[name]:
        assert last[key] > MARGIN_AUC, (key, last)
    if name == "rocket_launching":
        # The distillation losses are real, named losses of the run.
        assert "loss_hint_l2_loss" in last and "loss_similarity_0" in last, sorted(last)
