"""Rank and world size, decided once per process."""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job.

    Attributes:
        rank: global rank.
        world_size: number of processes.
        local_rank: rank on this host.
        device: the torch device this rank computes on.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_rank0(self) -> bool:
        """True on the rank that writes logs, events and TensorBoard."""
        return self.rank == 0


_INFO: DistInfo | None = None


def init_distributed() -> DistInfo:
    """Initialises the process group from the torchrun environment (or alone).

    gloo on CPU, nccl on CUDA. Without torchrun's variables a one-process group
    on a free loopback port is created, so torchrec's sharding runs the same.
    Calling it again returns the same answer.
    """
    global _INFO
    if _INFO is not None:
        return _INFO
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device(f"cuda:{local_rank}")
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        # Alone (no torchrun): a private loopback rendezvous, kept out of the
        # environment so child processes do not inherit a port already in use.
        init_method = None
        if "MASTER_ADDR" not in os.environ:
            init_method = f"tcp://127.0.0.1:{_free_port()}"
        dist.init_process_group(
            backend=backend, init_method=init_method, rank=rank, world_size=world_size
        )
    _INFO = DistInfo(rank, world_size, local_rank, device)
    return _INFO


def get_dist_info() -> DistInfo:
    """Returns the job's DistInfo; before init, a one-process CPU answer."""
    if _INFO is not None:
        return _INFO
    return DistInfo(0, 1, 0, torch.device("cpu"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shutdown_distributed() -> None:
    """Waits for every rank, then tears the process group down.

    Exiting with gloo's threads still alive can abort a rank at interpreter
    exit ("terminate called without an active exception") after a run that
    succeeded; an explicit barrier and destroy make the exit orderly.
    """
    global _INFO
    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()
    _INFO = None
