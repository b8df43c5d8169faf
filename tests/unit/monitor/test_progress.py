from tzrec.monitor.progress import (
    ProgressLogger,
    format_count,
    format_duration,
)


def make(clock, lines, **kw):
    args = dict(
        desc="train",
        total=5000,
        batch_size=4096,
        world_size=1,
        mininterval=1.0,
        clock=clock,
        log=lines.append,
    )
    args.update(kw)
    return ProgressLogger(**args)


def test_formatters():
    assert format_duration(42) == "42s"
    assert format_duration(88) == "1m28s"
    assert format_duration(2 * 3600 + 3 * 60 + 10) == "2h03m"
    assert format_duration(26 * 3600) == "1d02h"
    assert format_count(512) == "512"
    assert format_count(176_500) == "176.5k"
    assert format_count(1_234_000) == "1.23M"


def test_line_content_and_order(clock):
    lines = []
    p = make(clock, lines)
    clock.advance(10.0)
    fields = {
        "lr_g0": 0.001,
        "lr_g1": 0.01,
        "loss_bce": 0.45123,
        "total_loss": 0.45123,
        "auc": 0.77119,
    }
    line = p.maybe_log(400, epoch=1, fields=fields)
    assert line == lines[0]
    assert line == (
        "[train] step 400/5000 (8.0%) epoch 1 | 40.0 it/s 163.8k samples/s | "
        "ETA 1m55s | lr_g0=0.001 lr_g1=0.01 loss_bce=0.4512 total_loss=0.4512 "
        "auc=0.7712"
    )


def test_first_line_always_then_throttled(clock):
    lines = []
    p = make(clock, lines, miniters=1)
    clock.advance(0.1)
    assert p.maybe_log(1) is not None  # the first line: the run is alive
    clock.advance(0.5)
    assert p.maybe_log(100) is None  # < 1 s since the last line
    clock.advance(0.5)
    assert p.maybe_log(200) is not None
    assert len(lines) == 2
    # rate over the interval since the previous line: 199 steps in 1 s
    assert "199.0 it/s" in lines[1]


def test_eta_uses_recent_window_not_warmup(clock):
    lines = []
    p = make(clock, lines, total=1100, batch_size=1)
    clock.advance(100.0)  # slow warm-up: 100 steps in 100 s
    p.maybe_log(100)
    assert "ETA 16m40s" in lines[0]  # 1000 steps at 1 it/s
    for step in (200, 300, 400):  # then 100 steps/s
        clock.advance(1.0)
        p.maybe_log(step)
    assert "100.0 it/s" in lines[-1]
    assert lines[-1].endswith("ETA 7s")  # 700 steps at 100 it/s


def test_exclude_removes_pauses_from_rates(clock):
    lines = []
    p = make(clock, lines, total=None, batch_size=10)
    clock.advance(1.0)
    p.maybe_log(10)
    clock.advance(31.0)
    p.exclude(30.0)  # e.g. an evaluation
    p.maybe_log(20)
    assert lines[-1] == "[train] step 20 | 10.0 it/s 100 samples/s"


def test_eval_line_without_epoch(clock):
    lines = []
    p = make(clock, lines, desc="eval", total=50, batch_size=8192, miniters=10)
    clock.advance(2.5)
    p.maybe_log(30)
    assert lines == ["[eval] step 30/50 (60.0%) | 12.0 it/s 98.3k samples/s | ETA 2s"]
    clock.advance(5.0)
    assert p.maybe_log(35) is None  # fewer than miniters steps
