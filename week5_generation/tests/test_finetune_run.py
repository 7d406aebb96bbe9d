"""A whole fine-tuning run, in this process: it learns, resumes exactly, leaves the base alone,
and what it writes is a checkpoint that `make sample` and `make chat` talk to in its template."""

from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import shared.data as data
from shared.errors import run_cli
from week2_tokenizer import Tokenizer
from week4_training.checkpoint import load_checkpoint
from week5_generation.cli import main as sample_main
from week5_generation.finetune.chat import ChatHistory, answer, fitted_history
from week5_generation.finetune.cli import main
from week5_generation.finetune.setup import load_examples, load_start, new_run_config
from week5_generation.finetune.template import END, TEMPLATE_TOKENS, Message
from week5_generation.finetune.training import FineTuner
from week5_generation.finetune.vocabulary import with_special_tokens
from week5_generation.loading import load_source
from week5_generation.tests.conftest import save_course_checkpoint
from week5_generation.tests.test_cli import hf_gpt2_state_dict

TIMING = {"tokens_per_s", "train_seconds"}


def write_base(run_dir: Path) -> Path:
    """A week-4 checkpoint of a random byte-level model with a 32-token context."""
    return save_course_checkpoint(run_dir, Tokenizer.bytes_only(), block_size=32)


def write_examples(path: Path, n: int = 60) -> Path:
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(n):
            a, b = rng.randint(0, 4), rng.randint(0, 4)
            out.write(json.dumps({"prompt": f"{a}+{b}", "completion": str(a + b)}) + "\n")
    return path


@pytest.fixture
def base(tmp_path) -> Path:
    return write_base(tmp_path / "runs" / "base")


@pytest.fixture
def examples(tmp_path) -> Path:
    return write_examples(tmp_path / "sums.jsonl")


def train_args(base: Path, examples: Path, out_dir: Path, *more: str) -> list[str]:
    return [
        "train",
        "--base",
        str(base),
        "--data",
        str(examples),
        f"run.out_dir={out_dir}",
        "run.name=tuned",
        "train.dtype=float32",
        "train.batch_size=8",
        "train.lr=3e-3",
        "train.warmup_iters=2",
        "train.sample_tokens=4",
        "train.log_interval=2",
        *more,
    ]


def rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.task("5.4", "5.5", "5.7", "5.8", "5.9", "5.10")
def test_fine_tuning_lowers_the_held_out_answer_loss_and_leaves_the_base_alone(
    base, examples, tmp_path, capsys
):
    before = folder_digest(base)
    args = train_args(
        base, examples, tmp_path / "runs", "train.max_iters=40", "train.eval_interval=20"
    )
    assert run_cli(main, args) == 0
    evaluations = [r for r in rows(tmp_path / "runs" / "tuned") if "val_loss" in r]
    losses = [r["val_loss"] for r in evaluations]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.75 * losses[0]
    assert folder_digest(base) == before
    out = capsys.readouterr().out
    assert "train: 5" in out and "held-out: " in out and "fine-tuning " in out
    tuned = tmp_path / "runs" / "tuned"
    for name in ("checkpoint.pt", "last.pt", "config.yaml", "samples.txt", "curves.png"):
        assert (tuned / name).is_file(), name
    assert "expected: " in (tuned / "samples.txt").read_text()


@pytest.mark.task("5.4", "5.5", "5.7", "5.8", "5.9", "5.10")
def test_the_run_carries_the_grown_tokenizer_and_its_rows(base, examples, tmp_path):
    args = train_args(
        base, examples, tmp_path / "runs", "train.max_iters=2", "train.eval_interval=2"
    )
    assert run_cli(main, args) == 0
    loaded = load_checkpoint(tmp_path / "runs" / "tuned")
    assert all(token in loaded.tokenizer.special_tokens for token in TEMPLATE_TOKENS)
    assert loaded.model.config.vocab_size == loaded.tokenizer.vocab_size == 261
    assert loaded.config.finetune.base == str(base)
    assert (
        loaded.config.finetune.data_sha256
        == hashlib.sha256(examples.read_bytes() + b"\0").hexdigest()
    )


