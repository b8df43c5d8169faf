"""``runs show``: one run's status, config, evaluations, checkpoints, timeline."""

from __future__ import annotations

import os
from typing import Any

from tzrec.checkpoint.artifacts import MANIFEST
from tzrec.checkpoint.artifacts import read as read_artifacts
from tzrec.tools.runs.load import Run, finite, local_time
from tzrec.tools.runs.table import fmt_bytes, fmt_int, fmt_secs, fmt_value, table


def _optimizer(msg: Any) -> str:
    kind = msg.WhichOneof("optimizer") if msg is not None else None
    if not kind:
        return "-"
    lr = getattr(getattr(msg, kind), "lr", None)
    return f"{kind.removesuffix('_optimizer')} lr {lr:g}" if lr is not None else kind


def config_summary(run: Run) -> dict[str, Any]:
    """The few config facts worth seeing first."""
    c, world = run.config, run.segments[-1][1]
    out: dict[str, Any] = {"world_size": world}
    if c is None:
        out["note"] = run.config_note
        return out
    tc, ec = c.train_config, c.export_config
    out.update(
        model=c.model_config.WhichOneof("model") or "-",
        num_features=len(c.feature_configs),
        batch_size=c.data_config.batch_size,
        num_steps=tc.num_steps,
        num_epochs=tc.num_epochs,
        save_checkpoints_steps=tc.save_checkpoints_steps,
        save_checkpoints_epochs=tc.save_checkpoints_epochs,
        keep_checkpoint_max=tc.keep_checkpoint_max,
        sparse_optimizer=_optimizer(tc.sparse_optimizer),
        dense_optimizer=_optimizer(tc.dense_optimizer),
        best_metric=run.best.metric,
        metric_larger_is_better=run.best.larger_is_better,
        exporter_type=ec.exporter_type or "latest",
        train_input_path=c.train_input_path,
        eval_input_path=c.eval_input_path,
    )
    if tc.HasField("early_stopping"):
        es = tc.early_stopping
        out["early_stopping"] = {
            "metric_name": es.metric_name,
            "larger_is_better": es.larger_is_better,
            "patience": es.patience,
        }
    return out


def show_data(run: Run) -> dict[str, Any]:
    """Everything ``show`` prints, JSON-ready."""
    latest, best = run.latest_step(), run.best.step
    info = {k: run.info.get(k) for k in ("tzrec_version", "git_revision", "host")}
    info["config_hash"] = run.info.get("config_hash")
    return {
        "run": run.path,
        "status": run.status,
        "config": config_summary(run),
        "info": info,
        "best": {
            "metric": run.best.metric,
            "larger_is_better": run.best.larger_is_better,
            "step": best,
            "value": run.best.value,
            "has_checkpoint": run.best.has_checkpoint,
            "note": run.best.note,
        },
        "metrics": run.metric_names,
        "evaluations": [
            {**rec, "samples": run.samples_at(rec["global_step"])} for rec in run.evals
        ],
        "checkpoints": [
            {
                "step": c.step,
                "path": c.path,
                "bytes": c.nbytes,
                "time": c.time,
                "best": c.step == best,
                "latest": c.step == latest,
            }
            for c in run.checkpoints
        ],
        "artifacts": read_artifacts(run.path),
        "timeline": run.timeline.to_json(),
    }


def status_line(status: dict[str, Any]) -> str:
    """``finished at step 30 (2026-...)`` or ``failed at step 7: <reason>``."""
    text = status["state"]
    if status.get("step") is not None:
        text += f" at step {status['step']}"
    if status.get("time"):
        text += f" ({str(status['time'])[:19].replace('T', ' ')})"
    if status.get("reason") and status["reason"] != "finished":
        text += f": {status['reason']}"
    launches = status.get("launches") or 0
    if launches > 1:
        text += f"; {launches} launches (resumed)"
    return text


def _kv(pairs: list[tuple[str, str]]) -> list[str]:
    width = max(len(k) for k, _ in pairs)
    return [f"{k.ljust(width)}  {v}" for k, v in pairs]


def _header(run: Run, data: dict[str, Any]) -> list[str]:
    c, info = data["config"], data["info"]
    pairs = [("run", run.path), ("status", status_line(run.status))]
    if "model" in c:
        rows = c["batch_size"] * c["world_size"]
        sched = (
            f"{c['num_steps']} steps" if c["num_steps"] else f"{c['num_epochs']} epochs"
        )
        every = (
            f"every {c['save_checkpoints_epochs']} epochs"
            if c["save_checkpoints_epochs"]
            else f"every {c['save_checkpoints_steps']} steps"
        )
        keep = c["keep_checkpoint_max"] or "all"
        direction = "larger" if c["metric_larger_is_better"] else "smaller"
        pairs += [
            ("model", f"{c['model']}, {c['num_features']} features"),
            ("batch", f"{c['batch_size']} x {c['world_size']} rank(s) = {rows} rows"),
            ("schedule", f"{sched}; checkpoint + eval {every}; keep {keep}"),
            (
                "optimizers",
                f"sparse {c['sparse_optimizer']}; dense {c['dense_optimizer']}",
            ),
            (
                "best by",
                f"{c['best_metric']} ({direction} is better); "
                f"exporter_type {c['exporter_type']}",
            ),
        ]
    else:
        pairs.append(("config", c.get("note", "-")))
    git = (info.get("git_revision") or "-")[:12]
    pairs.append(
        (
            "code",
            f"tzrec {info.get('tzrec_version') or '-'}, git {git}, "
            f"host {info.get('host') or '-'}, config {info.get('config_hash') or '-'}",
        )
    )
    return _kv(pairs)


