import pytest

from tzrec.monitor.cadence import EveryNSteps, Throttle


def test_every_n_steps_is_a_function_of_the_step():
    every = EveryNSteps(100)
    assert [s for s in range(0, 401) if every.ready(s)] == [100, 200, 300, 400]
    assert not EveryNSteps(0).ready(100)
    with pytest.raises(ValueError):
        EveryNSteps(-1)


def test_throttle_needs_both_steps_and_seconds(clock):
    t = Throttle(every_steps=10, every_secs=2.0, clock=clock)
    clock.advance(5.0)
    assert not t.ready(9)  # seconds passed, steps not
    assert t.ready(10)
    clock.advance(1.0)
    assert not t.ready(50)  # steps passed, seconds not
    clock.advance(1.0)
    assert t.ready(50)
    assert (t.last_step, t.last_time) == (50, clock.t)
    clock.advance(10.0)
    assert not t.ready(55)


def test_throttle_seconds_only_and_reset(clock):
    t = Throttle(every_steps=0, every_secs=1.0, clock=clock, start_step=7)
    assert not t.ready(8)
    clock.advance(1.0)
    assert t.ready(8)
    clock.advance(5.0)
    t.reset(100)
    assert not t.ready(101)
    clock.advance(1.0)
    assert t.ready(101)


def test_throttle_rejects_negative():
    with pytest.raises(ValueError):
        Throttle(-1, 1.0)
