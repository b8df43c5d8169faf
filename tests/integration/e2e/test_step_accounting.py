"""Progress total, last step, checkpoint step and samples seen agree.

With 2 DataLoader workers each worker's share rounds up to whole batches on
its own: 4,000 rows in batches of 384 are 2 x ceil(2,000 / 384) = 12 steps,
not ceil(4,000 / 384) = 11 (the quickstart's 489-vs-490 off-by-one).
"""

import json
import re

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.cli import run_cli, train_args
from tzrec.tools.runs.load import load_run

pytestmark = pytest.mark.slow

ROWS = 4000  # tiny_data's train rows


def test_one_epoch_with_two_workers_counts_what_ran(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    edits = {
        "train_config.num_steps": 0,
        "train_config.num_epochs": 1,
        "train_config.save_checkpoints_steps": 5,
        "train_config.log_step_count_steps": 1,
        "data_config.batch_size": 384,
        "data_config.num_workers": 2,
    }
    proc = run_cli("tzrec.train_eval", *train_args(tiny_data, model_dir, **edits))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    progress = re.findall(r"\[train\] step (\d+)/(\d+)", out)
    assert progress, out[-2000:]
    assert {int(total) for _, total in progress} == {12}
    assert int(progress[-1][0]) == 12
    ckpts = sorted(int(p.name.split("-")[1]) for p in model_dir.glob("model.ckpt-*"))
    assert ckpts[-1] == 12
    records = [
        json.loads(line)
        for line in (model_dir / "train_eval_result.jsonl").read_text().splitlines()
    ]
    assert [r["global_step"] for r in records] == [5, 10, 12]
    # Step 5: worker 0 delivered 3 batches, worker 1 two: 5 x 384 rows.
    assert [r["samples"] for r in records] == [5 * 384, 10 * 384, ROWS]
    assert load_run(str(model_dir)).samples_at(12) == ROWS
    ev = EventAccumulator(str(model_dir / "eval_val"))
    ev.Reload()
    seen = [(e.step, e.value) for e in ev.Scalars("samples_seen")]
    assert seen == [(5, 5 * 384), (10, 10 * 384), (12, ROWS)]
