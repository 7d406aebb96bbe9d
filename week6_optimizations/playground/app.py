"""The playground's HTTP API: OpenAI's endpoints over the course's runs, streamed or not.

    GET  /health                  {"status": "ok"}
    GET  /v1/models               the runs under runs/, by name
    POST /v1/completions          text completion (stream: server-sent events, then [DONE])
    POST /v1/chat/completions     chat: the run's chat template if it was fine-tuned, else a
                                  plain transcript (USER:/ASSISTANT: turns, as the corpus writes
                                  speakers); the reply stops where the next turn would begin
    POST /v1/tokenize             (an extension) how a text splits into the model's tokens

Every request is bounded before any work: the body's size, max_tokens, and the prompt's length
in tokens (`Limits`); a prompt longer than the model's context is refused rather than silently
cut. A streamed request whose client goes away stops at the next token: the step lock
(generation.py) is free again within one step.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from week5_generation.finetune.chat import fitted_history, speaks_chat
from week5_generation.finetune.template import END, Message
from week5_generation.generate import start_ids
from week5_generation.loading import SamplingSource
from week5_generation.sampling import SamplingSettings, make_generator
from week6_optimizations.playground.api import (
    ApiError,
    ChatRequest,
    CompletionRequest,
    Knobs,
    validation_error,
)
from week6_optimizations.playground.generation import Outcome, Step, steps, token_text
from week6_optimizations.playground.store import ModelStore

TRANSCRIPT_STOP = "\n\n"  # a plain model's reply ends where the corpus ends a speech


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_body_bytes: int = 64 * 1024
    max_tokens: int = 1024
    max_prompt_tokens: int | None = None  # None: the model's block_size


@dataclass
class Prepared:
    """A request made ready to generate: its model, prompt ids, settings and stop strings."""

    name: str
    source: SamplingSource
    ids: list[int]
    settings: SamplingSettings
    seed: int
    stops: list[str]


def transcript(messages: list[Message]) -> str:
    """A conversation for a model that was never fine-tuned: speakers as the corpus writes them."""
    turns = "".join(f"{m.role.upper()}:\n{m.content}\n\n" for m in messages)
    return turns + "ASSISTANT:\n"


def prepare(
    store: ModelStore, limits: Limits, body: Knobs, prompt: str | list[Message]
) -> Prepared:
    """Check the request against the limits and its model; encode the prompt."""
    if body.max_tokens > limits.max_tokens:
        raise ApiError(
            400, f"max_tokens: at most {limits.max_tokens}, got {body.max_tokens}", "max_tokens"
        )
    name, source = store.get(body.model)
    tokenizer, block_size = source.tokenizer, source.model.config.block_size
    stops = body.stops()
    if isinstance(prompt, str):
        ids = tokenizer.encode(prompt, allowed_special="none") if prompt else start_ids(tokenizer)
    elif speaks_chat(source.config):
        ids, _ = fitted_history(tokenizer, prompt, block_size)
        stops.append(END)
    else:
        ids = tokenizer.encode(transcript(prompt), allowed_special="none")
        stops.append(TRANSCRIPT_STOP)
    most = limits.max_prompt_tokens or block_size
    if len(ids) > most:
        raise ApiError(
            400, f"the prompt is {len(ids)} tokens; this server takes at most {most}", "prompt"
        )
    settings = SamplingSettings(body.temperature, body.top_k, body.top_p)
    seed = body.seed if body.seed is not None else int(source.config.run.seed)
    return Prepared(name, source, ids, settings, seed, stops)


def step_iterator(
    job: Prepared, max_tokens: int, n_top: int, lock: threading.Lock, outcome: Outcome
) -> Generator[Step, None, None]:
    source = job.source
    return steps(
        source.model,
        source.tokenizer,
        job.ids,
        max_tokens,
        job.settings,
        generator=make_generator(job.seed),
        stop=job.stops,
        stop_ids=[] if source.tokenizer.eot_id is None else [source.tokenizer.eot_id],
        n_top=n_top,
        lock=lock,
        outcome=outcome,
    )


def completion_logprobs(found: list[Step], n_top: int) -> dict[str, Any]:
    """OpenAI's legacy completions `logprobs` object."""
    offsets, position = [], 0
    for step in found:
        offsets.append(position)
        position += len(step.piece)
    return {
        "tokens": [s.token for s in found],
        "token_logprobs": [s.logprob for s in found],
        "top_logprobs": [{a.token: a.logprob for a in s.top[:n_top]} for s in found],
        "text_offset": offsets,
    }


def chat_logprobs(found: list[Step], n_top: int) -> dict[str, Any]:
    """OpenAI's chat `logprobs` object: one entry per token with its top alternatives."""

    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}

    return {
        "content": [
            entry(s.token, s.logprob)
            | {"top_logprobs": [entry(a.token, a.logprob) for a in s.top[:n_top]]}
            for s in found
        ]
    }


