"""Experiment trackers beside TensorBoard: MLflow and Weights & Biases.

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
import time
import uuid
from collections.abc import Mapping
from typing import Any

import torch

from tzrec.monitor import keys
from tzrec.utils.errors import ConfigError

STATE_FILE = "trackers.json"
EVAL_PREFIX = f"{keys.EVAL_VAL_DIR}/"
WANDB_MODES = ("offline", "online", "disabled")
_MLFLOW_STATUS = {"ok": "FINISHED", "stopped": "FINISHED", "failed": "FAILED"}
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
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(everything, f, indent=2)
        os.replace(tmp, self.path)


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


def _run_name(model_dir: str, name: str) -> str:
    return name or os.path.basename(os.path.normpath(model_dir))


def _artifact_files(model_dir: str) -> list[tuple[str, str]]:
    """``(path, artifact folder)``: config, eval log, events, TensorBoard files."""
    out = []
    for name in ("pipeline.config", keys.EVAL_RESULT_FILE, keys.EVENTS_FILE):
        path = os.path.join(model_dir, name)
        if os.path.exists(path):
            out.append((path, ""))
    for sub in ("", keys.EVAL_VAL_DIR):
        pattern = os.path.join(model_dir, sub, "events.out.tfevents.*")
        folder = f"tensorboard/{sub}" if sub else "tensorboard"
        out.extend((p, folder) for p in glob.glob(pattern))
    return out


class MlflowTracker(Tracker):
    """An MLflow run: params from the config, metrics with steps, tags, artifacts.

    Args:
        config: the resolved pipeline config.
        settings: ``train_config.trackers.mlflow``.
        run_info: run.json's content (versions, git revision, host).
        start_step: the restored step.
    """

    name = "mlflow"

    def __init__(
        self,
        config: Any,
        settings: Any,
        run_info: Mapping[str, Any],
        start_step: int,
    ) -> None:
        super().__init__(config.model_dir, start_step)
        from mlflow.tracking import MlflowClient

        uri = settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        self.client = MlflowClient(tracking_uri=uri)
        run_id = self.state.data.get("run_id")
        if run_id:
            self.client.update_run(run_id, status="RUNNING")
        else:
            exp = self.client.get_experiment_by_name(settings.experiment_name)
            exp_id = (
                exp.experiment_id
                if exp is not None
                else self.client.create_experiment(
                    settings.experiment_name, artifact_location=_artifact_root(uri)
                )
            )
            run = self.client.create_run(
                exp_id,
                run_name=_run_name(config.model_dir, settings.run_name),
                tags=_mlflow_tags(config.model_dir, run_info),
            )
            run_id = run.info.run_id
            self.state.data = {"run_id": run_id}
            self.state.save()
        self.run_id = run_id
        self._config_params = config_params(config)

    def _log_scalars(self, step: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in values.items()]
        for i in range(0, len(metrics), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run_id, metrics=metrics[i : i + 1000])

    def _log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        every = {**self._config_params, **params}
        # A resumed run keeps its params; MLflow refuses to change one.
        logged = self.client.get_run(self.run_id).data.params
        new = [Param(k, v) for k, v in every.items() if k not in logged]
        for i in range(0, len(new), 100):  # MLflow's batch limit
            self.client.log_batch(self.run_id, params=new[i : i + 100])

    def _finish(self, status: str | None) -> None:
        for path, folder in _artifact_files(self.model_dir):
            self.client.log_artifact(self.run_id, path, folder or None)
        self.client.set_terminated(self.run_id, _MLFLOW_STATUS.get(status, "KILLED"))


def _artifact_root(uri: str | None) -> str | None:
    """Artifacts of a local sqlite store go beside the database file.

    MLflow's own default is ``./mlruns`` in the working directory, wherever
    the database is.
    """
    prefix = "sqlite:///"
    if uri and uri.startswith(prefix):
        db = uri[len(prefix) :]
        return os.path.join(os.path.dirname(os.path.abspath(db)), "mlartifacts")
    return None


def _mlflow_tags(model_dir: str, info: Mapping[str, Any]) -> dict[str, str]:
    tags = {
        "tzrec.model_dir": os.path.abspath(model_dir),
        "tzrec.version": str(info.get("tzrec_version")),
        "torch.version": str(info.get("torch_version")),
        "torchrec.version": str(info.get("torchrec_version")),
        "tzrec.config_hash": str(info.get("config_hash")),
        "host": str(info.get("host")),
    }
    if info.get("git_revision"):
        tags["mlflow.source.git.commit"] = str(info["git_revision"])
    return tags


def log_export(model_dir: str, export_dir: str, settings: Any) -> bool:
    """Uploads an export to the MLflow run of ``model_dir``, if it has one.

    Returns:
        Whether it was uploaded.
    """
    run_id = TrackerState(model_dir, MlflowTracker.name).data.get("run_id")
    if not run_id:
        return False
    from mlflow.tracking import MlflowClient

    uri = settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    MlflowClient(tracking_uri=uri).log_artifacts(run_id, export_dir, "export")
    return True


class WandbTracker(Tracker):
    """A W&B run, offline by default: ``wandb sync <dir>/wandb/offline-run-*``.

    A resumed run reuses the run id (``resume="allow"``); the new launch writes
    a second offline folder of the same run, and syncing both continues it.
    W&B buffers its writes, so a killed launch may lose its last seconds:
    offline, the resumed launch reads what is on disk, logs the evaluations
    that are missing again (from the eval log) and no step twice.

    Args:
        config: the resolved pipeline config.
        settings: ``train_config.trackers.wandb``.
        start_step: the restored step.
    """

    name = "wandb"

    def __init__(self, config: Any, settings: Any, start_step: int) -> None:
        super().__init__(config.model_dir, start_step)
        import wandb

        run_id = self.state.data.get("run_id") or uuid.uuid4().hex[:12]
        self.state.data["run_id"] = run_id
        self.state.save()
        wandb_dir = settings.dir or config.model_dir
        self._replay: list[tuple[int, dict[str, float]]] = []
        if start_step and settings.mode == "offline":
            self._resume_from_disk(wandb_dir, run_id, start_step)
        self.run = wandb.init(
            project=settings.project,
            entity=settings.entity or None,
            mode=settings.mode,
            dir=wandb_dir,
            id=run_id,
            resume="allow",
            name=_run_name(config.model_dir, settings.run_name),
            config=config_params(config),
            settings=wandb.Settings(
                console="off", silent=True, x_transaction_log_flush_interval=2.0
            ),
        )
        self.run_id = run_id

    def _resume_from_disk(self, wandb_dir: str, run_id: str, start_step: int) -> None:
        from tzrec.monitor.events import read_records
        from tzrec.monitor.wandb_files import history, offline_folders

        rows = [r for d in offline_folders(wandb_dir, run_id) for r in history(d)]
        evals = {r["_step"] for r in rows if any(k.startswith(EVAL_PREFIX) for k in r)}
        trains = [
            r["_step"]
            for r in rows
            if any(not k.startswith(("_", EVAL_PREFIX)) for k in r)
        ]
        self._done["train"] = max(trains, default=0)
        log = os.path.join(self.model_dir, keys.EVAL_RESULT_FILE)
        for rec in read_records(log):
            step = rec["global_step"]
            if step <= start_step and step not in evals:
                values = {
                    keys.eval_tag(k): v
                    for k, v in rec.items()
                    if k not in ("global_step", "epoch", "wall_time")
                    and isinstance(v, int | float)
                }
                self._replay.append((step, values))
        self._done["eval"] = max(evals, default=-1)

    def _log_scalars(self, step: int, values: dict[str, float]) -> None:
        self.run.log(values, step=step)

    def _log_params(self, params: dict[str, str]) -> None:
        self.run.config.update({f"hparams/{k}": v for k, v in params.items()})
        # Before any new step: evaluations a killed launch lost, in order.
        replay, self._replay = self._replay, []
        for step, values in replay:
            self._log_scalars(step, {EVAL_PREFIX + k: v for k, v in values.items()})

    def _finish(self, status: str | None) -> None:
        self.run.finish(exit_code=0 if status in _MLFLOW_STATUS else 1)


def build_trackers(
    config: Any, is_rank0: bool, start_step: int, run_info: Mapping[str, Any]
) -> list[Tracker]:
    """The trackers ``train_config.trackers`` asks for (rank 0 only)."""
    trackers = config.train_config.trackers
    if not is_rank0:
        return []
    out: list[Tracker] = []
    if trackers.HasField("mlflow"):
        out.append(MlflowTracker(config, trackers.mlflow, run_info, start_step))
    if trackers.HasField("wandb"):
        out.append(WandbTracker(config, trackers.wandb, start_step))
    return out
