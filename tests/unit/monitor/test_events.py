import json
import logging
import math

import torch

from tzrec.monitor.events import (
    EventLog,
    JsonlEvalLog,
    json_safe,
    read_jsonl,
    read_records,
)


def test_eval_log_key_order_and_nan_as_null(tmp_path):
    path = tmp_path / "train_eval_result.jsonl"
    log = JsonlEvalLog(str(path))
    log.append(
        100,
        {"auc": 0.75, "ne": float("nan"), "mse": float("inf")},
        epoch=0,
        wall_time=12.5,
    )
    log.append(200, {"auc": torch.tensor(0.5)}, epoch=1, wall_time=13.0)
    text = path.read_text()
    first = text.splitlines()[0]
    assert first == (
        '{"global_step": 100, "epoch": 0, "wall_time": 12.5, "auc": 0.75, '
        '"ne": null, "mse": null}'
    )
    assert text.endswith("\n")
    recs = read_records(str(path))
    assert [r["global_step"] for r in recs] == [100, 200]
    assert list(recs[0]) == ["global_step", "epoch", "wall_time", "auc", "ne", "mse"]
    assert recs[1]["auc"] == 0.5


def test_torn_last_line_is_skipped_with_warning_and_next_append_is_clean(
    tmp_path, caplog
):
    path = tmp_path / "e.jsonl"
    log = JsonlEvalLog(str(path))
    log.append(1, {"auc": 0.6})
    with open(path, "a") as f:
        f.write('{"global_step": 2, "au')  # crash mid-write
    tzrec_logger = logging.getLogger("tzrec")
    tzrec_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="tzrec"):
            assert [r["global_step"] for r in read_records(str(path))] == [1]
        assert any("line 2" in r.getMessage() for r in caplog.records)
        log.append(3, {"auc": 0.7})  # starts on its own line
        assert [r["global_step"] for r in read_records(str(path))] == [1, 3]
    finally:
        tzrec_logger.removeHandler(caplog.handler)


def test_blank_lines_and_missing_file(tmp_path):
    path = tmp_path / "x.jsonl"
    assert read_records(str(path)) == []
    path.write_text('\n{"global_step": 5, "auc": 1}\n\n[1, 2]\n{"no_step": 1}\n')
    assert [r["global_step"] for r in read_records(str(path))] == [5]
    assert len(read_jsonl(str(path))) == 2  # objects only


def test_truncate_after_drops_later_steps_atomically(tmp_path):
    path = tmp_path / "e.jsonl"
    log = JsonlEvalLog(str(path))
    for step in (100, 200, 300):
        log.append(step, {"auc": step / 1000})
    with open(path, "a") as f:
        f.write('{"global_st')
    assert log.truncate_after(200) == 1
    assert [r["global_step"] for r in log.records()] == [100, 200]
    assert path.read_text().count("\n") == 2  # torn line gone too
    assert not (tmp_path / "e.jsonl.tmp").exists()
    before = path.stat().st_mtime_ns
    assert log.truncate_after(200) == 0
    assert path.stat().st_mtime_ns == before  # nothing to drop: not rewritten
    log.append(300, {"auc": 0.9})
    assert [r["global_step"] for r in log.records()] == [100, 200, 300]


def test_event_log_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    ev = EventLog(str(path))
    ev.write("run_started", step=0, world_size=2)
    ev.write("checkpoint_finished", step=10, bytes=1024, seconds=0.5)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["event"] for x in lines] == ["run_started", "checkpoint_finished"]
    assert list(lines[0])[:2] == ["time", "event"]
    assert lines[0]["world_size"] == 2 and lines[1]["bytes"] == 1024
    assert "T" in lines[0]["time"]


def test_json_safe_nested():
    out = json_safe({"a": [1.0, math.nan], "b": torch.tensor([1.0, 2.0]), "c": True})
    assert out == {"a": [1.0, None], "b": [1.0, 2.0], "c": True}
