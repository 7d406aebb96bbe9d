"""The playground server, started on a free local port and spoken to by the official OpenAI
client and by httpx: the same tokens as `make sample`, OpenAI's chunks and errors, streams that
never mix, and a client that leaves frees the model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from shared.config import config_from_dict
from shared.errors import run_cli
from week2_tokenizer import Tokenizer
from week3_model import GPT, GPTConfig
from week4_training.checkpoint import BEST, save_checkpoint, tokenizer_record
from week5_generation.cli import main as sample_main
from week5_generation.finetune.chat import answer
from week5_generation.finetune.template import TEMPLATE_TOKENS, Message
from week5_generation.finetune.vocabulary import with_special_tokens
from week6_optimizations.playground.app import Limits, create_app
from week6_optimizations.playground.cli import in_a_thread
from week6_optimizations.playground.store import ModelStore

openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")

PROMPT = "ROMEO:"


def save_run(runs: Path, name: str, tokenizer: Tokenizer, chat: bool = False) -> Path:
    """A run folder holding a random model that sampling is sensitive to (week 6's tiny_gpt)."""
    torch.manual_seed(0)
    grown = GPT(
        GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=16)
    )
    with torch.no_grad():
        for parameter in grown.parameters():
            if parameter.dim() >= 2:  # decisive logits: a wrong context shows (week 6's conftest)
                parameter.normal_(0.0, 0.3)
    values = {"model": json.loads(json.dumps(vars(grown.config))), "run": {"name": name, "seed": 5}}
    if chat:
        values["finetune"] = {"base": "runs/base", "data": "x.jsonl"}
    document = {
        "model": grown.state_dict(),
        "config": config_from_dict(values).to_dict(),
        "tokenizer": tokenizer_record(tokenizer),
        "step": 1,
        "best_val_loss": 1.0,
    }
    save_checkpoint(runs / name / BEST, document)
    return runs / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    import week5_generation.finetune.config  # noqa: F401 - the finetune section

    folder = tmp_path_factory.mktemp("runs")
    save_run(folder, "plain", Tokenizer.bytes_only())
    save_run(
        folder, "chat", with_special_tokens(Tokenizer.bytes_only(), TEMPLATE_TOKENS), chat=True
    )
    return folder


@pytest.fixture(scope="module")
def server(runs) -> Iterator[str]:
    store = ModelStore(runs, "plain", torch.device("cpu"))
    with in_a_thread(create_app(store, Limits(max_tokens=400, max_body_bytes=4096))) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key="not-needed", max_retries=0)


