"""MLflow and W&B trackers, written by a real train_eval that is killed and
resumed, read back with MLflow's own client and W&B's offline run files."""

from __future__ import annotations

import json
import signal
from collections import Counter

import pytest

from tests.cli import TINY_CONFIG, run_cli
from tests.integration.hardening.helpers import train_flags
from tzrec.monitor.trackers import STATE_FILE, config_params
from tzrec.monitor.wandb_files import history, run_ids

EVAL_AUC = "eval_val/metric/auc"
LOSS = "loss/binary_cross_entropy"


def edits(db: str) -> str:
    return json.dumps(
        {
            "train_config.num_steps": 30,
            "train_config.log_step_count_steps": 5,
            "train_config.trackers.mlflow.tracking_uri": f"sqlite:///{db}",
            "train_config.trackers.mlflow.experiment_name": "tiny",
            "train_config.trackers.wandb.mode": "offline",
        }
    )


@pytest.mark.slow
def test_kill_and_continue_train_log_every_step_once(tiny_data, tmp_path):
    from mlflow.tracking import MlflowClient

    model_dir, db = tmp_path / "md", str(tmp_path / "mlflow.db")
    flags = train_flags(tiny_data, model_dir, "--edit_config_json", edits(db))
    # Killed at step 27: evals at 10 and 20 done, train logged up to step 25.
    killed = run_cli(
        "tzrec.train_eval", *flags, env={"TZREC_FAILPOINT": "after_step:27"}
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    state = json.loads((model_dir / STATE_FILE).read_text())
    assert state["mlflow"]["eval_step"] == 20 and state["mlflow"]["train_step"] == 25
    resumed = run_cli("tzrec.train_eval", *flags, "--continue_train")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    export_dir = tmp_path / "export"
    exported = run_cli(
        "tzrec.export",
        "--pipeline_config_path",
        str(model_dir / "pipeline.config"),
        "--export_dir",
        str(export_dir),
    )
    assert exported.returncode == 0, exported.stderr[-3000:]

    # MLflow: one run over both launches, every step once.
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    (run,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert run.info.run_id == state["mlflow"]["run_id"]
    assert run.info.status == "FINISHED" and run.info.run_name == "md"
    auc = client.get_metric_history(run.info.run_id, EVAL_AUC)
    assert [m.step for m in auc] == [10, 20, 30]
    loss_steps = [m.step for m in client.get_metric_history(run.info.run_id, LOSS)]
    assert sorted(loss_steps) == [1, 5, 10, 15, 20, 25, 30]
    with open(model_dir / "train_eval_result.jsonl") as f:
        logged = {json.loads(line)["global_step"]: json.loads(line) for line in f}
    assert [m.value for m in auc] == pytest.approx(
        [logged[s]["auc"] for s in (10, 20, 30)]
    )
    params = run.data.params
    assert params["sparse_lr"] == "0.05" and params["train_config.num_steps"] == "30"
    features = TINY_CONFIG.read_text().count("feature_configs {")
    assert params["feature_configs.count"] == str(features)
    tags = run.data.tags
    assert tags["tzrec.version"] and tags["torch.version"]
    assert len(tags["mlflow.source.git.commit"]) >= 40
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "pipeline.config",
        "train_eval_result.jsonl",
        "events.jsonl",
        "tensorboard",
        "export",
    } <= top
    exported_files = {a.path for a in client.list_artifacts(run.info.run_id, "export")}
    assert "export/scripted_model.pt" in exported_files

    # W&B: two offline folders of one run id (wandb sync uploads both into
    # one run); every eval step once (evaluations the kill lost from W&B's
    # write buffer are logged again from the eval log), train steps never
    # repeated (those lost in the buffer stay lost: TensorBoard has them).
    folders = sorted((model_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 2
    assert {i for d in folders for i in run_ids(d)} == {state["wandb"]["run_id"]}
    rows = [r for d in folders for r in history(d)]
    eval_steps = [r["_step"] for r in rows if EVAL_AUC in r]
    assert eval_steps == [10, 20, 30]
    train_steps = Counter(r["_step"] for r in rows if LOSS in r)
    assert set(train_steps.values()) == {1} and 30 in train_steps


def test_config_params_flatten_the_config():
    from tzrec import config as config_lib

    params = config_params(config_lib.load_pipeline_config(str(TINY_CONFIG)))
    assert params["train_config.sparse_optimizer.adagrad_optimizer.lr"] == "0.05"
    assert params["data_config.batch_size"] == "256"
    assert "feature_configs" not in " ".join(
        k for k in params if k != "feature_configs.count"
    )
