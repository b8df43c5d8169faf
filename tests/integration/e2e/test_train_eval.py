"""End-to-end train_eval through the real CLI on tiny synthetic data."""

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.cli import run_cli, run_in_process, train_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run") / "md"
    proc = run_cli("tzrec.train_eval", *train_args(tiny_data, model_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return model_dir, proc


def test_writes_the_model_dir_contract(trained):
    model_dir, _ = trained
    for name in ("pipeline.config", "version", "run.json", "events.jsonl"):
        assert (model_dir / name).is_file(), name
    ckpts = sorted(p.name for p in model_dir.glob("model.ckpt-*"))
    assert ckpts == ["model.ckpt-20", "model.ckpt-40"]
    assert all((model_dir / c / "DONE").is_file() for c in ckpts)


def test_eval_log_has_one_line_per_checkpoint(trained, tiny_data):
    model_dir, _ = trained
    lines = (model_dir / "train_eval_result.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["global_step"] for r in records] == [20, 40]
    assert list(records[0])[0] == "global_step"
    # 40 steps of 256 rows on 4k rows learn something (a constant scores 0.5).
    assert records[-1]["auc"] > 0.55
    oracle = json.loads((tiny_data / "meta.json").read_text())["oracle_auc"]
    assert records[-1]["auc"] < oracle + 0.02


def test_tensorboard_train_and_eval_events(trained):
    model_dir, _ = trained
    train = EventAccumulator(str(model_dir))
    train.Reload()
    tags = train.Tags()["scalars"]
    assert "loss/binary_cross_entropy" in tags
    assert "optimizer/lr/g0" in tags and "optimizer/lr/g1" in tags  # issue 15
    ev = EventAccumulator(str(model_dir / "eval_val"))
    ev.Reload()
    assert "metric/auc" in ev.Tags()["scalars"]
    assert [e.step for e in ev.Scalars("metric/auc")] == [20, 40]


def test_console_progress_and_where_logs_are(trained):
    model_dir, proc = trained
    out = proc.stdout + proc.stderr
    assert "[train] step" in out and "samples/s" in out
    assert f"tensorboard --logdir {model_dir}" in out


def test_existing_checkpoints_need_continue_train(trained, tiny_data):
    model_dir, _ = trained
    before = sorted(p.name for p in model_dir.iterdir())
    proc = run_in_process("tzrec.train_eval", *train_args(tiny_data, model_dir))
    assert proc.returncode == 2
    assert "--continue_train" in proc.stderr
    assert sorted(p.name for p in model_dir.iterdir()) == before


def test_unknown_config_field_is_one_line_error(tmp_path):
    cfg = tmp_path / "bad.config"
    cfg.write_text('model_dir: "x"\ntrain_config { num_stepz: 3 }\n')
    proc = run_cli("tzrec.train_eval", "--pipeline_config_path", str(cfg))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert (
        len(lines) == 1 and "num_stepz" in lines[0] and "Traceback" not in proc.stderr
    )


def test_misspelled_flag_is_one_line_error():
    proc = run_in_process("tzrec.train_eval", "--pipeline_config_pth", "x")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--pipeline_config_pth" in lines[0]
