"""Vocabulary growth: new ids after the old ones, old rows bit for bit, new rows at the mean."""

from __future__ import annotations

import re

import pytest
import torch

from shared.errors import CourseError
from week2_tokenizer import Tokenizer
from week5_generation.finetune.template import TEMPLATE_TOKENS
from week5_generation.finetune.vocabulary import grow_vocabulary, with_special_tokens
from week5_generation.tests.conftest import tiny_model


def test_new_special_tokens_take_the_next_ids_and_old_ids_keep_their_meaning():
    base = Tokenizer.bytes_only()
    grown = with_special_tokens(base, TEMPLATE_TOKENS)
    assert grown.vocab_size == base.vocab_size + 4
    assert [grown.special_tokens[t] for t in TEMPLATE_TOKENS] == [257, 258, 259, 260]
    assert all(grown.vocab[i] == base.vocab[i] for i in base.vocab)
    text = "Who says this? café"
    assert grown.encode(text) == base.encode(text)
    assert with_special_tokens(grown, TEMPLATE_TOKENS).sha256 == grown.sha256  # idempotent


def test_a_template_token_that_is_already_ordinary_text_is_refused():
    pieces = [(b"<", b"|"), (b"e", b"n"), (b"en", b"d"), (b"<|", b"end"), (b"<|end", b"|")]
    clashing = Tokenizer.from_merges([*pieces, (b"<|end|", b">")])  # "<|end|>" is a merge
    with pytest.raises(CourseError, match=re.escape("cannot take <|end|> as a special token")):
        with_special_tokens(clashing, TEMPLATE_TOKENS)


@pytest.mark.task("5.8")
@pytest.mark.parametrize("tie", [True, False])
def test_old_rows_are_kept_bit_for_bit_and_new_rows_start_at_their_mean(tie):
    model = tiny_model(257, tie_weights=tie)
    grown = grow_vocabulary(model, old_tokens=257, new_tokens=261)
    assert grown.config.vocab_size == 261
    old, new = model.state_dict(), grown.state_dict()
    for name, tensor in old.items():
        if name in ("token_embedding.weight", "lm_head.weight"):
            assert torch.equal(new[name][:257], tensor)
            torch.testing.assert_close(new[name][257:], tensor.mean(0).expand(4, -1))
        else:
            assert torch.equal(new[name], tensor), name
    assert (grown.lm_head.weight is grown.token_embedding.weight) == tie


@pytest.mark.task("5.8")
def test_a_padded_table_keeps_its_size_and_its_unused_rows_take_the_mean():
    model = tiny_model(300)  # 257 real tokens, rows up to 300 (a vocabulary padded to a round size)
    grown = grow_vocabulary(model, old_tokens=257, new_tokens=261)
    assert grown.config.vocab_size == 300
    table, before = grown.token_embedding.weight, model.token_embedding.weight
    torch.testing.assert_close(table[257:261], before[:257].mean(0).expand(4, -1))
    assert torch.equal(table[261:], before[261:])


@pytest.mark.task("5.8")
def test_the_grown_model_predicts_old_tokens_as_before_up_to_the_new_ones():
    model = tiny_model(257, tie_weights=False)
    grown = grow_vocabulary(model, 257, 261).eval()
    x = torch.randint(0, 257, (2, 8))
    with torch.no_grad():
        old_logits, _ = model(x)
        new_logits, _ = grown(x)
    torch.testing.assert_close(new_logits[..., :257], old_logits)
    # a mean row's logit is the mean of the old logits: no new token dominates before training
    torch.testing.assert_close(new_logits[..., 257], old_logits.mean(-1))
