"""python -m tzrec.export: a self-contained inference directory from a run.

Which checkpoint: ``--checkpoint_path`` when given (a ``model.ckpt-N`` or a
model_dir, meaning its latest); else by ``export_config.exporter_type``:
``best`` picks the step with the best ``best_exporter_metric`` (default
``auc``; direction ``metric_larger_is_better``) in
``model_dir/train_eval_result.jsonl`` among complete checkpoints, ``final`` or
``latest`` the latest complete checkpoint.

The export directory holds::

    scripted_model.pt   TorchScript; torch.jit.load runs it without tzrec
    pipeline.config     the resolved config (features encode predict input)
    meta.json           source checkpoint, step, selection metric, versions,
                        export time and the model's input layout
    DONE                sizes and xxh3_64 checksums of the files above (the
                        checkpoint marker's format); predict verifies them

The checkpoint is verified against its checksums first, and the exported
model must predict finite values on a sample batch. The directory is written
into a temporary sibling and renamed into place; an existing export directory
is an error and is left untouched. The export is added to
``model_dir/artifacts.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import shutil
import time
import warnings
from typing import Any

from tzrec import config as config_lib
from tzrec.config.settings import export_settings
from tzrec.protos import pipeline_pb2
from tzrec.run_dir import names
from tzrec.run_dir.atomic import fsync_dir, fsync_file
from tzrec.run_dir.marker import write_marker
from tzrec.utils.cli import make_parser
from tzrec.utils.errors import CheckpointError, ConfigError

_logger = logging.getLogger("tzrec")

SCRIPTED_FILE = "scripted_model.pt"
META_FILE = "meta.json"
CONFIG_FILE = names.PIPELINE_CONFIG
_LATEST = ("final", "latest")


def build_parser() -> argparse.ArgumentParser:
    """The export flags (TorchEasyRec's names; unknown flags are errors)."""
    p = make_parser("python -m tzrec.export", "Export a checkpoint for inference.")
    p.add_argument(
        "--pipeline_config_path", required=True, help="pipeline config of the run"
    )
    p.add_argument("--export_dir", required=True, help="new directory to write")
    p.add_argument(
        "--checkpoint_path",
        default=None,
        help="a model.ckpt-N directory or a model_dir (its latest); default: "
        "by export_config.exporter_type",
    )
    p.add_argument(
        "--asset_files",
        default="",
        help="files to copy into the export directory, a,b,c (e.g. vocab files "
        "serving needs)",
    )
    p.add_argument(
        "--additional_export_config",
        default=None,
        help="a JSON object stored with the export for the serving side, "
        "in meta.json under additional_export_config, e.g. "
        '\'{"cand_seq_pk": "cand_seq"}\'',
    )
    return p


def parse_export_extras(
    asset_files: str, additional_export_config: str | None
) -> tuple[list[str], dict[str, Any]]:
    """Checks ``--asset_files`` and ``--additional_export_config`` up front.

    Args:
        asset_files: comma-separated file paths.
        additional_export_config: a JSON object, or None.

    Returns:
        The asset paths and the parsed object ({} when not given).

    Raises:
        ConfigError: a missing asset, two assets or an asset with the name of
            an export file, invalid JSON, or JSON that is not an object.
    """
    assets = [a.strip() for a in asset_files.split(",") if a.strip()]
    names: set[str] = set()
    for path in assets:
        if not os.path.isfile(path):
            raise ConfigError(
                "asset file not found", f"--asset_files {path}", "give existing files"
            )
        name = os.path.basename(path)
        if name in names or name in (SCRIPTED_FILE, META_FILE, CONFIG_FILE):
            raise ConfigError(
                f'two export files would be named "{name}"',
                f"--asset_files {path}",
                "rename the asset",
            )
        names.add(name)
    extra: dict[str, Any] = {}
    if additional_export_config:
        try:
            extra = json.loads(additional_export_config)
        except json.JSONDecodeError as e:
            raise ConfigError(
                f"not valid JSON: {e.msg}",
                "--additional_export_config",
                'give a JSON object, e.g. \'{"key": "value"}\'',
            ) from None
        if not isinstance(extra, dict):
            raise ConfigError(
                "not a JSON object",
                "--additional_export_config",
                'give a JSON object, e.g. \'{"key": "value"}\'',
            )
    return assets, extra


@dataclasses.dataclass(frozen=True)
class Selection:
    """The checkpoint chosen for export and why."""

    step: int
    path: str
    how: str  # "checkpoint_path", "best" or "latest"
    metric: str | None = None
    value: float | None = None
    larger_is_better: bool | None = None


def select_checkpoint(
    config: pipeline_pb2.EasyRecConfig, checkpoint_path: str | None = None
) -> Selection:
    """Chooses the checkpoint to export (see the module doc).

    ``config`` is a validated one: its ``exporter_type`` is best, final or
    latest.

    Raises:
        CheckpointError: no complete checkpoint, or no evaluation to rank by.

    """
    from tzrec.checkpoint.best import best_step
    from tzrec.checkpoint.files import list_complete, resolve_checkpoint_path
    from tzrec.run_dir.eval_log import eval_log_path

    if checkpoint_path:
        step, path = resolve_checkpoint_path(checkpoint_path)
        return Selection(step, path, "checkpoint_path")
    settings = export_settings(config.export_config)
    if settings.exporter_type in _LATEST:
        step, path = resolve_checkpoint_path(config.model_dir)
        return Selection(step, path, "latest")
    complete = dict(list_complete(config.model_dir))
    log = eval_log_path(config.model_dir)
    metric, larger = settings.best.name, settings.best.larger_is_better
    found = best_step(log, metric, larger, set(complete))
    if found is None:
        raise CheckpointError(
            f'no complete checkpoint has a finite "{metric}" in the eval log',
            log,
            "pass --checkpoint_path, or set export_config.exporter_type: "
            '"latest" to export the latest checkpoint',
        )
    step, value = found
    return Selection(step, complete[step], "best", metric, value, larger)


def check_export_dir(export_dir: str) -> None:
    """An export never replaces anything.

    Raises:
        ConfigError: ``export_dir`` exists.

    """
    if os.path.lexists(export_dir):
        raise ConfigError(
            "export directory already exists",
            export_dir,
            "choose a new --export_dir or remove the old one",
        )


def export(
    config: pipeline_pb2.EasyRecConfig,
    selection: Selection,
    export_dir: str,
    assets: list[str] | None = None,
    additional_export_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Writes the export directory for ``selection``; returns its meta.

    ``assets`` are copied in beside the model; ``additional_export_config``
    is stored in meta.json for the serving side (TorchEasyRec's meaning).

    Raises:
        ConfigError: ``export_dir`` exists (checked again before the rename).

    """
    check_export_dir(export_dir)
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".tmp-{os.path.basename(export_dir)}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        for path in assets or []:
            shutil.copy2(path, os.path.join(tmp, os.path.basename(path)))
        meta = _write_export(config, selection, tmp, additional_export_config or {})
        check_export_dir(export_dir)
        # Fails if export_dir appeared meanwhile as a non-empty directory.
        os.rename(tmp, os.path.abspath(export_dir))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)
    _record(config.model_dir, os.path.abspath(export_dir))
    return meta


def _record(model_dir: str, export_dir: str) -> None:
    """Adds the export to ``model_dir/artifacts.json`` (when model_dir exists)."""
    from tzrec.checkpoint import artifacts
    from tzrec.run_dir.marker import read_marker

    if model_dir and os.path.isdir(model_dir):
        marker = read_marker(export_dir)
        artifacts.refresh(model_dir, artifacts.entry(export_dir, "export", marker))


def _write_export(
    config: pipeline_pb2.EasyRecConfig,
    selection: Selection,
    out: str,
    additional_export_config: dict[str, Any],
) -> dict[str, Any]:
    import torch

    import tzrec
    from tzrec.export.eager import load_eager_model
    from tzrec.export.inference_model import input_layout, script_model
    from tzrec.export.self_check import check_finite, check_scripted
    from tzrec.utils.tf32 import apply_tf32

    ec = config.export_config
    apply_tf32(ec.cudnn_allow_tf32, ec.cuda_matmul_allow_tf32, "export_config")
    _, model, state = load_eager_model(config, selection.path)
    check_finite(model, selection.path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*torch.jit.*deprecated", DeprecationWarning)
        scripted = script_model(model)
        scripted.save(os.path.join(out, SCRIPTED_FILE))
    check_scripted(os.path.join(out, SCRIPTED_FILE), model)
    config_lib.save_pipeline_config(config, os.path.join(out, CONFIG_FILE))
    now = datetime.datetime.now().astimezone()
    meta = {
        "checkpoint_path": os.path.abspath(selection.path),
        "global_step": selection.step,
        "epoch": state.get("epoch"),
        "selected_by": selection.how,
        "metric": selection.metric,
        "metric_value": selection.value,
        "metric_larger_is_better": selection.larger_is_better,
        "export_time": now.isoformat(timespec="seconds"),
        "tzrec_version": tzrec.__version__,
        "torch_version": torch.__version__,
        "model": config.model_config.WhichOneof("model"),
        "format": "torchscript",
        "inputs": input_layout(model),
        "assets": sorted(set(os.listdir(out)) - {SCRIPTED_FILE, CONFIG_FILE}),
        "additional_export_config": additional_export_config,
    }
    with open(os.path.join(out, META_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    for name in os.listdir(out):
        fsync_file(os.path.join(out, name))
    write_marker(out, step=selection.step, time=time.time())
    fsync_dir(out)
    return meta


def main(args: argparse.Namespace) -> int:
    """Exports; returns the exit status."""
    check_export_dir(args.export_dir)
    assets, extra = parse_export_extras(args.asset_files, args.additional_export_config)
    config = config_lib.load_pipeline_config(args.pipeline_config_path)
    config_lib.validate(config)
    from tzrec.utils.logging import setup_logging

    setup_logging(None, 0)
    selection = select_checkpoint(config, args.checkpoint_path)
    if selection.how == "best":
        _logger.info(
            "[export] best checkpoint by %s: step %d (%s=%.6g)",
            selection.metric,
            selection.step,
            selection.metric,
            selection.value,
        )
    _logger.info("[export] exporting %s", selection.path)
    export(config, selection, args.export_dir, assets, extra)
    _logger.info("[export] wrote %s", args.export_dir)
    trackers = config.train_config.trackers
    if trackers.HasField("mlflow"):
        from tzrec.monitor.tracker_mlflow import log_export
        from tzrec.monitor.trackers import check_trackers

        check_trackers(trackers)
        if log_export(config.model_dir, args.export_dir, trackers.mlflow):
            _logger.info("[export] uploaded to the run's MLflow artifacts")
    print(os.path.abspath(args.export_dir), flush=True)
    return 0
