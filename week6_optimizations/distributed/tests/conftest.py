"""Fixtures for the data-parallel tests: a small corpus, a tiny config, and torchrun launches."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
import torch

import week2_tokenizer  # noqa: F401 - registers the tokenizer section
import week3_model  # noqa: F401 - registers the model section
import week4_training.config  # noqa: F401 - registers the train section
from shared.config import config_from_dict
from shared.paths import REPO_ROOT
from week6_optimizations.distributed.torchrun import torchrun_command

# Tiny models gain nothing from threads; the launched processes get one each as well.
torch.set_num_threads(1)

WORDS = (
    "the", "king", "queen", "speak", "love", "night", "day", "sword", "crown", "heart", "fair",
    "come", "go", "thou", "my", "good", "now", "here", "why",
)  # fmt: skip


def make_text(n_lines: int = 240, seed: int = 0) -> str:
    """Deterministic play-like text, about 30 bytes a line."""
    rng = random.Random(seed)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))) for _ in range(n_lines)]
    return "\n".join(line.capitalize() + "." for line in lines) + "\n"


def tiny_values(corpus: Path, out_dir: Path) -> dict:
    """A model of a few thousand parameters, byte tokenizer, 4-step runs evaluated every 2."""
    return {
        "data": {"corpus": str(corpus)},
        "tokenizer": {"kind": "bytes"},
        "model": {"block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16, "dropout": 0.0},
        "train": {
            "batch_size": 3,
            "max_iters": 4,
            "lr": 3e-3,
            "min_lr": 3e-4,
            "warmup_iters": 1,
            "lr_decay_iters": 4,
            "eval_interval": 2,
            "log_interval": 1,
            "sample_tokens": 8,
        },
        "run": {"name": "test", "out_dir": str(out_dir), "device": "cpu"},
    }


class Workspace:
    """A folder with the corpus, the config file, a token cache and a runs/ folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.corpus = root / "corpus.txt"
        self.corpus.write_text(make_text(), encoding="utf-8")
        self.runs = root / "runs"
        self.cache = root / "cache"
        self.config_file = root / "tiny.yaml"
        self.config_file.write_text(self.config().to_yaml())

    def config(self, *overrides: str):
        return config_from_dict(tiny_values(self.corpus, self.runs), list(overrides))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
        env.update(COURSE_DATA_DIR=str(self.cache), OMP_NUM_THREADS="1")
        return env

    def torchrun(self, nproc: int, *args: str, retry: bool = True) -> subprocess.CompletedProcess:
        """`make train NPROC=nproc`: torchrun on 127.0.0.1 with a free port (--standalone)."""
        command = torchrun_command(nproc, args)
        result = self._run(command)
        if result.returncode != 0 and retry:
            # Launching is the one non-deterministic part (free ports, process start-up on a busy
            # machine). A real bug fails the same way twice; a launch hiccup does not. The first
            # failure is reported as a warning, so a retry never hides it. A new run's folder is
            # the test's own: what the failed launch left of it goes, so the retry starts afresh.
            warnings.warn(
                f"torchrun launch failed once, retrying: {result.stderr[:1500]} [...] "
                f"{result.stderr[-1500:]}",
                stacklevel=2,
            )
            names = [a.split("=", 1)[1] for a in args if a.startswith("run.name=")]
            if "--resume" not in args and names and (self.runs / names[-1]).is_dir():
                shutil.rmtree(self.runs / names[-1])
            result = self._run(command)
        return result

    def _run(self, command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, cwd=REPO_ROOT, env=self.env(), capture_output=True, text=True, timeout=180
        )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("ddp"))


@pytest.fixture(autouse=True)
def single_process_env(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process code runs as a lone process with the workspace's token cache."""
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(workspace.cache))
