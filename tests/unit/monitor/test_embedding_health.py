"""Embedding-table health: per table on log steps, off with one switch."""

from __future__ import annotations

import math

import pytest

from tests.cli import TINY_CONFIG
from tzrec.monitor.embedding_health import collision_share


def test_collision_share_inverts_the_expected_distinct_buckets():
    m, n = 1000, 400
    expected_distinct = m * (1 - (1 - 1 / m) ** n)
    assert collision_share(round(expected_distinct), m) == pytest.approx(
        1 - expected_distinct / n, abs=0.01
    )
    assert collision_share(0, m) == 0.0
    assert collision_share(3, 10**9) == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(collision_share(m, m))  # saturated: unknown


def _config(tmp_path, data, summaries: str = ""):
    from tzrec import config as config_lib

    text = TINY_CONFIG.read_text()
    # cat_4 hashed (collisions), cat_5 a vocabulary (unknown ids), cat_13
    # with a default for missing values
    text = text.replace(
        'feature_name: "cat_4" num_buckets: 300',
        'feature_name: "cat_4" hash_bucket_size: 40',
    ).replace(
        'feature_name: "cat_5" num_buckets: 20',
        'feature_name: "cat_5" vocab_list: ["1", "2", "3"]',
    )
    text = text.replace("  seed: 3\n", f"  seed: 3\n{summaries}")
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "c.config"
    path.write_text(text)
    config = config_lib.load_pipeline_config(str(path))
    config.train_input_path = str(data / "train")
    config.eval_input_path = str(data / "eval")
    config.model_dir = str(tmp_path / "md")
    config_lib.validate(config)
    return config


def _train(config):
    import torch

    from tzrec.train.trainer import Trainer
    from tzrec.utils.dist import init_distributed

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(config, init_distributed(), False).train()
    finally:
        torch.set_num_threads(threads)


def _scalars(model_dir):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    acc = EventAccumulator(str(model_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


@pytest.mark.slow
def test_health_per_table_on_log_steps_and_the_off_switch(tiny_data, tmp_path):
    config = _config(tmp_path / "on", tiny_data)
    _train(config)
    acc = _scalars(config.model_dir)
    tags = set(acc.Tags()["scalars"])

    def points(tag):
        return [(e.step, e.value) for e in acc.Scalars(tag)]

    log_steps = [1, 10, 20]
    for table in ("cat_4", "cat_5", "cat_13", "int_0"):
        for stat in ("unique_ids", "default_share", "rows_updated_share"):
            tag = f"table/{table}/{stat}"
            assert [s for s, _ in points(tag)] == log_steps, tag
            assert acc.SummaryMetadata(tag).summary_description
    # 40 hash buckets: at most 40 distinct ids, and collisions are estimated
    assert all(0 < v <= 40 for _, v in points("table/cat_4/unique_ids"))
    assert all(0 < v < 1 for _, v in points("table/cat_4/collision_share"))
    assert "table/cat_5/collision_share" not in tags  # not hashed
    # cat_5 ids run to 19: most are not in the 3-token vocabulary
    assert all(v > 0.5 for _, v in points("table/cat_5/default_share"))
    updated = [v for _, v in points("table/cat_13/rows_updated_share")]
    assert 0 < updated[0] <= updated[-1] <= 1  # grows as the data reaches rows
    assert "table/wide_cat_4/row_norm_mean" in tags
    drift = points("table/cat_4/row_norm_mean_drift")
    means = [v for _, v in points("table/cat_4/row_norm_mean")]
    assert [s for s, _ in drift] == [10, 20]
    assert drift[-1][1] == pytest.approx(means[-1] - means[-2], abs=1e-6)

    off = _config(
        tmp_path / "off", tiny_data, '  tensorboard_summaries: "no_embedding_health"\n'
    )
    _train(off)
    off_tags = set(_scalars(off.model_dir).Tags()["scalars"])
    assert "loss/binary_cross_entropy" in off_tags
    assert not any(t.startswith("table/") for t in off_tags)
