"""`make size DEPTH=12`: write a run config whose depth sets its width, heads and learning rate.

    python -m week6_optimizations.size_config --depth=12 [--base=configs/modern.yaml]
        [--out=configs/size_d12.yaml] [--overwrite=1]

The new config is the base config with the dial's numbers (sizes.py) put in:

    model.n_layer, model.n_embd, model.n_head    the depth's shape
    model.n_kv_head                              if the base sets it: the base's query heads per
                                                 key/value head kept (modern.yaml: 2)
    model.d_ff                                   dropped if the base sets it: the MLP's default
                                                 width follows n_embd
    train.lr                                     the depth's rate (4 significant figures)
    train.min_lr                                 the base's min_lr / lr fraction of it
    run.name                                     size_d<depth>

and every other key as the base has it. The file says where it came from and how many
parameters it has (week 3's count, on the meta device). An existing file is never replaced
unless asked (`OVERWRITE=1`).
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from shared.atomic import atomic_write_text
from shared.config import Config, config_from_dict, load_config
from shared.errors import CourseError, run_cli
from shared.flags import add_yes_flag
from shared.paths import CONFIGS_DIR
from week3_model.config import GPTConfig
from week3_model.summary import meta_model, with_vocab_size
from week4_training.cli import TRAIN_SECTIONS
from week6_optimizations.sizes import (
    ASPECT_RATIO,
    HEAD_DIM,
    REFERENCE_LR,
    REFERENCE_WIDTH,
    Size,
    size_for_depth,
)

DEFAULT_BASE = CONFIGS_DIR / "modern.yaml"
# A written learning rate keeps 4 significant figures: 6e-4 x (12 / 5) ** 0.5 is written 0.0009295.
SIGNIFICANT_DIGITS = 4


def parse_depth(text: str) -> int:
    """DEPTH as a number of Blocks: a positive integer, or one line naming DEPTH."""
    value = text.strip()
    if not (value.isascii() and value.isdigit() and int(value) >= 1):
        raise CourseError(
            f"DEPTH={text}: the depth must be a positive integer (the number of Blocks), "
            "e.g. DEPTH=12 (GPT-2 small's)"
        )
    return int(value)


def kv_heads_for(base: GPTConfig, size: Size) -> int | None:
    """The base's grouped-query layout at the dial's heads: as many query heads per key/value
    head as the base has; None when the base leaves n_kv_head out (one per query head)."""
    if base.n_kv_head is None:
        return None
    group = base.n_head // base.n_kv_head
    if size.n_head % group:
        raise CourseError(
            f"DEPTH={size.depth}: gives {size.n_head} heads, which the base's {group} query "
            f"heads per key/value head (model.n_kv_head) do not divide; choose a depth divisible "
            f"by {group}, or a base without model.n_kv_head"
        )
    return size.n_head // group


def section(values: dict[str, Any], name: str) -> dict[str, Any]:
    """`values[name]`, made a mapping if the file left it out or empty."""
    values[name] = values.get(name) or {}
    return values[name]


def sized_values(written: dict[str, Any], base: Config, size: Size) -> dict[str, Any]:
    """The base config's mapping as written, with the dial's keys set (module docstring);
    `base` is the same config checked, which knows the defaults of what the file leaves out."""
    values = copy.deepcopy(written)
    model, train = section(values, "model"), section(values, "train")
    model.update(n_layer=size.depth, n_embd=size.n_embd, n_head=size.n_head)
    n_kv_head = kv_heads_for(base.model, size)
    if n_kv_head is not None:
        model["n_kv_head"] = n_kv_head
    model.pop("d_ff", None)
    fraction = base.train.min_lr / base.train.lr
    train.update(lr=significant(size.lr), min_lr=significant(size.lr * fraction))
    section(values, "run")["name"] = f"size_d{size.depth}"
    return values


def header(size: Size, base: Path, out: Path, parameters: int, min_lr: float) -> str:
    """The comment at the top of a written config: where it came from, and what it is."""
    return (
        f"# Written by `make size DEPTH={size.depth} BASE={shown(base)}` "
        "(week6_optimizations/sizes.py):\n"
        f"#   n_layer {size.depth}, n_embd {ASPECT_RATIO} x {size.depth} = {size.n_embd}, "
        f"n_head {size.n_embd} / {HEAD_DIM} = {size.n_head},\n"
        f"#   lr {REFERENCE_LR:.1e} x ({size.n_embd} / {REFERENCE_WIDTH})^-0.5 = {size.lr:.4g}, "
        f"min_lr {min_lr:.4g} (the base's fraction of lr)\n"
        f"#   {parameters:,} parameters (week 3's count); every other key is the base's.\n"
        f"#   Train it: make train CFG={shown(out)}\n\n"
    )


def shown(path: Path) -> Path:
    """`path` relative to the working folder when it lies below it (configs/modern.yaml)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` rounded to `digits` significant figures: 0.00103923... -> 0.001039."""
    return float(f"{value:.{digits}g}")


def read_base(path: Path) -> tuple[dict[str, Any], Config]:
    """The base config as written (a mapping) and as checked (a Config, defaults filled in)."""
    checked = load_config(path, sections=TRAIN_SECTIONS)  # every mistake named, in one line
    return yaml.safe_load(path.read_text(encoding="utf-8")), checked


def write_size_config(
    depth: int, base: Path = DEFAULT_BASE, out: Path | None = None, overwrite: bool = False
) -> tuple[Path, Config, int]:
    """Write the config of `depth` (by default configs/size_d<depth>.yaml); return its path,
    the checked config and its parameter count."""
    size = size_for_depth(depth)
    out = out if out is not None else CONFIGS_DIR / f"size_d{depth}.yaml"
    if out.exists() and not overwrite:
        raise CourseError(f"{out} exists; OVERWRITE=1 replaces it, or OUT=<path> writes elsewhere")
    if not out.parent.is_dir():
        raise CourseError(f"OUT={out}: the folder {out.parent} does not exist")
    values = sized_values(*read_base(base), size)
    config = config_from_dict(values, source=str(out), sections=TRAIN_SECTIONS)
    parameters = meta_model(with_vocab_size(config)).num_parameters()
    text = header(size, base, out, parameters, config.train.min_lr)
    atomic_write_text(out, text + yaml.safe_dump(values, sort_keys=False))
    return out, config, parameters


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m week6_optimizations.size_config", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--depth", required=True, help="the number of Blocks (make's DEPTH)")
    parser.add_argument("--base", default=str(DEFAULT_BASE), help="the config to start from")
    parser.add_argument("--out", help="where to write (default: configs/size_d<depth>.yaml)")
    add_yes_flag(parser, "--overwrite", "OVERWRITE", "replace an existing file")
    args = parser.parse_args(argv)
    depth = parse_depth(args.depth)
    out = Path(args.out) if args.out else None
    path, config, parameters = write_size_config(depth, Path(args.base), out, args.overwrite)
    model = config.model
    print(
        f"wrote {shown(path)}: depth {depth}, n_embd {model.n_embd}, n_head {model.n_head}, "
        f"lr {config.train.lr:.4g}, {parameters:,} parameters (from {shown(Path(args.base))})"
    )
    print(f"train it: make train CFG={shown(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
