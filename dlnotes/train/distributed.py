"""Runs under ``torchrun``: process group, device, and the few collectives the
loop needs (sums of metrics, BN buffers from rank 0, a replica check).

``torchrun --nproc_per_node=N`` starts N copies of the program and describes
the group in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``); without those variables a run is a single
process and every function here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["Distributed", "init_distributed", "resolve_device"]


@dataclass
class Distributed:
    """This process's place in the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owned: bool = False  # we called init_process_group, so we destroy it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 prints and writes every file."""
        return self.rank == 0

    def all_reduce(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise sums over the ranks (float64)."""
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def first_bad_step(self, local: int, device: torch.device) -> int:
        """The smallest ``local`` over the ranks, where -1 means "none"."""
        if not self.enabled:
            return local
        big = 2**62
        t = torch.tensor([local if local >= 0 else big], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        value = int(t.item())
        return value if value < big else -1

    def sync_buffers(self, model: nn.Module) -> None:
        """Copy rank 0's buffers (BN running statistics) to every rank: DDP
        broadcasts them before each training forward, but each rank then updates
        them with its own shard, so after the last step they differ slightly."""
        if self.enabled:
            for buf in model.buffers():
                dist.broadcast(buf, src=0)

    def check_replicas(self, model: nn.Module, device: torch.device) -> None:
        """Raise RuntimeError if the ranks' weights differ (DDP keeps them equal)."""
        if not self.enabled:
            return
        fp = _fingerprint(model).to(device)
        gathered = [torch.empty_like(fp) for _ in range(self.world_size)]
        dist.all_gather(gathered, fp)
        if not all(torch.equal(gathered[0], g) for g in gathered):
            raise RuntimeError("replicas differ after training (DDP invariant broken)")

    def close(self) -> None:
        if self.owned:
            dist.destroy_process_group()


def _fingerprint(model: nn.Module) -> Tensor:
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    return torch.stack([t.detach().double().sum() for t in tensors])


def init_distributed(device_type: str) -> Distributed:
    """Join the process group that ``torchrun`` describes in the environment;
    gloo on the CPU, NCCL on GPUs. Without those variables: a single process."""
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if dist.is_available() and dist.is_initialized():
        return Distributed(dist.get_rank(), dist.get_world_size(), local_rank)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Distributed()
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, init_method="env://")
    return Distributed(dist.get_rank(), dist.get_world_size(), local_rank, owned=True)


def resolve_device(device: str, local_rank: int) -> torch.device:
    """``cpu``, ``cuda`` (this process's GPU) or ``auto`` (cuda if available)."""
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("device must be cpu or auto here: CUDA is not available")
    chosen = torch.device("cuda", local_rank % torch.cuda.device_count())
    torch.cuda.set_device(chosen)
    return chosen
