"""`make train NPROC=N` checks the command once before torchrun: user errors are one line."""

from __future__ import annotations

from shared.errors import run_cli
from week6_optimizations.distributed.cli import main


def _config(tmp_path, name="ddp"):
    path = tmp_path / "c.yaml"
    path.write_text(f"tokenizer:\n  kind: bytes\nrun:\n  name: {name}\n  out_dir: {tmp_path}\n")
    return str(path)


def test_a_valid_command_passes_and_config_errors_are_one_line(tmp_path, capsys):
    assert run_cli(main, ["check", "--config", _config(tmp_path)]) == 0
    capsys.readouterr()
    assert run_cli(main, ["check", "--config", _config(tmp_path), "model.n_head=5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "model.n_embd: must be divisible" in err
    assert err.count("\n") == 1


def test_an_existing_run_is_refused_unless_asked(tmp_path, capsys):
    (tmp_path / "ddp").mkdir()
    (tmp_path / "ddp" / "metrics.jsonl").write_text("{}\n")
    assert run_cli(main, ["check", "--config", _config(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert run_cli(main, ["check", "--config", _config(tmp_path), "--overwrite"]) == 0
    assert (tmp_path / "ddp" / "metrics.jsonl").is_file()  # checking changes nothing
    resume = ["check", "--config", _config(tmp_path), "--resume", str(tmp_path / "ddp")]
    assert run_cli(main, resume) == 2
    assert "no last.pt" in capsys.readouterr().err


def test_mlx_runs_are_refused_under_ddp(tmp_path, capsys):
    assert run_cli(main, ["check", "--config", _config(tmp_path), "run.backend=mlx"]) == 2
    assert "trains in one process without DDP" in capsys.readouterr().err
