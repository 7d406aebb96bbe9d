"""`make bench` rows for the playground: what serving costs against sampling in the process.

    make sample (in process)   week 5's generate with the KV cache: no HTTP, no JSON
    server, 1 stream           one streamed /v1/completions request over HTTP on 127.0.0.1
    server, 4 streams          four at once: each advances a token per step in turn (the lock)

Each generates the same number of tokens from the same random baby-shaped model (a byte
tokenizer without end-of-text, so no stream stops early), in interleaved rounds. Tokens/s rows
are per stream; the time to first token is the median over rounds (and streams) from sending
the request to the first chunk of text.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch

from shared.bench import interleaved, make_row, timed_rows
from shared.config import config_from_dict
from week2_tokenizer import Tokenizer
from week4_training.checkpoint import BEST, save_checkpoint, tokenizer_record
from week5_generation.generate import generate
from week5_generation.sampling import SamplingSettings, make_generator
from week6_optimizations.bench.generation import generation_model
from week6_optimizations.bench.rows import register_rows
from week6_optimizations.bench.training import BABY, ModelShape
from week6_optimizations.cached_generation import CachedLogits
from week6_optimizations.playground.app import Limits, create_app
from week6_optimizations.playground.cli import in_a_thread
from week6_optimizations.playground.store import ModelStore

SAMPLE = "make sample (in process)"
BLOCK_SIZE = 256


def save_bench_run(runs: Path, tokenizer: Tokenizer) -> Path:
    shape: ModelShape = {**BABY, "vocab_size": tokenizer.vocab_size}
    model = generation_model(BLOCK_SIZE, torch.device("cpu"), shape=shape)
    config = config_from_dict({"model": vars(model.config)})
    document = {
        "model": model.state_dict(),
        "config": config.to_dict(),
        "tokenizer": tokenizer_record(tokenizer),
        "step": 0,
        "best_val_loss": 0.0,
    }
    save_checkpoint(runs / "bench" / BEST, document)
    return runs / "bench"


def serving(runs: Path) -> AbstractContextManager[str]:
    """The playground over `runs` on a free local port, in a thread, for the `with` block."""
    app = create_app(ModelStore(runs, "bench", torch.device("cpu")), Limits(max_tokens=4096))
    return in_a_thread(app)


def stream_once(url: str, new_tokens: int, seed: int, first: list[float]) -> int:
    """One streamed request; appends its time to first text to `first`; returns the chunks."""
    import httpx

    body = {"prompt": "ROMEO:", "max_tokens": new_tokens, "stream": True, "seed": seed}
    start, chunks = time.perf_counter(), 0
    with httpx.stream("POST", f"{url}/v1/completions", json=body, timeout=300) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                if chunks == 0:
                    first.append(time.perf_counter() - start)
                chunks += 1
    return chunks


def playground_rows_for(new_tokens: int, rounds: int, warmup: int) -> list[dict[str, Any]]:
    tokenizer = Tokenizer.bytes_only(special_tokens=())
    with tempfile.TemporaryDirectory() as folder, serving(Path(folder)) as url:
        run = save_bench_run(Path(folder), tokenizer)
        from week4_training.checkpoint import load_checkpoint

        model = load_checkpoint(run).model
        prompt = tokenizer.encode("ROMEO:")
        settings = SamplingSettings(temperature=1.0)
        firsts: dict[str, list[float]] = {"server, 1 stream": [], "server, 4 streams": []}

        def in_process() -> None:
            tokens = generate(
                model,
                prompt,
                new_tokens,
                settings,
                generator=make_generator(1),
                next_token_logits=CachedLogits(model),
            )
            assert sum(1 for _ in tokens) == new_tokens

        def one() -> None:
            stream_once(url, new_tokens, 1, firsts["server, 1 stream"])

        def four() -> None:
            threads = [
                threading.Thread(
                    target=stream_once, args=(url, new_tokens, s, firsts["server, 4 streams"])
                )
                for s in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        seconds = interleaved(
            {SAMPLE: in_process, "server, 1 stream": one, "server, 4 streams": four}, rounds, warmup
        )
    case = f"block {BLOCK_SIZE}, {new_tokens} new tokens"
    note = "baby-shaped random model, byte tokens, temperature 1, per stream (4 share the model)"
    rows = timed_rows(
        "playground", case, seconds, SAMPLE, amount=new_tokens, unit="tokens/s", note=note
    )
    for impl, times in firsts.items():
        measured = times[warmup * (4 if "4" in impl else 1) :] or times
        rows.append(
            make_row(
                "playground",
                "time to first token",
                impl,
                statistics.median(measured),
                "s",
                note="median over rounds and streams",
            )
        )
    return rows


@register_rows("playground")
def playground_rows(quick: bool) -> list[dict[str, Any]]:
    """Serving against sampling in the process (skipped when FastAPI or uvicorn is missing)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as error:
        return [
            make_row(
                "playground",
                "server",
                "server, 1 stream",
                None,
                "tokens/s",
                note=f"skipped: {error}",
            )
        ]
    if quick:
        return playground_rows_for(new_tokens=32, rounds=2, warmup=1)
    return playground_rows_for(new_tokens=200, rounds=5, warmup=1)
