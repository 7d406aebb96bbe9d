import subprocess
import sys

import pytest

from shared.errors import run_cli
from shared.paths import REPO_ROOT
from week4_training.cli import main


def cli(*argv) -> int:
    return run_cli(main, list(argv))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_train_eval_plot(config_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert cli("train", "--config", str(config_file), "train.max_iters=4") == 0
    out = capsys.readouterr().out
    assert "done: step 4" in out and "bits/byte" in out
    run_dir = runs / "test"
    assert {"samples.txt", "curves.png", "checkpoint.pt"} <= {p.name for p in run_dir.iterdir()}

    assert cli("eval", "--runs-dir", str(runs)) == 0
    out = capsys.readouterr().out
    assert f"most recent run, {run_dir}" in out and "bits per byte" in out
    assert cli("eval", "--checkpoint", str(run_dir / "last.pt")) == 0

    assert cli("train", "--config", str(config_file), "run.name=second", "train.max_iters=2") == 0
    capsys.readouterr()
    assert cli("plot", "--runs-dir", str(runs)) == 0
    out = capsys.readouterr().out
    assert str(runs / "plots" / "val_bits_per_byte.png") in out
    assert (runs / "second" / "curves.png").is_file()
    assert cli("plot", str(run_dir)) == 0


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_resume_continues_a_run(config_file, tmp_path, capsys):
    assert cli("train", "--config", str(config_file), "train.max_iters=4") == 0
    run_dir = tmp_path / "runs" / "test"
    assert cli("train", "--resume", str(run_dir), "train.max_iters=8") == 0
    out = capsys.readouterr().out
    assert "done: step 8" in out and "own" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--config", "missing.yaml"], "config file not found"),
        (["train", "--config", "{cfg}", "train.lr=-1"], "train.lr"),
        (["train", "--config", "{cfg}", "train.eval_iters=0"], "train.eval_iters"),
        (["train", "--config", "{cfg}", "train.nonsense=1"], "unknown key"),
        (["train", "--config", "{cfg}", "data.corpus=/no/such/file.txt"], "no such file"),
        (["train", "--config", "{cfg}", "--resume", "{tmp}"], "no last.pt"),
        (["eval", "--checkpoint", "{tmp}"], "checkpoint not found"),
        (["eval", "--runs-dir", "{tmp}"], "no run"),
        (["plot", "--runs-dir", "{tmp}"], "no run with a metrics.jsonl"),
        (["plot", "{tmp}"], "no metrics.jsonl"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(argv, message, config_file, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [a.format(cfg=config_file, tmp=empty) for a in argv]
    assert cli(*argv) == 2
    assert message in one_error_line(capsys)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_an_existing_run_is_refused_then_overwritten(config_file, capsys):
    assert cli("train", "--config", str(config_file), "train.max_iters=1") == 0
    capsys.readouterr()
    assert cli("train", "--config", str(config_file), "train.max_iters=1") == 2
    assert "already exists" in one_error_line(capsys)
    assert cli("train", "--config", str(config_file), "--overwrite", "1", "train.max_iters=1") == 0
    assert cli("train", "--config", str(config_file), "train.max_iters=1", "--overwrite") == 0
    capsys.readouterr()


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
@pytest.mark.parametrize("value", ["0", "no", "false", "maybe"])
def test_overwrite_means_yes_only_when_it_says_so(value, config_file, tmp_path, capsys):
    assert cli("train", "--config", str(config_file), "train.max_iters=1") == 0
    before = (tmp_path / "runs" / "test" / "last.pt").read_bytes()
    capsys.readouterr()
    argv = ["train", "--config", str(config_file), "--overwrite", value, "train.max_iters=1"]
    assert cli(*argv) == 2
    assert f"OVERWRITE={value}: allowed values are 1, yes, true" in one_error_line(capsys)
    assert (tmp_path / "runs" / "test" / "last.pt").read_bytes() == before


def test_bad_arguments_exit_2():
    assert cli("fly") == 2


def test_module_entry_point_exits_2_with_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "week4_training", "train", "--config", "no/such.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no/such.yaml: config file not found"
