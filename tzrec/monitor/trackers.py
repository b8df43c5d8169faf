"""Experiment trackers beside TensorBoard: the common part of MLflow and W&B.

Chosen by ``train_config.trackers``; both libraries are optional and imported
only when configured. A tracker is one run in the tracker's store; the
monitor writes to it through two :class:`~tzrec.monitor.sinks.Sink` views,
one for train scalars and one for eval scalars (``eval_val/`` prefixed, so a
train and an eval ``metric/auc`` stay two series).

Resume (``--continue_train``) continues the same tracker run: its id is kept
in ``model_dir/trackers.json`` with the last train and eval step logged, and
steps at or below those (redone after a kill) are not logged again, so
every step appears once.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import math
import os
from collections.abc import Mapping
from typing import Any

import torch

from tzrec.run_dir import names
from tzrec.run_dir.atomic import atomic_write
from tzrec.utils.errors import ConfigError

STATE_FILE = names.TRACKERS_FILE
EVAL_PREFIX = f"{names.EVAL_VAL_DIR}/"
WANDB_MODES = ("offline", "online", "disabled")
MLFLOW_STATUS = {"ok": "FINISHED", "stopped": "FINISHED", "failed": "FAILED"}
# Packages each tracker needs (MLflow's sqlite store needs sqlalchemy+alembic).
_NEEDS = {
    "mlflow": (("mlflow", "sqlalchemy", "alembic"), "mlflow-skinny sqlalchemy alembic"),
    "wandb": (("wandb",), "wandb"),
}


def check_trackers(trackers: Any, where: str = "train_config.trackers") -> None:
    """Rejects a bad tracker setting or a missing library before any work.

    Raises:
        ConfigError: naming the field and the fix.
    """
    for name in ("mlflow", "wandb"):
        if not trackers.HasField(name):
            continue
        modules, pip = _NEEDS[name]
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                f"{name} tracker needs {', '.join(missing)}, not installed",
                f"{where}.{name}",
                f"pip install {pip}, or remove {where}.{name}",
            )
    if trackers.HasField("wandb") and trackers.wandb.mode not in WANDB_MODES:
        raise ConfigError(
            f'unknown wandb mode "{trackers.wandb.mode}"',
            f"{where}.wandb.mode",
            f"use one of {', '.join(WANDB_MODES)}",
        )


def config_params(config: Any) -> dict[str, str]:
    """The config as flat ``a.b.c -> value`` params (features as a count)."""
    from google.protobuf import json_format

    tree = json_format.MessageToDict(config, preserving_proto_field_name=True)
    features = tree.pop("feature_configs", [])
    out = {"feature_configs.count": str(len(features))}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            text = node if isinstance(node, str) else json.dumps(node)
            out[prefix] = text[:500]

    walk("", tree)
    return out


class TrackerState:
    """``model_dir/trackers.json``: run ids and the last steps logged."""

    def __init__(self, model_dir: str, name: str) -> None:
        self.path = os.path.join(model_dir, STATE_FILE)
        self.name = name
        self.data: dict[str, Any] = self._read().get(name, {})

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def save(self) -> None:
        """Replaces the file atomically, keeping the other trackers' entries."""
        everything = self._read()
        everything[self.name] = self.data
        atomic_write(self.path, json.dumps(everything, indent=2))


