"""python -m tzrec.train_eval: train and evaluate a model from a pipeline config."""

from __future__ import annotations

import argparse
import logging
import os

from tzrec import config as config_lib
from tzrec.utils.cli import make_parser, run_main
from tzrec.utils.errors import ConfigError

_logger = logging.getLogger("tzrec")


def build_parser() -> argparse.ArgumentParser:
    """The train_eval flags (TorchEasyRec's names; unknown flags are errors)."""
    p = make_parser("python -m tzrec.train_eval", "Train and evaluate a model.")
    p.add_argument("--pipeline_config_path", required=True, help="pipeline config (text or .json)")
    p.add_argument("--model_dir", default=None, help="override model_dir")
    p.add_argument("--train_input_path", default=None, help="override train_input_path")
    p.add_argument("--eval_input_path", default=None, help="override eval_input_path")
    p.add_argument("--continue_train", action="store_true", help="resume from the latest checkpoint")
    p.add_argument("--fine_tune_checkpoint", default=None, help="initialise weights from a checkpoint")
    p.add_argument("--edit_config_json", default=None, help='overrides, e.g. \'{"train_config.num_steps": 500}\'')
    p.add_argument("--ignore_restore_optimizer", action="store_true", help="resume weights but not optimizer state")
    return p


def load_resolved_config(args: argparse.Namespace):  # noqa: ANN201
    """Loads the config and applies the CLI overrides, then validates it."""
    config = config_lib.load_pipeline_config(args.pipeline_config_path, args.edit_config_json)
    if args.model_dir:
        config.model_dir = args.model_dir
    if args.train_input_path:
        config.train_input_path = args.train_input_path
    if args.eval_input_path:
        config.eval_input_path = args.eval_input_path
    if args.fine_tune_checkpoint:
        config.train_config.fine_tune_checkpoint = args.fine_tune_checkpoint
    config_lib.validate(config)
    return config


def main(args: argparse.Namespace) -> int:
    """Runs training with evaluation; returns the exit status."""
    config = load_resolved_config(args)
    # Heavy imports after the config is known good: a typo answers in a second.
    from tzrec.train.session import TrainSession, check_model_dir
    from tzrec.utils.dist import init_distributed
    from tzrec.utils.logging import setup_logging
    from tzrec.utils.run_lock import RunLock

    check_model_dir(config.model_dir, args.continue_train)
    _make_model_dir(config.model_dir)
    # Rank 0 alone holds the lock; it is decided before the process group
    # exists so a second run fails fast without touching the first one's files.
    lock = RunLock(config.model_dir) if os.environ.get("RANK", "0") == "0" else None
    if lock is not None:
        lock.acquire()
    try:
        check_model_dir(config.model_dir, args.continue_train)
        dist_info = init_distributed()
        setup_logging(config.model_dir, dist_info.rank)
        if dist_info.is_rank0:
            config_lib.save_pipeline_config(
                config, os.path.join(config.model_dir, "pipeline.config")
            )
        session = TrainSession(config, dist_info, args.continue_train)
        reason = session.run()
    finally:
        if lock is not None:
            lock.release()
    if dist_info.is_rank0:
        _logger.info("[done] %s; TensorBoard: tensorboard --logdir %s", reason, config.model_dir)
        _logger.info("[done] eval log: %s", os.path.join(config.model_dir, "train_eval_result.jsonl"))
    return 0


def _make_model_dir(model_dir: str) -> None:
    try:
        os.makedirs(model_dir, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create model_dir: {e.strerror}", model_dir, "choose a writable path"
        ) from None
    if not os.access(model_dir, os.W_OK):
        raise ConfigError("model_dir is not writable", model_dir, "choose a writable path")


if __name__ == "__main__":
    run_main(main, build_parser())
