"""Proxy requests, their replies, and the query-log event (PROXY_REQUESTS, QUERY_LOGS).

The gateway publishes a :class:`ProxyRequest` to ``proxy.requests.<session>``
(JetStream stream ``PROXY_REQUESTS``) and listens on the request's core-NATS
``reply_to`` subject. The proxy pipeline answers there with a
:data:`ProxyReply`, a tagged union (``{"type": "delta" | "answer" | "failure"}``)
the gateway decodes as one type::

    match decode(msg.data, ProxyReply):
        case ProxyDelta(text=text, reset=reset): ...
        case ProxyAnswer() as answer: ...      # the last reply of a request
        case ProxyFailure(error_class=kind): ...  # the last reply of a request

Streaming: zero or more :class:`ProxyDelta` then exactly one final
:class:`ProxyAnswer` or :class:`ProxyFailure`. The final answer's ``answer`` is
authoritative: it replaces whatever the deltas spelled. A delta with
``reset=True`` (and empty text) tells the client to discard the text streamed
so far (a stream broke, or its answer was replaced by the fallback's).
``seq`` grows within a request; a redelivered request (another replica took
over) continues at ``attempt * SEQ_STRIDE`` and opens with a reset delta, so a
gateway that drops duplicate ``(request_id, seq)`` pairs never mixes attempts.

After answering, the pipeline publishes :class:`QueryLogged` to
``query.logs.<request_id>`` (stream ``QUERY_LOGS``) for the trainer. Every text
in these messages has been through PII redaction; guardrail findings carry
kinds and counts, never the data.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message

__all__ = [
    "SEQ_STRIDE",
    "GuardrailFinding",
    "HistoryMessage",
    "ProxyAnswer",
    "ProxyDelta",
    "ProxyFailure",
    "ProxyReply",
    "ProxyRequest",
    "QueryLogged",
    "SourceRef",
]

#: Sequence numbers of delivery ``n`` (1-based) start at ``(n - 1) * SEQ_STRIDE``.
SEQ_STRIDE = 1_000_000

RequestId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F-]{32,36}$")]


class HistoryMessage(msgspec.Struct, frozen=True, kw_only=True):
    """An earlier message of a conversation the client keeps itself (raw text)."""

    role: Literal["user", "assistant"]
    content: str


class ProxyRequest(Message, frozen=True, kw_only=True):
    """One question to answer.

    Attributes:
        request_id: A UUID chosen by the gateway (dedup and correlation key).
        session_id: The conversation. Without ``history`` its recent turns (kept by
            the pipeline) are used in the prompt.
        query: The user's text, raw (the pipeline sanitises and redacts it).
        provider: Override of ``LLM_PROVIDER`` for this request.
        model: Override of the provider's default model.
        temperature: Sampling temperature for this request.
        stream: Send :class:`ProxyDelta` replies as tokens arrive.
        reply_to: The core-NATS subject the gateway listens on.
        deadline: Epoch seconds after which nobody waits for the answer.
        history: The conversation so far, as the client holds it (OpenAI's
            ``messages``), oldest first, raw: the pipeline screens it like the
            query and uses it instead of the session's stored turns, which it
            then neither reads nor writes. ``None``: the pipeline keeps the history.
    """

    request_id: RequestId
    session_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    query: str
    provider: Literal["openai", "ollama", "extractive"] | None = None
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    stream: bool = False
    reply_to: Annotated[str, msgspec.Meta(min_length=1)]
    deadline: float
    history: list[HistoryMessage] | None = None


class SourceRef(msgspec.Struct, frozen=True, kw_only=True):
    """A retrieved passage the answer may cite as ``[source N]`` (N = position + 1).

    ``collection`` and ``point_id`` name the Qdrant point it came from (the RAG
    training reads the chunk's vector back); ``None`` in messages from before
    they existed and for passages that did not come from Qdrant.
    """

    document: str
    chunk_index: int
    score: float
    text: str
    collection: str | None = None
    point_id: str | None = None


class GuardrailFinding(msgspec.Struct, frozen=True, kw_only=True):
    """What a guardrail found: where (``input``/``output``), what kind, how many times."""

    stage: Literal["input", "output"]
    kind: str
    count: int


class ProxyDelta(Message, frozen=True, kw_only=True, tag="delta"):
    """A piece of a streamed answer; ``reset`` discards what was streamed before it."""

    request_id: str
    seq: int
    text: str
    reset: bool = False


class ProxyAnswer(Message, frozen=True, kw_only=True, tag="answer"):
    """The final answer of a request (authoritative over any deltas).

    ``confidence`` is documented in ``neuralbridge.proxy_pipeline.confidence``;
    ``fallback_reason`` is one of ``primary_error``, ``primary_timeout``,
    ``primary_guardrails``, ``low_confidence``, ``stream_broken``.
    """

    request_id: str
    seq: int = 0
    answer: str
    sources: list[SourceRef] = msgspec.field(default_factory=list)
    provider: str
    model: str
    cached: bool = False
    confidence: float
    fallback_used: bool = False
    fallback_reason: str | None = None
    guardrails: list[GuardrailFinding] = msgspec.field(default_factory=list)
    latency_ms: float = 0.0


class ProxyFailure(Message, frozen=True, kw_only=True, tag="failure"):
    """The request ends without an answer.

    ``error_class``: ``GuardrailBlocked`` (prompt injection), ``InputRejected``
    (too long or empty), ``DeadlineExceeded``, or the LLM error's class
    (``LLMUnavailable``, ``LLMStreamBroken``, ``LLMError``...) when no provider answered.
    """

    request_id: str
    seq: int = 0
    error: str
    error_class: str


ProxyReply = ProxyDelta | ProxyAnswer | ProxyFailure


class QueryLogged(Message, frozen=True, kw_only=True):
    """One answered request, redacted, for the learning loop (stream ``QUERY_LOGS``)."""

    request_id: str
    session_id: str
    query: str
    answer: str
    provider: str
    model: str
    confidence: float
    fallback_used: bool
    fallback_reason: str | None = None
    cached: bool
    latency_ms: float
    sources: list[SourceRef] = msgspec.field(default_factory=list)
    logged_at: float = 0.0
    #: The A/B experiment and variant that shaped this answer, if any (``None``
    #: in events from before experiments existed).
    experiment: str | None = None
    variant: str | None = None
