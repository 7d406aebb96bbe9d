"""Week 6, part 3: training on several processes with PyTorch's DistributedDataParallel.

launch.py     what torchrun tells each process (RANK, WORLD_SIZE, LOCAL_RANK, ...); the device,
              backend (gloo on CPU, nccl on GPUs) and CPU threads each process takes
strategy.py   DataParallel: week 4's parallel strategy with DDP, all-reduce and friends;
              process_group() joins the other ranks
torchrun.py   make train NPROC=N: check NPROC and the command once, start torchrun, and end a
              failure on the rank's own error line
cli.py        the commands: launch (the above), check, and train (what every rank runs)

The lesson is README.md in this folder.
"""

from week6_optimizations.distributed.launch import (
    ProcessInfo,
    process_backend,
    process_device,
    threads_per_process,
)
from week6_optimizations.distributed.strategy import DataParallel, process_group

__all__ = [
    "DataParallel",
    "ProcessInfo",
    "process_backend",
    "process_device",
    "process_group",
    "threads_per_process",
]
