"""Two real processes under torchrun (gloo, CPU) with sharded embedding tables."""

import json

import pytest

from tests.cli import run_in_process, run_torchrun, train_args

pytestmark = pytest.mark.slow

# Enough data and eval rows that two well-trained runs are comparable: with 2k
# eval rows the AUC's own standard error (~0.012) would exceed the 0.01 bound.
EDITS = {
    "train_config.num_steps": 80,
    "train_config.save_checkpoints_steps": 40,
    "data_config.batch_size": 128,
}


@pytest.fixture(scope="module")
def dist_data(tmp_path_factory):
    from tzrec.datasets.synthetic import generate

    out = tmp_path_factory.mktemp("dist_data")
    generate(str(out), num_rows=20000, num_eval_rows=20000, seed=11, num_files=2)
    return out


def _torchrun(nproc: int, *args: str):
    return run_torchrun(nproc, "-m", "tzrec.train_eval", *args)


def _records(model_dir):
    path = model_dir / "train_eval_result.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def two_rank_run(dist_data, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("dist") / "md"
    proc = _torchrun(2, *train_args(dist_data, model_dir, **EDITS))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return model_dir, proc


def test_outputs_written_once(two_rank_run):
    model_dir, proc = two_rank_run
    assert [r["global_step"] for r in _records(model_dir)] == [40, 80]
    assert len(list(model_dir.glob("events.out.tfevents*"))) == 1
    assert len(list((model_dir / "eval_val").glob("events.out.tfevents*"))) == 1
    events = [
        json.loads(x)["event"]
        for x in (model_dir / "events.jsonl").read_text().splitlines()
    ]
    assert events.count("run_started") == 1 and events.count("run_finished") == 1
    # Every rank keeps its own DEBUG log.
    assert sorted(p.name for p in (model_dir / "log").iterdir()) == [
        "rank0.log",
        "rank1.log",
    ]
    assert (proc.stdout + proc.stderr).count("[train] step 80/80") == 1
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(model_dir))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    # A straggler shows as a gap between the slowest and fastest rank.
    assert "perf/rank_step_time_ms/min" in tags and "perf/rank_step_time_ms/max" in tags
    lo = acc.Scalars("perf/rank_step_time_ms/min")[-1].value
    hi = acc.Scalars("perf/rank_step_time_ms/max")[-1].value
    assert 0 < lo <= hi


def test_checkpoint_of_two_ranks_evaluates_alone(two_rank_run):
    model_dir, _ = two_rank_run
    proc = run_in_process(
        "tzrec.eval",
        "--pipeline_config_path",
        str(model_dir / "pipeline.config"),
        "--checkpoint_path",
        str(model_dir / "model.ckpt-80"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    alone = json.loads((model_dir / "eval_result.jsonl").read_text().splitlines()[-1])
    assert alone["global_step"] == 80
    assert alone["auc"] == pytest.approx(_records(model_dir)[-1]["auc"], abs=1e-4)


def test_two_ranks_match_one_rank_with_the_same_global_batch(
    two_rank_run, dist_data, tmp_path
):
    model_dir, _ = two_rank_run
    one = tmp_path / "one"
    edits = {**EDITS, "data_config.batch_size": 256}
    proc = run_in_process("tzrec.train_eval", *train_args(dist_data, one, **edits))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _records(one)[-1]["auc"] == pytest.approx(
        _records(model_dir)[-1]["auc"], abs=0.01
    )
