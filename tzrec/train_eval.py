"""python -m tzrec.train_eval: train and evaluate a model from a pipeline config."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
from collections.abc import Iterator

from tzrec import config as config_lib
from tzrec.datasets.preflight import check_event_time_column, check_inputs
from tzrec.utils.cli import make_parser, run_main
from tzrec.utils.errors import CheckpointError, ConfigError
from tzrec.utils.failpoints import failpoint
from tzrec.utils.model_dir import check_model_dir, make_model_dir
from tzrec.utils.run_lock import RunLock
from tzrec.utils.supervise import watch_launcher

_logger = logging.getLogger("tzrec")


def build_parser() -> argparse.ArgumentParser:
    """The train_eval flags (TorchEasyRec's names; unknown flags are errors)."""
    p = make_parser("python -m tzrec.train_eval", "Train and evaluate a model.")
    p.add_argument(
        "--pipeline_config_path", required=True, help="pipeline config (text or .json)"
    )
    p.add_argument("--model_dir", default=None, help="override model_dir")
    p.add_argument("--train_input_path", default=None, help="override train_input_path")
    p.add_argument("--eval_input_path", default=None, help="override eval_input_path")
    p.add_argument(
        "--continue_train",
        action="store_true",
        help="resume from the latest checkpoint",
    )
    p.add_argument(
        "--fine_tune_checkpoint",
        default=None,
        help="initialise weights from a checkpoint",
    )
    p.add_argument(
        "--edit_config_json",
        default=None,
        help="overrides, e.g. '{\"train_config.num_steps\": 500}'",
    )
    p.add_argument(
        "--ignore_restore_optimizer",
        action="store_true",
        help="resume weights but not optimizer state",
    )
    return p


def load_resolved_config(args: argparse.Namespace):
    """Loads the config and applies the CLI overrides, then validates it."""
    config = config_lib.load_pipeline_config(
        args.pipeline_config_path, args.edit_config_json
    )
    if args.model_dir is not None:
        if not args.model_dir.strip():
            raise ConfigError(
                "--model_dir is empty",
                "command line",
                "pass a directory path, or leave the flag out to use the config's",
            )
        config.model_dir = args.model_dir
    if args.train_input_path:
        config.train_input_path = args.train_input_path
    if args.eval_input_path:
        config.eval_input_path = args.eval_input_path
    if args.fine_tune_checkpoint:
        config.train_config.fine_tune_checkpoint = args.fine_tune_checkpoint
    config_lib.validate(config)
    _warn_same_train_and_eval(config)
    return config


def _warn_same_train_and_eval(config) -> None:
    """Evaluating on the training data is allowed (a smoke test) but said."""
    train, evl = config.train_input_path, config.eval_input_path
    if os.environ.get("RANK", "0") != "0":
        return  # said once per job
    if train and evl and os.path.realpath(train) == os.path.realpath(evl):
        _logger.warning(
            "warning: eval_input_path is the train_input_path (%s): the eval "
            "metrics measure fit, not generalisation; pass --eval_input_path "
            "with held-out data",
            train,
        )


def _check_fine_tune_path(path: str) -> None:
    """A fine_tune_checkpoint that does not exist fails before any heavy import."""
    if path and not os.path.exists(path):
        raise CheckpointError(
            "checkpoint path does not exist",
            path,
            "pass a model_dir or model.ckpt-N (train_config.fine_tune_checkpoint "
            "or --fine_tune_checkpoint)",
        )


def main(args: argparse.Namespace) -> int:
    """Runs training with evaluation; returns the exit status."""
    config = load_resolved_config(args)
    failpoint("startup")
    _check_fine_tune_path(config.train_config.fine_tune_checkpoint)
    check_inputs(config, [config.train_input_path, config.eval_input_path])
    check_event_time_column(config, config.train_input_path)
    # Checked here so a mistake answers in a second, before the heavy imports,
    # and once more below under the run lock.
    check_model_dir(config.model_dir, args.continue_train)
    make_model_dir(config.model_dir)
    # Rank 0 alone holds the lock; it is decided before the process group
    # exists so a second run fails fast without touching the first one's files.
    lock = RunLock(config.model_dir) if os.environ.get("RANK", "0") == "0" else None
    if lock is not None:
        lock.acquire()
    watch_launcher(
        config.model_dir,
        int(os.environ.get("RANK", "0")),
        lock.release if lock is not None else None,
    )
    failpoint("before_process_group")
    # Heavy imports after the config, data files and model_dir are known good:
    # a mistake there answers in a second.
    from tzrec.datasets.labels import check_labels
    from tzrec.train.trainer import Trainer
    from tzrec.utils.dist import init_distributed
    from tzrec.utils.logging import setup_logging
    from tzrec.utils.malloc import keep_freed_memory
    from tzrec.utils.supervise import start as supervise_ranks
    from tzrec.utils.tf32 import apply_tf32

    try:
        # Again, now that rank 0 holds the lock: a run that ended between the
        # first check and taking the lock may have left checkpoints here.
        check_model_dir(config.model_dir, args.continue_train)
        keep_freed_memory()
        dist_info = init_distributed()
        setup_logging(config.model_dir, dist_info.rank)
        tc = config.train_config
        apply_tf32(tc.cudnn_allow_tf32, tc.cuda_matmul_allow_tf32, "train_config")
        supervise_ranks(
            config.model_dir,
            dist_info.rank,
            dist_info.world_size,
            lock.release if lock is not None else None,
        )
        # Data, model and checkpoint are checked here, before the resolved
        # config replaces the one a previous run left in model_dir.
        trainer = Trainer(config, dist_info, args.continue_train)
        check_labels([trainer.train_ds, trainer.eval_ds], config)
        with _resolved_config_saved(config, dist_info.is_rank0):
            reason = trainer.train()
    finally:
        if lock is not None:
            lock.release()
    if dist_info.is_rank0:
        from tzrec.run_dir.eval_log import eval_log_path

        _logger.info(
            "[done] %s; TensorBoard: tensorboard --logdir %s", reason, config.model_dir
        )
        _logger.info("[done] eval log: %s", eval_log_path(config.model_dir))
    return 0


@contextlib.contextmanager
def _resolved_config_saved(config, is_rank0: bool) -> Iterator[None]:
    """Writes ``model_dir/pipeline.config``; undone if the run saves nothing.

    A run that fails before writing a checkpoint (bad data found at the first
    step, a full disk) puts the previous run's config back, so eval and export
    of the checkpoints already there keep using the config that wrote them.
    """
    from tzrec.checkpoint.manager import list_complete
    from tzrec.run_dir import names

    if not is_rank0:
        yield
        return
    path = os.path.join(config.model_dir, names.PIPELINE_CONFIG)
    previous = os.path.join(config.model_dir, names.PIPELINE_CONFIG_PREVIOUS)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(previous)
    had = os.path.exists(path)
    if had:
        try:
            os.link(path, previous)  # the old file itself: content and mtime kept
        except OSError:  # no hard links on this file system
            shutil.copy2(path, previous)
    before = list_complete(config.model_dir)
    try:
        config_lib.save_pipeline_config(config, path)
        yield
    except BaseException:
        if had and list_complete(config.model_dir) == before:
            os.replace(previous, path)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(previous)


if __name__ == "__main__":
    run_main(main, build_parser())
