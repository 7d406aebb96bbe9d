"""Training runs in MLX: week 4's run folder and rows, exact resume, and the checkpoint files."""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np
import pytest
import torch

from shared.errors import CourseError, run_cli
from shared.runs import read_metrics
from week4_training.checkpoint import load_checkpoint
from week4_training.trainer import Trainer
from week6_optimizations.mlx_port import train_backend, train_mlx
from week6_optimizations.mlx_port.checkpoint import LAST_STATE, read_weights
from week6_optimizations.mlx_port.cli import main
from week6_optimizations.mlx_port.sample import to_mlx
from week6_optimizations.mlx_port.tests.fixtures import run_config

MEASURED = ("tokens_per_s", "train_seconds")  # wall-clock figures differ between runs


def comparable(rows):
    return [{k: v for k, v in row.items() if k not in MEASURED} for row in rows]


def mlx_trainer(cfg, **kwargs) -> Trainer:
    """Week 4's training loop with the MLX backend, without progress bars or messages."""
    return Trainer(cfg, framework=train_backend, progress=False, log=lambda _: None, **kwargs)


def test_a_run_writes_week4s_layout_and_rows(corpus, tmp_path):
    run_dir = train_mlx(run_config(corpus, tmp_path / "runs", grad_accum_steps=2))
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "checkpoint.pt",
        "checkpoint.safetensors",
        "last.safetensors",
        LAST_STATE,
        "samples.txt",
    ):
        assert (run_dir / name).is_file(), name
    rows = read_metrics(run_dir / "metrics.jsonl")
    train_rows = [r for r in rows if "loss" in r]
    eval_rows = [r for r in rows if "val_loss" in r]
    assert set(train_rows[0]) == {"step", "loss", "lr", "grad_norm", *MEASURED}
    assert set(eval_rows[0]) == {
        "step", "val_loss", "val_perplexity", "val_bits_per_byte", "val_exact"
    }  # fmt: skip
    assert all(r["val_exact"] for r in eval_rows)  # no train.eval_iters: the whole split
    assert [r["step"] for r in eval_rows] == [0, 4, 8]
    assert eval_rows[-1]["val_loss"] < eval_rows[0]["val_loss"]
    # checkpoint.pt is a week-4 checkpoint: PyTorch reads it and computes the same logits
    loaded = load_checkpoint(run_dir)
    weights, metadata = read_weights(run_dir)
    assert metadata["step"] == loaded.step and metadata["best_val_loss"] == loaded.best_val_loss
    x = torch.arange(16).reshape(1, 16) % 200
    with torch.no_grad():
        torch_logits, _ = loaded.model(x)
    np.testing.assert_allclose(
        np.array(to_mlx(loaded.model)(mx.array(x.numpy()))), torch_logits.numpy(), atol=1e-4
    )


def test_resume_gives_identical_metrics(corpus, tmp_path):
    cfg = run_config(corpus, tmp_path / "full", compile=True)
    full = read_metrics(train_mlx(cfg) / "metrics.jsonl")
    half = run_config(corpus, tmp_path / "half", compile=True)
    trainer = mlx_trainer(half.replace("train", max_iters=4))
    trainer.run()
    run_dir = trainer.run_dir
    resumed = mlx_trainer(half, resume=run_dir)
    assert resumed.state.step == 4
    resumed.run()
    assert comparable(read_metrics(run_dir / "metrics.jsonl")) == comparable(full)


def test_existing_runs_are_refused_and_overwrite_replaces_them(corpus, tmp_path):
    cfg = run_config(corpus, tmp_path / "runs", max_iters=2, eval_interval=2, sample_tokens=0)
    run_dir = train_mlx(cfg)
    with pytest.raises(CourseError, match="already exists"):
        train_mlx(cfg)
    assert train_mlx(cfg, overwrite=True) == run_dir
    with pytest.raises(CourseError, match="^train.dtype: .* float32 or bfloat16, got 'float16'"):
        mlx_trainer(cfg.replace("train", dtype="float16"), overwrite=True)


def test_activation_checkpointing_is_refused_in_one_line_before_any_work(corpus, tmp_path):
    """Week 4's `train.activation_checkpointing` recomputes PyTorch Blocks; the port has no
    such recomputation, so it says so instead of silently keeping every activation."""
    cfg = run_config(corpus, tmp_path / "runs", activation_checkpointing=True)
    refused = r"^train.activation_checkpointing: the MLX port"
    with pytest.raises(CourseError, match=refused) as error:
        mlx_trainer(cfg)
    assert "set train.activation_checkpointing=false" in str(error.value)
    assert "\n" not in str(error.value) and not (tmp_path / "runs").exists()


