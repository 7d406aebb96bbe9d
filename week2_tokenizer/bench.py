"""Speed of the course tokenizer against references, measured in one run on one machine.

    python -m week2_tokenizer.bench [--quick]

Rows (section "tokenizer"), each group's variants timed in interleaved rounds
(`shared.bench.interleaved`), each ratio "times faster than the reference" within a round,
higher is better:

- training at vocab 4096 against HF `tokenizers` limited to one thread;
- training at vocab 512 against the naive trainer that recounts every pair of every pre-token
  after each merge (both on the same slice: the naive one is slow);
- GPT-2 encoding, MB/s, against `tiktoken` (built offline from the same files): the course with a
  cold cache (a fresh Tokenizer each round), with a warm one (the same text again), and HF
  `tokenizers` on one thread;
- a file without whitespace (seeded random letters: one pre-token as long as the file, the worst
  case for both the merge loop and the encoder): training seconds per 100 merges, encoding MB/s,
  and the peak memory of each per input byte, each in a fresh process;
- the peak memory of training at vocab 4096, in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ["RAYON_NUM_THREADS"] = "1"  # must be set before `tokenizers` is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from shared.bench import (  # noqa: E402
    format_ratio,
    interleaved,
    machine_description,
    make_row,
    timed_rows,
)
from shared.data import fetch, read_text  # noqa: E402
from week2_tokenizer.pretokenize import GPT2_PATTERN, pretokenize  # noqa: E402
from week2_tokenizer.tokenizer import Tokenizer  # noqa: E402
from week2_tokenizer.train import train_bpe  # noqa: E402

if TYPE_CHECKING:
    import tiktoken
    from tokenizers import Tokenizer as HFTokenizer

SECTION = "tokenizer"
BIG_VOCAB, SMALL_VOCAB = 4096, 512
# (bytes, merges) of the file without whitespace: the full bench's size is the 20 MB
NO_WHITESPACE_FULL, NO_WHITESPACE_QUICK = (20_000_000, 100), (100_000, 50)


def recount_trainer(text: str, vocab_size: int) -> list[tuple[bytes, bytes]]:
    """The naive trainer: recount all pairs of all pre-tokens (not distinct ones) each merge."""
    words = [[bytes([b]) for b in piece.encode("utf-8")] for piece in pretokenize(text, "gpt2")]
    merges = []
    for _ in range(vocab_size - 256):
        counts = Counter(pair for word in words for pair in pairwise(word))
        if not counts:
            break
        best = max(counts, key=lambda pair: (counts[pair], pair))
        merges.append(best)
        for index, word in enumerate(words):
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            words[index] = merged
    return merges


def hf_trainer(text: str, vocab_size: int) -> Callable[[], None]:
    """A function that trains HF `tokenizers`' byte-level BPE on `text` (one thread)."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, pre_tokenizers, trainers

    lines = text.splitlines(keepends=True)

    def train() -> None:
        tokenizer = HFTokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=["<|endoftext|>"],
        )
        tokenizer.train_from_iterator(lines, trainer)

    return train


def gpt2_references() -> tuple[tiktoken.Encoding, HFTokenizer]:
    """tiktoken's and `tokenizers`' GPT-2 encoders, built from the same two files, offline."""
    import tiktoken
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, pre_tokenizers

    from week2_tokenizer.bytes_unicode import text_to_bytes

    encoder_path, merges_path = fetch("gpt2/encoder.json"), fetch("gpt2/vocab.bpe")
    encoder = json.loads(encoder_path.read_text(encoding="utf-8"))
    ranks = {text_to_bytes(t): i for t, i in encoder.items() if t != "<|endoftext|>"}
    tiktoken_encoding = tiktoken.Encoding(
        "gpt2-offline", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={}
    )
    hf = HFTokenizer(models.BPE.from_file(str(encoder_path), str(merges_path)))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    return tiktoken_encoding, hf


