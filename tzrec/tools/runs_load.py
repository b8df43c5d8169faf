"""Reads one model_dir into a :class:`Run`: evals, checkpoints, status, timeline.

Everything comes from the files of the model_dir contract (DESIGN.md): the
eval log, ``events.jsonl``, ``run.json``, ``pipeline.config`` and the complete
``model.ckpt-STEP`` folders. The best step is chosen exactly as export chooses
it (:func:`tzrec.checkpoint.best.best_step` over complete checkpoints).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import os
import time
from typing import Any

from tzrec.checkpoint.best import best_step, read_jsonl
from tzrec.checkpoint.manager import list_complete
from tzrec.monitor import keys
from tzrec.run_dir import names
from tzrec.tools.runs_timeline import Timeline, build_timeline, run_status
from tzrec.utils.errors import ConfigError, TzrecError

# Eval-log keys that are not metrics.
RECORD_FIELDS = ("global_step", "epoch", "wall_time", "samples")
# A run without run_finished whose events.jsonl changed this recently is alive.
RUNNING_WINDOW_SECS = 600.0
# A checkpoint's completion marker (model_dir contract).
MARKER = names.MARKER
_LARGER = ("auc", "grouped_auc", "gauc", "xauc", "accuracy", "recall", "precision")
_SMALLER = (
    keys.EVAL_LOSS_PREFIX,
    "normalized_entropy",
    "mean_squared_error",
    "mean_absolute_error",
    "rmse",
    "logloss",
)


class RunError(TzrecError):
    """A folder that is not a run, or a run with nothing to show yet."""


def metric_direction(name: str) -> str:
    """``"max"``, ``"min"`` or ``"one"`` (calibration: best near 1).

    Unknown names count as larger-is-better, like export's default.
    """
    if name.startswith("calibration"):
        return "one"
    if any(name.startswith(p) for p in _SMALLER):
        return "min"
    if any(name.startswith(p) for p in _LARGER):
        return "max"
    return "max"


def better(name: str, a: float, b: float, direction: str | None = None) -> bool:
    """Whether value ``a`` of metric ``name`` beats ``b`` (strictly)."""
    d = direction or metric_direction(name)
    if d == "one":
        return abs(a - 1.0) < abs(b - 1.0)
    return a > b if d == "max" else a < b


@dataclasses.dataclass
class Checkpoint:
    """One complete ``model.ckpt-STEP`` folder."""

    step: int
    path: str
    nbytes: int
    time: float | None


@dataclasses.dataclass
class Best:
    """The best evaluation by the export metric.

    ``has_checkpoint`` is False when no complete checkpoint qualifies and
    the best is taken over all evaluations instead (export would refuse).
    """

    metric: str
    larger_is_better: bool
    step: int | None
    value: float | None
    has_checkpoint: bool
    note: str = ""


@dataclasses.dataclass
class Run:
    """Everything ``runs`` shows about one model_dir."""

    path: str
    config: Any  # EasyRecConfig, or None when pipeline.config is unreadable
    config_note: str
    info: dict[str, Any]
    evals: list[dict[str, Any]]
    metric_names: list[str]
    checkpoints: list[Checkpoint]
    events: list[dict[str, Any]]
    status: dict[str, Any]
    timeline: Timeline
    best: Best
    batch_size: int
    segments: list[tuple[int, int]]  # (start step, world size) per launch

    @property
    def name(self) -> str:
        """The folder's base name."""
        return os.path.basename(os.path.normpath(self.path))

    def samples_at(self, step: int) -> int:
        """Training rows consumed by ``step`` (all ranks, resumes included).

        The eval log's ``samples`` (rows actually read) when it has the step;
        else steps x rows per step, which overcounts an epoch's short last batch.
        """
        for rec in self.evals:
            if rec.get("global_step") == step and isinstance(rec.get("samples"), int):
                return rec["samples"]
        total = 0
        for i, (start, world) in enumerate(self.segments):
            end = self.segments[i + 1][0] if i + 1 < len(self.segments) else step
            total += max(0, min(step, end) - start) * self.batch_size * world
        return total

    def latest_step(self) -> int | None:
        """Step of the latest complete checkpoint."""
        return self.checkpoints[-1].step if self.checkpoints else None


def is_run_dir(path: str) -> bool:
    """Whether ``path`` holds any file a train_eval run writes."""
    # A run killed during start-up leaves only its lock, run.json or log/.
    files = (
        names.PIPELINE_CONFIG,
        names.EVENTS_FILE,
        names.EVAL_RESULT_FILE,
        names.RUN_INFO_FILE,
        names.LOCK_FILE,
    )
    return os.path.isdir(path) and (
        any(os.path.isfile(os.path.join(path, n)) for n in files)
        or os.path.isdir(os.path.join(path, names.LOG_DIR))
    )