def _trainer(base: Path, examples: Path, out_dir: Path, resume: Path | None = None) -> FineTuner:
    overrides = train_args(base, examples, out_dir, "train.max_iters=12", "train.eval_interval=4")
    overrides = [o for o in overrides if "=" in o and not o.startswith("--")]
    if resume is None:
        start = load_start(str(base), None, say=lambda _: None)
        chosen = {"base": str(base), "data": str(examples)}
        cfg = new_run_config("configs/finetune.yaml", start, chosen, overrides)
        tokenizer, model = start.tokenizer, start.model
    else:
        loaded = load_checkpoint(resume / "last.pt")
        cfg, tokenizer, model = loaded.config, loaded.tokenizer, None
    data_ = load_examples(cfg, tokenizer, say=lambda _: None)
    return FineTuner(
        cfg,
        tokenizer=tokenizer,
        data=data_,
        start=model,
        resume=resume,
        progress=False,
        log=lambda _: None,
    )


@pytest.mark.task("5.4", "5.5", "5.7", "5.8", "5.9", "5.10")
def test_a_resumed_run_writes_the_rows_of_an_uninterrupted_one(base, examples, tmp_path):
    straight = _trainer(base, examples, tmp_path / "a")
    straight.run()
    first = _trainer(base, examples, tmp_path / "b")
    assert first.run(should_stop=lambda step: step == 6).interrupted
    assert first.resume_hint() == f"make finetune RESUME={tmp_path / 'b' / 'tuned'}"
    _trainer(base, examples, tmp_path / "b", resume=tmp_path / "b" / "tuned").run()
    assert rows(tmp_path / "b" / "tuned") == rows(tmp_path / "a" / "tuned")
    a = torch.load(tmp_path / "a" / "tuned" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "tuned" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.task("5.4", "5.5", "5.7", "5.8", "5.9", "5.10")
def test_resume_through_the_command_continues_the_run(base, examples, tmp_path):
    out = tmp_path / "runs"
    assert (
        run_cli(main, train_args(base, examples, out, "train.max_iters=4", "train.eval_interval=2"))
        == 0
    )
    assert run_cli(main, ["train", "--resume", str(out / "tuned"), "train.max_iters=6"]) == 0
    assert rows(out / "tuned")[-1]["step"] == 6


@pytest.mark.task("5.4", "5.5", "5.7", "5.8", "5.9", "5.10")
def test_sample_answers_in_the_template_and_stops_at_the_end_of_the_turn(
    base, examples, tmp_path, capsys
):
    args = train_args(
        base, examples, tmp_path / "runs", "train.max_iters=200", "train.eval_interval=200"
    )
    assert run_cli(main, args) == 0
    tuned = tmp_path / "runs" / "tuned"
    capsys.readouterr()
    argv = ["sample", "--checkpoint", str(tuned), "--prompt", "1+2", "--temperature", "0"]
    assert run_cli(sample_main, [*argv, "--max-new-tokens", "8"]) == 0
    printed = capsys.readouterr().out
    loaded = load_checkpoint(tuned)
    expected = answer(loaded.model, loaded.tokenizer, [Message("user", "1+2")], max_new_tokens=8)
    assert printed == expected + "\n"
    assert END not in printed and expected in {str(n) for n in range(9)}  # an answer, then <|end|>


@pytest.mark.task("5.4", "5.5", "5.7", "5.8", "5.9", "5.10")
def test_chat_sends_the_history_with_each_line(base, examples, tmp_path, monkeypatch, capsys):
    args = train_args(
        base, examples, tmp_path / "runs", "train.max_iters=2", "train.eval_interval=2"
    )
    assert run_cli(main, args) == 0
    seen = []
    import week5_generation.finetune.chat as chat

    real = chat.fitted_history

    def spy(tokenizer, history, block_size):
        seen.append([m.content for m in history])
        return real(tokenizer, history, block_size)

    monkeypatch.setattr(chat, "fitted_history", spy)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"1+1\n2+2\n")))
    argv = ["sample", "--interactive", "--checkpoint", str(tmp_path / "runs" / "tuned")]
    assert run_cli(sample_main, [*argv, "--max-new-tokens", "3", "--temperature", "0"]) == 0
    assert seen[0] == ["1+1"]
    assert seen[1][0] == "1+1" and seen[1][2] == "2+2" and len(seen[1]) == 3


