"""Bring your own torchmetrics metric: register a factory, name it in a config.

    import torchmetrics
    from tzrec.metrics import register_metric

    register_metric("f1", lambda: torchmetrics.classification.BinaryF1Score())

then ``metrics { custom_metric { name: "f1" } }`` (eval) or
``train_metrics { custom_metric { name: "f1" } }`` (decayed in training). A
config can also name the factory itself, for the CLI:
``custom_metric { name: "f1" factory: "torchmetrics.classification:BinaryF1Score" }``.

The metric gets ``update(preds, target)``: the task's probability (or its
regression output ``y``) and its label, on the batch's device. Its value
goes into the eval log, TensorBoard and the console under ``name`` (with
``_<tower>`` for a multi-task tower).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

from torchmetrics import Metric

MetricFactory = Callable[[], Metric]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_REGISTERED: dict[str, MetricFactory] = {}


def register_metric(name: str, factory: MetricFactory) -> None:
    """Makes ``custom_metric { name: NAME }`` build ``factory()``.

    Registering a name again replaces its factory.

    Args:
        name: the metric's eval-log name (letters, digits, ``_``).
        factory: called once per metric instance, returns a torchmetrics Metric.

    Raises:
        ValueError: on a name that is not an identifier.
    """
    if not _NAME.match(name):
        raise ValueError(f"metric name must be letters, digits and _: {name!r}")
    _REGISTERED[name] = factory


def unregister_metric(name: str) -> None:
    """Forgets a registered metric (no error if unknown)."""
    _REGISTERED.pop(name, None)


def registered_metrics() -> list[str]:
    """Names of the registered metrics, sorted."""
    return sorted(_REGISTERED)


def find_factory(name: str, factory_path: str = "") -> MetricFactory | None:
    """The factory of ``name``, or the callable at ``module:attr`` if given.

    Raises:
        ImportError: ``factory_path``'s module cannot be imported.
        AttributeError: the module has no such attribute.
    """
    if factory_path:
        module, _, attr = factory_path.partition(":")
        target = importlib.import_module(module)
        for part in attr.split("."):
            target = getattr(target, part)
        return target  # type: ignore[return-value]
    return _REGISTERED.get(name)
