"""part_optimizers end to end: own optimizer, own schedule, own lr/g<i> curve."""

from __future__ import annotations

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import TINY_EDITS


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_parts_train_with_their_own_optimizer_and_schedule(tiny_data, tmp_path):
    from tests.unit.models.test_models import shrunk_config
    from tzrec.monitor.keys import lr_tag
    from tzrec.optim.dense import model_param_name
    from tzrec.train.trainer import Trainer
    from tzrec.utils.dist import init_distributed

    edits = {
        **TINY_EDITS,
        "train_config.num_steps": 8,
        "train_config.save_checkpoints_steps": 8,
        "train_config.log_step_count_steps": 2,
        "train_config.dense_optimizer": {
            "adam_optimizer": {"lr": 0.002},
            "constant_learning_rate": {},
            "part_optimizers": [
                # Frozen by a zero rate: the deep MLP must not move.
                {"regex_pattern": "head\\.deep\\..*", "sgd_optimizer": {"lr": 0.0}},
                {
                    "regex_pattern": "head\\.output\\.weight",
                    "adam_optimizer": {"lr": 0.01},
                    "manual_step_learning_rate": {
                        "schedule_sizes": [4],
                        "learning_rates": [0.001],
                    },
                },
                {"regex_pattern": "no_such_param", "sgd_optimizer": {"lr": 1.0}},
            ],
        },
    }
    config = shrunk_config("deepfm", **edits)  # 8 small tables: quick to build
    config.train_input_path = str(tiny_data / "train")
    config.eval_input_path = str(tiny_data / "eval")
    config.model_dir = str(tmp_path / "run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        session = Trainer(config, init_distributed(), False)
        names = [n for n, _ in session.parts.optimizer.optimizers]
        # A part that matches nothing is left out (TorchEasyRec).
        assert names == ["sparse", "dense", "part0", "part1"]
        dense = {
            model_param_name(n): p.detach().clone()
            for n, p in session.parts.dmp.named_parameters()
            if getattr(p, "_in_backward_optimizers", None) is None
        }
        session.train()
    finally:
        torch.set_num_threads(threads)
    after = {
        model_param_name(n): p.detach() for n, p in session.parts.dmp.named_parameters()
    }
    deep = [n for n in dense if n.startswith("head.deep.")]
    rest = [n for n in dense if not n.startswith("head.deep.")]
    assert deep and rest
    assert all(torch.equal(dense[n], after[n]) for n in deep)
    assert all(not torch.equal(dense[n], after[n]) for n in rest)

    acc = EventAccumulator(config.model_dir)
    acc.Reload()
    lr = {g: [(e.step, e.value) for e in acc.Scalars(lr_tag(g))] for g in (1, 2, 3)}
    assert len(lr[1]) >= 4 and len(lr[1]) == len(lr[2]) == len(lr[3])
    assert all(v == pytest.approx(0.002) for _, v in lr[1])  # dense: constant
    assert all(v == 0.0 for _, v in lr[2])  # part0
    part1 = dict(lr[3])  # its own manual steps from its own base rate
    assert part1[2] == pytest.approx(0.01) and part1[8] == pytest.approx(0.001)