def sampled(
    run: Path, prompt: str, n: int, seed: int, temperature: float, top_p: float, capsys
) -> str:
    """What `make sample DECODER=kv_cache` prints after the prompt, with these settings."""
    capsys.readouterr()
    argv = ["sample", "--checkpoint", str(run), "--prompt", prompt, "--max-new-tokens", str(n),
            "--seed", str(seed), "--temperature", str(temperature), "--top-p", str(top_p),
            "--decoder", "kv_cache", "--device", "cpu"]  # fmt: skip
    assert run_cli(sample_main, argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(prompt) and out.endswith("\n")
    return out[len(prompt) : -1]


def test_health_and_the_runs_as_models(client, server):
    assert httpx.get(f"{server}/health").json() == {"status": "ok", "generating": 0}
    assert sorted(m.id for m in client.models.list()) == ["chat", "plain"]


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_a_seeded_completion_streamed_or_not_is_make_samples_text(client, runs, capsys):
    knobs = dict(model="plain", prompt=PROMPT, max_tokens=40, temperature=0.9, top_p=0.9, seed=11)
    whole = client.completions.create(**knobs)
    pieces = [c.choices[0].text for c in client.completions.create(**knobs, stream=True)]
    assert "".join(pieces) == whole.choices[0].text
    assert whole.choices[0].text == sampled(runs / "plain", PROMPT, 40, 11, 0.9, 0.9, capsys)
    assert whole.usage.completion_tokens <= 40 and whole.usage.prompt_tokens == len(PROMPT)


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_the_stream_ends_with_a_finish_reason_and_done(server):
    body = {"prompt": PROMPT, "max_tokens": 5, "stream": True, "seed": 1}
    with httpx.stream("POST", f"{server}/v1/completions", json=body, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    last = json.loads(events[-2].removeprefix("data: "))
    whole = httpx.post(f"{server}/v1/completions", json=body | {"stream": False}, timeout=30).json()
    reason = "length" if whole["usage"]["completion_tokens"] == 5 else "stop"  # stop: end-of-text
    assert last["object"] == "text_completion" and last["choices"][0]["finish_reason"] == reason
    assert whole["choices"][0]["finish_reason"] == reason


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_logprobs_give_each_token_and_its_top_alternatives(client):
    reply = client.completions.create(
        model="plain", prompt=PROMPT, max_tokens=6, seed=2, logprobs=3
    )
    logprobs = reply.choices[0].logprobs
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.top_logprobs) == 6
    for token, logprob, top in zip(
        logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs, strict=True
    ):
        assert logprob <= 0 and len(top) <= 3
        values = list(top.values())  # a dict by token text: byte tokens shown as U+FFFD share a key
        assert max(values) >= logprob - 1e-6
        assert token in top or logprob <= min(values) + 1e-6  # a drawn token outside the top 3
    probabilities = torch.tensor(list(logprobs.top_logprobs[0].values())).exp()
    assert float(probabilities.sum()) <= 1.0 + 1e-5


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_chat_uses_the_template_of_a_fine_tuned_run(client, runs):
    messages = [{"role": "user", "content": "Who says this?"}]
    reply = client.chat.completions.create(
        model="chat", messages=messages, max_tokens=12, temperature=0
    )
    from week4_training.checkpoint import load_checkpoint

    loaded = load_checkpoint(runs / "chat")
    expected = answer(loaded.model, loaded.tokenizer, [Message("user", "Who says this?")], 12)
    assert reply.choices[0].message.content == expected
    assert "<|end|>" not in expected
    streamed = client.chat.completions.create(
        model="chat", messages=messages, max_tokens=12, temperature=0, stream=True
    )
    chunks = list(streamed)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_chat_with_a_plain_run_is_a_transcript_that_stops_at_the_next_turn(client):
    messages = [{"role": "user", "content": "hello"}]
    reply = client.chat.completions.create(
        model="plain", messages=messages, max_tokens=60, seed=3, logprobs=True, top_logprobs=2
    )
    content = reply.choices[0].message.content
    assert "\n\n" not in content
    entries = reply.choices[0].logprobs.content
    assert entries and all(len(e.top_logprobs) <= 2 for e in entries)
    for entry in entries:  # a list: sorted, most likely first, the drawn token's share within it
        values = [alternative.logprob for alternative in entry.top_logprobs]
        assert values == sorted(values, reverse=True) and entry.logprob <= values[0] + 1e-6


@pytest.mark.parametrize(
    ("body", "status", "param", "words"),
    [
        ("{not json", 400, None, "not valid JSON"),
        ({"prompt": PROMPT, "temperature": "hot"}, 400, "temperature", "temperature"),
        ({"prompt": 5}, 400, "prompt", "prompt"),
        ({"prompt": PROMPT, "model": "nope"}, 404, "model", "is not a run under"),
        ({"prompt": PROMPT, "model": "../plain"}, 404, "model", "is not a run under"),
        ({"prompt": PROMPT, "temperature": -1}, 400, "temperature", "greater than or equal to 0"),
        ({"prompt": PROMPT, "top_p": 0}, 400, "top_p", "greater than 0"),
        ({"prompt": PROMPT, "top_p": 1.5}, 400, "top_p", "less than or equal to 1"),
        ({"prompt": PROMPT, "max_tokens": 0}, 400, "max_tokens", "greater than or equal to 1"),
        ({"prompt": PROMPT, "max_tokens": 401}, 400, "max_tokens", "at most 400"),
        ({"prompt": "x" * 40}, 400, "prompt", "this server takes at most 32"),
        ({"prompt": "x" * 5000}, 413, None, "at most 4096"),
        ({}, 400, "prompt", "a required field is missing"),
    ],
)
def test_bad_requests_get_openais_error_json_and_the_server_goes_on(
    server, body, status, param, words
):
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    response = httpx.post(f"{server}/v1/completions", content=content, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and words in error["message"]
    assert httpx.get(f"{server}/health").status_code == 200


def test_chat_errors_name_the_field(server):
    bad = {"messages": [{"role": "robot", "content": "x"}]}
    response = httpx.post(f"{server}/v1/chat/completions", json=bad, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["param"] == "messages.0.role"
    empty = httpx.post(f"{server}/v1/chat/completions", json={"messages": []}, timeout=30)
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "messages"


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_eight_concurrent_streams_each_get_their_own_text(client, server):
    def knobs(seed: int) -> dict:
        return dict(model="plain", prompt=PROMPT, max_tokens=30, temperature=1.0, seed=seed)

    results: dict[int, str] = {}

    def stream(seed: int) -> None:
        own = openai.OpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0)
        results[seed] = "".join(
            c.choices[0].text for c in own.completions.create(**knobs(seed), stream=True)
        )

    threads = [threading.Thread(target=stream, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == list(range(8))
    for seed, text in results.items():
        assert text == client.completions.create(**knobs(seed)).choices[0].text
    assert len(set(results.values())) > 1  # different seeds, different texts


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_a_client_that_leaves_stops_its_generation(server, monkeypatch):
    import week6_optimizations.playground.generation as generation

    steps_taken = []

    class Slow(generation.CachedLogits):
        def __call__(self, ids):  # 10 ms a step: 400 steps would take 4 s
            steps_taken.append(1)
            time.sleep(0.01)
            return super().__call__(ids)

    monkeypatch.setattr(generation, "CachedLogits", Slow)
    body = {"prompt": PROMPT, "max_tokens": 400, "stream": True, "seed": 4, "temperature": 0}
    with httpx.stream("POST", f"{server}/v1/completions", json=body, timeout=30) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line).startswith("data: ")
    # the abandoned stream stops at its next token, not after its remaining ~400 steps
    deadline = time.monotonic() + 20
    while httpx.get(f"{server}/health").json()["generating"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(f"{server}/health").json()["generating"] == 0
    assert len(steps_taken) < 100  # it stopped soon after the client left
    monkeypatch.undo()
    full = httpx.post(f"{server}/v1/completions", json=body | {"stream": False}, timeout=60).json()
    assert full["usage"]["completion_tokens"] > 100  # left alone, it would have gone on
    quick = httpx.post(
        f"{server}/v1/completions", json={"prompt": PROMPT, "max_tokens": 1}, timeout=60
    )
    assert quick.status_code == 200


def test_make_serve_binds_to_this_machine_unless_told(runs, monkeypatch, capsys):
    from week6_optimizations.playground import cli

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options, app=app))
    assert cli.main(["serve", "--ckpt", str(runs / "plain"), "--runs-dir", str(runs)]) == 0
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8000)
    assert "serving chat, plain on http://127.0.0.1:8000" in capsys.readouterr().out
    assert cli.main(["serve", "--runs-dir", str(runs), "--host", "0.0.0.0", "--port", "9"]) == 0
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 9)


