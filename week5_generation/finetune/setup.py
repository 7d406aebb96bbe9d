"""Everything a fine-tuning run needs before its first step, each piece checked on its own.

    base      a course run (its best checkpoint) or GPT-2: its model, tokenizer and config
    tokens    the tokenizer with the template's tokens, the model with their rows (vocabulary.py)
    config    the base's data, tokenizer and model sections (vocab_size grown), the fine-tuning
              config's train, run and finetune sections, then the command's overrides
    examples  the JSONL read and checked, split, encoded and fitted (jsonl.py, examples.py)

A resumed run takes its config and tokenizer from its own last.pt and reads the same JSONL again,
refusing it if its bytes changed (their SHA-256 is part of the config), so the run continues on
exactly the examples it started with. The base run is only ever read.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from shared.config import Config, config_from_dict, load_config
from shared.errors import CourseError
from week4_training.cli import TRAIN_SECTIONS
from week5_generation.finetune.examples import (
    ExampleData,
    encode_examples,
    example_split,
    held_out,
)
from week5_generation.finetune.jsonl import Conversation, read_conversations
from week5_generation.finetune.template import TEMPLATE_TOKENS
from week5_generation.finetune.vocabulary import grow_vocabulary, with_special_tokens
from week5_generation.loading import load_source

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer
    from week3_model import GPT

FINETUNE_SECTIONS = (*TRAIN_SECTIONS, "finetune")


@dataclass
class Start:
    """The grown base: the weights a new run starts from and the tokenizer it trains with."""

    model: GPT
    tokenizer: Tokenizer
    config: Config  # the base's own
    name: str
    run_dir: Path | None  # the base's run folder (None for GPT-2)


def load_start(base: str, weights: str | None, say: Callable[[str], None] = print) -> Start:
    """The base model with the template's tokens added (its run is only read)."""
    if not base:
        raise CourseError("no base model: give CKPT=runs/<name> (or CKPT=gpt2)")
    source = load_source(base, weights, torch.device("cpu"), say=say)
    old = source.tokenizer.vocab_size
    tokenizer = with_special_tokens(source.tokenizer, TEMPLATE_TOKENS)
    model = grow_vocabulary(source.model, old, tokenizer.vocab_size)
    run_dir = None if source.step is None else source.run_dir
    return Start(model, tokenizer, source.config, source.name, run_dir)


def data_sha256(paths: Sequence[str | None]) -> str:
    """One SHA-256 over the bytes of the data files (and their order)."""
    digest = hashlib.sha256()
    for path in paths:
        if path is not None:
            digest.update(Path(path).read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def new_run_config(
    config_path: str, start: Start, finetune: dict[str, Any], overrides: Sequence[str]
) -> Config:
    """The config of a new fine-tuning run (see the module docstring for what comes from where)."""
    own = load_config(config_path, sections=("train", "finetune"))
    base = start.config.to_dict()
    model = dict(
        base["model"], vocab_size=max(base["model"]["vocab_size"], start.tokenizer.vocab_size)
    )
    document = {
        "data": base.get("data", {}),
        "tokenizer": base.get("tokenizer", {}),
        "model": model,
        "train": dataclasses.asdict(own.train),
        "run": dataclasses.asdict(own.run),
        "finetune": dataclasses.asdict(own.finetune) | finetune,
    }
    return config_from_dict(document, overrides, source=config_path, sections=FINETUNE_SECTIONS)


def split_conversations(
    conversations: list[Conversation],
    held_out_conversations: list[Conversation] | None,
    fraction: float,
) -> tuple[list[Conversation], list[Conversation]]:
    """(train, held out): the held-out file's, or a share of the lines chosen by their hash."""
    if held_out_conversations is not None:
        return conversations, held_out_conversations
    train = [c for c in conversations if not held_out(c.text, fraction)]
    val = [c for c in conversations if held_out(c.text, fraction)]
    return train, val


def load_examples(
    cfg: Config, tokenizer: Tokenizer, say: Callable[[str], None] = print
) -> ExampleData:
    """The run's training and held-out examples, read, split, encoded and fitted."""
    settings, block_size = cfg.finetune, cfg.model.block_size
    if not settings.data:
        raise CourseError("no fine-tuning data: give DATA=path/to/examples.jsonl")
    conversations = read_conversations(settings.data)
    val_file = None if settings.val_data is None else read_conversations(settings.val_data)
    train, val = split_conversations(conversations, val_file, settings.val_fraction)
    where = settings.val_data or f"{settings.val_fraction:.0%} of {settings.data} by line hash"
    if not val:
        raise CourseError(
            f"{settings.data}: no line fell in the held-out split ({where}); give VAL=file.jsonl "
            "or raise finetune.val_fraction"
        )
    if not train:
        raise CourseError(
            f"{settings.data}: every line fell in the held-out split; lower finetune.val_fraction"
        )
    parts = {}
    for name, chosen in (("train", train), ("held-out", val)):
        examples, counts = encode_examples(tokenizer, chosen, block_size, settings.overlong)
        say(f"{name}: {counts.describe(block_size)}")
        if not examples:
            raise CourseError(
                f"every {name} example is longer than the context of {block_size + 1} tokens; "
                "shorten them or use finetune.overlong=truncate"
            )
        parts[name] = (examples, chosen, counts)
    train_examples, _, _ = parts["train"]
    val_examples, val_chosen, _ = parts["held-out"]
    kept_lines = {e.line for e in val_examples}
    return ExampleData(
        train=example_split(train_examples, tokenizer),
        val=example_split(val_examples, tokenizer),
        folder=Path(settings.data),
        rebuilt=True,
        train_examples=train_examples,
        val_examples=val_examples,
        val_conversations=[c for c in val_chosen if c.line in kept_lines],
    )


def check_same_data(cfg: Config, run_dir: Path) -> None:
    """A resumed run's data files must be the bytes it started with."""
    settings = cfg.finetune
    now = data_sha256([settings.data, settings.val_data])
    if settings.data_sha256 is not None and now != settings.data_sha256:
        raise CourseError(
            f"{settings.data}: changed since {run_dir} started (its SHA-256 differs); a resume "
            "continues on the same examples: restore the file, or start a new run"
        )
