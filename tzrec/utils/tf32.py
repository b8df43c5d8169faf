"""TF32 switches from the config (``train_config`` / ``export_config``).

``cudnn_allow_tf32`` and ``cuda_matmul_allow_tf32`` set
``torch.backends.cudnn.allow_tf32`` and ``torch.backends.cuda.matmul.allow_tf32``
as in TorchEasyRec, on every build. TF32 exists only on CUDA (Ampere and
later): on CPU the flags are set but change no result, which is said once in
the log when ``cuda_matmul_allow_tf32`` asks for TF32.
"""

from __future__ import annotations

import logging

import torch

_logger = logging.getLogger("tzrec")


def apply_tf32(
    cudnn_allow_tf32: bool, cuda_matmul_allow_tf32: bool, where: str
) -> bool:
    """Sets the TF32 switches for this process.

    Args:
        cudnn_allow_tf32: allow TF32 in cuDNN convolutions.
        cuda_matmul_allow_tf32: allow TF32 in CUDA matrix multiplications.
        where: the config section, for the log line (``train_config``).

    Returns:
        True when the flags take effect (CUDA available), False on CPU (set,
        but no CPU kernel reads them).

    """
    torch.backends.cudnn.allow_tf32 = cudnn_allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = cuda_matmul_allow_tf32
    if torch.cuda.is_available():
        return True
    if cuda_matmul_allow_tf32:
        _logger.info("[config] %s.cuda_matmul_allow_tf32 has no effect on CPU", where)
    return False
