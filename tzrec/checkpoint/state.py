"""RNG state capture/restore and plain-object checks for checkpointed state.

Everything here produces objects that ``torch.load(..., weights_only=True)``
accepts: tensors, numbers, strings, None, lists, tuples and dicts. Numpy arrays
and ``random``'s tuples are converted to tensors so a checkpoint never needs an
unrestricted unpickler.
"""

from __future__ import annotations

import collections
import random
from typing import Any

import numpy as np
import torch

from tzrec.utils.errors import CheckpointError

# Exact types: numpy scalars subclass float/int but a weights_only load refuses them.
_PLAIN_SCALARS = (str, int, float, bool, type(None))
_TENSORS = (torch.Tensor, torch.nn.Parameter)
_DICTS = (dict, collections.OrderedDict)


def capture_rng_state() -> dict[str, Any]:
    """Returns this process's RNG states as a weights_only-safe dict.

    Covers python ``random``, numpy's global generator, torch CPU and, when
    CUDA is available, every visible CUDA device.
    """
    version, internal, gauss_next = random.getstate()
    np_state = np.random.get_state()  # legacy=True: the MT19937 tuple
    if not isinstance(np_state, tuple):
        raise TypeError("numpy's global generator is not MT19937")
    kind, keys, pos, has_gauss, cached_gaussian = np_state
    state: dict[str, Any] = {
        "python": {
            "version": int(version),
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Sets the RNGs from a dict made by :func:`capture_rng_state`.

    CUDA states are restored only when CUDA is available and the device count
    matches; a CPU-only process resuming a GPU run keeps its CUDA RNG as is.

    Args:
        state: the dict returned by ``capture_rng_state`` (possibly after a
            save/load round trip).

    """
    py = state["python"]
    random.setstate(
        (py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss_next"])
    )
    npy = state["numpy"]
    np.random.set_state(
        (
            npy["kind"],
            npy["keys"].numpy().astype(np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def check_plain(obj: Any, where: str = "train_state") -> None:
    """Raises if ``obj`` holds anything a weights_only load would refuse.

    Checked at save time so a bad value fails the save that wrote it, not the
    resume a day later.

    Args:
        obj: the object to check (nested dicts/lists/tuples are walked).
        where: name used in the error for the top-level object.

    Raises:
        CheckpointError: naming the key path and the offending type.

    """
    if type(obj) in _TENSORS or type(obj) in _PLAIN_SCALARS:
        return
    if type(obj) in _DICTS:
        for key, value in obj.items():
            if type(key) not in (str, int):
                raise CheckpointError(
                    f"key of type {type(key).__name__} is not allowed",
                    f"{where}[{key!r}]",
                    "use str or int keys in checkpointed state",
                )
            check_plain(value, f"{where}[{key!r}]")
        return
    if type(obj) in (list, tuple):
        for i, value in enumerate(obj):
            check_plain(value, f"{where}[{i}]")
        return
    raise CheckpointError(
        f"value of type {type(obj).__name__} cannot be checkpointed",
        where,
        "keep checkpointed state to tensors, numbers, strings, lists and dicts "
        "(convert numpy values with .item() or torch.from_numpy)",
    )
