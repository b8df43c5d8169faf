"""RNG capture/restore, plain-object checks, and no unsafe loading anywhere."""

from __future__ import annotations

import ast
import io
import pathlib
import random

import numpy as np
import pytest
import torch

from tests.cli import REPO
from tzrec.checkpoint.state import capture_rng_state, check_plain, restore_rng_state
from tzrec.utils.errors import CheckpointError

PACKAGE = REPO / "tzrec"


def _draw() -> tuple:
    return (random.random(), float(np.random.rand()), torch.rand(3).tolist())


def test_rng_state_round_trips_through_weights_only_load():
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    random.gauss(0, 1)  # leaves a cached gaussian in the python state
    state = capture_rng_state()
    expected = _draw()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    _draw()
    restore_rng_state(loaded)
    assert _draw() == expected


def test_check_plain_accepts_plain_and_names_the_bad_key():
    check_plain({"a": [1, 2.0, "x", None, True], "t": torch.ones(2), 3: {"b": ()}})
    with pytest.raises(CheckpointError, match=r"train_state\['m'\]\[1\]"):
        check_plain({"m": [1, np.float64(2.0)]})
    with pytest.raises(CheckpointError, match="ndarray"):
        check_plain({"x": np.zeros(2)})
    with pytest.raises(CheckpointError, match="key of type"):
        check_plain({(1, 2): 0})


def _unsafe_loads(path: pathlib.Path) -> list[str]:
    """torch.load calls without weights_only=True, and raw pickle loads."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        name = owner.id if isinstance(owner, ast.Name) else ""
        if name == "torch" and node.func.attr == "load":
            safe = any(
                k.arg == "weights_only"
                and isinstance(k.value, ast.Constant)
                and k.value.value is True
                for k in node.keywords
            )
            if not safe:
                found.append(f"{path}:{node.lineno} torch.load")
        if name == "pickle" and node.func.attr in ("load", "loads"):
            found.append(f"{path}:{node.lineno} pickle.{node.func.attr}")
    return found


def test_every_torch_load_in_tzrec_is_weights_only():
    files = sorted(PACKAGE.rglob("*.py"))
    assert any(f.name == "manager.py" for f in files)
    unsafe = [hit for f in files for hit in _unsafe_loads(f)]
    assert unsafe == []


def test_the_scan_catches_an_unsafe_load(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pickle, torch\n"
        "torch.load('x')\n"
        "torch.load('x', weights_only=False)\n"
        "torch.load('x', weights_only=True)\n"
        "pickle.load(open('x', 'rb'))\n"
    )
    assert [h.split(":")[1] for h in _unsafe_loads(bad)] == [
        "2 torch.load",
        "3 torch.load",
        "5 pickle.load",
    ]
