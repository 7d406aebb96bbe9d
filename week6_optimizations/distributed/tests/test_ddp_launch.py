import pytest
import torch

from shared.errors import CourseError
from week6_optimizations.distributed.launch import (
    ProcessInfo,
    process_backend,
    process_device,
    threads_per_process,
)

TWO_HERE = ProcessInfo(rank=1, world_size=2, local_rank=1, local_world_size=2, launched=True)
TORCHRUN_ENV = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}


def test_torchrun_variables_say_who_a_process_is():
    assert ProcessInfo.from_env(TORCHRUN_ENV) == ProcessInfo(3, 4, 1, 2, launched=True)
    assert ProcessInfo.from_env({}) == ProcessInfo(0, 1, 0, 1, launched=False)


@pytest.mark.parametrize(
    "change, message",
    [({"RANK": "x"}, "must be integers"), ({"RANK": "4"}, "ranks must lie in")],
)
def test_broken_torchrun_variables_are_one_clear_error(change, message):
    with pytest.raises(CourseError, match=message):
        ProcessInfo.from_env({**TORCHRUN_ENV, **change})


def test_cpu_processes_keep_the_cpu_and_use_gloo():
    device = process_device(torch.device("cpu"), TWO_HERE)
    assert device == torch.device("cpu")
    assert process_backend("auto", device) == "gloo"
    assert process_backend("gloo", device) == "gloo"


def test_nccl_without_cuda_is_refused():
    with pytest.raises(CourseError, match="nccl needs CUDA GPUs"):
        process_backend("nccl", torch.device("cpu"))
    with pytest.raises(CourseError, match="allowed are auto, gloo, nccl"):
        process_backend("mpi", torch.device("cpu"))


def test_nccl_with_a_cpu_device_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_nccl_available", lambda: True)
    with pytest.raises(CourseError, match="CUDA tensors only"):
        process_backend("nccl", torch.device("cpu"))
    assert process_backend("auto", torch.device("cuda", 0)) == "nccl"


def test_each_process_takes_its_own_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert process_device(torch.device("cuda"), TWO_HERE) == torch.device("cuda", 1)
    alone = ProcessInfo()
    assert process_device(torch.device("cuda", 1), alone) == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(CourseError, match="has 1 GPU"):
        process_device(torch.device("cuda"), TWO_HERE)


@pytest.mark.parametrize(
    "device, message",
    [(torch.device("cuda", 0), "names one GPU"), (torch.device("mps"), "no distributed backend")],
)
def test_devices_several_processes_cannot_share(device, message):
    with pytest.raises(CourseError, match=message):
        process_device(device, TWO_HERE)


def test_processes_share_the_cores():
    assert threads_per_process(TWO_HERE, cores=16) == 8
    assert threads_per_process(TWO_HERE, cores=3) == 1
    assert threads_per_process(ProcessInfo(0, 4, 0, 4), cores=2) == 1  # never zero
    assert threads_per_process(ProcessInfo()) >= 1