@pytest.mark.task("5.7", "5.10")
def test_the_history_is_trimmed_oldest_turn_first():
    tokenizer = with_special_tokens(Tokenizer.bytes_only(), TEMPLATE_TOKENS)
    history = ChatHistory()
    for turn in ("first question", "second question"):
        history.ask(turn)
        history.record("an answer")
    turns = history.ask("third")
    ids, dropped = fitted_history(tokenizer, turns, block_size=40)
    assert dropped == 2 and len(ids) <= 40  # the first question and its answer left out
    ids, dropped = fitted_history(tokenizer, turns, block_size=200)
    assert dropped == 0
    ids, dropped = fitted_history(tokenizer, [Message("user", "x" * 50)], block_size=10)
    assert dropped == 0 and len(ids) == 10  # the newest message alone: cut from the left


@pytest.mark.task("5.4", "5.5", "5.7", "5.8", "5.9", "5.10")
def test_gpt2_is_a_base_too(tmp_path, examples):
    folder = tmp_path / "gpt2"
    folder.mkdir()
    save_file(hf_gpt2_state_dict(n_positions=32), folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"n_head": 2}))
    args = [
        "train",
        "--base",
        "gpt2",
        "--weights",
        str(folder / "model.safetensors"),
        "--data",
        str(examples),
        f"run.out_dir={tmp_path / 'runs'}",
        "train.dtype=float32",
        "train.max_iters=2",
        "train.eval_interval=2",
        "train.batch_size=4",
        "train.sample_tokens=2",
    ]
    assert run_cli(main, args) == 0
    loaded = load_checkpoint(tmp_path / "runs" / "finetune")
    assert loaded.tokenizer.vocab_size == 50257 + 4
    assert loaded.model.config.vocab_size == 50261


def test_make_gpt2_fetches_the_weights_that_ckpt_gpt2_then_uses(tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror" / "gpt2"
    mirror.mkdir(parents=True)
    save_file(hf_gpt2_state_dict(n_positions=32), mirror / "model.safetensors")
    (mirror / "config.json").write_text(json.dumps({"n_head": 2}))
    for name in ("gpt2/model.safetensors", "gpt2/config.json"):
        digest = hashlib.sha256((mirror.parent / name).read_bytes()).hexdigest()
        known = data.KNOWN_FILES[name]
        monkeypatch.setitem(
            data.KNOWN_FILES, name, data.KnownFile(name, known.url, digest, known.group)
        )
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_DIR", str(cache))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(mirror.parent))
    # GPT-2's tokenizer files come from the course's own mirror
    for name in data.group_files():
        (mirror.parent / name).parent.mkdir(parents=True, exist_ok=True)
        real = Path(__file__).resolve().parents[3] / "shared" / "data" / name
        if real.is_file():
            (mirror.parent / name).write_bytes(real.read_bytes())
    assert run_cli(sample_main, ["gpt2"]) == 0
    assert (cache / "gpt2" / "model.safetensors").is_file() and (
        cache / "gpt2" / "config.json"
    ).is_file()
    assert "CKPT=gpt2" in capsys.readouterr().out
    if not (cache.parent / "mirror" / "gpt2" / "encoder.json").is_file():
        pytest.skip("needs ../shared/data beside the repository for GPT-2's tokenizer")
    source = load_source("gpt2", None, torch.device("cpu"))
    assert source.model.config.n_head == 2  # config.json beside the fetched weights was read
