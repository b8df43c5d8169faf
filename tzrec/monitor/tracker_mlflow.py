"""The MLflow tracker: params from the config, stepped metrics, tags, artifacts."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from tzrec.monitor.trackers import (
    MLFLOW_STATUS,
    Tracker,
    TrackerState,
    artifact_files,
    config_params,
    run_name,
)


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
                run_name=run_name(config.model_dir, settings.run_name),
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
        for path, folder in artifact_files(self.model_dir):
            self.client.log_artifact(self.run_id, path, folder or None)
        mlflow_status = MLFLOW_STATUS.get(status or "", "KILLED")
        self.client.set_terminated(self.run_id, mlflow_status)


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
