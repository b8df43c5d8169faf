"""The values each label column may take, from the losses that read it.

A 0/1 loss fed a label of 2 or -1 trains without complaint and produces
meaningless AUC; a softmax fed a class id out of range fails deep inside
torch. Batches are checked against these ranges as they are built (a few
vectorized comparisons per batch, in the data loader).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from tzrec.protos import pipeline_pb2


@dataclasses.dataclass(frozen=True)
class LabelRange:
    """Allowed values of one label column.

    Attributes:
        low: smallest allowed value.
        high: largest allowed value.
        integer: values must be whole numbers (class ids).
        reason: which loss asks for it, for the error message.
    """

    low: float
    high: float
    integer: bool = False
    reason: str = ""


def label_ranges(config: pipeline_pb2.EasyRecConfig) -> dict[str, LabelRange]:
    """Label column -> its allowed values, for every task of the model.

    Labels of a regression (``l2_loss``) only need to be finite and are not
    listed. Call on a validated config.
    """
    from tzrec.loss.spec import BINARY_KINDS, SOFTMAX_KINDS
    from tzrec.models.tasks import tasks_from_config

    dc = config.data_config
    tasks = tasks_from_config(
        config.model_config, list(dc.label_fields), list(dc.sample_weight_fields)
    )
    ranges: dict[str, LabelRange] = {}
    for task in tasks:
        binary = sorted(task.kinds & set(BINARY_KINDS))
        if binary:
            ranges[task.label_name] = LabelRange(
                0.0, 1.0, False, f"{binary[0]} needs labels in [0, 1]"
            )
        elif task.kinds & set(SOFTMAX_KINDS):
            top = task.num_class - 1
            ranges[task.label_name] = LabelRange(
                0.0,
                float(top),
                True,
                f"{sorted(task.kinds)[0]} with num_class {task.num_class} needs "
                f"class ids 0..{top}",
            )
    return ranges


def check_labels(datasets: Iterable[Any], config: pipeline_pb2.EasyRecConfig) -> None:
    """Makes each dataset's batch builder check its labels' ranges.

    Args:
        datasets: TzrecDatasets (anything with a ``builder``); call before
            iterating them.
        config: the validated pipeline config.
    """
    ranges = label_ranges(config)
    for dataset in datasets:
        dataset.builder.label_ranges = ranges
