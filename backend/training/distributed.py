"""One process or N under ``torchrun``: the process group, sharding and gathering.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them every
helper here is the identity of a one-process world, so callers need no branches.
Processes join a gloo group on CPUs and an NCCL group on GPUs (one GPU per local rank).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current() -> World:
    """The world this process belongs to (from the process group, else from torchrun's variables, else alone)."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), local_rank)
    return World(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), local_rank)


def init(device: str = "auto") -> World:
    """Join the process group when started by torchrun with several processes; returns the world."""
    world = current()
    if world.distributed and not dist.is_initialized():
        cuda = device != "cpu" and torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return current()


def device_for(world: World, device: torch.device) -> torch.device:
    """This process's GPU when the run is on CUDA with several processes."""
    return torch.device("cuda", world.local_rank) if device.type == "cuda" and world.distributed else device


def shard(items: Sequence[T], world: World) -> Sequence[T]:
    """This process's share of ``items`` (every ``size``-th, starting at ``rank``)."""
    return items[world.rank :: world.size]


def gather(value: Any, world: World) -> list[Any]:
    """``value`` of every process, in rank order (picklable objects)."""
    if not world.distributed:
        return [value]
    found: list[Any] = [None] * world.size
    dist.all_gather_object(found, value)
    return found


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU; under torchrun with several processes each takes its own GPU."""
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    return device_for(current(), device)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def close(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
