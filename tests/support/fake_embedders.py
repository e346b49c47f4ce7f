"""Fake embedding providers: local aiohttp servers speaking each provider's real wire format.

One :class:`FakeEmbedderServer` per test, on 127.0.0.1 port 0, in one of six
dialects — ``openai``, ``cohere`` (v2 ``/v2/embed``), ``jina``, ``voyage``,
``ollama`` (``/api/embed``) and ``tei`` (``/embed`` plus OpenAI-compatible
``/v1/embeddings``). Each validates requests the way the real API does (required
fields, batch and token limits, bearer key) and answers with that provider's
success and error body shapes. Vectors are deterministic: seeded from the text
(and the document/query field, where the provider has one) and unit length.

Scripting comes from :class:`~tests.support.fake_http.FakeProviderServer`
(:meth:`fail_next`, e.g. 429 + ``Retry-After``; :meth:`hang_next`, answers
delayed past the client's timeout; ``latency``; the bearer-key check; every
request recorded in :attr:`requests`), plus :meth:`malform_next` (N malformed
200s) and ``fault_rate`` (a seeded fraction of requests answered 429 or 503).
"""

from __future__ import annotations

import array
import hashlib
import math
import random
import uuid
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from aiohttp import web

from tests.support import fake_http

Dialect = Literal["openai", "cohere", "jina", "voyage", "ollama", "tei"]


class _Wire(NamedTuple):
    routes: tuple[str, ...]
    base_path: str
    max_inputs: int | None
    input_field: str


_WIRE: dict[Dialect, _Wire] = {
    "openai": _Wire(("/v1/embeddings",), "/v1", 2048, "input"),
    "cohere": _Wire(("/v2/embed",), "", 96, "texts"),
    "jina": _Wire(("/v1/embeddings",), "/v1", 2048, "input"),
    "voyage": _Wire(("/v1/embeddings",), "/v1", 1000, "input"),
    "ollama": _Wire(("/api/embed",), "", None, "input"),
    "tei": _Wire(("/embed", "/v1/embeddings"), "", 32, "inputs"),
}
_JINA_TASKS = {
    "retrieval.query",
    "retrieval.passage",
    "separation",
    "classification",
    "text-matching",
    "code.query",
    "code.passage",
}
_COHERE_INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}


class _RejectionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RecordedRequest(fake_http.RecordedRequest):
    """One request as the fake received it."""

    @property
    def inputs(self) -> list[str]:
        """The texts the request carried (any dialect)."""
        if not isinstance(self.body, dict):
            return []
        for name in ("input", "texts", "inputs"):
            value = self.body.get(name)
            if isinstance(value, str):
                return [value]
            if isinstance(value, list):
                return [str(v) for v in value]
        return []


@dataclass
class _Fault(fake_http.Fault):
    malformed: Literal["", "count", "fields"] = ""


def fake_vector(text: str, dims: int, salt: str = "") -> list[float]:
    """The unit vector the fake returns for ``text`` (deterministic)."""
    # Hash bytes read as signed 16-bit numbers: deterministic and C-speed, so a fake
    # serving benchmarks does not spend the CPU a real provider spends elsewhere.
    raw = hashlib.shake_256(f"{salt}\x00{text}".encode()).digest(dims * 2)
    values = array.array("h", raw).tolist()
    norm = math.hypot(*values) or 1.0
    return [v / norm for v in values]


def fake_tokens(text: str) -> int:
    """How many tokens the fake charges: about four bytes per token, like real tokenizers."""
    return max(1, math.ceil(len(text.encode()) / 4))


