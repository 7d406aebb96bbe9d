"""`python -m week3_model.summary`: how many parameters a model config has, and where they are.

    python -m week3_model.summary                                  # GPT-2 small: 124,439,808
    python -m week3_model.summary --config configs/tiny.yaml       # vocab from its tokenizer
    python -m week3_model.summary model.n_layer=4 model.n_embd=256 --vocab-size 1024

The model is built on PyTorch's "meta" device: shapes only, no memory, so GPT-2 XL is instant.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

import torch

from shared.config import Config, config_from_dict, load_config
from shared.errors import run_cli
from week2_tokenizer.config import GPT2_VOCAB_SIZE, expected_vocab_size
from week3_model.config import GPTConfig
from week3_model.gpt import GPT


def format_breakdown(breakdown: dict[str, int]) -> str:
    """A table of parameter counts per component, with shares and the total."""
    total = sum(breakdown.values())
    width = max(len(name) for name in [*breakdown, "total"])
    lines = [
        f"{name:<{width}}  {count:>13,}  {count / total:6.1%}" for name, count in breakdown.items()
    ]
    lines.append(f"{'total':<{width}}  {total:>13,}")
    return "\n".join(lines)


def model_config(
    config_path: str | None, overrides: Sequence[str], vocab_size: int | None
) -> GPTConfig:
    """The `model` section of a run config (or the defaults), with vocab_size filled in if unset:
    from `vocab_size` if given, else from the config's tokenizer section (GPT-2's by default)."""
    sections = ("tokenizer", "model")
    if config_path:
        config = load_config(config_path, overrides, sections=sections)
    else:
        config = config_from_dict({}, overrides, sections=sections)
        vocab_size = GPT2_VOCAB_SIZE if vocab_size is None else vocab_size
    return with_vocab_size(config, vocab_size)


def with_vocab_size(config: Config, vocab_size: int | None = None) -> GPTConfig:
    """`config.model` with vocab_size filled in if unset: `vocab_size` if given, else the size
    the config's tokenizer section gives (known without building the tokenizer)."""
    model: GPTConfig = config.model
    if model.vocab_size is not None:
        return model
    if vocab_size is None:
        vocab_size = expected_vocab_size(config.tokenizer)
    return dataclasses.replace(model, vocab_size=vocab_size)


def meta_model(config: GPTConfig) -> GPT:
    """The GPT of `config` on PyTorch's "meta" device: every shape, no memory, no arithmetic."""
    with torch.device("meta"):
        return GPT(config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m week3_model.summary", description=__doc__)
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.n_layer=4")
    parser.add_argument("--config", help="a run config YAML (default: GPT-2 small's shape)")
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=None,
        help="used when the config leaves vocab_size to the tokenizer (default: the config's "
        "tokenizer section; GPT-2's 50257 without --config)",
    )
    args = parser.parse_args(argv)
    config = model_config(args.config, args.overrides, args.vocab_size)
    model = meta_model(config)
    print(config)
    print(format_breakdown(model.parameter_breakdown()))
    print(f"without embeddings: {model.num_parameters(include_embeddings=False):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
