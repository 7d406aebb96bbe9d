"""shards.py and tokens.py: documents are never cut, every token is in one shard, and the shards
read back as one stream that week 4's sampler draws from exactly as from one array."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week4_training.data import BatchSampler
from week6_optimizations.corpus.shards import ShardWriter
from week6_optimizations.corpus.tokens import ShardedTokens, check_shard, file_sha256


def write_shards(folder, documents, shard_tokens):
    writer = ShardWriter(folder, "train", np.dtype(np.uint16), shard_tokens)
    for tokens in documents:
        writer.add(np.asarray(tokens), n_bytes=len(tokens) * 2)
    writer.flush()
    return writer.records


def random_documents(seed: int, n: int = 40, longest: int = 300) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 1000, size=rng.integers(1, longest)) for _ in range(n)]


def test_a_shard_closes_before_the_document_that_would_overflow_it(tmp_path):
    documents = random_documents(0)
    records = write_shards(tmp_path, documents, shard_tokens=1024)
    assert len(records) > 3
    sizes = [len(d) for d in documents]
    index = 0
    for record in records:  # the documents, in order, fill the shards whole
        count = record.documents
        assert record.tokens == sum(sizes[index : index + count]) <= 1024
        assert record.bytes == 2 * record.tokens
        index += count
    assert index == len(documents)
    for record, after in zip(records, records[1:], strict=False):  # each shard was full
        next_document = sizes[sum(r.documents for r in records[: records.index(after)])]
        assert record.tokens + next_document > 1024


def test_one_document_longer_than_a_shard_gets_a_shard_of_its_own(tmp_path):
    records = write_shards(tmp_path, [np.arange(10), np.arange(3000), np.arange(5)], 1024)
    assert [(r.documents, r.tokens) for r in records] == [(1, 10), (1, 3000), (1, 5)]


def test_every_token_is_in_exactly_one_shard_and_the_records_say_so(tmp_path):
    documents = random_documents(1)
    records = write_shards(tmp_path, documents, shard_tokens=2048)
    files = [tmp_path / r.file for r in records]
    stream = np.concatenate([np.fromfile(f, dtype=np.uint16) for f in files])
    np.testing.assert_array_equal(stream, np.concatenate(documents))
    for record, path in zip(records, files, strict=True):
        assert path.stat().st_size == 2 * record.tokens
        assert file_sha256(path) == record.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == [r.file for r in records]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=8), st.data())
def test_any_slice_of_the_shards_is_that_slice_of_their_concatenation(
    tmp_path_factory, lengths, data
):
    folder = tmp_path_factory.mktemp("shards")
    arrays = [
        np.arange(sum(lengths[:i]), sum(lengths[: i + 1]), dtype=np.uint16)
        for i in range(len(lengths))
    ]
    files = []
    for i, array in enumerate(arrays):
        files.append(folder / f"s{i}.bin")
        array.tofile(files[-1])
    tokens = ShardedTokens(files, lengths, np.dtype(np.uint16))
    whole = np.concatenate(arrays)
    assert len(tokens) == len(whole)
    start = data.draw(st.integers(0, len(whole)))
    stop = data.draw(st.integers(0, len(whole) + 3))
    np.testing.assert_array_equal(tokens[start:stop], whole[start:stop])
    np.testing.assert_array_equal(np.asarray(tokens), whole)


def test_a_slice_with_a_step_is_refused(tmp_path):
    path = tmp_path / "s.bin"
    np.arange(8, dtype=np.uint16).tofile(path)
    with pytest.raises(TypeError):
        ShardedTokens([path], [8], np.dtype(np.uint16))[::2]


def test_the_sampler_draws_the_same_batches_from_shards_as_from_one_array(tmp_path):
    """The same seeded rule over the same stream: resume and ranks behave as on one file."""
    documents = random_documents(2, n=80)
    records = write_shards(tmp_path, documents, shard_tokens=1024)
    sharded = ShardedTokens(
        [tmp_path / r.file for r in records], [r.tokens for r in records], np.dtype(np.uint16)
    )
    whole = np.concatenate(documents).astype(np.uint16)
    for rank in (0, 1):
        a = BatchSampler(sharded, 32, 8, seed=7, rank=rank)  # type: ignore[arg-type]
        b = BatchSampler(whole, 32, 8, seed=7, rank=rank)
        for _ in range(20):  # 160 windows over 9 shards: many cross a boundary
            for x, y in zip(
                a.next_batch(torch.device("cpu")), b.next_batch(torch.device("cpu")), strict=True
            ):
                assert torch.equal(x, y)
    resumed = BatchSampler(sharded, 32, 8, seed=7)  # type: ignore[arg-type]
    resumed.load_state_dict(a.state_dict())
    assert torch.equal(
        resumed.next_batch(torch.device("cpu"))[0], a.next_batch(torch.device("cpu"))[0]
    )


def test_a_changed_missing_or_cut_shard_is_refused(tmp_path):
    records = write_shards(tmp_path, random_documents(3), shard_tokens=4096)
    record = records[0]
    path = tmp_path / record.file
    check_shard(path, record.tokens, np.dtype(np.uint16), record.sha256, "again")
    data = bytearray(path.read_bytes())
    data[10] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CourseError, match="SHA-256 no longer matches the manifest"):
        check_shard(path, record.tokens, np.dtype(np.uint16), record.sha256, "again")
    path.write_bytes(bytes(data[:-2]))
    with pytest.raises(CourseError, match="bytes, but the manifest lists"):
        check_shard(path, record.tokens, np.dtype(np.uint16), record.sha256, "again")
    path.unlink()
    with pytest.raises(CourseError, match="the shard is missing"):
        check_shard(path, record.tokens, np.dtype(np.uint16), record.sha256, "again")
