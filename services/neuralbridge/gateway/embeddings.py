"""``POST /v1/embeddings`` over the bus: OpenAI's request and response, in slices that fit NATS.

``model`` must be ``neuralbridge``, ``local`` or ``all-MiniLM-L6-v2``; each
selects the worker's ``local`` profile (384 dimensions, ``document`` vectors).
Other names are 400 naming ``model``. ``input`` holds 1 to 2,048 non-empty
strings of at most :data:`MAX_INPUT_CHARS` characters each (OpenAI's 8,192
tokens); anything else is 400 naming ``input``, before the worker is asked.
``usage`` counts whitespace-separated words.

A NATS message holds at most the server's ``max_payload`` bytes (1 MiB by
default), and 2,048 vectors as JSON floats are ~15 MB. So the gateway asks the
worker (``dataset.query.embed``) in slices sized so each request and each
reply fits, with the vectors as base64 of little-endian float32 (2 KiB per
384-dimensional vector), all slices at once, and joins the replies in order.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from typing import Annotated, Literal, get_args

import msgspec

from neuralbridge.clients import RemoteError, ServiceUnavailableError
from neuralbridge.clients.datasets import embed_texts
from neuralbridge.core.bus import Bus
from neuralbridge.gateway.errors import (
    GatewayError,
    InvalidRequestError,
    UpstreamFailedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from neuralbridge.messages.dataset_queries import EmbedRequest

__all__ = [
    "EMBEDDING_MODELS",
    "MAX_INPUTS",
    "MAX_INPUT_CHARS",
    "Embedding",
    "EmbeddingList",
    "EmbeddingUsage",
    "EmbeddingsRequest",
    "embed",
    "plan_slices",
    "upstream_error",
]

#: ``model`` names ``POST /v1/embeddings`` accepts; each means the worker's ``local`` profile.
EmbeddingModel = Literal["neuralbridge", "local", "all-MiniLM-L6-v2"]
EMBEDDING_MODELS = frozenset(get_args(EmbeddingModel))
#: Inputs one request may carry (OpenAI's documented limit).
MAX_INPUTS = 2048
#: Characters one input may hold: OpenAI's 8,192 tokens at three characters a token.
MAX_INPUT_CHARS = 24_576
#: The local model's vector size.
DIMENSIONS = 384
#: Bytes kept free in every NATS message for the JSON around the payload.
_ENVELOPE = 1024


_Input = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_INPUT_CHARS)]


class EmbeddingsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's embeddings request (``user`` is accepted and ignored).

    The limits are in the type, so the OpenAI document states them and a request
    past one is a 400 naming the field before anything else happens.
    """

    input: _Input | Annotated[list[_Input], msgspec.Meta(min_length=1, max_length=MAX_INPUTS)]
    model: EmbeddingModel
    dimensions: Literal[384] | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


class Embedding(msgspec.Struct, frozen=True, kw_only=True):
    """One input's vector (a list of floats, or base64 of little-endian float32)."""

    index: int
    embedding: list[float] | str
    object: Literal["embedding"] = "embedding"


class EmbeddingUsage(msgspec.Struct, frozen=True, kw_only=True):
    """Whitespace-separated words, not tokenizer tokens."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingList(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's embeddings response."""

    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
    object: Literal["list"] = "list"


def plan_slices(texts: list[str], *, max_payload: int, dimensions: int) -> list[list[str]]:
    """Split ``texts`` in order so each slice's request and reply fit ``max_payload``.

    A reply carries one base64 vector (plus quotes and a comma) per text; a
    request carries the texts as JSON strings.
    """
    room = max(max_payload - _ENVELOPE, 1)
    per_reply = max(room // (4 * -(-dimensions * 4 // 3) + 3), 1)
    slices: list[list[str]] = []
    current: list[str] = []
    size = 0
    for text in texts:
        cost = len(json.dumps(text)) + 2
        if current and (len(current) >= per_reply or size + cost > room):
            slices.append(current)
            current, size = [], 0
        current.append(text)
        size += cost
    if current:
        slices.append(current)
    return slices


def _texts(data: EmbeddingsRequest, max_payload: int) -> list[str]:
    """The inputs (their count and sizes are checked by the type), each fitting one message.

    Raises:
        InvalidRequestError: an input cannot travel in one NATS message (naming ``input``);
            only a server configured below :data:`MAX_INPUT_CHARS` can make that so.
    """
    texts = [data.input] if isinstance(data.input, str) else list(data.input)
    for index, text in enumerate(texts):
        if len(json.dumps(text)) + 2 > max_payload - _ENVELOPE:
            raise InvalidRequestError(
                f"input[{index}] does not fit the bus's {max_payload}-byte messages",
                param="input",
            )
    return texts


def upstream_error(exc: ServiceUnavailableError | RemoteError) -> GatewayError:
    """The HTTP error for a worker that is missing (503), slow (504) or refused (502)."""
    if isinstance(exc, RemoteError):
        return UpstreamFailedError(str(exc), code=exc.code)
    if exc.timed_out:
        return UpstreamTimeoutError("the dataset-transform worker did not answer in time")
    return UpstreamUnavailableError("no dataset-transform worker is answering")


async def _ask(bus: Bus, texts: list[str], timeout: float) -> list[str]:
    request = EmbedRequest(texts=texts, profile="local", encoding="base64")
    try:
        reply = await embed_texts(bus, request, timeout=timeout)
    except (ServiceUnavailableError, RemoteError) as exc:
        raise upstream_error(exc) from None
    vectors = reply.vectors
    if len(vectors) != len(texts) or not all(isinstance(v, str) for v in vectors):
        raise UpstreamFailedError(f"the worker sent {len(vectors)} vectors for {len(texts)} texts")
    return [str(v) for v in vectors]


async def embed(bus: Bus, data: EmbeddingsRequest, *, timeout: float) -> EmbeddingList:
    """Embed ``input`` with the worker's local model, in OpenAI's format."""
    limit = bus.nc.max_payload
    texts = _texts(data, limit)
    slices = plan_slices(texts, max_payload=limit, dimensions=DIMENSIONS)
    replies = await asyncio.gather(*(_ask(bus, part, timeout) for part in slices))
    encoded = [vector for reply in replies for vector in reply]
    words = sum(len(t.split()) for t in texts)
    return EmbeddingList(
        data=[
            Embedding(index=i, embedding=_decoded(v) if data.encoding_format == "float" else v)
            for i, v in enumerate(encoded)
        ],
        model=data.model,
        usage=EmbeddingUsage(prompt_tokens=words, total_tokens=words),
    )


def _decoded(vector: str) -> list[float]:
    raw = base64.b64decode(vector)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))
