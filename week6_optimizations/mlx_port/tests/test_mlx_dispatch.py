"""`make train` (week 4's command) hands a `run.backend: mlx` config, or an MLX run to resume, to
the MLX port, week 4's `mlx` training backend (pyproject.toml's table), trained by week 4's loop."""

from __future__ import annotations

from shared.runs import read_metrics
from week4_training.cli import main as week4_main
from week6_optimizations.mlx_port.tests.fixtures import run_config


def test_week4_train_dispatches_mlx_configs_and_resumes(corpus, tmp_path, capsys):
    config_path = tmp_path / "mlx.yaml"
    cfg = run_config(corpus, tmp_path / "runs", max_iters=2, eval_interval=2, sample_tokens=0)
    config_path.write_text(cfg.to_yaml())
    assert week4_main(["train", "--config", str(config_path)]) == 0
    run_dir = tmp_path / "runs" / "mlx"
    assert (run_dir / "last.safetensors").is_file() and not (run_dir / "last.pt").exists()
    assert "(mlx," in capsys.readouterr().out
    assert week4_main(["train", "--resume", str(run_dir), "train.max_iters=4"]) == 0
    steps = [row["step"] for row in read_metrics(run_dir / "metrics.jsonl") if "val_loss" in row]
    assert steps == [0, 2, 4]