class ColdEncoder:
    """GPT-2 encoding with a cold cache: `reset()` (untimed) builds a fresh Tokenizer, whose
    piece cache is empty, and the call encodes `text` with it once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokenizer = Tokenizer.from_gpt2()

    def reset(self) -> None:
        self.tokenizer = Tokenizer.from_gpt2()

    def __call__(self) -> None:
        self.tokenizer.encode(self.text)


# ------------------------------------------------------------------ measurements in a fresh process


def random_letters(n_bytes: int, seed: int = 0) -> str:
    """`n_bytes` seeded random lowercase letters: text without whitespace, one pre-token."""
    import numpy as np

    codes = np.random.default_rng(seed).integers(ord("a"), ord("z") + 1, n_bytes, dtype=np.uint8)
    return codes.tobytes().decode("ascii")


def _resident_kib(field: str) -> int | None:
    """VmRSS or VmHWM of this process in KiB (Linux), None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:  # pragma: no cover - not Linux
        pass
    return None  # pragma: no cover - not Linux


def _reset_peak() -> float:
    """Reset the peak resident size to the current one (Linux) and return it in MB.

    Elsewhere the peak cannot be reset: `ru_maxrss` so far is the baseline (kB on Linux, bytes
    on macOS), and the growth measured from it is a lower bound.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        current = _resident_kib("VmRSS")
        if current is not None:
            return current / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return _peak_mb()  # pragma: no cover - not Linux


def _peak_mb() -> float:
    peak = _resident_kib("VmHWM")
    if peak is not None:
        return peak / 1024
    import resource  # pragma: no cover - not Linux

    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # pragma: no cover
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale  # pragma: no cover


def probe(job: str, source: str, vocab_size: int) -> dict[str, float]:
    """Run one job on the text of file `source`; its seconds, and resident MB before and at peak.

    Jobs: "train" trains BPE to `vocab_size` tokens (no special tokens, one process), "encode"
    encodes with GPT-2's tokenizer. Meant for a fresh process (`fresh_process_probe`): the trap
    is that on Linux `ru_maxrss` survives `exec`, so a child of a big process would start with
    its parent's high-water mark; the child resets its own peak after reading the text instead.
    """
    text = Path(source).read_text(encoding="utf-8")
    tokenizer = Tokenizer.from_gpt2() if job == "encode" else None
    before = _reset_peak()
    start = time.perf_counter()
    if tokenizer is not None:
        tokenizer.encode(text)
    else:
        train_bpe(Path(source), vocab_size, [], progress=False, processes=1)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "before_mb": before, "peak_mb": _peak_mb(), "bytes": len(text)}


def fresh_process_probe(job: str, text: str, vocab_size: int = 0) -> dict[str, float]:
    """`probe(job, ...)` on `text` (written to a temporary file) in a new Python process."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "text.txt"
        source.write_text(text, encoding="utf-8")
        code = (
            "import json\n"
            "from week2_tokenizer.bench import probe\n"
            f"print(json.dumps(probe({job!r}, {str(source)!r}, {vocab_size})))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    return dict(json.loads(out.stdout.splitlines()[-1]))


# ------------------------------------------------------------------ the rows


def training_rows(text: str, corpus: str, naive_chars: int, rounds: int) -> list[dict[str, Any]]:
    """Vocab 4096 against `tokenizers`; vocab 512 against the recount trainer on a slice."""
    seconds = interleaved(
        {
            "course": lambda: train_bpe(text, BIG_VOCAB, progress=False),
            "tokenizers (1 thread)": hf_trainer(text, BIG_VOCAB),
        },
        rounds,
        warmup=1,
    )
    case = f"train vocab {BIG_VOCAB} ({corpus})"
    rows = timed_rows(SECTION, case, seconds, "tokenizers (1 thread)", note="whole training call")
    # The recount trainer needs ~5 minutes on the whole corpus, so both trainers run on the same
    # slice, measured in full there (nothing extrapolated), in at most 3 rounds.
    piece = text[:naive_chars]
    seconds = interleaved(
        {
            "course": lambda: train_bpe(piece, SMALL_VOCAB, progress=False),
            "recount reference": lambda: recount_trainer(piece, SMALL_VOCAB),
        },
        min(rounds, 3),
        warmup=0,
    )
    case = f"train vocab {SMALL_VOCAB} (first {naive_chars // 1000}k chars)"
    note = "recount: all pairs of all pre-tokens recounted per merge"
    return rows + timed_rows(SECTION, case, seconds, "recount reference", note=note)


def encoding_rows(text: str, corpus: str, rounds: int) -> list[dict[str, Any]]:
    """GPT-2 encoding MB/s: the course cold and warm, `tokenizers`, against tiktoken."""
    tiktoken_encoding, hf = gpt2_references()
    cold, warm = ColdEncoder(text), Tokenizer.from_gpt2()
    seconds = interleaved(
        {
            "course (cold cache)": cold,
            "course (warm cache)": lambda: warm.encode(text),
            "tokenizers (1 thread)": lambda: hf.encode(text),
            "tiktoken": lambda: tiktoken_encoding.encode_ordinary(text),
        },
        rounds,
        warmup=1,
        prepare={"course (cold cache)": cold.reset},
    )
    mb = len(text.encode("utf-8")) / 1e6
    case = f"GPT-2 encode ({corpus})"
    note = "cold: a fresh Tokenizer each round"
    return timed_rows(SECTION, case, seconds, "tiktoken", amount=mb, unit="MB/s", note=note)


def no_whitespace_rows(n_bytes: int, merges: int) -> list[dict[str, Any]]:
    """Training and encoding of `n_bytes` random letters, each once in a fresh process."""
    text = random_letters(n_bytes)
    size = f"{n_bytes / 1e6:g} MB" if n_bytes >= 1e6 else f"{n_bytes // 1000} kB"
    case = f"no whitespace, {size} of random letters"
    train = fresh_process_probe("train", text, 256 + merges)
    encode = fresh_process_probe("encode", text)
    rows = []
    for impl, job, value, unit in (
        (f"train {merges} merges", train, train["seconds"] / merges * 100, "s/100 merges"),
        ("GPT-2 encode", encode, n_bytes / 1e6 / encode["seconds"], "MB/s"),
    ):
        growth = job["peak_mb"] - job["before_mb"]
        rows.append(make_row(SECTION, case, impl, value, unit, note="once, fresh process"))
        rows.append(
            make_row(
                SECTION,
                case,
                f"{impl}, memory",
                growth * 1e6 / n_bytes,
                "B/input byte",
                note=f"peak resident growth {growth:.0f} MB, once, fresh process",
            )
        )
    return rows


def tokenizer_rows(quick: bool = False) -> list[dict[str, Any]]:
    """All rows of the tokenizer benchmark (quick: slices of the corpus, fewer rounds)."""
    text = read_text(fetch("tinyshakespeare.txt"))
    rounds = 3 if quick else 5
    train_text = text[:50_000] if quick else text
    corpus = "first 50k chars" if quick else "tiny shakespeare"
    rows = training_rows(train_text, corpus, 5_000 if quick else 100_000, rounds)
    rows += encoding_rows(train_text, corpus, rounds)
    rows += no_whitespace_rows(*(NO_WHITESPACE_QUICK if quick else NO_WHITESPACE_FULL))
    memory = fresh_process_probe("train", train_text, BIG_VOCAB)
    rows.append(
        make_row(
            SECTION,
            f"peak memory, train vocab {BIG_VOCAB} ({corpus})",
            "course",
            memory["peak_mb"],
            "MB",
            note=f"max resident set of a fresh process; {memory['before_mb']:.0f} MB before",
        )
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m week2_tokenizer.bench")
    parser.add_argument("--quick", action="store_true", help="a slice of the corpus, fewer rounds")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = tokenizer_rows(quick=args.quick)
    print(f"machine: {machine_description()['cpu']}, {os.cpu_count()} cores")
    print(f"{'case':<42} {'impl':<26} {'value':>10} {'unit':<12} ratio (min-max), vs; note")
    for r in rows:
        vs = f", vs {r['reference']}" if r["reference"] not in (None, r["impl"]) else ""
        value = f"{r['value']:>10.3f} {r['unit']:<12}"
        print(f"{r['case']:<42} {r['impl']:<26} {value} {format_ratio(r)}{vs}; {r['note']}")
    print("ratio: times faster than the reference (higher is better), median of the rounds")
    print(f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