class FakeEmbedderServer(fake_http.FakeProviderServer[_Fault]):
    """A scriptable fake of one provider's embedding API.

    Args:
        dialect: Which provider to imitate.
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>``.
        max_inputs: Inputs allowed per request (the provider's real limit by default).
        max_tokens: Total tokens allowed per request (``fake_tokens`` estimate).
        native_dimensions: Vector size when the request asks for none.
        fault_rate: Fraction of requests answered 429 or 503 at random.
        seed: Seed of the random faults.
        latency: Seconds every answer takes (a slow provider).
    """

    record_type = RecordedRequest

    def __init__(
        self,
        dialect: Dialect,
        *,
        api_key: str | None = None,
        max_inputs: int | None = None,
        max_tokens: int | None = None,
        native_dimensions: int = 16,
        fault_rate: float = 0.0,
        seed: int = 0,
        latency: float = 0.0,
    ) -> None:
        super().__init__(_Fault, api_key=api_key, latency=latency)
        self.dialect: Dialect = dialect
        self.max_inputs = max_inputs if max_inputs is not None else _WIRE[dialect].max_inputs
        self.max_tokens = max_tokens
        self.native_dimensions = native_dimensions
        self.fault_rate = fault_rate
        self._random = random.Random(seed)

    @property
    def base_url(self) -> str:
        """The URL to put in the profile's ``base_url``."""
        return self.root_url + _WIRE[self.dialect].base_path

    def malform_next(self, count: int = 1, *, kind: Literal["count", "fields"] = "count") -> None:
        """Answer the next ``count`` requests 200 with one vector too few, or without fields."""
        for _ in range(count):
            self._script(malformed=kind)

    def routes(self) -> tuple[str, ...]:
        """The dialect's embedding routes."""
        return _WIRE[self.dialect].routes

    def error_response(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """An error in the dialect's body shape."""
        body = _error_body(self.dialect, status, message)
        return web.json_response(body, status=status, headers=headers)

    def default_message(self, status: int) -> str:
        """The provider's text for a scripted failure."""
        if status == 429:
            return "Rate limit reached for requests. Please try again later."
        if status >= 500:
            return "The server is currently overloaded with other requests."
        return "Invalid request."

    def unauthorized_message(self, request: web.Request) -> str:
        """The provider's text for a wrong key."""
        return {
            "openai": "Incorrect API key provided. You can find your API key in your account "
            "settings.",
            "cohere": "invalid api token",
            "jina": "Invalid API key",
            "voyage": "Provided API key is invalid.",
        }.get(self.dialect, "unauthorized")

    async def serve(self, request: web.Request, body: Any, fault: _Fault) -> web.Response:
        """Validate the request and answer with vectors in the dialect's shape."""
        try:
            payload = self._embed(request.path, body, fault.malformed)
        except _RejectionError as exc:
            return self.error_response(exc.status, exc.message)
        return web.json_response(payload)

    def _next_fault(self) -> _Fault:
        if self._faults:
            return self._faults.popleft()
        if self.fault_rate and self._random.random() < self.fault_rate:
            return _Fault(status=self._random.choice((429, 503)))
        return _Fault()

    def _embed(self, path: str, body: Any, malformed: str) -> Any:
        openai_route = self.dialect == "tei" and path == "/v1/embeddings"
        texts = self._validate(body, "input" if openai_route else _WIRE[self.dialect].input_field)
        dims, salt = self._shape(body)
        vectors = [fake_vector(text, dims, salt) for text in texts]
        if malformed == "count":
            vectors = vectors[:-1]
        if malformed == "fields":
            return {"object": "list", "unexpected": True}
        if openai_route:
            return _openai_list(vectors, str(body.get("model", "tei")), texts)
        return _render(self.dialect, vectors, body, texts)

    def _validate(self, body: Any, input_field: str) -> list[str]:
        if not isinstance(body, dict):
            raise _RejectionError(400, "request body must be a JSON object")
        if self.dialect not in ("tei",) and not isinstance(body.get("model"), str):
            raise _RejectionError(400, "model is required")
        texts = body.get(input_field)
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise _RejectionError(400, f"{input_field} must be a non-empty list of strings")
        if self.max_inputs is not None and len(texts) > self.max_inputs:
            raise _RejectionError(*_too_many(self.dialect, len(texts), self.max_inputs))
        tokens = sum(fake_tokens(t) for t in texts)
        if self.max_tokens is not None and tokens > self.max_tokens:
            raise _RejectionError(
                400, f"Requested {tokens} tokens, max {self.max_tokens} per request"
            )
        self._validate_kind(body)
        return texts

    def _validate_kind(self, body: dict[str, Any]) -> None:
        if self.dialect == "cohere":
            input_type = body.get("input_type")
            if input_type is None and ("v3" in body["model"] or "v4" in body["model"]):
                raise _RejectionError(400, "invalid request: input_type is required for v3+ models")
            if input_type is not None and input_type not in _COHERE_INPUT_TYPES:
                raise _RejectionError(400, f"invalid request: input_type {input_type!r} is invalid")
        if self.dialect == "jina" and body.get("task") not in (None, *_JINA_TASKS):
            raise _RejectionError(422, f"task {body.get('task')!r} is not a valid task")
        if self.dialect == "voyage" and body.get("input_type") not in (None, "query", "document"):
            raise _RejectionError(400, "input_type must be one of None, 'query', 'document'")

    def _shape(self, body: dict[str, Any]) -> tuple[int, str]:
        dims = body.get("dimensions") or body.get("output_dimension") or self.native_dimensions
        salt = str(body.get("input_type") or body.get("task") or "")
        return int(dims), salt


def _openai_list(vectors: list[list[float]], model: str, texts: list[str]) -> dict[str, Any]:
    tokens = sum(fake_tokens(t) for t in texts)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _render(
    dialect: Dialect, vectors: list[list[float]], body: dict[str, Any], texts: list[str]
) -> Any:
    tokens = sum(fake_tokens(t) for t in texts)
    if dialect in ("openai", "jina", "voyage"):
        return _openai_list(vectors, body["model"], texts)
    if dialect == "cohere":
        return {
            "id": str(uuid.uuid4()),
            "embeddings": {"float": vectors},
            "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type",
        }
    if dialect == "ollama":
        return {
            "model": body["model"],
            "embeddings": vectors,
            "total_duration": 1000,
            "load_duration": 10,
            "prompt_eval_count": tokens,
        }
    return vectors


def _error_body(dialect: Dialect, status: int, message: str) -> Any:
    if dialect == "openai":
        kind = {429: "requests", 401: "invalid_request_error"}.get(status)
        kind = kind or ("server_error" if status >= 500 else "invalid_request_error")
        code = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status)
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}
    if dialect == "cohere":
        return {"id": str(uuid.uuid4()), "message": message}
    if dialect in ("jina", "voyage"):
        return {"detail": message}
    if dialect == "ollama":
        return {"error": message}
    error_type = {422: "validation", 429: "overloaded", 401: "unauthorized"}.get(status, "backend")
    return {"error": message, "error_type": error_type}


def _too_many(dialect: Dialect, got: int, limit: int) -> tuple[int, str]:
    if dialect == "tei":
        return 422, f"batch size {got} > maximum allowed batch size {limit}"
    if dialect == "cohere":
        return (
            400,
            f"invalid request: total number of texts must be at most {limit} - received {got}",
        )
    if dialect == "voyage":
        return 400, f"The batch size limit is {limit}. Your batch size is {got}."
    return 400, f"'$.input' is invalid: at most {limit} inputs per request, got {got}"
