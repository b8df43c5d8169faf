"""task_space_indicator_label: out-of-space rows weigh out_task_space_weight."""

import json

import pyarrow.parquet as pq
import pytest
import torch

from tests.cli import REPO
from tzrec import config as config_lib
from tzrec.datasets.batch import BatchBuilder
from tzrec.datasets.synthetic_from_config import generate_from_config
from tzrec.features.build import build_features
from tzrec.loss.losses import binary_cross_entropy
from tzrec.models.build import build_model

CONFIG = str(REPO / "tests" / "configs" / "teasyrec" / "pepnet_taobao_small.config")


@pytest.mark.parametrize("out_weight", [0.0, 0.25])
def test_cvr_loss_is_weighted_by_the_click_space(out_weight, tmp_path):
    edits = {"model_config.pepnet.task_towers[1].out_task_space_weight": out_weight}
    config = config_lib.load_pipeline_config(CONFIG, json.dumps(edits))
    generate_from_config(config, str(tmp_path), 300, 50)
    features = build_features(config.feature_configs)
    model = build_model(config, features).eval()
    builder = BatchBuilder(
        features,
        list(config.data_config.label_fields),
        sparse_groups=model.embedding_group.sparse_groups,
    )
    batch = builder.build(pq.read_table(tmp_path / "train" / "part-0.parquet"))
    with torch.no_grad():
        preds = model.predict(batch)
        losses = model.loss(preds, batch)
    clk, buy = batch.labels["clk"], batch.labels["buy"]
    w = torch.where(clk == 1, 1.0, out_weight)
    per_row = binary_cross_entropy(preds["logits_cvr"], buy)
    want = (per_row * w).sum() / w.sum()
    assert losses["binary_cross_entropy_cvr"] == pytest.approx(want.item(), rel=1e-5)
    ctr = binary_cross_entropy(preds["logits_ctr"], clk).mean()
    assert losses["binary_cross_entropy_ctr"] == pytest.approx(ctr.item(), rel=1e-5)
