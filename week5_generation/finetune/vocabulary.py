"""New tokens for the chat template: the tokenizer gains ids, the model gains embedding rows.

The template's tokens (`<|user|>`, `<|end|>`, ...) take the next free ids, after every token the
base model knows, so every old id keeps its meaning and its row. The model's token embedding
(and an untied head) gains one row per new id; the old rows are copied bit for bit.

A new row starts at the *mean* of the old rows, not at random. A random row of the usual size
can happen to align with the final hidden state, and then the new token's logit is large and the
base model's predictions change everywhere before any training (an untrained `<|end|>` stealing
probability from every real word). The mean row gives a logit close to the average one, so the
model starts as the base model with a few extra, unlikely tokens, and fine-tuning moves the rows
from there (Hewitt, 2021, "Initializing New Word Embeddings for Pretrained Language Models").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

from shared.errors import CourseError

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer
    from week3_model import GPT

# The tables of a GPT that have one row per token id.
VOCABULARY_TABLES = ("token_embedding.weight", "lm_head.weight")


def with_special_tokens(tokenizer: Tokenizer, tokens: Iterable[str]) -> Tokenizer:
    """`tokenizer` plus each token in `tokens` it lacks, as special tokens with the next ids."""
    from week2_tokenizer import Tokenizer

    vocab = {i: tokenizer.vocab[i] for i in tokenizer.vocab}
    specials = dict(tokenizer.special_tokens)
    ordinary = {piece for i, piece in vocab.items() if i not in specials.values()}
    for token in dict.fromkeys(tokens):
        if token in specials:
            continue
        if token.encode("utf-8") in ordinary:
            raise CourseError(
                f"the tokenizer cannot take {token} as a special token: it is already an "
                "ordinary token of its vocabulary, so decoded text could not tell them apart"
            )
        specials[token] = len(vocab)
        vocab[len(vocab)] = token.encode("utf-8")
    return Tokenizer(vocab, tokenizer.merges, specials, tokenizer.pattern, tokenizer.trained_on)


def grow_vocabulary(model: GPT, old_tokens: int, new_tokens: int) -> GPT:
    """A copy of `model` whose vocabulary tables have room for `new_tokens` ids.

    Rows below `old_tokens` (the ids the base tokenizer had) are kept exactly; rows from
    `old_tokens` to `new_tokens` are set to the mean of the kept rows, also where the table was
    already large enough (a vocabulary padded to a round size has untrained rows there).
    """
    from week3_model import GPT

    # BEGIN TASK 5.8 [Fine-tuning]: new_tokens rows: the old rows kept, the new ones at their mean
    rows = max(model.config.vocab_size or 0, new_tokens)
    grown = GPT(dataclasses.replace(model.config, vocab_size=rows))
    state = model.state_dict()
    with torch.no_grad():
        for name, target in grown.state_dict().items():
            source = state[name]
            if name in VOCABULARY_TABLES:
                kept = source[:old_tokens]
                target[: len(source)] = source
                target[old_tokens:new_tokens] = kept.mean(dim=0, keepdim=True)
            else:
                target.copy_(source)
    return grown.to(next(model.parameters()).device)
    # END TASK 5.8
