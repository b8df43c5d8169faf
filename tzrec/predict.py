"""python -m tzrec.predict: score a Parquet or CSV file with a trained model.

Two modes:

* exported: ``--scripted_model_path E`` (a ``python -m tzrec.export``
  directory): the TorchScript model, with ``E/pipeline.config``'s features
  encoding the input;
* checkpoint: ``--pipeline_config_path P [--checkpoint_path C]``: the eager
  model loaded from checkpoint C (default: the latest in P's model_dir).

The output (Parquet, or CSV when the path ends in ``.csv``) holds the
``--reserved_columns`` copied from the input, then the ``--output_columns``
(``probs`` and/or ``logits``), one row per input row in input order. Input is
streamed batch by batch; the output appears under its name only when complete.
An output that is one of the input files is refused, and so is an existing
output file unless ``--overwrite`` is given. The model's files are verified
against their checksums (the export's or the checkpoint's ``DONE``) first.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tzrec.utils.cli import make_parser, run_main
from tzrec.utils.errors import ConfigError

if TYPE_CHECKING:
    from tzrec.export.predictor import Predictor

_logger = logging.getLogger("tzrec")

DEBUG_COLUMN = "__features__"


def build_parser() -> argparse.ArgumentParser:
    """The predict flags (TorchEasyRec's names; unknown flags are errors)."""
    p = make_parser("python -m tzrec.predict", "Score data with a trained model.")
    p.add_argument("--scripted_model_path", default=None, help="export directory")
    p.add_argument("--pipeline_config_path", default=None, help="checkpoint mode")
    p.add_argument(
        "--checkpoint_path",
        default=None,
        help="checkpoint mode: model.ckpt-N or a model_dir (default: latest)",
    )
    p.add_argument("--predict_input_path", required=True, help="Parquet/CSV input")
    p.add_argument("--predict_output_path", required=True, help="output file")
    p.add_argument(
        "--reserved_columns", default="", help="input columns to copy, a,b,c"
    )
    p.add_argument(
        "--output_columns",
        default="",
        help="model outputs to write, a,b (default: every probs* output)",
    )
    p.add_argument("--batch_size", type=int, default=0, help="0: the config's")
    p.add_argument("--dataset_type", default=None, help="ParquetDataset|CsvDataset")
    p.add_argument(
        "--writer_type", default=None, help="ParquetWriter|CsvWriter (default: ext)"
    )
    p.add_argument(
        "--predict_threads",
        type=int,
        default=1,
        help="threads encoding batches ahead of the model (0: inline)",
    )
    p.add_argument(
        "--predict_steps", type=int, default=0, help="stop after N batches (0: all)"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --predict_output_path (never an input file)",
    )
    p.add_argument(
        "--is_profiling",
        action="store_true",
        help="profile the run (with --predict_steps for big inputs); "
        "writes <output>.trace.json",
    )
    p.add_argument(
        "--edit_config_json",
        default=None,
        help="edits to the model's pipeline config before it encodes the input, "
        "as for train_eval, e.g. '{\"data_config.batch_size\": 512}'",
    )
    p.add_argument(
        "--debug_level",
        type=int,
        default=0,
        help=f"1: also write each row's parsed model inputs as a {DEBUG_COLUMN} "
        "column (feature=values; slow, for debugging)",
    )
    return p


def _split(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _check_flags(args: argparse.Namespace) -> None:
    if bool(args.scripted_model_path) == bool(args.pipeline_config_path):
        raise ConfigError(
            "pass exactly one of --scripted_model_path and --pipeline_config_path",
            "command line",
            "an export directory, or a pipeline config (+ --checkpoint_path)",
        )
    if args.checkpoint_path and not args.pipeline_config_path:
        raise ConfigError(
            "--checkpoint_path needs --pipeline_config_path",
            "command line",
            "use checkpoint mode, or --scripted_model_path alone",
        )
    if os.path.isdir(args.predict_output_path):
        raise ConfigError(
            "--predict_output_path is a directory",
            args.predict_output_path,
            "give a file path, e.g. out.parquet or out.csv",
        )
    for flag in ("batch_size", "predict_threads", "predict_steps", "debug_level"):
        if getattr(args, flag) < 0:
            raise ConfigError(f"--{flag} must be >= 0", "command line")
    _check_output_path(args)


def _check_output_path(args: argparse.Namespace) -> None:
    """The output never replaces an input file, nor silently anything else."""
    from tzrec.datasets.reader import list_files

    out = args.predict_output_path
    if not os.path.lexists(out):
        return
    try:
        inputs = list_files(args.predict_input_path, (".parquet", ".csv", ".txt"))
    except Exception:  # a bad input path is reported later
        inputs = []
    if os.path.isfile(args.predict_input_path):
        inputs.append(args.predict_input_path)
    if any(_same_file(out, f) for f in inputs):
        raise ConfigError(
            "--predict_output_path is one of the input files",
            out,
            "write the predictions to another file",
        )
    if not args.overwrite:
        raise ConfigError(
            "output file already exists",
            out,
            "choose a new --predict_output_path, or pass --overwrite to replace it",
        )


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _encoded(
    tables: Iterator[Any], build: Callable[[Any], Any], threads: int
) -> Generator[tuple[Any, Any], None, None]:
    """``(table, build(table))`` in input order; ``threads`` encode ahead."""
    if threads == 0:
        for table in tables:
            yield table, build(table)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="tzrec-predict") as pool:
        ahead: deque[tuple[Any, Future]] = deque()
        try:
            for table in tables:
                ahead.append((table, pool.submit(build, table)))
                if len(ahead) > 2 * threads:
                    table0, fut = ahead.popleft()
                    yield table0, fut.result()
            while ahead:
                table0, fut = ahead.popleft()
                yield table0, fut.result()
        finally:
            for _, fut in ahead:
                fut.cancel()


def predict(args: argparse.Namespace, predictor: Predictor, device: Any) -> int:
    """Streams the input through the model into the output; returns rows."""
    import pyarrow as pa
    import torch

    from tzrec.datasets.batch import BatchBuilder
    from tzrec.export import predict_io

    reserved, outputs = _split(args.reserved_columns), _split(args.output_columns)
    outputs = outputs or [o for o in predictor.outputs if o.startswith("probs")]
    _check_columns(reserved, outputs, predictor.outputs)
    builder = BatchBuilder(
        predictor.features,
        [],
        require_labels=False,
        sparse_groups=predictor.sparse_groups,
    )
    dc = predictor.config.data_config
    batch_size = args.batch_size or dc.eval_batch_size or dc.batch_size
    in_fmt = predict_io.input_format(args.predict_input_path, args.dataset_type)
    out_fmt = predict_io.output_format(args.predict_output_path, args.writer_type)
    columns = list(dict.fromkeys(builder.columns + reserved))
    tables, total = predict_io.batches(
        args.predict_input_path, in_fmt, columns, dc, batch_size
    )
    progress = predict_io.RowProgress(total)
    steps = 0
    empty = _empty_schema(reserved, outputs, args.debug_level > 0)
    with predict_io.PredictionWriter(
        args.predict_output_path, out_fmt, empty
    ) as writer:
        stream = _encoded(tables, builder.build, args.predict_threads)
        with torch.no_grad(), contextlib.closing(stream):
            for table, batch in stream:
                preds = predictor.run(batch.to(device))
                cols = {c: table.column(c) for c in reserved}
                for name in outputs:
                    cols[name] = pa.array(preds[name].float().cpu().numpy())
                if args.debug_level > 0:
                    cols[DEBUG_COLUMN] = pa.array(parsed_inputs_text(batch))
                writer.write(pa.table(cols))
                steps += 1
                progress.update(writer.rows)
                if args.predict_steps and steps >= args.predict_steps:
                    break
    progress.update(writer.rows, final=True)
    return writer.rows


def _empty_schema(reserved: list[str], outputs: list[str], debug: bool) -> Any:
    import pyarrow as pa

    fields = [pa.field(c, pa.string()) for c in reserved]
    fields += [pa.field(c, pa.float32()) for c in outputs]
    return pa.schema(fields + ([pa.field(DEBUG_COLUMN, pa.string())] if debug else []))


def parsed_inputs_text(batch: Any) -> list[str]:
    """Each row's model inputs as ``name=v,v;name=v`` (``--debug_level 1``).

    Dense features give their values, sparse ones their embedding-row ids
    (after hashing, vocabularies and boundaries), in feature-name order.
    Per-row Python: a debugging aid, not for large inputs.
    """
    per_feature: dict[str, list[list]] = {}
    for name, t in batch.dense.items():
        per_feature[name] = t.reshape(batch.batch_size, -1).tolist()
    for kjt in batch.sparse.values():
        for name, jt in kjt.to_dict().items():
            per_feature[name] = [row.tolist() for row in jt.to_dense()]
    rows = []
    for i in range(batch.batch_size):
        parts = [
            f"{name}={','.join(_fmt(v) for v in per_feature[name][i])}"
            for name in sorted(per_feature)
        ]
        rows.append(";".join(parts))
    return rows


def _fmt(v: float | int) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _check_columns(reserved: list[str], outputs: list[str], known: list[str]) -> None:
    bad = [c for c in outputs if c not in known]
    if not outputs or bad:
        raise ConfigError(
            f"unknown output column(s) {', '.join(bad) or '(none given)'}",
            "--output_columns",
            f"use any of {', '.join(known)}",
        )
    clash = sorted(set(reserved) & set(outputs))
    if clash or len(set(reserved)) != len(reserved):
        raise ConfigError(
            f"duplicate output column(s) {', '.join(clash) or 'in reserved columns'}",
            "--reserved_columns",
            "list each column once and do not reserve a column named like an output",
        )


def main(args: argparse.Namespace) -> int:
    """Runs prediction; returns the exit status."""
    _check_flags(args)
    import torch

    from tzrec.export.predictor import load_checkpoint_model, load_scripted
    from tzrec.utils.logging import setup_logging

    setup_logging(None, 0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.scripted_model_path:
        predictor = load_scripted(
            args.scripted_model_path, device, args.edit_config_json
        )
    else:
        predictor = load_checkpoint_model(
            args.pipeline_config_path,
            args.checkpoint_path,
            device,
            args.edit_config_json,
        )
    _logger.info("[predict] model %s on %s", predictor.source, device)
    prof = torch.profiler.profile(record_shapes=False) if args.is_profiling else None
    with prof if prof is not None else contextlib.nullcontext():
        rows = predict(args, predictor, device)
    if prof is not None:
        trace = args.predict_output_path + ".trace.json"
        prof.export_chrome_trace(trace)
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
        _logger.info("[predict] profile (trace %s):\n%s", trace, table)
    _logger.info("[predict] wrote %d rows to %s", rows, args.predict_output_path)
    return 0


if __name__ == "__main__":
    run_main(main, build_parser())
