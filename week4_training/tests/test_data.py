import numpy as np
import pytest
import torch

from shared.errors import CourseError
from week1_setup.split import split_text
from week2_tokenizer import Tokenizer, train_bpe
from week4_training.data import BatchSampler, encode_split, load_token_data, token_dtype


def test_token_dtype_fits_the_vocabulary():
    assert token_dtype(257) == np.uint16
    assert token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32


def test_encode_split_prefixes_eot_and_counts_every_byte():
    tokenizer = Tokenizer.bytes_only()
    split = encode_split(tokenizer, "héllo")
    assert split.tokens[0] == tokenizer.eot_id
    assert tokenizer.decode_bytes(split.tokens[1:].tolist()) == "héllo".encode()
    assert split.n_bytes == 6 and split.n_targets == 6


def test_without_eot_the_first_token_is_context_and_its_bytes_are_left_out():
    tokenizer = Tokenizer.bytes_only(special_tokens=())
    split = encode_split(tokenizer, "héllo")
    assert tokenizer.decode_bytes(split.tokens.tolist()) == "héllo".encode()
    assert split.n_bytes == 5 and split.n_targets == 5


def test_special_token_text_in_a_corpus_is_plain_text():
    tokenizer = Tokenizer.bytes_only()
    split = encode_split(tokenizer, "a<|endoftext|>b")
    assert list(split.tokens).count(tokenizer.eot_id) == 1


def test_cache_is_built_once_reused_and_rebuilt_for_another_tokenizer(corpus, isolated_cache):
    text = corpus.read_text()
    tokenizer = Tokenizer.bytes_only()
    first = load_token_data(str(corpus), tokenizer)
    assert first.rebuilt and first.folder.parent == isolated_cache / "tokens"
    train_text, val_text = split_text(text)
    assert tokenizer.decode(first.train.tokens[1:].tolist()) == train_text
    assert tokenizer.decode(first.val.tokens[1:].tolist()) == val_text
    assert first.val.n_bytes == len(val_text.encode())
    again = load_token_data(str(corpus), tokenizer)
    assert not again.rebuilt and again.folder == first.folder
    assert isinstance(again.train.tokens, np.memmap) and again.train.tokens.dtype == np.uint16
    assert np.array_equal(again.val.tokens, first.val.tokens)
    other = train_bpe(train_text, 300)
    rebuilt = load_token_data(str(corpus), other)
    assert rebuilt.rebuilt and rebuilt.folder != first.folder
    assert other.decode(rebuilt.val.tokens[1:].tolist()) == val_text


def test_encoding_is_announced_and_a_ctrl_c_in_it_leaves_no_cache(corpus, isolated_cache):
    tokenizer = Tokenizer.bytes_only()
    said: list[str] = []
    real_encode = tokenizer.encode

    def pressed_ctrl_c(*args, **kwargs):
        real_encode(*args, **kwargs)
        raise KeyboardInterrupt

    tokenizer.encode = pressed_ctrl_c
    with pytest.raises(KeyboardInterrupt):
        load_token_data(str(corpus), tokenizer, log=said.append)
    assert said[0].startswith(f"encoding {corpus} with the tokenizer, once")
    assert not any(p.is_file() for p in isolated_cache.rglob("*"))
    tokenizer.encode = real_encode
    load_token_data(str(corpus), tokenizer, log=said.append)
    load_token_data(str(corpus), tokenizer, log=said.append)  # cached: nothing to announce
    assert len(said) == 2


def test_a_damaged_cache_is_rebuilt(corpus):
    tokenizer = Tokenizer.bytes_only()
    first = load_token_data(str(corpus), tokenizer)
    (first.folder / "meta.json").write_text("{not json")
    assert load_token_data(str(corpus), tokenizer).rebuilt


def test_missing_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CourseError, match="no such file"):
        load_token_data(str(tmp_path / "nope.txt"), Tokenizer.bytes_only())


def test_an_empty_corpus_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("")
    with pytest.raises(CourseError, match="empty"):
        load_token_data(str(path), Tokenizer.bytes_only())


@pytest.mark.task("4.1")
def test_batches_are_shifted_windows_of_the_stream():
    tokens = np.arange(100, dtype=np.uint16)
    sampler = BatchSampler(tokens, block_size=8, batch_size=5, seed=0)
    x, y = sampler.next_batch(torch.device("cpu"))
    assert x.shape == y.shape == (5, 8) and x.dtype == torch.int64
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(y[:, -1], x[:, -1] + 1)  # the stream is 0, 1, 2, ...
    assert int(y.max()) <= 99


@pytest.mark.task("4.1")
def test_sampler_state_restores_the_same_batches():
    tokens = np.arange(1000, dtype=np.uint16)
    sampler = BatchSampler(tokens, block_size=8, batch_size=4, seed=7)
    sampler.next_batch(torch.device("cpu"))
    state = sampler.state_dict()
    expected = [sampler.next_batch(torch.device("cpu"))[0] for _ in range(3)]
    other = BatchSampler(tokens, block_size=8, batch_size=4, seed=123)
    other.load_state_dict(state)
    got = [other.next_batch(torch.device("cpu"))[0] for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))


def test_sampler_refuses_a_split_shorter_than_a_window():
    with pytest.raises(CourseError, match="block_size"):
        BatchSampler(np.arange(8, dtype=np.uint16), block_size=8, batch_size=2, seed=0)