def load_run(path: str, require_evals: bool = True) -> Run:
    """Reads a model_dir.

    Args:
        path: the run's model_dir.
        require_evals: raise when the eval log holds no evaluation.

    Raises:
        RunError: ``path`` is not a run, or has no evaluations yet.
    """
    path = os.path.normpath(path)
    if not is_run_dir(path):
        why = "does not exist" if not os.path.exists(path) else "is not a tzrec run"
        raise RunError(
            f"directory {why}",
            path,
            "pass a model_dir written by python -m tzrec.train_eval "
            "(it holds pipeline.config, events.jsonl, train_eval_result.jsonl)",
        )
    config, note = _load_config(path)
    events = list(read_jsonl(os.path.join(path, names.EVENTS_FILE)))
    status = run_status(events, _events_age(path), RUNNING_WINDOW_SECS)
    evals = _read_evals(path)
    if require_evals and not evals:
        raise RunError(
            f"no evaluations yet (run {status['state']}, "
            f"step {status.get('step') or 0})",
            os.path.join(path, names.EVAL_RESULT_FILE),
            "wait for the first checkpoint's evaluation "
            "(train_config.save_checkpoints_steps)",
        )
    info = _read_json(os.path.join(path, names.RUN_INFO_FILE))
    ckpts = _checkpoints(path)
    run = Run(
        path=path,
        config=config,
        config_note=note,
        info=info,
        evals=evals,
        metric_names=_metric_names(evals),
        checkpoints=ckpts,
        events=events,
        status=status,
        timeline=build_timeline(events),
        best=_best(path, config, ckpts),
        batch_size=config.data_config.batch_size if config is not None else 0,
        segments=_segments(events, info),
    )
    return run


def _load_config(path: str) -> tuple[Any, str]:
    from tzrec import config as config_lib

    file = os.path.join(path, names.PIPELINE_CONFIG)
    if not os.path.isfile(file):
        return None, "no pipeline.config"
    try:
        return config_lib.load_pipeline_config(file), ""
    except ConfigError as e:
        return None, f"unreadable pipeline.config: {e.one_line()}"


def _events_age(path: str) -> float | None:
    try:
        return time.time() - os.path.getmtime(os.path.join(path, names.EVENTS_FILE))
    except OSError:
        return None


def _read_evals(path: str) -> list[dict[str, Any]]:
    """Eval records by step, a re-evaluated step keeping its last line."""
    by_step: dict[int, dict[str, Any]] = {}
    for rec in read_jsonl(os.path.join(path, names.EVAL_RESULT_FILE)):
        step = rec.get("global_step")
        if isinstance(step, int) and not isinstance(step, bool):
            by_step[step] = rec
    return [by_step[s] for s in sorted(by_step)]


def _metric_names(evals: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for rec in evals:
        names.update((k, None) for k in rec if k not in RECORD_FIELDS)
    return list(names)


def _read_json(file: str) -> dict[str, Any]:
    try:
        with open(file, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _checkpoints(path: str) -> list[Checkpoint]:
    out = []
    for step, ckpt in list_complete(path):
        marker = _read_json(os.path.join(ckpt, MARKER))
        files = marker.get("files") or {}
        nbytes = sum(v for v in files.values() if isinstance(v, int))
        when = marker.get("time")
        out.append(
            Checkpoint(step, ckpt, nbytes, when if isinstance(when, float) else None)
        )
    return out


def _best(path: str, config: Any, ckpts: list[Checkpoint]) -> Best:
    """What export would choose; over all evals if no checkpoint qualifies."""
    ec = config.export_config if config is not None else None
    metric = (ec.best_exporter_metric if ec else "") or "auc"
    larger = ec.metric_larger_is_better if ec else True
    log = os.path.join(path, names.EVAL_RESULT_FILE)
    quiet = logging.getLogger("tzrec")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # torn lines are reported once, by _read_evals
    try:
        found = best_step(log, metric, larger, {c.step for c in ckpts})
        if found is not None:
            return Best(metric, larger, found[0], found[1], True)
        found = best_step(log, metric, larger)
    except TzrecError as e:  # the metric is in no evaluation
        return Best(metric, larger, None, None, False, e.what)
    finally:
        quiet.setLevel(level)
    if found is None:
        return Best(metric, larger, None, None, False, f'no finite "{metric}" yet')
    note = "its checkpoint is not on disk; export would not choose it"
    return Best(metric, larger, found[0], found[1], False, note)


def _segments(events: list[dict[str, Any]], info: dict[str, Any]) -> list[tuple]:
    """(start step, world size) per launch; a resume drops the lost future."""
    out: list[tuple[int, int]] = []
    for ev in events:
        if ev.get("event") != keys.EVENT_RUN_STARTED:
            continue
        start = ev.get("step") if isinstance(ev.get("step"), int) else 0
        world = ev.get("world_size") if isinstance(ev.get("world_size"), int) else 1
        while out and out[-1][0] >= start:
            out.pop()
        out.append((start, max(1, world)))
    if not out:
        world = info.get("world_size")
        out.append((0, world if isinstance(world, int) and world > 0 else 1))
    return out


def finite(value: Any) -> float | None:
    """A metric value as a finite float, else None (null, NaN, inf, text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def local_time(ts: float | None) -> str:
    """Unix seconds as local ``YYYY-MM-DD HH:MM:SS`` (``-`` when unknown)."""
    if ts is None:
        return "-"
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
