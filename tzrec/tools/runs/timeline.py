"""A run's status and time split from its ``events.jsonl``.

Each launch (first start or resume) writes ``run_started`` and, on any exit
it survives, ``run_finished`` with a status. A launch with no
``run_finished`` is running while the file keeps changing, else it died
(killed, out of memory, machine lost).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from tzrec.monitor import keys

# run_finished status -> the state shown.
_STATES = {
    "ok": "finished",
    "stopped": "stopped",
    "failed": "failed",
    "interrupted": "interrupted",
}


def event_time(event: dict[str, Any]) -> float | None:
    """An event's ``time`` (ISO with offset) as Unix seconds."""
    raw = event.get("time")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.datetime.fromisoformat(raw).timestamp()
    except ValueError:
        return None


@dataclasses.dataclass
class Timeline:
    """Where the wall time of all launches went.

    ``train_seconds`` is what is left of the wall time after evaluations
    and checkpoints (it includes data loading and logging).
    """

    started: float | None = None
    ended: float | None = None
    wall_seconds: float = 0.0
    eval_seconds: float = 0.0
    checkpoint_seconds: float = 0.0
    num_evals: int = 0
    num_checkpoints: int = 0
    checkpoint_bytes: int = 0
    launches: int = 0
    non_finite_steps: list[int] = dataclasses.field(default_factory=list)
    early_stop: dict[str, Any] | None = None
    best_changes: int = 0

    @property
    def train_seconds(self) -> float:
        """Wall time not spent evaluating or checkpointing."""
        return max(0.0, self.wall_seconds - self.eval_seconds - self.checkpoint_seconds)

    @property
    def checkpoint_mb_per_s(self) -> float | None:
        """Mean save speed over all checkpoints (MiB/s)."""
        if self.checkpoint_seconds <= 0:
            return None
        return self.checkpoint_bytes / 2**20 / self.checkpoint_seconds

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict including the derived fields."""
        out = dataclasses.asdict(self)
        out["train_seconds"] = round(self.train_seconds, 3)
        mbs = self.checkpoint_mb_per_s
        out["checkpoint_mb_per_s"] = None if mbs is None else round(mbs, 2)
        for k in ("wall_seconds", "eval_seconds", "checkpoint_seconds"):
            out[k] = round(out[k], 3)
        return out


def _num(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else 0.0


def build_timeline(events: list[dict[str, Any]]) -> Timeline:
    """Sums durations, counts and sizes over every launch's events."""
    tl = Timeline()
    seg_start: float | None = None
    seg_last: float | None = None
    for ev in events:
        name, t = ev.get("event"), event_time(ev)
        if name == keys.EVENT_RUN_STARTED:
            if seg_start is not None and seg_last is not None:
                tl.wall_seconds += seg_last - seg_start  # launch that died
            seg_start, seg_last = t, t
            tl.launches += 1
            tl.started = tl.started if tl.started is not None else t
            continue
        seg_last = t if t is not None else seg_last
        tl.ended = t if t is not None else tl.ended
        if name == keys.EVENT_EVAL_FINISHED:
            tl.num_evals += 1
            tl.eval_seconds += _num(ev.get("seconds"))
        elif name == keys.EVENT_CHECKPOINT_FINISHED:
            tl.num_checkpoints += 1
            tl.checkpoint_seconds += _num(ev.get("seconds"))
            tl.checkpoint_bytes += int(_num(ev.get("bytes")))
        elif name == keys.EVENT_NON_FINITE_LOSS and isinstance(ev.get("step"), int):
            if ev["step"] not in tl.non_finite_steps:
                tl.non_finite_steps.append(ev["step"])
        elif name == keys.EVENT_EARLY_STOP:
            tl.early_stop = {k: v for k, v in ev.items() if k not in ("time", "event")}
        elif name == keys.EVENT_BEST_CHANGED:
            tl.best_changes += 1
        elif name == keys.EVENT_RUN_FINISHED and seg_start is not None:
            tl.wall_seconds += (t or seg_start) - seg_start
            seg_start = seg_last = None
    if seg_start is not None and seg_last is not None:
        tl.wall_seconds += seg_last - seg_start
    return tl


def run_status(
    events: list[dict[str, Any]], age_secs: float | None, running_window: float
) -> dict[str, Any]:
    """The state of the last launch.

    Args:
        events: all events, in file order.
        age_secs: seconds since ``events.jsonl`` last changed (None: missing).
        running_window: a launch without ``run_finished`` counts as running
            while the file changed less than this many seconds ago.

    Returns:
        ``{"state", "reason", "step", "time", "launches"}``; ``state`` is
        finished, stopped, failed, interrupted, running, died or unknown.
    """
    starts = [
        i for i, e in enumerate(events) if e.get("event") == keys.EVENT_RUN_STARTED
    ]
    if not events or not starts:
        return {"state": "unknown", "reason": "no run_started event", "step": None}
    tail = events[starts[-1] :]
    steps = [e["step"] for e in tail if isinstance(e.get("step"), int)]
    out: dict[str, Any] = {
        "step": max(steps) if steps else None,
        "time": tail[-1].get("time"),
        "launches": len(starts),
        "resumed": bool(tail[0].get("resumed")),
    }
    finish = next((e for e in tail if e.get("event") == keys.EVENT_RUN_FINISHED), None)
    if finish is not None:
        out.update(_finished(finish, tail))
        return out
    alive = age_secs is not None and age_secs < running_window
    out["state"] = "running" if alive else "died"
    last = tail[-1]
    out["reason"] = (
        ""
        if alive
        else f"no run_finished event; last event {last.get('event')} "
        f"at {last.get('time')}"
    )
    return out


def _finished(finish: dict[str, Any], tail: list[dict[str, Any]]) -> dict[str, Any]:
    """State and reason of a launch that wrote ``run_finished``."""
    status = str(finish.get("status") or "")
    state = _STATES.get(status, status or "unknown")
    reason = str(finish.get("reason") or "")
    early = [e for e in tail if e.get("event") == keys.EVENT_EARLY_STOP]
    if early and state == "stopped":
        fields = {k: v for k, v in early[-1].items() if k not in ("time", "event")}
        detail = ", ".join(f"{k}={v}" for k, v in fields.items())
        reason = f"early stop ({detail})" if detail else "early stop"
    return {"state": state, "reason": reason}