def test_cli_trains_resumes_and_converts(corpus, tmp_path, capsys):
    out = tmp_path / "runs"
    args = [
        "train",
        "--config",
        "configs/tiny_mlx.yaml",
        f"data.corpus={corpus}",
        "tokenizer.kind=bytes",
        "model.block_size=16",
        "model.n_layer=1",
        "model.n_embd=16",
        "model.n_head=2",
        "train.batch_size=2",
        "train.max_iters=2",
        "train.eval_interval=2",
        "train.compile=false",
        "train.sample_tokens=0",
        f"run.out_dir={out}",
    ]
    assert run_cli(main, args) == 0
    run_dir = out / "tiny_mlx"
    assert run_cli(main, ["train", "--resume", str(run_dir), "train.max_iters=3"]) == 0
    assert read_metrics(run_dir / "metrics.jsonl")[-1]["step"] == 3
    assert run_cli(main, ["train", "--resume", str(tmp_path)]) == 2
    assert "holds no last.safetensors" in capsys.readouterr().err
    mlx_file, torch_file = tmp_path / "w.safetensors", tmp_path / "back.pt"
    assert run_cli(main, ["convert", str(run_dir), str(mlx_file)]) == 0
    assert run_cli(main, ["convert", str(mlx_file), str(torch_file)]) == 0
    original, back = load_checkpoint(run_dir), load_checkpoint(torch_file)
    for name, tensor in original.model.state_dict().items():
        assert torch.equal(back.model.state_dict()[name], tensor)
    assert run_cli(main, ["convert", str(mlx_file), str(torch_file)]) == 2  # never overwrites
    assert run_cli(main, ["convert", str(run_dir / "config.yaml"), str(tmp_path / "x.pt")]) == 2
    assert run_cli(main, ["convert", str(run_dir), str(tmp_path / "x.pt")]) == 2
    assert run_cli(main, ["convert", str(mlx_file), str(tmp_path / "y.safetensors")]) == 2


def test_a_damaged_resume_state_is_a_clear_error(corpus, tmp_path):
    cfg = run_config(corpus, tmp_path / "runs", max_iters=2, eval_interval=2, sample_tokens=0)
    run_dir = train_mlx(cfg)
    with np.load(run_dir / LAST_STATE) as stored:
        state = {k: stored[k] for k in stored.files}
    state["step"] = np.array(1)
    with open(run_dir / LAST_STATE, "wb") as handle:
        np.savez(handle, **state)
    with pytest.raises(CourseError, match="crash between"):
        mlx_trainer(cfg, resume=run_dir)
    (run_dir / LAST_STATE).unlink()
    with pytest.raises(CourseError, match="missing"):
        mlx_trainer(cfg, resume=run_dir)
    (run_dir / "checkpoint.safetensors").write_bytes(json.dumps({"a": 1}).encode())
    with pytest.raises(CourseError, match="not a readable safetensors"):
        read_weights(run_dir)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: b"not an npz file " * 8, "ValueError"),
        (lambda data: data[: len(data) // 2], "BadZipFile"),
        (lambda data: b"", "EOFError"),
    ],
)
def test_a_garbage_training_state_is_one_line_naming_it(corpus, tmp_path, damage, reason):
    from week6_optimizations.mlx_port.checkpoint import read_state

    cfg = run_config(corpus, tmp_path / "runs", max_iters=2, eval_interval=2, sample_tokens=0)
    run_dir = train_mlx(cfg)
    path = run_dir / LAST_STATE
    assert int(read_state(path)["step"]) == 2
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CourseError, match=f"not a readable training state \\({reason}") as error:
        mlx_trainer(cfg, resume=run_dir)
    assert str(error.value).startswith(f"{path}: ")
    np.savez(path, step=np.array(2))  # an npz, but not one of ours
    with pytest.raises(CourseError, match="no 'rng.sampler'"):
        read_state(path)