class BodyLimit:
    """ASGI middleware: a request body larger than `limit` bytes is refused with 413, whether
    its Content-Length says so up front or a chunked body only grows too large on the way.

    The body is read here, counted as it arrives (so an endless one is never read to its end),
    and handed to the application whole; after it, the application receives what the client
    sends next, which is how a stream learns that its client has gone.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def refuse(self, size: str, scope: Any, receive: Any, send: Any) -> None:
        error = ApiError(413, f"the body is {size} bytes; at most {self.limit}", None)
        await JSONResponse(error.body(), status_code=413)(scope, receive, send)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self.refuse(declared.decode(), scope, receive, send)
            return
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left before its body ended
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                await self.refuse(f"more than {self.limit}", scope, receive, send)
                return
            more = message.get("more_body", False)
        whole: dict[str, Any] | None = {"type": "http.request", "body": b"".join(chunks)}

        async def replay() -> Any:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()

        await self.app(scope, replay, send)


def sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def create_app(
    store: ModelStore, limits: Limits | None = None, page: Callable[[], Response] | None = None
) -> FastAPI:
    """The playground's FastAPI application over `store`."""
    limits = limits if limits is not None else Limits()
    app = FastAPI(title="Tiny GPT playground")
    lock = threading.Lock()
    app.state.generating = 0  # generations running now (GET /health shows it)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        api_error = validation_error(list(error.errors()))
        return JSONResponse(api_error.body(), status_code=api_error.status)

    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "generating": app.state.generating}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "owned_by": "runs"} for n in store.names()],
        }

    @app.post("/v1/tokenize")
    async def tokenize(body: CompletionRequest) -> dict[str, Any]:
        _, source = store.get(body.model)
        ids = source.tokenizer.encode(body.prompt, allowed_special="none")
        return {"ids": ids, "tokens": [token_text(source.tokenizer, i) for i in ids]}

    async def run(
        request: Request,
        job: Prepared,
        body: Knobs,
        n_top: int,
        chunk: Callable[[Step | None, str, Outcome], dict[str, Any]],
    ) -> AsyncIterator[bytes]:
        """Server-sent events: a chunk per token that adds text, the last with its finish reason."""
        outcome = Outcome()
        tokens = step_iterator(job, body.max_tokens, n_top, lock, outcome)
        app.state.generating += 1
        try:
            while True:
                step = await anyio.to_thread.run_sync(next, tokens, None)
                if step is None:
                    break
                yield sse(chunk(step, step.piece, outcome))
                if await request.is_disconnected():
                    return
            yield sse(chunk(None, outcome.tail, outcome))
            yield sse("[DONE]")
        finally:
            tokens.close()
            app.state.generating -= 1

    def whole(job: Prepared, body: Knobs, n_top: int) -> tuple[str, Outcome]:
        outcome = Outcome()
        found = list(step_iterator(job, body.max_tokens, n_top, lock, outcome))
        return "".join(s.piece for s in found) + outcome.tail, outcome

    def usage(job: Prepared, outcome: Outcome) -> dict[str, int]:
        n = len(outcome.steps)
        return {
            "prompt_tokens": len(job.ids),
            "completion_tokens": n,
            "total_tokens": len(job.ids) + n,
        }

    async def respond(
        request: Request,
        job: Prepared,
        body: Knobs,
        n_top: int,
        names: tuple[str, str, str],
        streamed: Callable[[Step | None, str], dict[str, Any]],
        finished: Callable[[str, Outcome], dict[str, Any]],
    ) -> Response | dict[str, Any]:
        """One answer in OpenAI's envelope: `names` = (id prefix, object of a chunk, object of
        a whole answer); `streamed` makes a chunk's choice, `finished` the whole answer's."""
        ident, created = f"{names[0]}-{uuid.uuid4().hex[:24]}", int(time.time())

        def envelope(kind: str, choice: dict[str, Any]) -> dict[str, Any]:
            return {
                "id": ident,
                "object": kind,
                "created": created,
                "model": job.name,
                "choices": [choice],
            }

        def chunk(step: Step | None, text: str, outcome: Outcome) -> dict[str, Any]:
            reason = outcome.finish_reason if step is None else None
            return envelope(names[1], streamed(step, text) | {"finish_reason": reason})

        if body.stream:
            events = run(request, job, body, n_top, chunk)
            return StreamingResponse(events, media_type="text/event-stream")
        text, outcome = await anyio.to_thread.run_sync(whole, job, body, n_top)
        choice = finished(text, outcome) | {"finish_reason": outcome.finish_reason}
        return envelope(names[2], choice) | {"usage": usage(job, outcome)}

    @app.post("/v1/completions", response_model=None)
    async def completions(request: Request, body: CompletionRequest) -> Response | dict[str, Any]:
        job = await anyio.to_thread.run_sync(prepare, store, limits, body, body.prompt)
        n_top, wanted = body.logprobs or 0, body.logprobs is not None

        def streamed(step: Step | None, text: str) -> dict[str, Any]:
            logprobs = completion_logprobs([step], n_top) if step is not None and wanted else None
            return {"index": 0, "text": text, "logprobs": logprobs}

        def finished(text: str, outcome: Outcome) -> dict[str, Any]:
            logprobs = completion_logprobs(outcome.steps, n_top) if wanted else None
            return {"index": 0, "text": text, "logprobs": logprobs}

        names = ("cmpl", "text_completion", "text_completion")
        return await respond(request, job, body, n_top, names, streamed, finished)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request, body: ChatRequest) -> Response | dict[str, Any]:
        messages = [Message(m.role, m.content) for m in body.messages]
        job = await anyio.to_thread.run_sync(prepare, store, limits, body, messages)
        n_top = (body.top_logprobs or 0) if body.logprobs else 0
        first = True

        def streamed(step: Step | None, text: str) -> dict[str, Any]:
            nonlocal first
            delta: dict[str, Any] = (
                {"role": "assistant", "content": text} if first else {"content": text}
            )
            first = False
            logprobs = chat_logprobs([step], n_top) if step is not None and body.logprobs else None
            return {"index": 0, "delta": delta, "logprobs": logprobs}

        def finished(text: str, outcome: Outcome) -> dict[str, Any]:
            logprobs = chat_logprobs(outcome.steps, n_top) if body.logprobs else None
            message = {"role": "assistant", "content": text}
            return {"index": 0, "message": message, "logprobs": logprobs}

        names = ("chatcmpl", "chat.completion.chunk", "chat.completion")
        return await respond(request, job, body, n_top, names, streamed, finished)

    if page is not None:
        app.get("/", response_model=None)(page)
    return app
