"""What one train log step reports: scalar tags, console fields, diagnostics.

The :class:`~tzrec.monitor.monitor.Monitor` decides when a step is a log step
and reads its numbers back; this module turns those numbers into what is
written. :func:`train_scalars` names the losses, learning rates and decayed
train metrics with their TensorBoard tags (TorchEasyRec's console order);
:func:`console_fields` makes the progress line's fields from them;
:func:`train_metric_descriptions` explains each decayed train metric once;
and :class:`DiagnosticsWriter` routes model diagnostics (``model/<name>``) to
the destinations each one chose, describing every tag the first time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper
from tzrec.monitor import keys
from tzrec.monitor.diagnostics import CONSOLE, TENSORBOARD, TRACKERS
from tzrec.monitor.diagnostics import STORE as DIAGNOSTICS
from tzrec.monitor.sinks import Sink


def train_scalars(
    losses: Mapping[str, float], lrs: Sequence[float], metrics: Mapping[str, float]
) -> dict[str, float]:
    """Tags in TorchEasyRec's console order: lr, losses, total, metrics.

    Args:
        losses: mean loss per loss name over the window.
        lrs: learning rate per optimizer parameter group.
        metrics: decayed train metric values by name.

    Returns:
        Scalar value by TensorBoard tag.
    """
    out = {keys.lr_tag(i): float(lr) for i, lr in enumerate(lrs)}
    out.update({keys.loss_tag(n): v for n, v in losses.items()})
    if len(losses) > 1:  # with one loss the total would repeat it
        out[keys.LOSS_TOTAL] = sum(losses.values())
    # NaN: a train metric before its first window (nothing to show yet).
    out.update({keys.metric_tag(n): v for n, v in metrics.items() if not math.isnan(v)})
    return out


def console_fields(
    scalars: Mapping[str, float],
    losses: Mapping[str, float],
    diagnostics: Mapping[str, float],
) -> dict[str, float]:
    """The progress line's fields: the scalars by console label, then diagnostics.

    Args:
        scalars: from :func:`train_scalars`.
        losses: the same losses; with only one, its total is shown too.
        diagnostics: console fields from :meth:`DiagnosticsWriter.write`.

    Returns:
        Value by console label, in TorchEasyRec's console order.
    """
    shown = dict(scalars)
    if len(losses) == 1:  # TorchEasyRec's console always shows it
        shown[keys.LOSS_TOTAL] = next(iter(losses.values()))
        shown = _console_order(shown)
    fields = {keys.console_label(t): v for t, v in shown.items()}
    fields.update(diagnostics)
    return fields


def train_metric_descriptions(
    train_metrics: Mapping[str, TrainMetricWrapper],
) -> dict[str, str]:
    """Each decayed train metric's tag with a description that gives its decay."""
    return {
        keys.metric_tag(n): (
            f"Train {n}, decayed: a running value over recent batches "
            f"(decay_rate {m.decay_rate:g} every {m.decay_step} steps), "
            "not the whole run, so it moves slowly and trails eval."
        )
        for n, m in train_metrics.items()
        if hasattr(m, "decay_rate")
    }


class DiagnosticsWriter:
    """Writes model diagnostics to the destinations each value chose.

    Args:
        describe_to: the sink that gets each ``model/<name>`` tag's
            description the first time the tag is written.
        sinks_for: the sinks of each destination (``tensorboard``,
            ``trackers``).
    """

    def __init__(
        self, describe_to: Sink, sinks_for: Mapping[str, Sequence[Sink]]
    ) -> None:
        self._describe_to = describe_to
        self._sinks_for = sinks_for
        self._described: set[str] = set()

    def write(
        self, step: int, values: Mapping[str, tuple[float, tuple[str, ...]]]
    ) -> dict[str, float]:
        """Writes ``model/<name>`` to its destinations; returns console fields."""
        if not values:
            return {}
        texts = DIAGNOSTICS.descriptions
        new = {}
        for name in values:
            tag = keys.model_tag(name)
            if tag in self._described:
                continue
            base, _, part = name.rpartition("/")
            text = texts.get(name) or texts.get(base, "")
            new[tag] = f"{text} [{part}]" if name not in texts and text else text
        self._described.update(new)
        self._describe_to.describe({t: x for t, x in new.items() if x})
        for dest in (TENSORBOARD, TRACKERS):
            chosen = {keys.model_tag(n): v for n, (v, d) in values.items() if dest in d}
            for sink in self._sinks_for[dest]:
                sink.scalars(step, chosen)
        return {n.replace("/", "_"): v for n, (v, d) in values.items() if CONSOLE in d}


def _console_order(scalars: dict[str, float]) -> dict[str, float]:
    """lr, losses, total, metrics: TorchEasyRec's console order."""
    rank = {"optimizer": 0, "loss": 1, "metric": 3}
    total = {keys.LOSS_TOTAL: 2}
    return dict(
        sorted(
            scalars.items(),
            key=lambda kv: total.get(kv[0], rank.get(kv[0].split("/")[0], 4)),
        )
    )
