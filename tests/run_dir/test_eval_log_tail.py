"""The eval log read incrementally (EvalLogTail)."""

from __future__ import annotations

from tzrec.run_dir.eval_log import EvalLog, EvalLogTail, read_records


def test_tail_reads_whole_new_lines_only(tmp_path):
    log = EvalLog(str(tmp_path / "train_eval_result.jsonl"))
    tail = EvalLogTail(log.path)
    assert tail.read_new() == ([], False)
    log.append(1, {"auc": 0.5})
    assert [r["global_step"] for r in tail.read_new()[0]] == [1]
    with open(log.path, "a", encoding="utf-8") as f:
        f.write('{"global_step": 2, "au')  # being written (or torn)
    assert tail.read_new() == ([], False)
    log.append(3, {"auc": 0.7})  # starts on a fresh line; the torn one is skipped
    assert [r["global_step"] for r in tail.read_new()[0]] == [3]
    assert [r["global_step"] for r in read_records(log.path)] == [1, 3]


def test_tail_starts_over_when_the_log_is_replaced(tmp_path):
    log = EvalLog(str(tmp_path / "train_eval_result.jsonl"))
    for step in (1, 2, 3):
        log.append(step, {"auc": 0.5})
    tail = EvalLogTail(log.path)
    assert len(tail.read_new()[0]) == 3
    log.truncate_after(1)
    records, restarted = tail.read_new()
    assert restarted and [r["global_step"] for r in records] == [1]


def test_tail_starts_over_when_the_log_is_rewritten_in_place(tmp_path):
    path = tmp_path / "train_eval_result.jsonl"
    path.write_text('{"global_step": 1, "auc": 0.5}\n')
    tail = EvalLogTail(str(path))
    assert len(tail.read_new()[0]) == 1
    path.write_text('{"global_step": 1, "auc": 0.9}\n{"global_step": 2, "auc": 0.8}\n')
    records, restarted = tail.read_new()
    assert restarted and [r["auc"] for r in records] == [0.9, 0.8]
