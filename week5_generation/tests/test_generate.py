"""The generation loop: cropping, stopping, reproducibility and the next-token hook."""

from __future__ import annotations

import pytest
import torch

from shared.errors import CourseError
from week5_generation.generate import (
    DECODERS,
    FullContextLogits,
    crop_context,
    generate,
    generate_text,
    start_ids,
)
from week5_generation.sampling import GREEDY, SamplingSettings, make_generator


class ScriptedLogits:
    """A fake model step that records what it saw and always prefers `script[step]`."""

    def __init__(self, script: list[int], vocab_size: int = 300) -> None:
        self.script, self.vocab_size, self.seen = script, vocab_size, []

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        self.seen.append(ids[0].tolist())
        logits = torch.zeros(self.vocab_size)
        logits[self.script[len(self.seen) - 1]] = 10.0
        return logits


def test_crop_context_keeps_the_last_block_size_tokens():
    ids = torch.arange(10).unsqueeze(0)
    assert crop_context(ids, 4).tolist() == [[6, 7, 8, 9]]
    assert crop_context(ids, 20).tolist() == [list(range(10))]


@pytest.mark.task("5.4")
def test_generate_runs_past_block_size_by_sliding_the_window(model):
    seen = []
    step = FullContextLogits(model)
    original = model.forward

    def spy(idx, *args, **kwargs):
        seen.append(idx.size(1))
        return original(idx, *args, **kwargs)

    model.forward = spy
    tokens = list(generate(model, [65] * 12, 10, GREEDY, next_token_logits=step))
    assert len(tokens) == 10
    assert seen == [12, 13, 14, 15, 16, 16, 16, 16, 16, 16]  # never more than block_size=16


@pytest.mark.task("5.4")
def test_generate_stops_at_max_new_tokens_and_at_a_stop_token():
    script = [5, 6, 7, 8, 9]
    assert list(generate_fake(script, 3)) == [5, 6, 7]
    assert list(generate_fake(script, 5, stop_ids={8})) == [5, 6, 7]  # 8 is not yielded


def generate_fake(script, n, **kwargs):
    model = torch.nn.Linear(1, 1)  # only its device is read
    return generate(model, [1], n, GREEDY, next_token_logits=ScriptedLogits(script), **kwargs)


@pytest.mark.task("5.4")
def test_the_hook_sees_the_whole_sequence_growing_by_one_token():
    step = ScriptedLogits([4, 5, 6])
    list(generate(torch.nn.Linear(1, 1), [1, 2], 3, GREEDY, next_token_logits=step))
    assert step.seen == [[1, 2], [1, 2, 4], [1, 2, 4, 5]]


def test_the_default_decoder_is_registered_as_full_and_week6_brings_the_cache():
    assert DECODERS.get("full") is FullContextLogits
    assert DECODERS.names() == ["full", "kv_cache"]
    assert DECODERS.source("kv_cache") == "week6_optimizations.cached_generation:CachedLogits"
    with pytest.raises(CourseError, match="unknown decoder 'beam'"):
        DECODERS.get("beam")


def test_full_context_logits_are_the_models_last_position(model):
    ids = torch.tensor([[1, 2, 3]])
    logits, _ = model(ids)
    assert torch.equal(FullContextLogits(model)(ids), logits[0, -1])


@pytest.mark.task("5.1", "5.4")
def test_same_seed_same_tokens_different_seed_different_tokens(model):
    def run(seed: int) -> list[int]:
        settings = SamplingSettings(temperature=1.0)
        return list(generate(model, [10], 24, settings, generator=make_generator(seed)))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_generate_refuses_bad_arguments(model):
    with pytest.raises(CourseError, match="prompt has no tokens"):
        list(generate(model, [], 5))
    with pytest.raises(CourseError, match="max_new_tokens"):
        list(generate(model, [1], 0))
    with pytest.raises(CourseError, match="^top_p: must be"):
        list(generate(model, [1], 5, SamplingSettings(top_p=2.0)))


@pytest.mark.task("5.1", "5.4")
def test_generate_does_not_track_gradients(model):
    step_grad = []

    def step(ids):
        logits = FullContextLogits(model)(ids)
        step_grad.append(logits.requires_grad)
        return logits

    list(generate(model, [1], 2, next_token_logits=step))
    assert step_grad == [False, False]


def test_start_ids_prefer_the_end_of_text_token(byte_tokenizer):
    assert start_ids(byte_tokenizer) == [byte_tokenizer.eot_id]

    class NoEot:
        eot_id = None

        def encode(self, text):
            return list(text.encode())

    assert start_ids(NoEot()) == [10]


class ByteScriptTokenizer:
    eot_id = 256

    def encode(self, text):
        return list(text.encode())

    def decode_bytes(self, ids):
        return bytes(ids)


def script_for(text: str) -> list[int]:
    return list(text.encode())


@pytest.mark.task("5.4", "5.5")
def test_generate_text_streams_a_character_split_across_tokens_exactly():
    target = "naïve ☃ 😀 ok"
    script = script_for(target) + [256]
    pieces = list(
        generate_text(
            torch.nn.Linear(1, 1),
            ByteScriptTokenizer(),
            [1],
            50,
            GREEDY,
            next_token_logits=ScriptedLogits(script),
        )
    )
    assert "".join(pieces) == target
    assert all("\ufffd" not in piece for piece in pieces)
    assert len(pieces) > 5  # it really streamed


@pytest.mark.task("5.4", "5.5")
def test_generate_text_cuts_at_a_stop_string_and_stops_generating():
    step = ScriptedLogits(script_for("To be\n\nor not") + [256])
    text = "".join(
        generate_text(
            torch.nn.Linear(1, 1),
            ByteScriptTokenizer(),
            [1],
            50,
            GREEDY,
            stop=["\n\n"],
            next_token_logits=step,
        )
    )
    assert text == "To be"
    assert len(step.seen) == len("To be\n\n")  # no token generated after the stop string


@pytest.mark.task("5.4", "5.5")
def test_generate_text_ends_with_a_flushed_invalid_byte():
    text = "".join(
        generate_text(
            torch.nn.Linear(1, 1),
            ByteScriptTokenizer(),
            [1],
            3,
            GREEDY,
            next_token_logits=ScriptedLogits([ord("a"), 0xE2, 0x98]),
        )
    )
    assert text == "a\ufffd"


@pytest.mark.task("5.4", "5.5")
def test_generate_text_with_gpt2_tokens_splitting_an_emoji():
    from shared.data import fetch
    from week2_tokenizer import Tokenizer

    tokenizer = Tokenizer.from_gpt2(fetch("gpt2/encoder.json"), fetch("gpt2/vocab.bpe"))
    target = " smile 😀 done"
    script = tokenizer.encode(target)
    assert any("\ufffd" in tokenizer.decode([t]) for t in script)  # the emoji is split
    pieces = list(
        generate_text(
            torch.nn.Linear(1, 1),
            tokenizer,
            [tokenizer.eot_id],
            20,
            GREEDY,
            next_token_logits=ScriptedLogits([*script, tokenizer.eot_id], tokenizer.vocab_size),
        )
    )
    assert "".join(pieces) == target
    assert all("\ufffd" not in piece for piece in pieces)
