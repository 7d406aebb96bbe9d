"""bfloat16 training in MLX: a bfloat16 forward and backward, float32 master weights, a run that
learns, loads and resumes, and losses close to float32's.

BFLOAT16_LOSS_TOLERANCE: a 12-step run of the tests' tiny model (2 x 16, dropout 0.1) in
bfloat16 against the same run in float32, every logged training loss; measured at most 1.1e-3
nats (over 40 steps: 2.1e-3) on the course machine's CPU, MLX 0.32.4.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
import torch
from mlx.utils import tree_flatten

from shared.errors import CourseError
from shared.runs import read_metrics
from week4_training.checkpoint import load_checkpoint
from week4_training.data import load_token_data
from week4_training.trainer import Trainer
from week6_optimizations.mlx_port import train_backend, train_mlx
from week6_optimizations.mlx_port.checkpoint import read_weights
from week6_optimizations.mlx_port.evaluate import evaluate_mlx
from week6_optimizations.mlx_port.precision import cast_floats, compute_dtype
from week6_optimizations.mlx_port.sample import to_mlx
from week6_optimizations.mlx_port.tests.fixtures import paired_models, run_config, tiny_config
from week6_optimizations.mlx_port.train_step import accumulate_gradients, loss_function
from week6_optimizations.mlx_port.trainer import check_config

BFLOAT16_LOSS_TOLERANCE = 0.01
MEASURED = ("tokens_per_s", "train_seconds")


def train_rows(run_dir) -> list[dict]:
    return [row for row in read_metrics(run_dir / "metrics.jsonl") if "loss" in row]


def eval_rows(run_dir) -> list[dict]:
    return [row for row in read_metrics(run_dir / "metrics.jsonl") if "val_loss" in row]


def test_the_step_is_the_bfloat16_model_s_step_with_float32_gradients():
    """The loss and gradients of a bfloat16 step are exactly those of a model whose weights
    are bfloat16 copies, the gradients arriving in float32; the float32 weights stay as they
    were (the optimizer, not the cast, changes them)."""
    config = tiny_config(position="rope", norm="rmsnorm", mlp="swiglu")
    _, model = paired_models(config)
    _, reference = paired_models(config)
    reference.update(cast_floats(reference.parameters(), mx.bfloat16))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, config.vocab_size, (1, 3, config.block_size + 1)).astype(np.int32)
    xs, ys = mx.array(ids[..., :-1]), mx.array(ids[..., 1:])
    before = {name: np.array(w) for name, w in tree_flatten(model.parameters())}

    loss, grads = accumulate_gradients(model, xs, ys, mx.bfloat16)
    reference_loss, reference_grads = nn.value_and_grad(reference, loss_function(reference))(
        xs[0], ys[0]
    )
    float32_loss, _ = accumulate_gradients(model, xs, ys)

    assert loss.item() == reference_loss.item()
    reference_grads = dict(tree_flatten(reference_grads))
    for name, grad in tree_flatten(grads):
        assert grad.dtype == mx.float32, name
        assert mx.array_equal(grad, reference_grads[name].astype(mx.float32)).item(), name
    for name, weight in tree_flatten(model.parameters()):
        assert weight.dtype == mx.float32 and np.array_equal(np.array(weight), before[name])
    assert 0 < abs(loss.item() - float32_loss.item()) < BFLOAT16_LOSS_TOLERANCE


def test_float16_is_refused_and_bfloat16_accepted(corpus, tmp_path):
    cfg = run_config(corpus, tmp_path)
    for dtype in ("float32", "bfloat16"):
        check_config(cfg.replace("train", dtype=dtype))
    with pytest.raises(CourseError, match=r"^train.dtype: .*got 'float16' .*GradScaler"):
        check_config(cfg.replace("train", dtype="float16"))
    assert compute_dtype("bfloat16") == mx.bfloat16


def test_a_bfloat16_run_learns_loads_and_stays_close_to_float32(corpus, tmp_path):
    changes = dict(max_iters=12, lr_decay_iters=12, eval_interval=6, log_interval=1)
    runs = {
        dtype: train_mlx(run_config(corpus, tmp_path / dtype, dtype=dtype, **changes))
        for dtype in ("float32", "bfloat16")
    }
    run_dir = runs["bfloat16"]
    evals = eval_rows(run_dir)
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 0.2  # it learned
    losses = {dtype: [row["loss"] for row in train_rows(run)] for dtype, run in runs.items()}
    assert len(losses["bfloat16"]) == 12
    np.testing.assert_allclose(
        losses["bfloat16"], losses["float32"], atol=BFLOAT16_LOSS_TOLERANCE, rtol=0
    )
    assert losses["bfloat16"] != losses["float32"]  # it did compute in bfloat16
    # The checkpoints hold the float32 masters, and both files load: MLX's and week 4's.
    weights, metadata = read_weights(run_dir)
    assert {w.dtype for w in weights.values()} == {mx.float32}
    assert metadata["config"]["train"]["dtype"] == "bfloat16"
    loaded = load_checkpoint(run_dir)
    x = torch.arange(16).reshape(1, 16) % 200
    with torch.no_grad():
        torch_logits, _ = loaded.model(x)
    np.testing.assert_allclose(
        np.array(to_mlx(loaded.model)(mx.array(x.numpy()))), torch_logits.numpy(), atol=1e-4
    )
    # Evaluation ran in bfloat16 (as week 4's does under autocast): close to float32's, not it.
    split = load_token_data(str(corpus), loaded.tokenizer).val
    model = to_mlx(loaded.model)
    settings = dict(block_size=16, batch_size=4, progress=False)
    in_bfloat16 = evaluate_mlx(model, split, dtype=mx.bfloat16, **settings)
    in_float32 = evaluate_mlx(model, split, **settings)
    assert loaded.step == evals[-1]["step"] == 12  # the best is the last, whose row says
    assert in_bfloat16.loss == pytest.approx(evals[-1]["val_loss"], abs=1e-12)
    assert 0 < abs(in_bfloat16.loss - in_float32.loss) < BFLOAT16_LOSS_TOLERANCE


def test_a_bfloat16_run_resumes_with_identical_metrics(corpus, tmp_path):
    cfg = run_config(corpus, tmp_path / "full", dtype="bfloat16", compile=True)
    full = read_metrics(train_mlx(cfg) / "metrics.jsonl")
    half = run_config(corpus, tmp_path / "half", dtype="bfloat16", compile=True)

    def trainer(cfg, **kwargs) -> Trainer:
        return Trainer(cfg, framework=train_backend, progress=False, log=lambda _: None, **kwargs)

    first = trainer(half.replace("train", max_iters=4))
    first.run()
    trainer(half, resume=first.run_dir).run()

    def comparable(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in row.items() if k not in MEASURED} for row in rows]

    assert comparable(read_metrics(first.run_dir / "metrics.jsonl")) == comparable(full)
