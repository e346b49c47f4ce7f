"""The shared provider HTTP layer: send, classify, retry and redact, against a fake server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.providers.errors import ProviderError, ProviderUnavailable
from neuralbridge.core.providers.http import ProviderHTTP, checked_base_url, status_error_type
from tests.support.fake_http import FakeProviderServer, Fault
from tests.support.provider_fixtures import API_KEY, session

__all__ = ["session"]


@dataclass(frozen=True)
class _Settings:
    timeout: float = 2.0
    max_retries: int = 2
    retry_delay_ms: int = 1


class _JSONServer(FakeProviderServer[Fault]):
    """The smallest provider: echoes the body; errors as ``{"error": {"message"}}``."""

    def routes(self) -> tuple[str, ...]:
        return ("/v1/things",)

    def error_response(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.json_response({"error": {"message": message}}, status=status, headers=headers)

    def default_message(self, status: int) -> str:
        return f"failed with {status}"

    def unauthorized_message(self, request: web.Request) -> str:
        return "bad key"

    async def serve(self, request: web.Request, body: Any, fault: Fault) -> web.Response:
        return web.json_response({"echo": body})


class _Client(ProviderHTTP[ProviderError, ProviderUnavailable]):
    retry_event = "test_request_retry"

    async def call(self) -> bytes:
        return await self._retrying()(self._fetch, b'{"q": 1}')


@pytest.fixture
async def server() -> AsyncIterator[_JSONServer]:
    """A fake that wants ``API_KEY``."""
    fake = await _JSONServer(Fault, api_key=API_KEY).start()
    yield fake
    await fake.close()


def _client(
    session: aiohttp.ClientSession, server: _JSONServer, api_key: str = API_KEY, **settings: Any
) -> _Client:
    return _Client(
        provider="test",
        model="m",
        url=URL(server.root_url + "/v1/things"),
        session=session,
        settings=_Settings(**settings),
        api_key=api_key,
        rejected=ProviderError,
        unavailable=ProviderUnavailable,
    )


async def test_fetch_ok_returns_body_with_bearer_key(
    session: aiohttp.ClientSession, server: _JSONServer
) -> None:
    """A 200 answer's body comes back; the key went as a bearer token."""
    assert json.loads(await _client(session, server).call()) == {"echo": {"q": 1}}
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


async def test_fetch_server_errors_are_retried_until_success(
    session: aiohttp.ClientSession, server: _JSONServer
) -> None:
    """503s are retried by type until the provider answers."""
    server.fail_next(2, status=503)

    await _client(session, server).call()

    assert [r.status for r in server.requests] == [503, 503, 200]


async def test_fetch_429_carries_hint_type_and_status(
    session: aiohttp.ClientSession, server: _JSONServer
) -> None:
    """A 429 becomes the retryable error with the Retry-After hint as its delay."""
    server.fail_next(status=429, headers={"Retry-After": "0"})

    with pytest.raises(ProviderUnavailable) as caught:
        await _client(session, server, max_retries=0).call()

    assert (caught.value.delay, caught.value.error_type, caught.value.status) == (
        0.0,
        "rate_limited",
        429,
    )


async def test_fetch_400_is_permanent_with_provider_text_and_key_masked(
    session: aiohttp.ClientSession, server: _JSONServer
) -> None:
    """A 400 is raised at once as the permanent error; an echoed key is masked."""
    server.fail_next(status=400, message=f"bad input from {API_KEY}")

    with pytest.raises(ProviderError) as caught:
        await _client(session, server).call()

    assert str(caught.value) == "test: HTTP 400: bad input from ********"
    assert caught.value.status == 400
    assert len(server.requests) == 1


async def test_fetch_wrong_key_is_permanent(
    session: aiohttp.ClientSession, server: _JSONServer
) -> None:
    """The fake's key check answers 401, which no retry can fix."""
    with pytest.raises(ProviderError, match="HTTP 401: bad key"):
        await _client(session, server, api_key="nbtest-wrong-key-000").call()


async def test_fetch_hang_past_timeout_is_a_timeout(
    session: aiohttp.ClientSession, server: _JSONServer
) -> None:
    """A provider that sends nothing within the timeout is a retryable timeout."""
    server.hang_next(seconds=5.0)

    with pytest.raises(ProviderUnavailable, match=r"no answer within 0\.2s") as caught:
        await _client(session, server, timeout=0.2, max_retries=0).call()

    assert caught.value.error_type == "timeout"


async def test_fetch_refused_connection_is_a_connection_error(
    session: aiohttp.ClientSession, server: _JSONServer
) -> None:
    """Nobody listening is a retryable connection failure."""
    client = _client(session, server, max_retries=0)
    await server.close()

    with pytest.raises(ProviderUnavailable) as caught:
        await client.call()

    assert caught.value.error_type == "connection"


def test_gave_up_keeps_hint_and_says_how_often(
    session: aiohttp.ClientSession, server: _JSONServer
) -> None:
    """The final error names the attempts and keeps delay, type and status."""
    last = ProviderUnavailable("test: HTTP 503: busy", delay=3.0, status=503)

    final = _client(session, server, max_retries=2)._gave_up(last)

    assert str(final) == "test: HTTP 503: busy (gave up after 3 attempts)"
    assert (final.delay, final.error_type, final.status) == (3.0, "server_error", 503)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(429, "rate_limited"), (408, "timeout"), (504, "timeout"), (500, "server_error"),
     (503, "server_error"), (400, None), (401, None), (404, None), (422, None)],
)  # fmt: skip
def test_status_error_type_splits_retryable_from_permanent(
    status: int, error_type: str | None
) -> None:
    """429, 408 and 5xx are retryable with their label; other statuses are permanent."""
    assert status_error_type(status) == error_type


@pytest.mark.parametrize(
    ("base", "message"),
    [(None, "base_url is required"), ("ftp://host", "http"), ("http://", "http")],
)
def test_checked_base_url_bad_url_raises_the_given_error(base: str | None, message: str) -> None:
    """A missing or non-http(s) base URL is a configuration error of the caller's type."""
    with pytest.raises(ConfigError, match=message):
        checked_base_url("test", base, error=ConfigError)


def test_checked_base_url_trailing_slash_is_dropped() -> None:
    """Paths are appended to the base without a double slash."""
    assert checked_base_url("t", "http://h:1/v1/", error=ConfigError) == "http://h:1/v1"
