"""What torchrun tells each process, and the device, backend and threads each one takes.

`torchrun --nproc_per_node=N -m pkg ...` starts N copies of the same program and tells each who
it is through environment variables:

    RANK              this process's number among all processes, 0 .. WORLD_SIZE - 1
    WORLD_SIZE        how many processes train together (on all machines)
    LOCAL_RANK        its number on this machine: the GPU it takes is cuda:LOCAL_RANK
    LOCAL_WORLD_SIZE  how many processes run on this machine (they share its cores)
    MASTER_ADDR, MASTER_PORT   where rank 0's rendezvous store listens; every process connects
                      there first to find the others

Without them (plain `python -m ...`) the program is the only process: rank 0 of a world of 1.

The backend carries the collective operations (all-reduce, broadcast, gather): NCCL between
CUDA GPUs, gloo between CPU processes (gloo also moves CUDA tensors, slowly). MPS has none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from shared.errors import CourseError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
BACKENDS = ("auto", "gloo", "nccl")


@dataclass(frozen=True)
class ProcessInfo:
    """Who this process is among those torchrun started (all zeros and ones when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    launched: bool = False  # started by torchrun (the variables were set)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProcessInfo:
        """Read torchrun's variables; none of them means a single process."""
        env = os.environ if env is None else env
        if "RANK" not in env:
            return cls()
        try:
            values = {name: int(env.get(name, "")) for name in TORCHRUN_VARIABLES}
        except ValueError:
            shown = ", ".join(f"{n}={env.get(n)!r}" for n in TORCHRUN_VARIABLES)
            raise CourseError(
                f"torchrun's variables must be integers ({shown}); start the run with "
                "torchrun (make train NPROC=2) or without any of them"
            ) from None
        info = cls(
            rank=values["RANK"],
            world_size=values["WORLD_SIZE"],
            local_rank=values["LOCAL_RANK"],
            local_world_size=values["LOCAL_WORLD_SIZE"],
            launched=True,
        )
        if not (0 <= info.rank < info.world_size and 0 <= info.local_rank < info.local_world_size):
            raise CourseError(
                f"RANK={info.rank} of WORLD_SIZE={info.world_size}, LOCAL_RANK={info.local_rank} "
                f"of LOCAL_WORLD_SIZE={info.local_world_size}: ranks must lie in 0 .. size - 1"
            )
        return info


def process_device(device: torch.device, info: ProcessInfo) -> torch.device:
    """The device of this process, given the run's device: each process takes its own GPU.

    `cuda` means cuda:LOCAL_RANK; a numbered GPU fits one process only; MPS fits one process.
    """
    if device.type == "mps" and info.world_size > 1:
        raise CourseError(
            "run.device=mps: no distributed backend moves MPS tensors, so several processes "
            "cannot train on it together; use NPROC=1, or run.device=cpu"
        )
    if device.type != "cuda":
        return device
    if device.index is not None and info.local_world_size > 1:
        raise CourseError(
            f"run.device={device} names one GPU, but {info.local_world_size} processes run on "
            "this machine and each takes its own (cuda:LOCAL_RANK); use run.device=cuda or auto"
        )
    if device.index is not None:
        return device
    count = torch.cuda.device_count()
    if info.local_rank >= count:
        raise CourseError(
            f"{info.local_world_size} processes on this machine, but it has {count} GPU(s): one "
            f"process per GPU, so use NPROC={count} or fewer (or run.device=cpu)"
        )
    return torch.device("cuda", info.local_rank)


def process_backend(requested: str, device: torch.device) -> str:
    """`auto` is nccl for CUDA devices and gloo otherwise; a named backend must exist here."""
    if requested not in BACKENDS:
        raise CourseError(f"--dist-backend {requested!r}: allowed are {', '.join(BACKENDS)}")
    backend = requested
    if requested == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and not (torch.cuda.is_available() and dist.is_nccl_available()):
        raise CourseError(
            "--dist-backend nccl needs CUDA GPUs and a PyTorch built with NCCL, and this machine "
            "has none; use gloo (the default on CPU): --dist-backend gloo"
        )
    if backend == "nccl" and device.type != "cuda":
        raise CourseError(
            f"--dist-backend nccl moves CUDA tensors only, but run.device is {device}; "
            "use --dist-backend gloo on CPU"
        )
    if backend == "gloo" and not dist.is_gloo_available():  # pragma: no cover - build-specific
        raise CourseError("this PyTorch has no gloo backend; use --dist-backend nccl on CUDA")
    return backend


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - macOS and Windows


def threads_per_process(info: ProcessInfo, cores: int | None = None) -> int:
    """Processes on one machine share its cores: each takes cores // LOCAL_WORLD_SIZE (>= 1).

    More threads than that makes the processes fight for cores, and a thread that loses waits
    at every parallel region of every operation.
    """
    cores = cpu_cores() if cores is None else cores
    return max(1, cores // info.local_world_size)