class Tracker:
    """One run in a tracker; the monitor writes through :attr:`train`/:attr:`eval`.

    Subclasses implement ``_log_scalars``, ``_log_params`` and ``_finish``.

    Args:
        model_dir: the run's folder (state file, artifacts).
        start_step: the restored step (0 for a fresh run).
    """

    name = ""

    def __init__(self, model_dir: str, start_step: int) -> None:
        self.model_dir = model_dir
        self.state = TrackerState(model_dir, self.name)
        if start_step == 0:  # a fresh run is a new tracker run
            self.state.data = {}
        # Steps logged by an earlier launch: not logged again after a resume.
        self._done = {
            "train": int(self.state.data.get("train_step", 0)),
            "eval": int(self.state.data.get("eval_step", -1)),
        }
        self.status: str | None = None
        self._open_views = 2
        self.train = TrackerView(self, "train")
        self.eval = TrackerView(self, "eval")

    def log(self, kind: str, step: int, values: Mapping[str, float]) -> None:
        """Logs finite scalars once per (kind, step) over every launch."""
        if step <= self._done[kind]:
            return
        prefix = EVAL_PREFIX if kind == "eval" else ""
        clean = {
            prefix + k: float(v) for k, v in values.items() if math.isfinite(float(v))
        }
        if clean:
            self._log_scalars(step, clean)
        self.state.data[f"{kind}_step"] = step
        self.state.save()

    def params(self, hparams: Mapping[str, Any]) -> None:
        """Logs the hyperparameters (and the subclass's config params)."""
        self._log_params(
            {k: _param_text(v) for k, v in hparams.items() if v is not None}
        )

    def view_closed(self) -> None:
        """Finishes the run when both views are closed (event files flushed)."""
        self._open_views -= 1
        if self._open_views == 0:
            self._finish(self.status)

    def _log_scalars(self, step: int, values: dict[str, float]) -> None:
        raise NotImplementedError

    def _log_params(self, params: dict[str, str]) -> None:
        raise NotImplementedError

    def _finish(self, status: str | None) -> None:
        raise NotImplementedError


class TrackerView:
    """The :class:`~tzrec.monitor.sinks.Sink` face of a tracker for one run kind."""

    def __init__(self, tracker: Tracker, kind: str) -> None:
        self.tracker = tracker
        self.kind = kind
        self._closed = False

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        if not self._closed:
            self.tracker.log(self.kind, step, values)

    def histogram(self, step: int, tag: str, values: torch.Tensor) -> None:
        pass  # histograms stay in TensorBoard

    def hparams(
        self, hparams: Mapping[str, Any], start_time: float, trial_id: str = ""
    ) -> None:
        self.tracker.params(hparams)

    def session_end(self, status: str, end_time: float) -> None:
        self.tracker.status = status

    def text(self, step: int, tag: str, markdown: str) -> None:
        pass  # the files themselves are uploaded as artifacts

    def describe(self, descriptions: Mapping[str, str]) -> None:
        pass

    def layout(self, layout: Mapping[str, Mapping[str, list[Any]]]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.tracker.view_closed()


def _param_text(v: Any) -> str:
    # Config floats are float32: 0.05 reads back as 0.05000000074505806.
    return f"{v:.7g}" if isinstance(v, float) else str(v)


def run_name(model_dir: str, name: str) -> str:
    """The tracker run's name: ``name``, else the model_dir's folder name."""
    return name or os.path.basename(os.path.normpath(model_dir))


def artifact_files(model_dir: str) -> list[tuple[str, str]]:
    """``(path, artifact folder)``: config, eval log, events, TensorBoard files."""
    out = []
    for name in (names.PIPELINE_CONFIG, names.EVAL_RESULT_FILE, names.EVENTS_FILE):
        path = os.path.join(model_dir, name)
        if os.path.exists(path):
            out.append((path, ""))
    for sub in ("", names.EVAL_VAL_DIR):
        pattern = os.path.join(model_dir, sub, "events.out.tfevents.*")
        folder = f"tensorboard/{sub}" if sub else "tensorboard"
        out.extend((p, folder) for p in glob.glob(pattern))
    return out


def build_trackers(
    config: Any, is_rank0: bool, start_step: int, run_info: Mapping[str, Any]
) -> list[Tracker]:
    """The trackers ``train_config.trackers`` asks for (rank 0 only)."""
    trackers = config.train_config.trackers
    if not is_rank0:
        return []
    out: list[Tracker] = []
    if trackers.HasField("mlflow"):
        from tzrec.monitor.tracker_mlflow import MlflowTracker

        out.append(MlflowTracker(config, trackers.mlflow, run_info, start_step))
    if trackers.HasField("wandb"):
        from tzrec.monitor.tracker_wandb import WandbTracker

        out.append(WandbTracker(config, trackers.wandb, start_step))
    return out