def test_weights_holding_nan_are_refused(corpus, tmp_path):
    from week6_optimizations.mlx_port.convert import save_safetensors

    run_dir = train_mlx(run_config(corpus, tmp_path / "runs", max_iters=2, eval_interval=2))
    weights, metadata = read_weights(run_dir / "last.safetensors")  # metadata: format, version
    weights["ln_f.weight"] = mx.full(weights["ln_f.weight"].shape, mx.nan)
    save_safetensors(run_dir / "last.safetensors", weights, metadata)
    with pytest.raises(CourseError, match="'ln_f.weight' holds NaN or infinite values"):
        read_weights(run_dir / "last.safetensors")


def test_evaluation_shows_a_progress_bar(corpus, tmp_path, capsys):
    from week4_training.data import load_token_data
    from week6_optimizations.mlx_port.evaluate import evaluate_mlx

    cfg = run_config(corpus, tmp_path / "runs", max_iters=2, eval_interval=2, sample_tokens=0)
    run_dir = train_mlx(cfg)
    capsys.readouterr()
    model = to_mlx(load_checkpoint(run_dir).model)
    split = load_token_data(str(corpus), load_checkpoint(run_dir).tokenizer).val
    quiet = evaluate_mlx(model, split, block_size=16, batch_size=4, progress=False)
    assert "validation" not in capsys.readouterr().err
    shown = evaluate_mlx(model, split, block_size=16, batch_size=4)
    assert "validation:" in capsys.readouterr().err
    assert shown == quiet  # the bar changes nothing


def test_an_mlx_estimate_scores_week4s_windows(corpus, tmp_path):
    from week4_training.data import load_token_data
    from week4_training.evaluate import evaluate
    from week6_optimizations.mlx_port.evaluate import evaluate_mlx

    cfg = run_config(corpus, tmp_path / "runs", max_iters=2, eval_interval=2, sample_tokens=0)
    run_dir = train_mlx(cfg)
    loaded = load_checkpoint(run_dir)
    model = to_mlx(loaded.model)
    split = load_token_data(str(corpus), loaded.tokenizer).val
    settings = {"block_size": 16, "batch_size": 4, "max_windows": 6}
    estimate = evaluate_mlx(model, split, progress=False, **settings)
    reference = evaluate(loaded.model, split, **settings)
    assert not estimate.exact and not reference.exact
    assert (estimate.n_tokens, estimate.n_bytes) == (reference.n_tokens, reference.n_bytes)
    assert estimate.loss == pytest.approx(reference.loss, rel=1e-5)
    whole = evaluate_mlx(model, split, block_size=16, batch_size=4, progress=False)
    assert whole.exact and whole.n_tokens > estimate.n_tokens


MODERN_KEYS = [
    ("norm", "rmsnorm"),
    ("mlp", "swiglu"),
    ("mlp", "relu2"),
    ("d_ff", 64),
    ("n_kv_head", 1),
    ("qk_norm", True),
    ("logit_softcap", 30.0),
    ("rope_theta", 5e5),
    ("norm_eps", 1e-6),
]


@pytest.mark.parametrize(("key", "value"), MODERN_KEYS)
def test_every_modern_block_builds_with_pytorchs_parameters(key, value):
    """Nothing of week 6 is refused any more: each key builds, with PyTorch's names and shapes
    (test_mlx_modern.py checks that they also compute the same numbers)."""
    from week3_model import GPT, GPTConfig
    from week6_optimizations.mlx_port.convert import model_weights
    from week6_optimizations.mlx_port.model import MLXGPT

    config = GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8, **{key: value})
    shapes = {name: tuple(array.shape) for name, array in model_weights(MLXGPT(config)).items()}
    torch_shapes = {name: tuple(p.shape) for name, p in GPT(config).named_parameters()}
    assert shapes == torch_shapes


@pytest.mark.parametrize("key", ["attention", "position", "norm", "mlp"])
def test_a_block_the_port_lacks_is_refused_naming_its_key(key):
    """A table entry PyTorch has and MLX does not (a later lesson's, or a learner's) is one
    line naming the key and what the port builds, never a GPT-2 model in its place."""
    from week3_model import GPTConfig
    from week6_optimizations.mlx_port.model import MLXGPT

    config = GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8)
    setattr(config, key, "elsewhere")  # past GPTConfig's own check, as a PyTorch-only entry is
    with pytest.raises(CourseError, match=rf"^model\.{key}: the MLX port builds .*'elsewhere'"):
        MLXGPT(config)
