"""`python -m week2_tokenizer train|encode|decode|info`: the tokenizer from the command line.

python -m week2_tokenizer train --vocab-size 1000          # -> runs/tokenizers/bpe_1000.json
python -m week2_tokenizer info --tokenizer runs/tokenizers/bpe_1000.json --file notes.txt
echo "To be, or not to be" | python -m week2_tokenizer encode --tokenizer gpt2
python -m week2_tokenizer decode --tokenizer gpt2 2514 307 11 393 407 284 307
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from shared.data import corpus_path, read_text
from shared.errors import CourseError
from shared.flags import add_yes_flag
from week1_setup.split import split_text
from week2_tokenizer.pretokenize import decode_utf8, read_file_chunks
from week2_tokenizer.provenance import (
    TrainedOn,
    default_tokenizer_path,
    train_recorded,
    training_data,
)
from week2_tokenizer.tokenizer import EOT, Tokenizer

SHOWN = 10  # merges and tokens `train` shows


def special_token(value: str) -> str:
    """An argparse `type=` for `--special`: an empty special token would sit between all bytes."""
    if not value:
        raise CourseError('--special "": a special token must be a non-empty string')
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m week2_tokenizer", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a BPE tokenizer and save it as JSON")
    train.add_argument(
        "--vocab-size", type=int, required=True, help="256 + merges + special tokens"
    )
    train.add_argument(
        "--input",
        default="tinyshakespeare.txt",
        help="a known corpus name or a UTF-8 file (default: tiny shakespeare); "
        "its training split is used",
    )
    train.add_argument(
        "--whole-file", action="store_true", help="train on all of --input, not its training split"
    )
    train.add_argument(
        "--output",
        help="default: runs/tokenizers/bpe_<vocab-size>.json for tiny shakespeare's training "
        "split, a name of its own for other training data",
    )
    train.add_argument("--pattern", choices=["gpt2", "gpt4"], default="gpt2")
    train.add_argument(
        "--special",
        action="append",
        type=special_token,
        help=f"a special token (repeatable; default {EOT})",
    )
    add_yes_flag(
        train, "--force", "FORCE", help="overwrite an existing --output (make bpe-train FORCE=1)"
    )

    for name, what in (("encode", "text -> ids"), ("decode", "ids -> text")):
        sub = commands.add_parser(name, help=f"{what} (arguments, or stdin when none are given)")
        sub.add_argument(
            "--tokenizer", required=True, help="a tokenizer JSON file, or 'gpt2' or 'bytes'"
        )
        sub.add_argument("items", nargs="*", help="text to encode / ids to decode")

    info = commands.add_parser("info", help="vocab size, longest tokens, compression on a file")
    info.add_argument(
        "--tokenizer", required=True, help="a tokenizer JSON file, or 'gpt2' or 'bytes'"
    )
    info.add_argument("--file", help="a UTF-8 file to measure bytes per token on")
    info.add_argument("--top", type=int, default=10, help="how many of the longest tokens to show")
    return parser.parse_args(argv)


def open_tokenizer(name: str) -> Tokenizer:
    if name == "gpt2":
        return Tokenizer.from_gpt2()
    if name == "bytes":
        return Tokenizer.bytes_only()
    return Tokenizer.load(name)


def read_stdin() -> str:
    """All of stdin as UTF-8 text, its bytes as they are; one clear line if it is not UTF-8."""
    return decode_utf8(sys.stdin.buffer.read(), "stdin")


def bytes_per_token(tokenizer: Tokenizer, text: str) -> tuple[int, int]:
    """(UTF-8 bytes, tokens) of `text`: their ratio is the compression."""
    return len(text.encode("utf-8")), len(tokenizer.encode(text))


def longest_tokens(tokenizer: Tokenizer, top: int) -> str:
    special_ids = set(tokenizer.special_tokens.values())
    ordinary = [i for i in range(tokenizer.vocab_size) if i not in special_ids]
    longest = sorted(ordinary, key=lambda i: (-len(tokenizer.vocab[i]), i))[:top]
    return ", ".join(repr(tokenizer.token_text(i)) for i in longest)


def first_merges(tokenizer: Tokenizer, top: int) -> str:
    merged = (left + right for left, right in tokenizer.merges[:top])
    return ", ".join(repr(token.decode("utf-8", errors="backslashreplace")) for token in merged)


def held_out(trained_on: TrainedOn) -> tuple[str, str]:
    """Text to measure compression on, and what it is: the validation split, which training
    never saw; with --whole-file there is none, so the start of the file stands in."""
    path = corpus_path(trained_on.corpus)
    if trained_on.split == "train":
        return split_text(read_text(path))[1], f"the validation split of {trained_on.corpus}"
    start = next(read_file_chunks(path))
    return start, f"the first {len(start):,} characters of {trained_on.corpus} (seen in training)"


def train(args: argparse.Namespace) -> None:
    specials = args.special if args.special is not None else [EOT]
    if args.vocab_size < 256 + len(set(specials)):
        raise CourseError(
            f"--vocab-size {args.vocab_size} is too small: at least 256 + "
            f"{len(set(specials))} special token(s)"
        )
    source, trained_on = training_data(args.input, "all" if args.whole_file else "train")
    output = (
        Path(args.output)
        if args.output
        else default_tokenizer_path(args.vocab_size, args.pattern, trained_on, specials)
    )
    if output.exists() and not args.force:
        raise CourseError(
            f"{output} already exists; pass --force to overwrite it (with make: FORCE=1)"
        )
    what = trained_on.describe()
    print(f"training BPE, vocab_size {args.vocab_size}, pattern {args.pattern}, on {what}")
    start = time.perf_counter()
    tokenizer = train_recorded(
        source, trained_on, args.vocab_size, specials, args.pattern, "--vocab-size"
    )
    tokenizer.save(output)
    seconds = time.perf_counter() - start
    print(
        f"saved {output} ({tokenizer.vocab_size} tokens, {seconds:.1f} s, "
        f"sha256 {tokenizer.sha256[:12]})"
    )
    print(f"first merges: {first_merges(tokenizer, SHOWN)}")
    print(f"longest tokens: {longest_tokens(tokenizer, SHOWN)}")
    text, where = held_out(trained_on)
    n_bytes, n_tokens = bytes_per_token(tokenizer, text)
    if n_tokens:
        print(f"compression: {n_bytes / n_tokens:.3f} bytes per token on {where}")


def parse_ids(items: Sequence[str]) -> list[int]:
    ids = []
    for item in items:
        try:
            ids.append(int(item))
        except ValueError:
            raise CourseError(f"{item!r} is not a token id (ids are integers)") from None
    return ids


def info(args: argparse.Namespace) -> None:
    if args.top < 1:
        raise CourseError(f"--top {args.top}: must be a positive integer (how many tokens to show)")
    tokenizer = open_tokenizer(args.tokenizer)
    print(f"tokenizer: {args.tokenizer}")
    print(
        f"vocab size: {tokenizer.vocab_size} (256 bytes + {len(tokenizer.merges)} merges + "
        f"{len(tokenizer.special_tokens)} special: {', '.join(tokenizer.special_tokens) or 'none'})"
    )
    print(f"sha256: {tokenizer.sha256}")
    trained_on = tokenizer.trained_on.describe() if tokenizer.trained_on else "not recorded"
    print(f"trained on: {trained_on}")
    print(f"longest tokens: {longest_tokens(tokenizer, args.top)}")
    if args.file:
        n_bytes, n_tokens = bytes_per_token(tokenizer, read_text(args.file))
        print(
            f"{args.file}: {n_bytes} bytes -> {n_tokens} tokens, "
            f"{n_bytes / n_tokens:.3f} bytes per token"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "train":
        train(args)
    elif args.command == "encode":
        tokenizer = open_tokenizer(args.tokenizer)
        text = " ".join(args.items) if args.items else read_stdin()
        print(" ".join(map(str, tokenizer.encode(text))))
    elif args.command == "decode":
        tokenizer = open_tokenizer(args.tokenizer)
        items = args.items if args.items else read_stdin().split()
        sys.stdout.write(tokenizer.decode(parse_ids(items)))
        sys.stdout.write("\n")
    else:
        info(args)
    return 0
