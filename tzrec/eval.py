"""python -m tzrec.eval: evaluate one checkpoint of a run.

Writes the metrics as TensorBoard scalars (``metric/<name>``, ``loss/<name>``)
at the checkpoint's step into ``model_dir/eval/`` and appends one JSON line
(``global_step`` first, then ``epoch``, ``wall_time`` and the metrics; NaN as
``null``) to ``model_dir/<eval_result_filename>``, by default
``eval_result.jsonl``. The metrics are computed by the same code as the
evaluations during training, so they agree on the same data.

Example::

    python -m tzrec.eval --pipeline_config_path D/pipeline.config
        [--checkpoint_path D/model.ckpt-N] [--eval_input_path data/eval]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from typing import Any

from tzrec import config as config_lib
from tzrec.protos import pipeline_pb2
from tzrec.utils.cli import make_parser, run_main
from tzrec.utils.errors import ConfigError

_logger = logging.getLogger("tzrec")

DEFAULT_RESULT_FILENAME = "eval_result.jsonl"


def build_parser() -> argparse.ArgumentParser:
    """The eval flags (TorchEasyRec's names; unknown flags are errors)."""
    p = make_parser("python -m tzrec.eval", "Evaluate a checkpoint.")
    p.add_argument(
        "--pipeline_config_path", required=True, help="pipeline config of the run"
    )
    p.add_argument(
        "--checkpoint_path",
        default=None,
        help="a model.ckpt-N directory or a model_dir (its latest complete "
        "checkpoint); default: the latest in the config's model_dir",
    )
    p.add_argument("--eval_input_path", default=None, help="override eval_input_path")
    p.add_argument(
        "--eval_result_filename",
        default=DEFAULT_RESULT_FILENAME,
        help="JSON-lines file in model_dir the result line is appended to",
    )
    return p


def load_eval_config(args: argparse.Namespace) -> pipeline_pb2.EasyRecConfig:
    """Loads and validates the config with the CLI overrides applied."""
    config = config_lib.load_pipeline_config(args.pipeline_config_path)
    if args.eval_input_path:
        config.eval_input_path = args.eval_input_path
    config_lib.validate(config)
    if not config.eval_input_path:
        raise ConfigError(
            "no eval data",
            "eval_input_path",
            "set eval_input_path in the config or pass --eval_input_path",
        )
    if not args.eval_result_filename or os.path.isabs(args.eval_result_filename):
        raise ConfigError(
            f"bad --eval_result_filename {args.eval_result_filename!r}",
            "command line",
            "give a file name relative to model_dir",
        )
    return config


def evaluate_checkpoint(
    config: pipeline_pb2.EasyRecConfig, ckpt_path: str, dist_info: Any
) -> tuple[dict[str, float], int | None, int]:
    """Restores ``ckpt_path`` into the sharded model and evaluates it.

    Collective: every rank calls it; metrics are reduced across ranks.

    Args:
        config: the validated config.
        ckpt_path: a complete ``model.ckpt-N`` directory.
        dist_info: this process's rank (``init_distributed()``).

    Returns:
        (metric values by eval-log key, the checkpoint's epoch or None,
        batches this rank evaluated).

    """
    from tzrec.checkpoint.manager import CheckpointManager
    from tzrec.datasets.labels import check_labels
    from tzrec.monitor.progress import ProgressLogger
    from tzrec.train.eval_metrics_feed import (
        build_eval_metric_set,
        eval_metrics_updater,
        grouping_keys,
    )
    from tzrec.train.evaluate import evaluate
    from tzrec.train.setup import build_dataset, build_model_parts, loader_for

    parts = build_model_parts(config, dist_info, with_optimizer=False)
    saved = CheckpointManager(config.model_dir).restore(ckpt_path, parts.dmp)
    epoch = saved.get("train_state", saved).get("epoch")
    metrics = build_eval_metric_set(config, parts.model.loss_names)
    dataset = build_dataset(
        config,
        parts,
        config.eval_input_path,
        dist_info,
        True,
        grouping_keys(config),
    )
    check_labels([dataset], config)
    max_steps = config.eval_config.num_steps
    total = dataset.num_batches()
    if total is not None and max_steps:
        total = min(total, max_steps)
    progress = None
    if dist_info.is_rank0:
        progress = ProgressLogger(
            "eval",
            total or (max_steps or None),
            dataset.batch_size,
            dist_info.world_size,
            miniters=max(1, config.eval_config.log_step_count_steps),
        )
    values, steps, seconds = evaluate(
        parts.dmp,
        loader_for(dataset, config),
        metrics,
        eval_metrics_updater(parts.model),
        dist_info.device,
        max_steps,
        progress.maybe_log if progress is not None else None,
    )
    _logger.debug("evaluated %d batches in %.2fs", steps, seconds)
    return values, epoch, steps


def write_eval_result(
    model_dir: str,
    result_filename: str,
    step: int,
    epoch: int | None,
    values: dict[str, float],
) -> dict[str, Any]:
    """Writes ``model_dir/eval/`` scalars and appends the result line (rank 0).

    Returns:
        The JSON record appended.

    """
    from tzrec.monitor import keys
    from tzrec.monitor.sinks import TensorBoardSink
    from tzrec.run_dir import names
    from tzrec.run_dir.eval_log import EvalLog

    scalars = {keys.eval_tag(k): v for k, v in values.items() if math.isfinite(v)}
    eval_dir = os.path.join(model_dir, names.EVAL_DIR)
    with TensorBoardSink(eval_dir, eval_run=True) as sink:
        sink.scalars(step, scalars)
    path = os.path.join(model_dir, result_filename)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return EvalLog(path).append(step, values, epoch=epoch, wall_time=time.time())


def main(args: argparse.Namespace) -> int:
    """Evaluates the checkpoint; returns the exit status."""
    config = load_eval_config(args)
    from tzrec.datasets.preflight import check_inputs

    check_inputs(config, [config.eval_input_path])
    from tzrec.checkpoint.manager import resolve_checkpoint_path
    from tzrec.monitor.progress import format_value
    from tzrec.utils.dist import init_distributed
    from tzrec.utils.logging import setup_logging

    step, ckpt_path = resolve_checkpoint_path(args.checkpoint_path or config.model_dir)
    from tzrec.utils.supervise import start as supervise_ranks

    dist_info = init_distributed()
    setup_logging(config.model_dir, dist_info.rank)
    supervise_ranks(config.model_dir, dist_info.rank, dist_info.world_size)
    _logger.info("[eval] checkpoint %s on %s", ckpt_path, config.eval_input_path)
    start = time.perf_counter()
    values, epoch, steps = evaluate_checkpoint(config, ckpt_path, dist_info)
    if not dist_info.is_rank0:
        return 0
    if steps == 0:
        _logger.warning("[eval] no eval rows on rank 0: %s", config.eval_input_path)
    record = write_eval_result(
        config.model_dir, args.eval_result_filename, step, epoch, values
    )
    shown = " ".join(f"{k}={format_value(v)}" for k, v in values.items())
    _logger.info(
        "[eval] step %d done in %.1fs | %s",
        step,
        time.perf_counter() - start,
        shown,
    )
    _logger.info(
        "[eval] appended to %s; TensorBoard: %s",
        os.path.join(config.model_dir, args.eval_result_filename),
        os.path.join(config.model_dir, "eval"),
    )
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    run_main(main, build_parser())
