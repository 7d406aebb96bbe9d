"""Fine-tuning data: masked batches, fitting to the context, the held-out split, the sampler."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week2_tokenizer import Tokenizer
from week5_generation.finetune.examples import (
    Example,
    ExampleSampler,
    encode_examples,
    fit_to_context,
    held_out,
    masked_batch,
)
from week5_generation.finetune.jsonl import Conversation
from week5_generation.finetune.template import TEMPLATE_TOKENS, Message
from week5_generation.finetune.vocabulary import with_special_tokens
from week5_generation.tests.conftest import tiny_model

TOKENIZER = with_special_tokens(Tokenizer.bytes_only(), TEMPLATE_TOKENS)


def conversation(prompt: str, completion: str, line: int = 1) -> Conversation:
    text = json.dumps({"prompt": prompt, "completion": completion})
    return Conversation((Message("user", prompt), Message("assistant", completion)), line, text)


def example(prompt: str, completion: str, block_size: int = 64) -> Example:
    examples, _ = encode_examples(
        TOKENIZER, [conversation(prompt, completion)], block_size, "refuse"
    )
    return examples[0]


words = st.text(alphabet="abcdefgh ", min_size=1, max_size=12)


@pytest.mark.task("5.7", "5.9")
@settings(max_examples=40)
@given(words, words, words)
def test_changing_the_prompt_changes_no_label(prompt, other, completion):
    other = (other * 3)[: len(prompt)].ljust(len(prompt), "x")  # the same length, other tokens
    _, y1 = masked_batch([example(prompt, completion)])
    _, y2 = masked_batch([example(other, completion)])
    assert torch.equal(y1, y2)


@pytest.mark.task("5.7", "5.9")
def test_only_completion_positions_contribute_to_the_loss():
    examples = [example("who?", "ROMEO"), example("and who is this?", "JULIET")]
    x, y = masked_batch(examples)
    model = tiny_model(TOKENIZER.vocab_size, block_size=32)
    logits, loss = model(x, y)
    rows, cols = torch.nonzero(y >= 0, as_tuple=True)
    manual = F.cross_entropy(logits[rows, cols], y[rows, cols])
    torch.testing.assert_close(loss, manual)
    assert len(rows) == len("ROMEO") + 1 + len("JULIET") + 1  # the answers and their <|end|>


@pytest.mark.task("5.7", "5.9")
def test_rows_are_right_padded_and_padding_is_never_a_target():
    x, y = masked_batch([example("a", "b"), example("a longer prompt", "b")], pad_id=7)
    short = example("a", "b")
    n = len(short.ids) - 1
    assert (x[0, n:] == 7).all() and (y[0, n:] == -1).all()


@pytest.mark.task("5.9")
def test_a_batch_of_prompts_only_is_refused():
    silent = Example(np.arange(5), np.zeros(5, dtype=bool), line=1, n_bytes=0)
    with pytest.raises(CourseError, match="a batch of prompts only"):
        masked_batch([silent])


def test_an_overlong_example_is_cut_from_the_left_of_its_prompt():
    ids, targets = list(range(10)), [False] * 7 + [True] * 3
    assert fit_to_context(ids, targets, 7, last_reply_start=6, truncate=True) == (
        ids[2:],
        targets[2:],
    )
    assert fit_to_context(ids, targets, 7, last_reply_start=6, truncate=False) is None
    # the answer and one token before it no longer fit: left out, cut or not
    assert fit_to_context(ids, targets, 3, last_reply_start=6, truncate=True) is None
    assert fit_to_context(ids, targets, 9, last_reply_start=6, truncate=False) == (ids, targets)


@pytest.mark.task("5.7")
def test_encode_examples_counts_what_it_cut_and_left_out():
    long = conversation("x" * 40, "yes", line=2)
    huge = conversation("q", "z" * 40, line=3)
    kept, counts = encode_examples(
        TOKENIZER, [conversation("hi", "ok"), long, huge], 20, "truncate"
    )
    assert [e.line for e in kept] == [1, 2]
    assert (counts.kept, counts.truncated, counts.refused) == (1, 1, 1)
    assert len(kept[1].ids) == 21 and kept[1].n_targets == 4
    assert "1 left out as longer than the context (lines 3)" in counts.describe(20)
    _, refusing = encode_examples(TOKENIZER, [long], 20, "refuse")
    assert refusing.refused == 1 and refusing.refused_lines == [2]


@pytest.mark.task("5.7")
def test_n_bytes_counts_the_answers_utf8_bytes():
    assert example("q", "café").n_bytes == 5


@given(st.lists(st.text(max_size=20), min_size=1, max_size=30, unique=True))
def test_the_held_out_split_depends_on_each_line_alone(lines):
    sides = {line: held_out(line, 0.3) for line in lines}
    shuffled = list(reversed(lines)) + ["a new line"]
    assert all(held_out(line, 0.3) == sides[line] for line in shuffled if line in sides)


def test_the_held_out_share_is_close_to_the_fraction():
    share = np.mean([held_out(f"line {i}", 0.1) for i in range(5000)])
    assert 0.08 < share < 0.12


@pytest.mark.task("5.7", "5.9")
def test_the_sampler_is_seeded_and_resumes_exactly():
    examples = [example("p" * i, "c" * (1 + i % 3)) for i in range(1, 9)]
    device = torch.device("cpu")
    a, b = ExampleSampler(examples, 3, seed=5), ExampleSampler(examples, 3, seed=5)
    first = [a.next_batch(device) for _ in range(3)]
    assert all(
        torch.equal(p[0], q[0])
        for p, q in zip(first, [b.next_batch(device) for _ in range(3)], strict=True)
    )
    state = a.state_dict()
    after = a.next_batch(device)
    c = ExampleSampler(examples, 3, seed=99)
    c.load_state_dict(state)
    resumed = c.next_batch(device)
    assert torch.equal(after[0], resumed[0]) and torch.equal(after[1], resumed[1])


def test_a_sampler_needs_examples():
    with pytest.raises(CourseError, match="no training examples"):
        ExampleSampler([], 2, seed=0)
