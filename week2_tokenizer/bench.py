"""Speed of the course tokenizer against references, measured in one run on one machine.

    python -m week2_tokenizer.bench [--quick]

Rows (section "tokenizer"): training time at vocab 4096 against HF `tokenizers` limited to one
thread; training time at vocab 512 against the naive trainer that recounts every pair of every
pre-token after each merge; GPT-2 encoding speed against `tokenizers` and `tiktoken` (built
offline from the same files); peak memory of training; a 1 MB piece without whitespace.
Every ratio is course / reference in the direction stated by its row's note.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

os.environ["RAYON_NUM_THREADS"] = "1"  # must be set before `tokenizers` is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from shared.bench import machine_description, median_seconds  # noqa: E402
from shared.data import fetch, read_text  # noqa: E402
from week2_tokenizer.pretokenize import GPT2_PATTERN, pretokenize  # noqa: E402
from week2_tokenizer.tokenizer import Tokenizer  # noqa: E402
from week2_tokenizer.train import train_bpe  # noqa: E402

if TYPE_CHECKING:
    import tiktoken
    from tokenizers import Tokenizer as HFTokenizer


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


def hf_trainer_seconds(text: str, vocab_size: int, repeats: int) -> float:
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, pre_tokenizers, trainers

    def train() -> None:
        tokenizer = HFTokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=["<|endoftext|>"],
        )
        tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer)

    return median_seconds(train, repeats=repeats, warmup=1)


def peak_training_mb(vocab_size: int, n_chars: int) -> tuple[float, float]:
    """(before, peak) resident memory in MB of a fresh process that trains on tiny shakespeare.

    The trap: on Linux `ru_maxrss` survives `exec`, so a child of a big process (the bench has
    PyTorch loaded) starts with its parent's high-water mark. The child reads its own `VmHWM`
    from /proc instead, which starts afresh with the new program; elsewhere `ru_maxrss` is used
    (kilobytes on Linux, bytes on macOS).
    """
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "def peak_mb():\n"
        "    status = Path('/proc/self/status')\n"
        "    if status.exists():\n"
        "        line = next(l for l in status.read_text().splitlines() if l.startswith('VmHWM'))\n"
        "        return int(line.split()[1]) / 1024\n"
        "    scale = 1024 * 1024 if sys.platform == 'darwin' else 1024\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale\n"
        "from shared.data import fetch, read_text\n"
        "from week2_tokenizer import train_bpe\n"
        f"text = read_text(fetch('tinyshakespeare.txt'))[:{n_chars}]\n"
        "base = peak_mb()\n"
        f"train_bpe(text, {vocab_size}, progress=False)\n"
        "print(base, peak_mb())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, peak = out.stdout.split()[-2:]
    return float(before), float(peak)


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


def tokenizer_rows(quick: bool = False) -> list[dict]:
    """All rows of the tokenizer benchmark (quick: a slice of the corpus, fewer repeats)."""
    text = read_text(fetch("tinyshakespeare.txt"))
    repeats = 1 if quick else 3
    train_text = text[:200_000] if quick else text
    corpus = "200k chars" if quick else "tiny shakespeare"
    rows: list[dict] = []

    def row(
        case: str, impl: str, value: float, unit: str, ratio: float | None = None, note: str = ""
    ) -> None:
        rows.append(
            {
                "section": "tokenizer",
                "case": case,
                "impl": impl,
                "value": round(value, 4),
                "unit": unit,
                "ratio": None if ratio is None else round(ratio, 3),
                "note": note,
            }
        )

    big = 4096
    ours = median_seconds(lambda: train_bpe(train_text, big, progress=False), repeats, warmup=0)
    theirs = hf_trainer_seconds(train_text, big, repeats)
    case = f"train vocab {big} ({corpus})"
    row(
        case,
        "course",
        ours,
        "s",
        ours / theirs,
        "ratio = course s / tokenizers s (lower is better)",
    )
    row(case, "tokenizers (1 thread)", theirs, "s")

    small = 512
    # The recount trainer needs ~5 minutes on the whole corpus, so both trainers run on the same
    # slice, measured in full there (nothing extrapolated).
    naive_chars = 20_000 if quick else 100_000
    naive_text = text[:naive_chars]
    case = f"train vocab {small} (first {naive_chars // 1000}k chars)"
    ours = median_seconds(lambda: train_bpe(naive_text, small, progress=False), repeats, warmup=0)
    naive = median_seconds(lambda: recount_trainer(naive_text, small), repeats=1, warmup=0)
    row(
        case,
        "course",
        ours,
        "s",
        naive / ours,
        "ratio = recount s / course s (speed-up, higher is better)",
    )
    row(
        case,
        "recount reference",
        naive,
        "s",
        note="recounts all pairs of all pre-tokens per merge; timed once, in full, same slice",
    )

    text = text[:300_000] if quick else text
    mb = len(text.encode("utf-8")) / 1e6
    gpt2 = Tokenizer.from_gpt2()
    tiktoken_encoding, hf = gpt2_references()

    def cold() -> None:
        gpt2._cache.clear()
        gpt2.encode(text)

    speeds = {
        "course (cold cache)": mb / median_seconds(cold, repeats, warmup=1),
        "course (warm cache)": mb / median_seconds(lambda: gpt2.encode(text), repeats, warmup=1),
        "tokenizers (1 thread)": mb / median_seconds(lambda: hf.encode(text), repeats, warmup=1),
        "tiktoken": mb
        / median_seconds(lambda: tiktoken_encoding.encode_ordinary(text), repeats, 1),
    }
    case = "GPT-2 encode " + ("300k chars" if quick else "tiny shakespeare")
    ratio: float | None
    for impl, speed in speeds.items():
        if impl.startswith("course"):
            ratio, note = speed / speeds["tiktoken"], "ratio = this MB/s / tiktoken MB/s"
        else:
            ratio = speeds["course (cold cache)"] / speed
            note = "ratio = course cold-cache MB/s / this MB/s (higher: course faster)"
        if impl == "tiktoken":
            ratio, note = None, ""
        row(case, impl, speed, "MB/s", ratio, note)

    no_space = ("abcdefghijklmnopqrstuvwxyz" * 40_000)[: 100_000 if quick else 1_000_000]
    seconds = median_seconds(lambda: gpt2.encode(no_space), repeats=1, warmup=0)
    row(
        f"GPT-2 encode {len(no_space) // 1000} kB, no whitespace",
        "course",
        seconds,
        "s",
        note="one pre-token: the heap merge, O(n log n)",
    )

    before, peak = peak_training_mb(big, len(train_text))
    row(
        f"peak memory, train vocab {big} ({corpus})",
        "course",
        peak,
        "MB",
        note=f"max resident set of a fresh process; {before:.0f} MB before training",
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m week2_tokenizer.bench")
    parser.add_argument("--quick", action="store_true", help="a slice of the corpus, fewer repeats")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = tokenizer_rows(quick=args.quick)
    print(f"machine: {machine_description()['cpu']}, {os.cpu_count()} cores")
    print(f"{'case':<42} {'impl':<24} {'value':>10} {'unit':<5} {'ratio':>7}  note")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        value = f"{r['value']:>10.3f} {r['unit']:<5}"
        print(f"{r['case']:<42} {r['impl']:<24} {value} {ratio:>7}  {r['note']}")
    print(f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
