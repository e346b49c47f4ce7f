"""The shared responder: typed requests and replies, a typed error reply on any failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from neuralbridge.clients import RemoteError, ServiceUnavailableError, ask
from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.responder import RequestRefusedError, serve
from neuralbridge.core.schemas import Message, decode
from neuralbridge.messages.replies import ERROR_HEADER, ErrorReply
from tests.support.waiting import eventually


class Greet(Message, frozen=True, kw_only=True):
    name: str


class Greeting(Message, frozen=True, kw_only=True):
    text: str


class NotAllowedError(Exception):
    """A refusal type a subscription lists in ``refusals``."""


async def _greet(request: Greet) -> Greeting:
    match request.name:
        case "refused":
            raise RequestRefusedError("no greetings for you", code="not_found")
        case "listed":
            raise NotAllowedError("listed refusal")
        case "crash":
            raise RuntimeError("db at postgres://admin:hunter2secret@db/x is down")
        case "huge":
            return Greeting(text="x" * 2_000_000)
    return Greeting(text=f"hello {request.name}")


@pytest.fixture
async def greeter(bus: Bus, uid: str) -> AsyncIterator[str]:
    subject = f"greet.{uid}"
    sub = await serve(bus, subject, Greet, _greet, queue="greeters", refusals=(NotAllowedError,))
    yield subject
    await sub.unsubscribe()


def _count(subject: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value("nb_requests_total", {"subject": subject, "outcome": outcome})
    return value or 0.0


async def test_serve_valid_request_replies_typed_reply(bus: Bus, greeter: str) -> None:
    """A request that decodes gets the handler's reply, and counts as ``ok``."""
    reply = await ask(bus, greeter, Greet(name="ada"), Greeting, timeout=5)
    assert reply.text == "hello ada"
    assert _count(greeter, "ok") == 1
    duration = REGISTRY.get_sample_value("nb_request_duration_seconds_count", {"subject": greeter})
    assert duration == 1


async def test_serve_malformed_body_replies_invalid_request_naming_field(
    bus: Bus, greeter: str
) -> None:
    """A body missing a field is answered at once with ``invalid_request`` naming it."""
    msg = await bus.nc.request(greeter, b'{"nom": "x"}', timeout=5)
    assert msg.headers is not None
    assert msg.headers[ERROR_HEADER] == "PayloadError"
    assert decode(msg.data, ErrorReply).code == "invalid_request"
    with pytest.raises(RemoteError) as caught:
        await ask(bus, greeter, Message(), Greeting, timeout=5)
    assert caught.value.code == "invalid_request"
    assert "name" in str(caught.value)
    assert _count(greeter, "invalid") == 2


async def test_serve_refusal_replies_its_code_and_message(bus: Bus, greeter: str) -> None:
    """A ``RequestRefusedError`` reaches the asker with its code; a listed type as ``refused``."""
    with pytest.raises(RemoteError) as refused:
        await ask(bus, greeter, Greet(name="refused"), Greeting, timeout=5)
    with pytest.raises(RemoteError) as listed:
        await ask(bus, greeter, Greet(name="listed"), Greeting, timeout=5)
    assert (refused.value.code, str(refused.value)) == ("not_found", "no greetings for you")
    assert (listed.value.code, listed.value.error_class) == ("refused", "NotAllowedError")
    assert _count(greeter, "refused") == 2


async def test_serve_handler_crash_replies_internal_error_without_secret(
    bus: Bus, greeter: str
) -> None:
    """A crash is answered at once (no timeout) with the class name, never the exception text."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RemoteError) as caught:
        await ask(bus, greeter, Greet(name="crash"), Greeting, timeout=10)
    assert loop.time() - started < 5
    assert caught.value.code == "internal_error"
    assert caught.value.error_class == "RuntimeError"
    assert "hunter2secret" not in str(caught.value)
    assert _count(greeter, "error") == 1


async def test_serve_reply_over_payload_limit_replies_reply_too_large(
    bus: Bus, greeter: str
) -> None:
    """A reply larger than the server's limit becomes an error naming the limit."""
    with pytest.raises(RemoteError) as caught:
        await ask(bus, greeter, Greet(name="huge"), Greeting, timeout=10)
    assert caught.value.code == "reply_too_large"
    assert str(bus.nc.max_payload) in str(caught.value)


async def test_ask_without_responder_raises_unavailable(bus: Bus, uid: str) -> None:
    """Nobody subscribed: the asker learns it at once, not after its timeout."""
    with pytest.raises(ServiceUnavailableError) as caught:
        await ask(bus, f"nobody.{uid}", Greet(name="x"), Greeting, timeout=5, service="greeter")
    assert not caught.value.timed_out
    assert "no greeter answered" in str(caught.value)


@pytest.fixture
async def own_bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    connected = await Bus.connect(nats_server.url, name="responder-test")
    yield connected
    await connected.close()


async def test_serve_after_client_replaced_still_answers(own_bus: Bus, bus: Bus, uid: str) -> None:
    """The subscription goes through ``bus.subscribe``: a replaced client keeps answering."""
    subject = f"kept.{uid}"
    await serve(own_bus, subject, Greet, _greet)
    old = own_bus.nc
    await old.close()
    await eventually(lambda: own_bus.nc is not old and own_bus.connected, timeout=10)
    await eventually(lambda: _answers(bus, subject), timeout=10)
    reply = await ask(bus, subject, Greet(name="again"), Greeting, timeout=5)
    assert reply.text == "hello again"


async def _answers(bus: Bus, subject: str) -> bool:
    try:
        await ask(bus, subject, Greet(name="probe"), Greeting, timeout=1)
    except ServiceUnavailableError:
        return False
    return True
