"""`python -m week6_optimizations.playground serve [--ckpt runs/x] [--port 8000] [--host ...]`.

The server listens on 127.0.0.1, this machine only, unless `--host` names another address: a
model server open to the network is a choice to make on purpose.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.device import pick_device
from shared.errors import CourseError
from shared.paths import RUNS_DIR
from week6_optimizations.playground.app import Limits, create_app
from week6_optimizations.playground.page import page_response
from week6_optimizations.playground.store import ModelStore


@contextmanager
def in_a_thread(app: Any, timeout: float = 30.0) -> Iterator[str]:
    """`app` served by uvicorn on a free port of 127.0.0.1 in a background thread, for the
    `with` block (the tests and the bench talk to it as any client would); yields its URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise CourseError(f"the playground did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)


def store_for(ckpt: str | None, runs_dir: Path, device: str) -> ModelStore:
    """The runs the server offers; `ckpt` (a run folder under runs_dir) is the default model."""
    default = None
    if ckpt:
        folder = Path(ckpt)
        if (
            folder.resolve().parent != runs_dir.resolve()
            or not (folder / "checkpoint.pt").is_file()
        ):
            raise CourseError(
                f"CKPT={ckpt}: must be a run folder under {runs_dir} with a checkpoint.pt"
            )
        default = folder.name
    return ModelStore(runs_dir, default, pick_device(device))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    store = store_for(args.ckpt, Path(args.runs_dir), args.device)
    app = create_app(store, Limits(max_tokens=args.max_tokens), page=page_response)
    print(f"serving {', '.join(store.names()) or 'no runs yet'} on http://{args.host}:{args.port}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m week6_optimizations.playground", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="an OpenAI-compatible server over runs/")
    serve.add_argument("--ckpt", default=None, help="the default run (runs/<name>)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="127.0.0.1", help="127.0.0.1: this machine only")
    serve.add_argument("--runs-dir", default=str(RUNS_DIR))
    serve.add_argument("--device", default="auto")
    serve.add_argument("--max-tokens", type=int, default=1024, help="the most a request may ask")
    serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return args.run(args)
