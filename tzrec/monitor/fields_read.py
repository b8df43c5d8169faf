"""Pipeline-config fields read by ``tzrec.monitor``.

Collected by ``tzrec.config.coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "TrainConfig.trackers",
    "Trackers.mlflow",
    "Trackers.wandb",
    "MlflowTracker.tracking_uri",
    "MlflowTracker.experiment_name",
    "MlflowTracker.run_name",
    "WandbTracker.project",
    "WandbTracker.entity",
    "WandbTracker.mode",
    "WandbTracker.dir",
    "WandbTracker.run_name",
)
