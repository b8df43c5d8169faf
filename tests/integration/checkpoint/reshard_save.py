"""Run under torchrun: trains the tiny model sharded over N ranks and saves.

Usage: python -m torch.distributed.run --nproc_per_node=2 reshard_save.py MODEL_DIR

Each rank writes MODEL_DIR/reference-RANK.pt (its local pieces of the model and
optimizer tensors after training) for the one-process restore to compare
against, then restores the checkpoint into a model sharded the other way round
at this world size and writes MODEL_DIR/restored-RANK.pt the same way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

# The repo root: this script imports tests.unit.checkpoint's tiny model.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.unit.checkpoint import ckpt_dmp_model as tiny
from tzrec.checkpoint.manager import CheckpointManager
from tzrec.utils.dist import init_distributed

SHARDING = {"t1": "table_wise", "t2": "column_wise"}
SWAPPED = {"t1": "column_wise", "t2": "table_wise"}


def main() -> None:
    model_dir = sys.argv[1]
    info = init_distributed()
    dmp, opt = tiny.build(seed=0, sharding=SHARDING, dim=16)
    tiny.train(dmp, opt, steps=3, seed=info.rank)
    reference = {
        "model": tiny.pieces(dmp.state_dict()),
        "optimizer": tiny.pieces(opt.state_dict()),
        "shards": {
            k: len(v.metadata().shards_metadata)
            for k, v in dmp.state_dict().items()
            if hasattr(v, "metadata")
        },
    }
    manager = CheckpointManager(model_dir)
    manager.save(3, dmp, opt, {"step": 3, "world_size": info.world_size}, dmp.plan)
    torch.save(reference, os.path.join(model_dir, f"reference-{info.rank}.pt"))

    other, other_opt = tiny.build(seed=1, sharding=SWAPPED, dim=16)
    state = manager.restore(manager.latest()[1], other, other_opt)
    restored = {
        "model": tiny.pieces(other.state_dict()),
        "optimizer": tiny.pieces(other_opt.state_dict()),
        "train_state": {k: v for k, v in state.items() if k != "rng"},
        "has_rng": "rng" in state,
    }
    torch.save(restored, os.path.join(model_dir, f"restored-{info.rank}.pt"))


if __name__ == "__main__":
    from tzrec.utils.dist import shutdown_distributed

    main()
    shutdown_distributed()
