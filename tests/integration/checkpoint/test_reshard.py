"""Save sharded over 2 processes (torchrun, gloo), restore at 1 and at 2."""

from __future__ import annotations

import os
import pathlib

import pytest
import torch

from tests.cli import REPO, run_torchrun
from tests.unit.checkpoint import ckpt_dmp_model as tiny
from tzrec.checkpoint.manager import CheckpointManager

HERE = pathlib.Path(__file__).resolve().parent


def _same(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key


@pytest.mark.slow
def test_two_process_checkpoint_restores_at_other_world_sizes(process_group, tmp_path):
    # reshard_save.py imports tzrec and tests.unit.checkpoint from the repo.
    env = {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
        )
    }
    run = run_torchrun(
        2, str(HERE / "reshard_save.py"), str(tmp_path), env=env, timeout=120
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]

    refs = [
        torch.load(tmp_path / f"reference-{r}.pt", weights_only=True) for r in (0, 1)
    ]
    assert refs[0]["shards"]["ebc.embedding_bags.t2.weight"] == 2  # really split
    want_model = tiny.assemble(*(r["model"] for r in refs))
    want_optim = tiny.assemble(*(r["optimizer"] for r in refs))

    # 2 ranks (column/table-wise) -> 1 rank (table-wise), other initial weights.
    dmp, opt = tiny.build(seed=1, dim=16)
    manager = CheckpointManager(str(tmp_path))
    assert manager.latest()[0] == 3
    state = manager.restore(manager.latest()[1], dmp, opt)
    assert state == {"step": 3, "world_size": 2}  # no per-rank RNG across sizes
    _same(tiny.snapshot(dmp.state_dict()), want_model)
    _same(tiny.snapshot(opt.state_dict()), want_optim)

    # 2 ranks -> 2 ranks with the sharding swapped (restored inside the script).
    done = [
        torch.load(tmp_path / f"restored-{r}.pt", weights_only=True) for r in (0, 1)
    ]
    assert all(d["has_rng"] for d in done)
    _same(tiny.assemble(*(d["model"] for d in done)), want_model)
    _same(tiny.assemble(*(d["optimizer"] for d in done)), want_optim)
