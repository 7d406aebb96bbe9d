"""The whole path a learner walks, through the real commands: a corpus, a tokenizer trained on
it, a model trained, evaluated, resumed and sampled from; and the one-line errors on the way."""

from __future__ import annotations

import json

import pytest

from tests.conftest import course


def _eval_rows(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row for row in rows if "val_loss" in row]


@pytest.fixture
def trained(config_file, tmp_path):
    """Train the tiny config once through week 4's command; return the run folder."""
    result = course("week4_training", "train", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    return tmp_path / "runs" / "path"


def test_corpus_to_samples(trained, tmp_path):
    for name in ("config.yaml", "metrics.jsonl", "checkpoint.pt", "last.pt", "samples.txt"):
        assert (trained / name).is_file(), name
    assert (tmp_path / "tokenizer.json").is_file()  # week 2's tokenizer, trained on first use
    rows = _eval_rows(trained)
    assert [row["step"] for row in rows] == [0, 15, 30]
    # The model learned: bits per byte fall well below the untrained model's.
    assert rows[-1]["val_bits_per_byte"] < rows[0]["val_bits_per_byte"] - 1.0

    # Week 4's eval recomputes the best checkpoint's number exactly.
    evaluation = course("week4_training", "eval", "--checkpoint", str(trained))
    assert evaluation.returncode == 0, evaluation.stderr
    best = min(rows, key=lambda row: row["val_loss"])
    assert f"bits per byte      {best['val_bits_per_byte']:.4f}" in evaluation.stdout

    # Week 5 samples: one seed, one text; another seed, another text.
    args = ["week5_generation", "sample", "--checkpoint", str(trained), "--prompt", "ROMEO:"]
    args += ["--max-new-tokens", "40", "--temperature", "1.0"]
    first, again = course(*args, "--seed", "1"), course(*args, "--seed", "1")
    other = course(*args, "--seed", "2")
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout and first.stdout != other.stdout
    assert "ROMEO:" in first.stdout


def test_resume_continues_with_identical_metrics(config_file, tmp_path):
    full = course("week4_training", "train", "--config", str(config_file), "run.name=full")
    half = course(
        "week4_training",
        "train",
        "--config",
        str(config_file),
        "run.name=half",
        "train.max_iters=15",
    )
    assert full.returncode == 0 and half.returncode == 0, full.stderr + half.stderr
    resumed = course(
        "week4_training",
        "train",
        "--resume",
        str(tmp_path / "runs" / "half"),
        "train.max_iters=30",
    )
    assert resumed.returncode == 0, resumed.stderr

    def comparable(run):
        rows = (tmp_path / "runs" / run / "metrics.jsonl").read_text().splitlines()
        timing = ("tokens_per_s", "train_seconds")
        return [{k: v for k, v in json.loads(r).items() if k not in timing} for r in rows]

    # Both runs follow one schedule (warmup 5, cosine over lr_decay_iters=30); the half run just
    # stops at step 15, and resuming it with max_iters=30 must write exactly the full run's rows.
    assert comparable("half") == comparable("full")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "configs/nope.yaml"], "configs/nope.yaml: config file not found"),
        (["--config", "configs/tiny.yaml", "train.max_itres=3"], "train.max_itres: unknown key"),
        (["--config", "configs/tiny.yaml", "model.n_head=3"], "model.n_embd: must be divisible"),
    ],
)
def test_config_errors_are_one_line_and_exit_2(args, message):
    _assert_one_line_error(course("week4_training", "train", *args), message)


def test_other_commands_errors_are_one_line_too():
    missing = course(
        "week5_generation", "sample", "--checkpoint", "runs/no-such-run", "--prompt", "x"
    )
    _assert_one_line_error(missing, "runs/no-such-run")
    _assert_one_line_error(course("week2_tokenizer", "train", "--vocab-size", "100"), "vocab")


def _assert_one_line_error(result, message):
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_an_existing_run_is_never_overwritten_unasked(trained, config_file):
    before = (trained / "checkpoint.pt").read_bytes()
    again = course("week4_training", "train", "--config", str(config_file))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert (trained / "checkpoint.pt").read_bytes() == before
