"""OpenAI-compatible API: ``POST /v1/chat/completions`` (plain and SSE), ``GET /v1/models``,
``POST /v1/embeddings`` (see :mod:`neuralbridge.gateway.datasets`).

The wire mapping is documented in :mod:`neuralbridge.gateway.openai_wire`, the
stream's reset and error handling in :mod:`neuralbridge.gateway.sse`. A
streamed request's first reply is awaited before the response starts, so a
refusal (guardrails, deadline, bad provider) is still a plain HTTP error.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.response import Stream

from neuralbridge.core.bus import Bus
from neuralbridge.gateway.access import caller_of, require_caller
from neuralbridge.gateway.datasets import EmbeddingList, EmbeddingsRequest, embed
from neuralbridge.gateway.jsonbody import declare_body, read_json
from neuralbridge.gateway.openai_wire import MODELS, ChatRequest, Model, ModelList, completion
from neuralbridge.gateway.proxy_client import ProxyClient
from neuralbridge.gateway.sse import chat_events

__all__ = ["openai_router"]

#: Seconds the worker has to embed one request (the first loads the model).
EMBED_TIMEOUT = 60.0


@post("/chat/completions", status_code=200, summary="OpenAI chat completion (plain or SSE)")
async def chat_completions(
    proxy: NamedDependency[ProxyClient], request: Request[Any, Any, Any]
) -> Response[Any]:
    """The last user message, answered by the pipeline, in OpenAI's format.

    One dependency only: Litestar resolves two or more in a task group per request.
    """
    data = await read_json(request, ChatRequest)
    ask = data.to_ask()
    caller = caller_of(request)
    if not data.stream:
        return Response(completion(await proxy.answer(ask, caller), ask.query))
    stream = await proxy.open(ask, caller)
    first = await anext(stream)
    include_usage = bool(data.stream_options and data.stream_options.include_usage)
    events = chat_events(stream, first, model=data.model, include_usage=include_usage)
    return Stream(
        events, media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )  # fmt: skip


@get("/models", summary="Models this gateway answers for", sync_to_thread=False)
def models() -> ModelList:
    """``neuralbridge`` (the default) and each provider name."""
    return ModelList(data=[Model(id=name) for name in MODELS])


@post("/embeddings", status_code=200, summary="OpenAI embeddings (local all-MiniLM-L6-v2)")
async def embeddings(request: Request[Any, Any, Any], bus: NamedDependency[Bus]) -> EmbeddingList:
    """One 384-dimensional vector per input, from the dataset-transform worker."""
    return await embed(bus, await read_json(request, EmbeddingsRequest), timeout=EMBED_TIMEOUT)


declare_body("post", "/v1/chat/completions", ChatRequest)
declare_body("post", "/v1/embeddings", EmbeddingsRequest)

openai_router = Router(
    path="/v1", route_handlers=[chat_completions, models, embeddings],
    before_request=require_caller, tags=["openai"],
)  # fmt: skip
