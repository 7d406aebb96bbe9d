"""How many processes train together: the extension point for data-parallel training.

The trainer asks a *parallel strategy* every question whose answer depends on the number of
processes. `SingleProcess`, the default, gives the one-process answers, so week 4 runs exactly
as if the question was never asked; week 6's multi-process training subclasses it with
PyTorch's DistributedDataParallel, where each of `world_size` processes (ranks) trains on
its own batches and the gradients are averaged across them before every optimizer step.

    rank, world_size, is_main   which process this is; rank 0 alone writes files and prints
    device(preferred)           the device this process trains on
    wrap(model)                 the module the training forward/backward goes through
    no_sync(model)              skip the gradient exchange (all micro-steps but the last)
    all_reduce_sum(tensor)      the element-wise sum over every process's tensor
    any(flag)                   True if any process says True (agreeing to stop together)
    gather(obj)                 every process's object, in rank order
    on_main(work)               rank 0 does `work` alone (writing a folder), the others wait
    main_first(work)            rank 0 does `work` first (building a cache), then the others
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from shared.device import pick_device

T = TypeVar("T")


class SingleProcess:
    """One process, nothing to synchronise: every method is the identity or a plain call."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the logs, metrics, plots and checkpoints; the others only train."""
        return self.rank == 0

    def device(self, preferred: str) -> torch.device:
        return pick_device(preferred)

    def wrap(self, model: nn.Module) -> nn.Module:
        return model

    def no_sync(self, model: nn.Module) -> AbstractContextManager:
        return nullcontext()

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        return tensor

    def any(self, flag: bool) -> bool:
        return flag

    def gather(self, obj: Any) -> list[Any]:
        return [obj]

    def on_main(self, work: Callable[[], T]) -> T | None:
        return work()

    def main_first(self, work: Callable[[], T]) -> T:
        return work()
