"""Fine-tuning files: both line formats read, every bad line one error naming file:line."""

from __future__ import annotations

import json
import re

import pytest

from week5_generation.finetune.jsonl import DataFormatError, read_conversations
from week5_generation.finetune.template import Message


def test_both_formats_become_conversations_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "d.jsonl"
    chat = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
        ]
    }
    path.write_text(
        json.dumps({"prompt": "p", "completion": "c"}) + "\n\n" + json.dumps(chat) + "\n"
    )
    first, second = read_conversations(path)
    assert first.messages == (Message("user", "p"), Message("assistant", "c"))
    assert first.line == 1 and second.line == 3
    assert [m.role for m in second.messages] == ["system", "user", "assistant"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"prompt": "x"}', 'missing field "completion"'),
        (b'{"prompt": 3, "completion": "x"}', '"prompt" must be a string, got int'),
        (b'{"prompt": "x", "completion": "  "}', '"completion" is empty'),
        (b'{"prompt": "x", "completion": "a<|end|>"}', "a token the chat template reserves"),
        (b'{"messages": []}', '"messages" must be a non-empty list'),
        (b'{"messages": [{"role": "user"}]}', 'messages[0] must be an object with "role"'),
        (b'{"messages": [{"role": "robot", "content": "x"}]}', "unknown role 'robot'"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "no assistant message"),
        (b'{"messages": [{"role": "assistant", "content": ""}]}', "an assistant message is empty"),
        (b'{"prompt": "caf\xe9", "completion": "x"}', "not UTF-8 (bad byte at column 16)"),
    ],
)
def test_a_bad_line_is_one_error_naming_its_file_and_line(tmp_path, line, message):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"prompt": "fine", "completion": "yes"}\n' + line + b"\n")
    with pytest.raises(DataFormatError, match=re.escape(f"{path}:2: ") + ".*" + re.escape(message)):
        read_conversations(path)


def test_a_missing_or_empty_file_is_one_error(tmp_path):
    with pytest.raises(DataFormatError, match="fine-tuning data not found"):
        read_conversations(tmp_path / "none.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataFormatError, match="no examples in the file"):
        read_conversations(tmp_path / "empty.jsonl")
