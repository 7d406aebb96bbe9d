"""configs/gpt2-small.yaml: GPT-2 small's shape and count, nanoGPT's recipe, and two real
optimizer steps of the 124M model on a CPU (a short context and a small batch, so they take
seconds; a full step is 40 micro-batches of 12 x 1024 tokens)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import week2_tokenizer  # noqa: F401 - registers the tokenizer section
import week4_training.config  # noqa: F401 - registers the train section
from shared.config import load_config
from shared.data import fetch, read_text
from shared.device import autocast
from shared.paths import CONFIGS_DIR
from week2_tokenizer import load_or_train_tokenizer
from week3_model import GPT
from week3_model.summary import meta_model, model_config
from week4_training.cli import TRAIN_SECTIONS
from week4_training.data import BatchSampler
from week4_training.optim import build_optimizer, set_learning_rate
from week4_training.schedule import schedule_from_config
from week4_training.step import make_scaler, optimizer_step
from week4_training.trainer import resolve_model_config

GPT2_SMALL = CONFIGS_DIR / "gpt2-small.yaml"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # CI's mirror
CPU = torch.device("cpu")


@pytest.fixture
def gpt2_files(monkeypatch):
    """GPT-2's tokenizer files: from the course's cache (make data), else from the mirror
    beside the repository, never from the network."""
    if not os.environ.get("COURSE_DATA_MIRROR") and SHARED_DATA.is_dir():
        monkeypatch.setenv("COURSE_DATA_MIRROR", str(SHARED_DATA))


def test_the_shape_is_gpt2_smalls_and_so_is_the_count():
    config = load_config(GPT2_SMALL, sections=TRAIN_SECTIONS)
    model = config.model
    assert (model.n_layer, model.n_head, model.n_embd, model.block_size) == (12, 12, 768, 1024)
    assert (model.position, model.norm, model.mlp, model.tie_weights) == (
        "learned", "layernorm", "gelu", True
    )  # fmt: skip
    assert config.tokenizer.kind == "gpt2"
    gpt = meta_model(model_config(str(GPT2_SMALL), [], None))
    assert gpt.config.vocab_size == 50257
    assert gpt.num_parameters() == 124_439_808  # what `make params` prints, and GPT-2's own


def test_the_recipe_is_nanogpts_gpt2_reproduction():
    train = load_config(GPT2_SMALL, sections=TRAIN_SECTIONS).train
    tokens_per_step = train.batch_size * train.grad_accum_steps * 1024
    assert tokens_per_step == 491_520 == 12 * 1024 * 5 * 8  # nanoGPT's "~0.5M"
    assert (train.lr, train.min_lr, train.beta1, train.beta2) == (6e-4, 6e-5, 0.9, 0.95)
    assert (train.weight_decay, train.warmup_iters, train.lr_decay_iters) == (0.1, 2000, 600000)
    assert train.dtype == "bfloat16" and train.activation_checkpointing is False
    with autocast(CPU, train.dtype):  # accepted here too (slow on CPUs without bfloat16 units)
        pass


@pytest.mark.task("4.1", "4.4", "4.5", "6.3")  # batches, the step; sdpa attention
def test_the_124m_model_builds_and_takes_two_training_steps_on_a_cpu(gpt2_files):
    small = ["model.block_size=32", "train.batch_size=2", "train.grad_accum_steps=1"]
    fast = ["train.dtype=float32", "train.warmup_iters=0"]  # this CPU: no bfloat16 arithmetic
    cfg = load_config(GPT2_SMALL, small + fast, sections=TRAIN_SECTIONS)
    tokenizer = load_or_train_tokenizer(cfg.tokenizer, cfg.data.corpus)  # GPT-2's, 50,257
    cfg = resolve_model_config(cfg, tokenizer)
    text = read_text(fetch("tinyshakespeare.txt"))[:4000]
    tokens = np.asarray(tokenizer.encode(text), dtype=np.uint16)  # as week 4 stores them
    sampler = BatchSampler(tokens, cfg.model.block_size, cfg.train.batch_size, cfg.run.seed)
    torch.manual_seed(cfg.run.seed)
    model = GPT(cfg.model).train()
    assert model.num_parameters() == 124_439_808 - (1024 - 32) * 768  # a shorter position table
    optimizer = build_optimizer(model, cfg.train, CPU)
    schedule = schedule_from_config(cfg.train)
    batch = [sampler.next_batch(CPU)]
    losses = []
    for step in range(2):
        set_learning_rate(optimizer, schedule(step))
        result = optimizer_step(model, optimizer, make_scaler(CPU, "float32"), batch, grad_clip=1.0)
        losses.append(result.loss)
    assert losses[0] == pytest.approx(math.log(50257), rel=0.05)  # uniform at initialisation
    assert losses[1] < losses[0]  # the second step sees the same batch: the first one learned
