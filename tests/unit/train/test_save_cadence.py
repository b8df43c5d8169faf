"""save_checkpoints_timestamp_*: checkpoints when consumed event time crosses."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import TINY_EDITS
from tzrec.train.save_cadence import EventTimeSaveCadence, quorum_time

BASE = 1_700_000_000


def test_quorum_time_is_the_time_that_a_quorum_of_ranks_reached():
    times = [100.0, 5.0, 90.0, 1e12]
    assert quorum_time(times, 1.0) == 5.0  # every rank
    assert quorum_time(times, 0.5) == 100.0  # two of four, outlier ignored
    assert quorum_time(times, 0.75) == 90.0
    assert quorum_time(times, 0.01) == 1e12  # any one rank
    assert quorum_time([-1.0, 7.0], 1.0) == -1.0  # one rank has none yet


def test_interval_boundaries_are_aligned_to_the_unix_epoch():
    c = EventTimeSaveCadence(interval_s=3600)
    start = BASE - BASE % 3600 + 3000  # 10 minutes before a full hour
    assert not c.due(1, start)  # the first time seen only sets the watermark
    assert not c.due(2, start + 599)
    assert c.due(3, start + 600)  # the full hour
    assert not c.due(4, start + 1000)
    assert not c.due(5, None)  # a batch without times keeps the latest
    assert c.due(6, start + 600 + 3600 * 2)  # two boundaries: one save
    assert not c.due(7, start)  # older rows do not move time back


def test_targets_fire_once_each():
    c = EventTimeSaveCadence(targets=[BASE + 50, BASE + 10])
    seen = [c.due(s, BASE + t) for s, t in enumerate([0, 5, 10, 20, 60, 70])]
    assert seen == [False, False, True, False, True, False]


def test_a_restored_watermark_neither_repeats_nor_skips():
    c = EventTimeSaveCadence(targets=[BASE + 10, BASE + 20])
    c.watermark = float(BASE + 10)  # saved at the first target
    assert not c.due(1, BASE + 15)
    assert c.due(2, BASE + 20)


def test_no_trigger_configured_is_never_due():
    assert not EventTimeSaveCadence().due(1, BASE)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_training_saves_when_the_data_crosses_a_target(tiny_data, tmp_path):
    """Rows carry event times BASE + row index; 256 rows a step, no shuffle."""
    import torch

    from tests.unit.models.test_models import shrunk_config
    from tzrec.train.trainer import Trainer
    from tzrec.utils.dist import init_distributed

    data = tmp_path / "data"
    data.mkdir()
    offset = 0
    for f in sorted((tiny_data / "train").glob("*.parquet")):
        t = pq.read_table(f)
        ts = pa.array(range(BASE + offset, BASE + offset + t.num_rows), pa.int64())
        pq.write_table(t.append_column("event_ts", ts), data / f.name)
        offset += t.num_rows
    edits = {
        **TINY_EDITS,
        "train_config.num_steps": 8,
        "train_config.save_checkpoints_steps": 1000,
        "train_config.save_checkpoints_timestamps": [BASE + 1000, BASE + 1500],
        "train_config.save_checkpoints_timestamp_field": "event_ts",
        "data_config.shuffle": False,
    }
    config = shrunk_config("deepfm", **edits)  # 8 small tables: quick to build
    config.train_input_path = str(data)
    config.eval_input_path = str(tiny_data / "eval")
    config.model_dir = str(tmp_path / "run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(config, init_distributed(), False).train()
        steps = _checkpoint_steps(config.model_dir)
        # Row 1000 is in step 4 (rows 768..1023), row 1500 in step 6; 8: the end.
        assert steps == [4, 6, 8]
        assert _evaluated_steps(config.model_dir) == [4, 6, 8]
        # Resumed, the watermark (row 1535) comes back from the checkpoint:
        # step 9's rows (about 2000..2300) cross the target 2200 and save; a
        # fresh cadence would only take them as its first reference.
        config.train_config.num_steps = 10
        config.train_config.save_checkpoints_timestamps.append(BASE + 2200)
        Trainer(config, init_distributed(), True).train()
        assert _evaluated_steps(config.model_dir) == [4, 6, 8, 9, 10]
    finally:
        torch.set_num_threads(threads)


def _evaluated_steps(model_dir: str) -> list[int]:
    """Steps in the eval log: one per checkpoint (keep_checkpoint_max prunes)."""
    log = Path(model_dir) / "train_eval_result.jsonl"
    return [json.loads(line)["global_step"] for line in log.open()]


def _checkpoint_steps(model_dir: str) -> list[int]:
    return sorted(
        int(p.name.rsplit("-", 1)[1]) for p in Path(model_dir).glob("model.ckpt-*")
    )


def test_milliseconds_are_a_data_error():
    from types import SimpleNamespace

    import torch

    from tzrec.train.save_cadence import batch_event_time
    from tzrec.utils.errors import DataError

    def batch(*values):
        return SimpleNamespace(extras={"ts": torch.tensor(values)})

    assert batch_event_time(batch(BASE, BASE + 7), "ts") == BASE + 7
    assert batch_event_time(batch(BASE), "") is None
    with pytest.raises(DataError, match="not Unix-epoch seconds"):
        batch_event_time(batch(BASE * 1000), "ts")
