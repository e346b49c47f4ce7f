"""Rate limits hold across gateway replicas: replicas share the tokens they hand out."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import GATEWAY_RATELIMIT_SUBJECT
from neuralbridge.gateway.errors import RateLimitedError
from neuralbridge.gateway.ratelimit import RateLimiter
from neuralbridge.gateway.ratelimit_sync import RateLimitSync, RateLimitUsage
from tests.gateway.conftest import running_gateway
from tests.support.waiting import eventually


def test_debit_takes_peer_tokens_and_can_go_below_zero() -> None:
    """A debit past the bucket's content leaves a debt paid back by the refill."""
    now = [0.0]
    limiter = RateLimiter(6, clock=lambda: now[0])  # one token every 10 s
    limiter.take("key:a", "API key")
    limiter.debit("key:a", 8)  # 5 left - 8 = -3
    with pytest.raises(RateLimitedError) as caught:
        limiter.take("key:a", "API key")
    assert caught.value.retry_after == 40  # from -3 to 1 token at 0.1 token/s
    now[0] = 40.0
    limiter.take("key:a", "API key")


def test_debit_is_bounded_and_usage_drains() -> None:
    """A debt never exceeds one bucket; usage is reported once."""
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    limiter.take("session:s", "session")
    limiter.take("session:s", "session")
    limiter.take("key:k", "API key")
    assert limiter.drain_usage() == {"session:s": 2, "key:k": 1}
    assert limiter.drain_usage() == {}
    limiter.debit("key:k", 10_000)
    now[0] = 61.0  # a full minute of refill pays back a debt of one bucket
    limiter.take("key:k", "API key")


async def test_two_replicas_share_one_limit(bus: Bus, nats_server: EmbeddedNats) -> None:
    """Tokens taken on replica A are debited on replica B over NATS."""
    other = await Bus.connect(nats_server.url, name="replica-b")
    a, b = RateLimiter(4), RateLimiter(4)
    sync_a = RateLimitSync(bus, a, interval=0.05)
    sync_b = RateLimitSync(other, b, interval=0.05)
    stop = asyncio.Event()
    bucket = f"key:{uuid.uuid4().hex[:16]}"
    tasks = [asyncio.create_task(s.run(stop)) for s in (sync_a, sync_b)]
    try:
        await asyncio.sleep(0.1)  # both subscribed
        for _ in range(3):
            a.take(bucket, "API key")
        b.take(bucket, "API key")  # the limit's 4th token, taken on the other replica
        await eventually(lambda: b.remaining(bucket) < 1 and a.remaining(bucket) < 1, timeout=5)
        with pytest.raises(RateLimitedError):
            b.take(bucket, "API key")
        with pytest.raises(RateLimitedError):
            a.take(bucket, "API key")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await other.close()


async def test_bad_and_own_reports_are_ignored(bus: Bus) -> None:
    """Garbage on the subject is logged and skipped; a replica ignores its own reports."""
    limiter = RateLimiter(2)
    sync = RateLimitSync(bus, limiter, interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(sync.run(stop))
    bucket = f"key:{uuid.uuid4().hex[:16]}"
    try:
        await asyncio.sleep(0.1)
        await bus.nc.publish(GATEWAY_RATELIMIT_SUBJECT, b"{not json")
        limiter.take(bucket, "API key")
        await asyncio.sleep(0.3)  # its own report went out and came back
        limiter.take(bucket, "API key")
        with pytest.raises(RateLimitedError):
            limiter.take(bucket, "API key")
    finally:
        stop.set()
        await task


async def test_two_gateways_enforce_one_limit_over_http(pipeline_env: dict[str, str]) -> None:
    """Three requests on one gateway use up a 3-per-minute limit on the other one too."""
    env = {**pipeline_env, "GATEWAY_RATE_LIMIT_PER_MINUTE": "3",
           "GATEWAY_RATE_LIMIT_SYNC_SECONDS": "0.05"}  # fmt: skip
    watcher = await Bus.connect(env["NATS_URL"], name="usage-watcher")
    reported: list[int] = []

    async def on_usage(msg: Msg) -> None:
        reported.append(sum(decode(msg.data, RateLimitUsage).usage.values()))

    await watcher.nc.subscribe(GATEWAY_RATELIMIT_SUBJECT, cb=on_usage)
    try:
        async with (
            running_gateway(env) as first,
            running_gateway(env) as second,
            httpx.AsyncClient() as http,
        ):
            for _ in range(3):
                assert (await http.get(f"{first}/v1/models")).status_code == 200
            await eventually(lambda: sum(reported) >= 3, timeout=5)
            await asyncio.sleep(0.2)  # the second gateway got the same report
            limited = await http.get(f"{second}/v1/models")
            assert limited.status_code == 429, limited.text
            assert int(limited.headers["Retry-After"]) >= 1
    finally:
        await watcher.close()
