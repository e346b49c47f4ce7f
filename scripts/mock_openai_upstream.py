"""A mock OpenAI upstream for benchmarks: the real wire format, a fixed latency.

    python scripts/mock_openai_upstream.py --port 8100 --latency-ms 50

* ``POST /v1/chat/completions``: after ``--latency-ms``, a ``chat.completion``
  object answering with a fixed sentence and the request's model; with
  ``stream: true``, server-sent ``chat.completion.chunk`` events (role chunk,
  one word per chunk, a ``finish_reason`` chunk, a usage chunk when
  ``stream_options.include_usage``), then ``data: [DONE]``. The latency is
  spent before the first byte, the way a model's time to first token is.
* ``POST /v1/embeddings``: one deterministic unit vector of ``--dimensions``
  floats per input after ``--embedding-latency-ms`` (0 by default).
* ``GET /v1/models`` lists ``--model``; ``GET /stats`` counts the requests
  answered per route (the benchmark reads it to check cache hits never reach
  the upstream).

Malformed requests get OpenAI's error object ``{"error": {"message", "type",
"param", "code"}}`` with status 400. No key is checked: any bearer is accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import time
import uuid
from typing import Any

from aiohttp import web

__all__ = ["ANSWER", "build_app", "main"]

ANSWER = "The capital of France is Paris, on the Seine, with about two million inhabitants."


class _Stats:
    """Requests answered per route."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}


_STATS = web.AppKey("stats", _Stats)
_LATENCY = web.AppKey("latency", float)
_EMBEDDING_LATENCY = web.AppKey("embedding_latency", float)
_DIMENSIONS = web.AppKey("dimensions", int)
_MODEL = web.AppKey("model", str)


def _error(message: str, param: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param,
                      "code": None}}  # fmt: skip
    return web.json_response(body, status=400)


def _count(request: web.Request, route: str) -> None:
    counts = request.app[_STATS].counts
    counts[route] = counts.get(route, 0) + 1


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _usage(messages: list[Any]) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "").split()) for m in messages if isinstance(m, dict))
    done = len(ANSWER.split())
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions`` (plain or SSE)."""
    body = await _json_body(request)
    if body is None:
        return _error("We could not parse the JSON body of your request.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error("'messages' is a required property and must be a non-empty array",
                      "messages")  # fmt: skip
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error("you must provide a model parameter", "model")
    await asyncio.sleep(request.app[_LATENCY])
    _count(request, "chat")
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.get("stream"):
        return web.json_response({
            "id": ident, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": ANSWER, "refusal": None}}],
            "usage": _usage(messages), "system_fingerprint": None,
        })  # fmt: skip
    head = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
    return await _stream(request, body, head)


async def _stream(
    request: web.Request, body: dict[str, Any], head: dict[str, Any]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        event = {**head, "choices": choices, **extra}
        return b"data: " + json.dumps(event).encode() + b"\n\n"

    await response.write(chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}]))
    words = ANSWER.split(" ")
    for i, word in enumerate(words):
        token = word if i == 0 else " " + word
        await response.write(chunk([{"index": 0, "delta": {"content": token}}]))
    await response.write(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        await response.write(chunk([], usage=_usage(body["messages"])))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _unit_vector(text: str, dimensions: int) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = [(seed[i % len(seed)] - 127.5) / 127.5 + (i % 7) * 1e-3 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


async def embeddings(request: web.Request) -> web.Response:
    """``POST /v1/embeddings``."""
    body = await _json_body(request)
    if body is None:
        return _error("We could not parse the JSON body of your request.")
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        return _error("'input' must be a string or a non-empty array of strings", "input")
    dimensions = body.get("dimensions") or request.app[_DIMENSIONS]
    if not isinstance(dimensions, int) or dimensions < 1:
        return _error("'dimensions' must be a positive integer", "dimensions")
    if request.app[_EMBEDDING_LATENCY]:
        await asyncio.sleep(request.app[_EMBEDDING_LATENCY])
    _count(request, "embeddings")
    data = [
        {"object": "embedding", "index": i, "embedding": _unit_vector(text, dimensions)}
        for i, text in enumerate(inputs)
    ]
    tokens = sum(len(t.split()) for t in inputs)
    return web.json_response({
        "object": "list", "data": data, "model": body.get("model") or "mock-embed",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })  # fmt: skip


async def models(request: web.Request) -> web.Response:
    """``GET /v1/models``."""
    model = {"id": request.app[_MODEL], "object": "model", "created": 0, "owned_by": "mock"}
    return web.json_response({"object": "list", "data": [model]})


async def stats(request: web.Request) -> web.Response:
    """``GET /stats``: requests answered per route."""
    return web.json_response(request.app[_STATS].counts)


def build_app(
    *, latency: float, embedding_latency: float = 0.0, dimensions: int = 384, model: str = "mock"
) -> web.Application:
    """The mock's application (latencies in seconds)."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[_LATENCY], app[_EMBEDDING_LATENCY] = latency, embedding_latency
    app[_DIMENSIONS], app[_MODEL] = dimensions, model
    app[_STATS] = _Stats()
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    return app


def main() -> None:
    """Serve the mock until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--embedding-latency-ms", type=float, default=0.0)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--model", default="mock")
    args = parser.parse_args()
    app = build_app(
        latency=args.latency_ms / 1000,
        embedding_latency=args.embedding_latency_ms / 1000,
        dimensions=args.dimensions,
        model=args.model,
    )
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
