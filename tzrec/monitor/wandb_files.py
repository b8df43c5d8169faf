"""Reading W&B offline run files (``run-<id>.wandb``) back.

A resumed offline run reads what its killed predecessor left on disk (W&B
buffers writes, so the last seconds before a kill may be missing) to log
the missing evaluations again and nothing twice; tests read runs back.

The file is W&B's record log: a 7-byte header (``:W&B``, magic, version),
then 32 KiB blocks of records, each ``crc32c (4) | length (2, LE) | type (1)
| data`` with LevelDB's full/first/middle/last chunk types; a block's tail
shorter than a record header is zero padding. Each record's data is a
``wandb_internal_pb2.Record`` (wandb's own protobuf).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

_HEADER = 7
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def records(path: Path) -> list:
    """Every record in one ``.wandb`` file, in order."""
    from google.protobuf.message import DecodeError
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    if data[:4] != b":W&B":
        return []
    out, pos, chunks = [], _HEADER, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # padding up to the next block
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            pos += left
            continue
        body = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (_FIRST, _MIDDLE):
            chunks += body
            continue
        if kind == _LAST:
            body, chunks = chunks + body, b""
        rec = wandb_internal_pb2.Record()
        try:
            rec.ParseFromString(body)
        except DecodeError:  # a torn last record: stop there
            break
        out.append(rec)
    return out


def history(run_dir: Path) -> list[dict]:
    """The history rows (``wandb.log`` calls) of one offline run folder."""
    paths = list(run_dir.glob("run-*.wandb"))
    if not paths:
        return []
    (path,) = paths
    rows = []
    for rec in records(path):
        if rec.WhichOneof("record_type") == "history":
            rows.append(
                {
                    (item.key or "/".join(item.nested_key)): json.loads(item.value_json)
                    for item in rec.history.item
                }
            )
    return rows


def offline_folders(wandb_dir: str, run_id: str) -> list[Path]:
    """Offline run folders of ``run_id`` under ``wandb_dir/wandb``, oldest first."""
    return sorted((Path(wandb_dir) / "wandb").glob(f"offline-run-*-{run_id}"))


def run_ids(run_dir: Path) -> set[str]:
    """Run ids named by the run records of one offline run folder."""
    (path,) = run_dir.glob("run-*.wandb")
    return {
        rec.run.run_id
        for rec in records(path)
        if rec.WhichOneof("record_type") == "run"
    }
