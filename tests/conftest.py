"""Fixtures for the cross-week tests: a small corpus and a config a learner could have written.

In a learner's edition (`make workbook`) the cross-week tests wait for the tasks they depend on:
a test marked `needs_weeks(n)` runs weeks 1 to n (unmarked: every week), and while a task of
those weeks is still a stub it is skipped, saying which one. The weeks' own tests are the ones
that grade (`make check WEEK=N`); in the reference nothing is skipped.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from shared.workbook import stubs_left, week_folders

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


@cache
def waiting_for(through_week: int) -> str | None:
    """Why a test that runs weeks 1..through_week cannot run yet, or None when it can."""
    left = stubs_left(range(1, through_week + 1), ROOT)
    if not left:
        return None
    more = f" (and {len(left) - 1} more)" if len(left) > 1 else ""
    return f"waits for the workbook: {left[0]}{more}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    last_week = max(week_folders(ROOT))
    for item in items:
        if TESTS not in item.path.parents:
            continue
        mark = item.get_closest_marker("needs_weeks")
        reason = waiting_for(mark.args[0] if mark else last_week)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def corpus(tmp_path):
    """About 12 KB of play-shaped text: speakers, lines, repetition a tiny model can learn."""
    speakers = ["ROMEO", "JULIET", "NURSE", "FRIAR LAURENCE"]
    words = ["love", "night", "light", "name", "rose", "death", "sweet", "heaven"]
    lines = []
    for i in range(240):
        a, b = words[i % 8], words[(i * 3 + 1) % 8]
        lines.append(f"{speakers[i % 4]}:\nO {a}, my {b}, what {a} is this?\n\n")
    path = tmp_path / "play.txt"
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path, corpus):
    """A tiny but complete run config: BPE tokenizer, 2-layer GPT, 30 steps."""
    text = f"""
data:
  corpus: {corpus}
tokenizer:
  kind: bpe
  vocab_size: 300
  path: {tmp_path / "tokenizer.json"}
model:
  block_size: 32
  n_layer: 2
  n_head: 2
  n_embd: 32
  dropout: 0.0
train:
  batch_size: 8
  max_iters: 30
  warmup_iters: 5
  lr_decay_iters: 30
  lr: 3.0e-3
  min_lr: 3.0e-4
  eval_interval: 15
  log_interval: 5
  sample_tokens: 20
run:
  name: path
  out_dir: {tmp_path / "runs"}
  seed: 7
"""
    path = tmp_path / "course.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def course(*args: str, stdin: str | None = None):
    """Run `python -m <args>` from the repository root, as the Makefile does (in this
    interpreter: see `tests.catalogue.harness.course`)."""
    from tests.catalogue.harness import course as run_course

    return run_course(*args, stdin=stdin)
