"""The Weights & Biases tracker, offline by default."""

from __future__ import annotations

import os
import uuid
from typing import Any

from tzrec.monitor import keys
from tzrec.monitor.trackers import (
    EVAL_PREFIX,
    MLFLOW_STATUS,
    Tracker,
    config_params,
    run_name,
)


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
            name=run_name(config.model_dir, settings.run_name),
            config=config_params(config),
            settings=wandb.Settings(
                console="off", silent=True, x_transaction_log_flush_interval=2.0
            ),
        )
        self.run_id = run_id

    def _resume_from_disk(self, wandb_dir: str, run_id: str, start_step: int) -> None:
        from tzrec.monitor.wandb_files import history, offline_folders
        from tzrec.run_dir import names
        from tzrec.run_dir.eval_log import read_records

        rows = [r for d in offline_folders(wandb_dir, run_id) for r in history(d)]
        evals = {r["_step"] for r in rows if any(k.startswith(EVAL_PREFIX) for k in r)}
        trains = [
            r["_step"]
            for r in rows
            if any(not k.startswith(("_", EVAL_PREFIX)) for k in r)
        ]
        self._done["train"] = max(trains, default=0)
        log = os.path.join(self.model_dir, names.EVAL_RESULT_FILE)
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
        self.run.finish(exit_code=0 if status in MLFLOW_STATUS else 1)
