"""Speaker attribution's scoring: exact log-probabilities, fair label choices, the score table."""

from __future__ import annotations

import json

import pytest
import torch

from shared.errors import CourseError, run_cli
from week2_tokenizer import Tokenizer
from week5_generation.finetune.attribution import (
    attribution_scores,
    base_choice,
    continuation_logprobs,
    tuned_choice,
)
from week5_generation.finetune.cli import main
from week5_generation.finetune.speakers import QUESTION
from week5_generation.finetune.template import TEMPLATE_TOKENS
from week5_generation.finetune.vocabulary import with_special_tokens
from week5_generation.tests.conftest import tiny_model
from week5_generation.tests.test_finetune_run import write_base

TOKENIZER = Tokenizer.bytes_only()
CHAT = with_special_tokens(TOKENIZER, TEMPLATE_TOKENS)


@pytest.mark.task("5.11")
def test_continuation_logprobs_are_the_sums_of_next_token_log_probabilities():
    model = tiny_model(TOKENIZER.vocab_size, block_size=32)
    ids = [256, 5, 9, 200, 3, 3]
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids[:-1]]))
    logp = torch.log_softmax(logits[0], dim=-1)
    manual = sum(float(logp[t - 1, ids[t]]) for t in range(2, len(ids)))
    (score,) = continuation_logprobs(model, [ids], [2])
    assert score == pytest.approx(manual, abs=1e-5)


@pytest.mark.task("5.11")
def test_a_sequence_scores_the_same_alone_or_padded_in_a_batch():
    model = tiny_model(TOKENIZER.vocab_size, block_size=32)
    short, long = [256, 1, 2, 3], [256, 4, 5, 6, 7, 8, 9, 10]
    alone = continuation_logprobs(model, [short], [1])[0]
    together = continuation_logprobs(model, [long, short], [1, 1])[1]
    assert together == pytest.approx(alone, abs=1e-5)


@pytest.mark.task("5.7", "5.11")
def test_choices_are_labels_and_a_long_speech_is_cut_alike_for_every_label():
    model = tiny_model(TOKENIZER.vocab_size, block_size=24)
    labels = ["AB", "A VERY LONG NAME"]
    assert base_choice(model, TOKENIZER, "x" * 100, labels) in labels
    tuned = tiny_model(CHAT.vocab_size, block_size=24)
    assert tuned_choice(tuned, CHAT, QUESTION + "y" * 100, labels) in labels
    with pytest.raises(CourseError, match="the labels are too long for a context of 8"):
        base_choice(tiny_model(TOKENIZER.vocab_size, block_size=8), TOKENIZER, "x", labels)


@pytest.mark.task("5.4", "5.5", "5.7", "5.11")
def test_the_score_table_has_the_four_methods_and_the_majority_is_exact():
    base = tiny_model(TOKENIZER.vocab_size, block_size=32)
    tuned = tiny_model(CHAT.vocab_size, block_size=32)
    examples = [(QUESTION + "speech one", "ANNE"), (QUESTION + "speech two", "BOB")] * 2
    scores = attribution_scores(base, TOKENIZER, tuned, CHAT, examples, ["BOB", "BOB", "ANNE"])
    assert [s.method for s in scores][-1] == "majority (always BOB)"
    assert scores[-1].correct == 2 and all(s.total == 4 for s in scores)
    assert all(0 <= s.correct <= 4 for s in scores)


@pytest.mark.task("5.4", "5.5", "5.7", "5.8", "5.9", "5.10", "5.11")
def test_the_command_prints_the_table(tmp_path, capsys):
    base = write_base(tmp_path / "runs" / "base")
    sft = tmp_path / "sft"
    sft.mkdir()
    for name, speakers in (("speakers-train.jsonl", "ABA"), ("speakers-val.jsonl", "AB")):
        lines = [
            json.dumps({"prompt": QUESTION + f"words {i}", "completion": s})
            for i, s in enumerate(speakers)
        ]
        (sft / name).write_text("\n".join(lines) + "\n")
    train = [
        "train",
        "--base",
        str(base),
        "--data",
        str(sft / "speakers-train.jsonl"),
        "--val",
        str(sft / "speakers-val.jsonl"),
    ]
    overrides = [
        f"run.out_dir={tmp_path / 'runs'}",
        "train.dtype=float32",
        "train.max_iters=2",
        "train.eval_interval=2",
        "train.batch_size=2",
        "train.sample_tokens=2",
    ]
    assert run_cli(main, [*train, *overrides]) == 0
    capsys.readouterr()
    tuned = tmp_path / "runs" / "finetune"
    argv = [
        "accuracy",
        "--base",
        str(base),
        "--tuned",
        str(tuned),
        "--data",
        str(sft / "speakers-val.jsonl"),
        "--device",
        "cpu",
    ]
    assert run_cli(main, argv) == 0
    out = capsys.readouterr().out
    assert "2 held-out speeches" in out and "majority (always A)" in out and "50.0%    1/2" in out


def test_the_command_needs_the_training_file_beside_the_held_out_one(tmp_path):
    held_out = tmp_path / "speakers-val.jsonl"
    held_out.write_text("{}\n")
    from week5_generation.finetune.attribution import accuracy_command

    with pytest.raises(
        CourseError, match="speakers-train.jsonl: not found; make sft-data writes it"
    ):
        accuracy_command("runs/a", "runs/b", held_out)
