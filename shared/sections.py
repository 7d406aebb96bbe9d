"""The config sections that belong to no single week: `data` (which corpus) and `run` (naming, seed,
device). Week 2 adds `tokenizer`, week 3 `model`, week 4 `train`, week 5 `sample`."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import check

# The largest seed every generator takes as it is (PyTorch's and MLX's are 64-bit integers).
MAX_SEED = 2**63 - 1


@dataclass
class DataConfig:
    """Where the text comes from.

    corpus: a known file of `make data` (see `shared.data.KNOWN_FILES`) or a path to a UTF-8 text
        file: the last 10% of its characters are the validation split (week 1's rule); or the
        name of a corpus prepared by `make prepare NAME=...`, whose manifest says what its
        validation split is (week 4's corpus_format.py).
    """

    corpus: str = "tinyshakespeare.txt"

    def __post_init__(self) -> None:
        allowed = "a known corpus name, a path to a text file or a prepared corpus's name"
        check(bool(self.corpus), "corpus", allowed)


@dataclass
class RunConfig:
    """How a run is named, seeded and placed.

    name: the folder under `out_dir` that the run writes (`runs/<name>/`).
    seed: one seed for Python, NumPy, PyTorch and MLX random numbers; one seed, one result.
    device: `auto` picks cuda > mps > cpu; or name one of them.
    out_dir: where run folders live.
    backend: `torch`, or `mlx` for the week-6 MLX port.
    """

    name: str = "run"
    seed: int = 1337
    device: str = "auto"
    out_dir: str = "runs"
    backend: str = "torch"

    def __post_init__(self) -> None:
        allowed_chars = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        check(
            bool(self.name) and set(self.name) <= allowed_chars and not self.name.startswith("."),
            "name",
            "a folder name of letters, digits, '-', '_' and '.'",
        )
        check(
            0 <= self.seed <= MAX_SEED, "seed", f"an integer from 0 to {MAX_SEED}, got {self.seed}"
        )
        check(
            self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
            "device",
            "one of auto, cpu, cuda, cuda:N, mps",
        )
        check(self.backend in ("torch", "mlx"), "backend", "torch or mlx")
