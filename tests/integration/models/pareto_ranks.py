"""Run by torchrun (2 gloo ranks): a Pareto-weighted run keeps ranks in step.

Trains the simple_multi_task example (use_pareto_loss_weight) a few steps on
the data in argv[1], writing to argv[2], then prints the largest difference
between the ranks' head parameters (0 when data parallelism averaged every
step's gradients).
"""

import json
import sys

import torch
import torch.distributed as dist

from tests.conftest import REPO
from tzrec import config as config_lib
from tzrec.train.trainer import Trainer
from tzrec.utils.dist import init_distributed

EDITS = {
    "train_config.num_epochs": 0,
    "train_config.num_steps": 4,
    "train_config.save_checkpoints_steps": 4,
    "data_config.batch_size": 64,
    "data_config.num_workers": 0,
}


def main() -> None:
    data, model_dir = sys.argv[1], sys.argv[2]
    path = REPO / "experiments" / "simple_multi_task_synthetic.config"
    config = config_lib.load_pipeline_config(str(path), json.dumps(EDITS))
    assert config.model_config.use_pareto_loss_weight
    config.train_input_path = f"{data}/train"
    config.eval_input_path = f"{data}/eval"
    config.model_dir = model_dir
    session = Trainer(config, init_distributed(), False)
    session.train()
    params = session.parts.model.head.parameters()
    head = torch.cat([p.detach().reshape(-1) for p in params])
    gathered = [torch.zeros_like(head) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, head)
    if dist.get_rank() == 0:
        print(f"RANK_DIFF {(gathered[0] - gathered[1]).abs().max().item()}")


if __name__ == "__main__":
    main()
