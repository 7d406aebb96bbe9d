"""Data parallelism with PyTorch's DistributedDataParallel: week 4's trainer, on N processes.

Every process (rank) holds a full copy of the model and the optimizer, draws its own batches,
and runs forward and backward on them. Before the optimizer step the gradients are averaged
across the ranks with an all-reduce:

    g = (g_0 + g_1 + ... + g_{N-1}) / N      on every rank, the same numbers

so each rank's AdamW takes the same step from the same weights and the copies never drift
apart. With equal per-rank batches, the mean of the per-rank mean gradients is the mean gradient
of the union batch: N processes of batch B train exactly like one process of batch N x B.

DDP does the averaging inside `backward()`: gradients are grouped into buckets, and a bucket is
all-reduced as soon as its gradients are ready, overlapping communication with the rest of the
backward pass. `model.no_sync()` turns that off for the micro-steps of gradient accumulation
before the last: the gradients add up locally and are averaged once. After the all-reduce the
gradients are identical on every rank, so `clip_grad_norm_` on any rank computes the *global*
norm, and clipping needs no communication of its own.

`DataParallel` is week 4's parallel strategy (`week4_training.parallel`) for this world.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from shared.errors import CourseError, describe_os_error
from week4_training.parallel import SingleProcess
from week6_optimizations.distributed.launch import ProcessInfo

T = TypeVar("T")


class DataParallel(SingleProcess):
    """The strategy of one rank in an initialised process group (see `process_group`)."""

    def __init__(self, info: ProcessInfo, device: torch.device, backend: str) -> None:
        self.rank = info.rank
        self.world_size = info.world_size
        self.local_rank = info.local_rank
        self.backend = backend
        self._device = device
        # NCCL moves GPU tensors only; gloo moves CPU tensors
        self.collective_device = device if backend == "nccl" else torch.device("cpu")

    def device(self, preferred: str) -> torch.device:
        """The device chosen for this rank when the group started (cuda:LOCAL_RANK on GPUs)."""
        return self._device

    def wrap(self, model: nn.Module) -> nn.Module:
        """DDP: broadcasts rank 0's weights now, averages gradients in every backward.

        It also copies rank 0's buffers to the others before each forward (for running
        statistics such as BatchNorm's); the GPT's one buffer is its constant causal mask.
        """
        device_ids = [self._device.index] if self._device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def no_sync(self, model: nn.Module) -> AbstractContextManager:
        """Backward without the all-reduce: gradients accumulate locally until the last one."""
        assert isinstance(model, DistributedDataParallel)  # the module `wrap` returned
        return model.no_sync()

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        """The element-wise sum of this tensor over every rank, on every rank."""
        moved = tensor.to(self.collective_device)
        dist.all_reduce(moved, op=dist.ReduceOp.SUM)
        return moved.to(tensor.device)

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any rank: the ranks stop at the same step."""
        vote = torch.tensor([int(flag)], device=self.collective_device)
        dist.all_reduce(vote, op=dist.ReduceOp.MAX)
        return bool(vote.item())

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj` (any picklable object), in rank order, on every rank."""
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered

    def on_main(self, work: Callable[[], T]) -> T | None:
        """Rank 0 runs `work`; its user error, if any, is raised on every rank.

        The others wait for rank 0's answer, so no rank races ahead of a folder being made, and
        a user error (a CourseError, or an OSError naming a file: a read-only or full disk)
        stops all ranks with the same line instead of leaving them hanging.
        """
        result, message = None, None
        if self.is_main:
            try:
                result = work()
            except CourseError as error:
                message = str(error)
            except OSError as error:
                message = describe_os_error(error)
                if message is None:
                    raise
        box = [message]
        dist.broadcast_object_list(box, src=0)
        if box[0] is not None:
            raise CourseError(box[0])
        return result

    def main_first(self, work: Callable[[], T]) -> T:
        """Rank 0 runs `work` (and fills a cache); then the other ranks run it (and read it)."""
        done = self.on_main(lambda: (work(),))  # rank 0: a 1-tuple of its result; the others: None
        return done[0] if done is not None else work()


@contextmanager
def process_group(info: ProcessInfo, device: torch.device, backend: str) -> Iterator[DataParallel]:
    """Join the other ranks (torchrun's MASTER_ADDR:MASTER_PORT), yield the strategy, leave.

    Alone (no torchrun), the group is a world of one kept in memory: the same code runs, every
    collective returns its input, and no port is opened.
    """
    if device.type == "cuda":
        torch.cuda.set_device(device)  # pragma: no cover - needs a GPU
    if info.launched:
        dist.init_process_group(backend, rank=info.rank, world_size=info.world_size)
    else:
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield DataParallel(info, device, backend)
    finally:
        dist.destroy_process_group()
