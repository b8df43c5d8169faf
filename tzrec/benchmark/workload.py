"""What every benchmark case runs on: the data on disk and the config per case.

One :class:`Workload` generates the Criteo-like synthetic set once (Parquet,
plus a CSV copy of the same rows), loads the pipeline config once and hands
each case a fresh copy edited the way that case needs (batch size, steps, no
checkpoint saves inside the timed window, monitoring on or off).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from google.protobuf.message import Message

from tzrec import config as config_lib
from tzrec.datasets import synthetic
from tzrec.features.build import build_features
from tzrec.models.build import build_model
from tzrec.protos import data_pb2, pipeline_pb2
from tzrec.train.setup import ModelParts

_NEVER = 2**31  # save_checkpoints_steps that never triggers inside a run

_FIELD_TYPES = {
    pa.int32(): data_pb2.INT32,
    pa.int64(): data_pb2.INT64,
    pa.string(): data_pb2.STRING,
    pa.float32(): data_pb2.FLOAT,
    pa.float64(): data_pb2.DOUBLE,
}


@dataclasses.dataclass
class Sizes:
    """How much data and how many steps.

    Attributes:
        num_rows: generated train rows.
        num_eval_rows: generated eval rows.
        warmup_steps: steps run before the timed window of a train case.
        window_rows: rows per timed window; steps = window_rows // batch_size.
        min_steps: the fewest timed steps at any batch size.
        log_every_steps: ``log_step_count_steps`` of the train cases.
        data_rows: rows read per data-loading case (0: the whole train split).
    """

    num_rows: int = 1_000_000
    num_eval_rows: int = 100_000
    warmup_steps: int = 10
    window_rows: int = 409_600
    min_steps: int = 20
    log_every_steps: int = 100
    data_rows: int = 0

    def steps(self, batch_size: int) -> int:
        """Timed steps at ``batch_size``."""
        return max(self.min_steps, self.window_rows // batch_size)


TINY = Sizes(
    num_rows=20_000,
    num_eval_rows=2_000,
    warmup_steps=1,
    window_rows=0,
    min_steps=3,
    log_every_steps=100,
)


class Workload:
    """The benchmark's data and config.

    Args:
        config_path: the pipeline config to benchmark (its features, model,
            optimizers, metrics and data options).
        data_dir: where the synthetic data lives; generated when missing.
        sizes: data size and step counts.
        num_workers: DataLoader workers (None: the config's).
        seed: data seed.
        int_ranges: the generator's count-column ranges (``small``, ``criteo``).
    """

    def __init__(
        self,
        config_path: str,
        data_dir: str,
        sizes: Sizes,
        num_workers: int | None = None,
        seed: int = 2026,
        int_ranges: str = "small",
    ) -> None:
        self.sizes = sizes
        self.config_path = config_path
        self.int_ranges = int_ranges
        self.base = config_lib.load_pipeline_config(config_path)
        if num_workers is not None:
            self.base.data_config.num_workers = num_workers
        self.num_workers = self.base.data_config.num_workers
        self.batch_size = self.base.data_config.batch_size
        self.dirs = {fmt: os.path.join(data_dir, fmt) for fmt in ("parquet", "csv")}
        for fmt, path in self.dirs.items():
            synthetic.generate(
                path,
                sizes.num_rows,
                sizes.num_eval_rows,
                seed,
                num_files=4,
                fmt=fmt,
                int_ranges=int_ranges,
            )
        self._csv_fields = _csv_input_fields(self.dirs["parquet"])

    def config(
        self, batch_size: int, fmt: str = "parquet"
    ) -> pipeline_pb2.EasyRecConfig:
        """A copy of the config reading the generated data in ``fmt``."""
        config = pipeline_pb2.EasyRecConfig()
        config.CopyFrom(self.base)
        config.train_input_path = os.path.join(self.dirs[fmt], "train")
        config.eval_input_path = os.path.join(self.dirs[fmt], "eval")
        dc = config.data_config
        dc.batch_size = batch_size
        if fmt == "csv":
            dc.dataset_type = data_pb2.CsvDataset
            dc.with_header = True
            dc.delimiter = ","
            del dc.input_fields[:]
            dc.input_fields.extend(self._csv_fields)
        else:
            dc.dataset_type = data_pb2.ParquetDataset
        return config

    def train_config(
        self, batch_size: int, model_dir: str, monitoring: bool, eval_steps: int
    ) -> pipeline_pb2.EasyRecConfig:
        """The config of one train_eval case: ``warmup + steps`` steps, no saves.

        Args:
            batch_size: rows per step.
            model_dir: the run's (temporary) folder.
            monitoring: the config's monitoring (True), or TensorBoard off
                and no train metrics (False).
            eval_steps: eval batches of the final evaluation (0: all).
        """
        config = self.config(batch_size)
        config.model_dir = model_dir
        steps = self.sizes.warmup_steps + self.sizes.steps(batch_size)
        config_lib.apply_edit_config_json(
            config,
            {
                "train_config.num_steps": steps,
                "train_config.num_epochs": 0,
                "train_config.save_checkpoints_steps": _NEVER,
                "train_config.save_checkpoints_epochs": 0,
                "train_config.log_step_count_steps": self.sizes.log_every_steps,
                "eval_config.num_steps": eval_steps,
            },
        )
        if not monitoring:
            config.train_config.use_tensorboard = False
            _clear_train_metrics(config.model_config)
        config_lib.validate(config)
        return config

    def data_parts(self) -> ModelParts:
        """Features and a model on the meta device: enough to build datasets."""
        features = build_features(self.base.feature_configs)
        model = build_model(self.base, features, device=torch.device("meta"))
        return ModelParts(features, model, model, None)


def _clear_train_metrics(msg: Message) -> None:
    """Removes every ``train_metrics`` list in ``msg`` (task towers too)."""
    for fd, value in msg.ListFields():
        if fd.name == "train_metrics":
            del value[:]
        elif fd.message_type is not None:
            items = value if fd.is_repeated else [value]
            for item in items:
                if hasattr(item, "ListFields"):
                    _clear_train_metrics(item)


def _csv_input_fields(parquet_dir: str) -> list[data_pb2.Field]:
    """``input_fields`` giving the CSV copy the Parquet files' column types."""
    first = sorted(Path(parquet_dir, "train").glob("*.parquet"))[0]
    schema = pq.read_schema(first)
    return [
        data_pb2.Field(input_name=f.name, input_type=_FIELD_TYPES[f.type])
        for f in schema
        if f.type in _FIELD_TYPES
    ]
