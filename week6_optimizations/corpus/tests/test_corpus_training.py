"""Training on a prepared corpus (`data.corpus: <name>`): week 4's loop, resumed exactly across
shards, evaluated on the validation shards' bytes, in memory that does not grow with the corpus.
(The whole path through the Makefile, `make prepare` then `make train`, is a cross-week test:
tests/catalogue/test_corpus_cases.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.config import config_from_dict
from shared.data import prepared_dir
from shared.runs import read_metrics
from week2_tokenizer import Tokenizer
from week4_training.checkpoint import read_checkpoint
from week4_training.data import BatchSampler, load_token_data
from week4_training.trainer import Trainer
from week6_optimizations.corpus.manifest import FORMAT, VERSION, split_summary, write_manifest
from week6_optimizations.corpus.prepare import prepare
from week6_optimizations.corpus.shards import ShardWriter
from week6_optimizations.corpus.tests.corpora import write_documents

ROOT = Path(__file__).resolve().parents[3]
MEASURED = ("tokens_per_s", "train_seconds")


def run_config(out: Path, *overrides: str):
    values = {
        "data": {"corpus": "plays"},
        "tokenizer": {"kind": "bytes"},
        "model": {"block_size": 32, "n_layer": 1, "n_head": 2, "n_embd": 16},
        "train": {
            "batch_size": 8,
            "max_iters": 8,
            "warmup_iters": 2,
            "lr_decay_iters": 8,
            "eval_interval": 4,
            "log_interval": 1,
            "sample_tokens": 0,
        },
        "run": {"name": "full", "out_dir": str(out), "device": "cpu"},
    }
    return config_from_dict(values, overrides)


@pytest.fixture
def plays(tmp_path, cache) -> Path:
    """A prepared corpus of 60 documents in shards of at most 1024 tokens (about 25 of them)."""
    write_documents(tmp_path / "data", range(60))
    settings = config_from_dict(
        {"tokenizer": {"kind": "bytes"}}, ["prepare.shard_tokens=1024", "prepare.val_fraction=0.2"]
    )
    return prepare(str(tmp_path / "data"), "plays", settings, progress=False)


def rows(run_dir: Path) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in MEASURED}
        for row in read_metrics(run_dir / "metrics.jsonl")
    ]


def quiet(cfg, **kwargs) -> Trainer:
    return Trainer(cfg, progress=False, log=lambda _: None, **kwargs)


def test_the_splits_are_the_shards_and_their_bytes(plays):
    manifest = (plays / "manifest.json").read_text()
    data = load_token_data("plays", Tokenizer.load(plays / "tokenizer.json"))
    assert data.folder == plays and not data.rebuilt
    for split, part in (("train", data.train), ("val", data.val)):
        records = json.loads(manifest)["splits"][split]["shards"]
        stream = np.concatenate([np.fromfile(plays / r["file"], dtype=np.uint16) for r in records])
        np.testing.assert_array_equal(np.asarray(part.tokens), stream)
        assert part.n_bytes == sum(r["bytes"] for r in records)
    assert len(records) > 1 or split == "val"


def test_a_resumed_run_on_shards_writes_the_metrics_of_an_uninterrupted_one(plays, tmp_path):
    full = quiet(run_config(tmp_path / "runs")).run()
    half = quiet(run_config(tmp_path / "runs", "run.name=half", "train.max_iters=4")).run()
    saved = read_checkpoint(half.run_dir / "last.pt")["config"]
    resumed = quiet(config_from_dict(saved, ["train.max_iters=8"]), resume=half.run_dir).run()
    assert resumed.step == 8 and rows(resumed.run_dir) == rows(full.run_dir)
    assert rows(full.run_dir)[-1]["val_bits_per_byte"] > 0


def big_corpus(name: str, train_tokens: int) -> Path:
    """A prepared corpus of `train_tokens` byte tokens in 16M-token shards, written directly."""
    folder = prepared_dir(name)
    folder.mkdir(parents=True)
    tokenizer = Tokenizer.bytes_only()
    tokenizer.save(folder / "tokenizer.json")
    pattern = np.frombuffer(b"ROMEO:\nO love, my night, what light is this?\n\n" * 40, np.uint8)
    writers = {s: ShardWriter(folder, s, np.dtype(np.uint16), 2**24) for s in ("train", "val")}
    for split, total, size in (("train", train_tokens, 2**20), ("val", 2**13, 2**13)):
        for _ in range(total // size):
            writers[split].add(np.resize(pattern, size).astype(np.uint16), size)
        writers[split].flush()
    write_manifest(
        folder,
        {
            "format": FORMAT,
            "version": VERSION,
            "name": name,
            "data": "generated",
            "dtype": "uint16",
            "tokenizer": {
                "file": "tokenizer.json",
                "kind": "bytes",
                "vocab_size": 257,
                "sha256": tokenizer.sha256,
                "trained_on": None,
            },
            "splits": {s: split_summary(w.records) for s, w in writers.items()},
        },
    )
    return folder


def peak_rss_mb(args: list[str], env: dict[str, str]) -> float:
    """Peak resident memory of the command, alone (a fresh parent counts only it)."""
    probe = (
        "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.split()[-1]) / 1024


def test_memory_does_not_grow_with_the_corpus(tmp_path, cache):
    """A 128 MB corpus (64M tokens) trains in the memory of a 2 MB one: a run holds its batches,
    never the shards."""
    big_corpus("small", 2**20)
    big_corpus("big", 64 * 2**20)
    env = dict(os.environ, OMP_NUM_THREADS="1", COURSE_DATA_DIR=str(cache))
    peaks = {}
    for name in ("small", "big"):
        args = [
            sys.executable,
            "-m",
            "week4_training",
            "train",
            "--config",
            "configs/baby.yaml",
            f"data.corpus={name}",
            "model.n_layer=1",
            "model.n_embd=32",
            "model.n_head=2",
            "train.max_iters=3",
            "train.eval_interval=3",
            "train.eval_iters=2",
            "train.sample_tokens=0",
            f"run.name={name}",
            f"run.out_dir={tmp_path / 'runs'}",
        ]
        peaks[name] = peak_rss_mb(args, env)
    assert peaks["big"] < peaks["small"] + 32, peaks  # the corpus grew by 126 MB


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_drawing_windows_all_over_a_big_corpus_keeps_memory_flat(cache):
    """40,000 random windows over 128 MB of tokens: a memory map would have made most of the
    file resident (each page fault maps its neighbours too); reading them keeps only the batch."""
    folder = big_corpus("big", 64 * 2**20)
    tokenizer = Tokenizer.load(folder / "tokenizer.json")
    data = load_token_data("big", tokenizer)
    sampler = BatchSampler(data.train.tokens, 64, 16, seed=1)
    sampler.next_batch(torch.device("cpu"))
    before = resident_mb()
    for _ in range(2500):
        sampler.next_batch(torch.device("cpu"))
    assert resident_mb() - before < 16