def test_a_default_run_must_be_a_run_of_the_runs_folder(runs, tmp_path):
    from shared.errors import CourseError
    from week6_optimizations.playground.cli import store_for

    with pytest.raises(CourseError, match="must be a run folder under"):
        store_for(str(tmp_path / "elsewhere"), runs, "cpu")


def test_without_runs_a_request_is_told_to_train_first(tmp_path):
    from week6_optimizations.playground.api import ApiError

    store = ModelStore(tmp_path / "none", None, torch.device("cpu"))
    assert store.names() == []
    with pytest.raises(ApiError, match="no trained run under"):
        store.get(None)


def test_a_checkpoint_written_again_is_loaded_again(runs):
    store = ModelStore(runs, None, torch.device("cpu"))
    name, first = store.get("plain")
    assert store.get("plain")[1] is first
    checkpoint = runs / "plain" / BEST
    later = checkpoint.stat().st_mtime + 5
    import os

    os.utime(checkpoint, (later, later))
    assert store.get("plain")[1] is not first
    assert store.default_name() == "plain"  # the most recently written run


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_the_bench_rows_time_the_server_against_sampling_in_the_process():
    from week6_optimizations.playground.bench import SAMPLE, playground_rows_for

    rows = playground_rows_for(new_tokens=4, rounds=1, warmup=0)
    speed = {r["impl"]: r for r in rows if r["unit"] == "tokens/s"}
    assert sorted(speed) == sorted([SAMPLE, "server, 1 stream", "server, 4 streams"])
    assert all(r["value"] > 0 for r in speed.values()) and speed[SAMPLE]["ratio"] == 1.0
    first = {r["impl"]: r["value"] for r in rows if r["case"] == "time to first token"}
    assert set(first) == {"server, 1 stream", "server, 4 streams"} and all(
        v > 0 for v in first.values()
    )


def test_a_chunked_body_is_bounded_too(server):
    def chunks():
        for _ in range(10):
            yield b" " * 1000  # JSON allows leading white space: 10,000 bytes in all

    headers = {"content-type": "application/json"}
    response = httpx.post(f"{server}/v1/completions", content=chunks(), headers=headers, timeout=30)
    assert response.status_code == 413 and "at most 4096" in response.json()["error"]["message"]
