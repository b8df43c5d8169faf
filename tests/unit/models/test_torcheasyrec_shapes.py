"""TorchEasyRec-shaped configs of the issue-14 blockers train on --from_config data.

Each config under tests/configs/teasyrec/ (written for these tests in the
shape of TorchEasyRec's examples) gets data from
``make_synthetic_data --from_config``; only the data source changes, as a
TorchEasyRec user would change it. Every task must then train, evaluate and
beat a constant score on its AUC.
"""

import json
import math

import pytest

from tests.cli import REPO
from tests.unit.models.conftest import train

pytestmark = pytest.mark.slow

CONFIGS = REPO / "tests" / "configs" / "teasyrec"
# config -> eval-log AUC keys
EXPECTED = {
    "ple_taobao_small": ("auc_ctr", "auc_cvr"),
    "pepnet_taobao_small": ("auc_ctr", "auc_cvr"),
    "rocket_launching_small": ("auc_light", "auc_booster"),
    "wukong_small": ("auc",),
    "dbmtl_jrc_small": ("auc_ctr", "auc_cvr"),
    "dbmtl_seq_small": ("auc_ctr", "auc_cvr"),
    "mmoe_seq_encoders_small": ("auc_ctr", "auc_cvr"),
}
EDITS = {
    "data_config.dataset_type": "ParquetDataset",
    "train_config.num_epochs": 0,
    "train_config.num_steps": 60,
    "train_config.save_checkpoints_steps": 60,
    "train_config.log_step_count_steps": 30,
}


def configured(name: str, tmp_path):
    from tzrec import config as config_lib
    from tzrec.datasets.synthetic_from_config import generate_from_config

    path = str(CONFIGS / f"{name}.config")
    data = tmp_path / "data"
    generate_from_config(config_lib.load_pipeline_config(path), str(data), 8000, 2000)
    config = config_lib.load_pipeline_config(path, json.dumps(EDITS))
    config.train_input_path = str(data / "train")
    config.eval_input_path = str(data / "eval")
    config.model_dir = str(tmp_path / "md")
    config_lib.validate(config)
    return config


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trains_and_evaluates(name, dist_info, tmp_path):
    records = train(configured(name, tmp_path), dist_info)
    last = records[-1]
    assert last["global_step"] == 60
    for key in EXPECTED[name]:
        assert math.isfinite(last[key]) and last[key] > 0.6, (key, last)