def _eval_rows(run: Run, max_rows: int) -> list[list[str]]:
    names, best = run.metric_names, run.best.step
    keep = list(range(len(run.evals)))
    if len(keep) > max_rows > 0:
        tail = set(keep[-(max_rows - 1) :])
        keep = [i for i in keep if i in tail or run.evals[i]["global_step"] == best]
    rows, prev = [], -1
    for i in keep:
        if prev >= 0 and i != prev + 1:
            rows.append(
                ["", "...", f"({i - prev - 1} hidden)"] + [""] * (len(names) + 1)
            )
        if prev < 0 and i > 0:
            rows.append(["", "...", f"({i} hidden)"] + [""] * (len(names) + 1))
        rec, prev = run.evals[i], i
        step = rec["global_step"]
        rows.append(
            [
                "*" if step == best else "",
                str(step),
                str(rec.get("epoch", "-")),
                fmt_int(run.samples_at(step)),
            ]
            + [fmt_value(finite(rec.get(n))) for n in names]
        )
    return rows


def show_text(run: Run, max_rows: int = 30) -> str:
    """The terminal report of one run."""
    data = show_data(run)
    out = _header(run, data) + [""]
    b = run.best
    if b.step is not None:
        where = "" if b.has_checkpoint else f" ({b.note})"
        out.append(
            f"evaluations: {len(run.evals)}; * = best {b.metric} "
            f"{fmt_value(b.value)} at step {b.step}, the one export picks{where}"
        )
    else:
        out.append(f"evaluations: {len(run.evals)}; no best {b.metric}: {b.note}")
    headers = ["", "step", "epoch", "samples"] + run.metric_names
    out += table(
        headers, _eval_rows(run, max_rows), align="rrrr" + "r" * len(run.metric_names)
    )
    out += [""] + _checkpoint_lines(run) + [""] + _artifact_lines(run)
    out += [""] + timeline_lines(run)
    return "\n".join(out)


def _artifact_lines(run: Run) -> list[str]:
    """``model_dir/artifacts.json``: checkpoints and exports with checksums."""
    entries = read_artifacts(run.path)
    if not entries:
        return [f"artifacts: no {MANIFEST}"]
    rows = [
        [
            e.get("kind", "?"),
            str(e.get("step", "")),
            fmt_bytes(e.get("bytes") or 0),
            str(e.get("checksum", "")),
            str(e.get("created", "")),
            str(e.get("path", "")),
        ]
        for e in entries
    ]
    head = f"artifacts ({MANIFEST}): {len(entries)}"
    return [head] + table(
        ["kind", "step", "size", "xxh3_64", "created", "path"], rows, align="lrrlll"
    )


def _checkpoint_lines(run: Run) -> list[str]:
    if not run.checkpoints:
        return ["checkpoints: none complete on disk"]
    total = sum(c.nbytes for c in run.checkpoints)
    latest, best = run.latest_step(), run.best.step
    rows = []
    for c in run.checkpoints:
        marks = [
            m
            for m, on in (("best", c.step == best), ("latest", c.step == latest))
            if on
        ]
        rows.append(
            [
                str(c.step),
                fmt_bytes(c.nbytes),
                local_time(c.time),
                ", ".join(marks),
                os.path.basename(c.path),
            ]
        )
    head = f"checkpoints: {len(run.checkpoints)} on disk, {fmt_bytes(total)}"
    return [head] + table(["step", "size", "saved", "", "folder"], rows, align="rrlll")


def timeline_lines(run: Run) -> list[str]:
    """Where the time went, from ``events.jsonl``."""
    tl = run.timeline
    if not tl.launches:
        return ["timeline: no run events in events.jsonl"]
    wall = tl.wall_seconds or 1e-9

    def share(s: float) -> str:
        return f"{100 * s / wall:.0f}%"

    mbs = tl.checkpoint_mb_per_s
    ev_each = tl.eval_seconds / tl.num_evals if tl.num_evals else 0.0
    rows = [
        ["wall", fmt_secs(tl.wall_seconds), "", f"{tl.launches} launch(es)"],
        [
            "training",
            fmt_secs(tl.train_seconds),
            share(tl.train_seconds),
            "steps, data loading, logging",
        ],
        [
            "evaluation",
            fmt_secs(tl.eval_seconds),
            share(tl.eval_seconds),
            f"{tl.num_evals} evals, {fmt_secs(ev_each)} each",
        ],
        [
            "checkpoints",
            fmt_secs(tl.checkpoint_seconds),
            share(tl.checkpoint_seconds),
            f"{tl.num_checkpoints} saves, {fmt_bytes(tl.checkpoint_bytes)}, "
            + (f"{mbs:.1f} MB/s" if mbs else "- MB/s"),
        ],
    ]
    out = ["timeline (events.jsonl)"] + table(
        ["phase", "time", "share", "detail"], rows
    )
    if tl.non_finite_steps:
        out.append(f"  non-finite loss at step(s) {tl.non_finite_steps}")
    if tl.early_stop:
        out.append(
            "  early stop: " + ", ".join(f"{k}={v}" for k, v in tl.early_stop.items())
        )
    return out
