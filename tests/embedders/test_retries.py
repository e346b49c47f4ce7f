"""Failure handling: retries, server hints, permanent errors, secrets and metrics."""

from __future__ import annotations

import socket

import pytest
from structlog.testing import capture_logs

from neuralbridge.core.errors import PermanentError, RetryableError
from neuralbridge.embedders import (
    EmbedderError,
    EmbedderResponseError,
    EmbedderSettings,
    EmbedderUnavailable,
)
from tests.embedders.conftest import API_KEY, MakeEmbedder, StartFake, sample
from tests.support.fake_embedders import Dialect, fake_vector

_PROVIDERS: dict[Dialect, tuple[str, str]] = {
    "openai": ("openai", "text-embedding-3-small"),
    "cohere": ("cohere", "embed-english-v3.0"),
    "jina": ("jina", "jina-embeddings-v3"),
    "voyage": ("voyage", "voyage-3.5"),
    "ollama": ("ollama", "nomic-embed-text"),
    "tei": ("tei", "bge-small"),
}


@pytest.mark.parametrize("dialect", list(_PROVIDERS))
async def test_embed_429_with_retry_after_waits_at_least_the_hint(
    start_fake: StartFake, make_embedder: MakeEmbedder, dialect: Dialect
) -> None:
    """After a 429 with Retry-After: 0.3 the retry comes no sooner than 0.3 s, then succeeds."""
    server = await start_fake(dialect)
    server.fail_next(status=429, headers={"Retry-After": "0.3"})
    provider, model = _PROVIDERS[dialect]
    embedder = make_embedder(provider=provider, model=model, base_url=server.base_url)

    vectors = await embedder.embed(["x"], kind="document")

    first, second = server.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.3
    assert len(vectors) == 1


async def test_embed_429_with_ratelimit_reset_header_waits_for_reset(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """OpenAI's x-ratelimit-reset-requests: 300ms (remaining 0) delays the retry >= 0.3 s."""
    server = await start_fake("openai")
    server.fail_next(
        status=429,
        headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "300ms"},
    )
    embedder = make_embedder(
        provider="openai", model="text-embedding-3-small", base_url=server.base_url
    )

    await embedder.embed(["x"], kind="document")

    first, second = server.requests
    assert second.at - first.at >= 0.3
    assert second.status == 200


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_embed_5xx_then_success_returns_vectors(
    start_fake: StartFake, make_embedder: MakeEmbedder, status: int
) -> None:
    """A server error is retried with backoff and the next answer is used."""
    server = await start_fake("openai")
    server.fail_next(status=status)
    embedder = make_embedder(
        provider="openai", model="text-embedding-3-small", base_url=server.base_url
    )

    vectors = await embedder.embed(["x"], kind="document")

    assert [r.status for r in server.requests] == [status, 200]
    assert vectors == [fake_vector("x", 16)]


async def test_embed_timeout_then_success_returns_vectors(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """An answer slower than EMBEDDER_TIMEOUT is abandoned and retried."""
    server = await start_fake("cohere")
    server.hang_next(seconds=10.0)
    embedder = make_embedder(
        provider="cohere",
        model="embed-english-v3.0",
        base_url=server.base_url,
        settings_override=EmbedderSettings(timeout=0.3, retry_delay_ms=10),
    )
    before = sample("embedder_api_errors_total", provider="cohere", error_type="timeout")

    vectors = await embedder.embed(["x"], kind="query")

    assert len(server.requests) == 2
    assert vectors == [fake_vector("x", 16, "search_query")]
    after = sample("embedder_api_errors_total", provider="cohere", error_type="timeout")
    assert after - before == 1


async def test_embed_429_exhausted_raises_unavailable_with_server_delay(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """Four 429s with max_retries=3 raise EmbedderUnavailable carrying the Retry-After hint."""
    server = await start_fake("voyage")
    server.fail_next(4, status=429, headers={"Retry-After": "0.05"})
    embedder = make_embedder(provider="voyage", model="voyage-3.5", base_url=server.base_url)

    with pytest.raises(EmbedderUnavailable) as caught:
        await embedder.embed(["x"], kind="document")

    assert isinstance(caught.value, RetryableError)
    assert caught.value.delay == pytest.approx(0.05)
    assert caught.value.error_type == "rate_limited"
    assert len(server.requests) == 4


async def test_embed_connection_refused_raises_unavailable(make_embedder: MakeEmbedder) -> None:
    """A closed port is a connection error, retried, then EmbedderUnavailable without delay."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    embedder = make_embedder(
        provider="tei",
        model="bge",
        base_url=f"http://127.0.0.1:{port}",
        settings_override=EmbedderSettings(max_retries=1, retry_delay_ms=1),
    )

    with pytest.raises(EmbedderUnavailable) as caught:
        await embedder.embed(["x"], kind="document")

    assert caught.value.error_type == "connection"
    assert caught.value.delay is None


async def test_embed_400_raises_error_at_once_without_leaking_key(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """A 400 is permanent: one request, the provider's message, and the key nowhere."""
    server = await start_fake("openai", api_key=API_KEY)
    server.fail_next(status=400, message=f"bad input (Authorization: Bearer {API_KEY} {API_KEY})")
    embedder = make_embedder(
        provider="openai", model="text-embedding-3-small", base_url=server.base_url
    )

    with capture_logs() as logs, pytest.raises(EmbedderError) as caught:
        await embedder.embed(["x"], kind="document")

    assert not isinstance(caught.value, EmbedderUnavailable)
    assert isinstance(caught.value, PermanentError)
    assert caught.value.status == 400
    assert str(caught.value).startswith("openai: HTTP 400: bad input")
    assert API_KEY not in str(caught.value)
    assert logs
    assert API_KEY not in repr(logs)
    assert len(server.requests) == 1


async def test_embed_wrong_key_raises_401_error(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """A wrong key gets the provider's 401 message, permanent, and the key is not echoed."""
    server = await start_fake("jina", api_key=API_KEY)
    wrong = "jina_wrongwrongwrong1234"
    embedder = make_embedder(
        provider="jina",
        model="jina-embeddings-v3",
        base_url=server.base_url,
        env={"JINA_API_KEY": wrong},
    )

    with pytest.raises(EmbedderError) as caught:
        await embedder.embed(["x"], kind="document")

    assert caught.value.status == 401
    assert "jina: HTTP 401: Invalid API key" in str(caught.value)
    assert wrong not in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", ["count", "fields"])
async def test_embed_malformed_200_raises_response_error(
    start_fake: StartFake, make_embedder: MakeEmbedder, kind: str
) -> None:
    """A 200 with a missing vector or missing fields is an EmbedderResponseError."""
    server = await start_fake("openai")
    server.malform_next(kind=kind)  # type: ignore[arg-type]
    embedder = make_embedder(
        provider="openai", model="text-embedding-3-small", base_url=server.base_url
    )
    before = sample("embedder_api_errors_total", provider="openai", error_type="bad_response")

    with pytest.raises(EmbedderResponseError):
        await embedder.embed(["a", "b"], kind="document")

    after = sample("embedder_api_errors_total", provider="openai", error_type="bad_response")
    assert after - before == 1
    assert len(server.requests) == 1


async def test_embed_with_20_percent_faults_every_call_succeeds(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """With a fifth of answers 429/503 at random, every embed call still returns all vectors."""
    server = await start_fake("cohere", fault_rate=0.2, seed=7)
    embedder = make_embedder(
        provider="cohere",
        model="embed-english-v3.0",
        base_url=server.base_url,
        settings_override=EmbedderSettings(
            max_retries=6, retry_delay_ms=5, requests_per_second=1000.0
        ),
    )

    for call in range(40):
        texts = [f"call {call} text {i}" for i in range(5)]
        vectors = await embedder.embed(texts, kind="document")
        assert vectors == [fake_vector(t, 16, "search_document") for t in texts]

    faults = [r for r in server.requests if r.status in (429, 503)]
    assert faults
    assert len(server.answered) == 40


async def test_embed_success_and_failure_record_metrics_by_provider(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """Each HTTP call counts once: success/failure, error type, duration and inputs per call."""
    server = await start_fake("voyage")
    server.fail_next(status=503)
    embedder = make_embedder(provider="voyage", model="voyage-3.5", base_url=server.base_url)
    names = (
        ("embedder_api_calls_total", {"provider": "voyage", "status": "success"}),
        ("embedder_api_calls_total", {"provider": "voyage", "status": "failure"}),
        ("embedder_api_errors_total", {"provider": "voyage", "error_type": "server_error"}),
        ("embedder_api_duration_seconds_count", {"provider": "voyage"}),
        ("embedder_chunks_per_call_count", {"provider": "voyage"}),
        ("embedder_chunks_per_call_sum", {"provider": "voyage"}),
    )
    before = [sample(name, **labels) for name, labels in names]

    await embedder.embed(["a", "b", "c"], kind="document")

    deltas = [sample(name, **labels) - b for (name, labels), b in zip(names, before, strict=True)]
    assert deltas == [1, 1, 1, 2, 2, 6]
