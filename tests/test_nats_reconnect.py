"""A NATS connection the server closes, or that ends up closed, comes back by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats.errors
import pytest
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.errors import ConfigError
from tests.support.waiting import eventually

LONG_SUBJECT = "a" * 5000  # over nats-server's 4 KiB control line


@pytest.fixture
async def own_bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    bus = await Bus.connect(nats_server.url, name="reconnect-test")
    yield bus
    await bus.close()


async def _pings(bus: Bus) -> bool:
    try:
        await bus.ping()
    except (ConnectionError, nats.errors.Error, TimeoutError):
        return False
    return True


async def _received_after_publish(bus: Bus, subject: str, got: list[bytes]) -> bool:
    if not await _pings(bus):
        return False
    await bus.nc.publish(subject, b"again")
    await bus.nc.flush(timeout=2)
    await asyncio.sleep(0.05)
    return b"again" in got


async def test_request_to_overlong_subject_connection_comes_back(own_bus: Bus, uid: str) -> None:
    """After the server closes the connection over a 5,000-char subject, ping works again."""
    got: list[bytes] = []

    async def on_msg(msg: Msg) -> None:
        got.append(msg.data)

    await own_bus.nc.subscribe(f"plain.{uid}", cb=on_msg)
    with pytest.raises((nats.errors.Error, TimeoutError)):
        await own_bus.nc.request(LONG_SUBJECT, b"x", timeout=1)
    await eventually(lambda: _pings(own_bus), timeout=10)
    assert not own_bus.nc.is_closed
    await eventually(lambda: _received_after_publish(own_bus, f"plain.{uid}", got), timeout=10)


async def test_publish_to_overlong_subject_reconnect_listener_called(own_bus: Bus) -> None:
    """A publish that makes the server drop the connection calls the reconnect listeners."""
    calls: list[int] = []

    async def listener() -> None:
        calls.append(1)

    own_bus.on_reconnect(listener)
    await own_bus.nc.publish(LONG_SUBJECT, b"x")
    await eventually(lambda: bool(calls), timeout=10)
    assert await _pings(own_bus)


async def test_subscribe_to_overlong_subject_connection_not_lost_for_good(
    own_bus: Bus, uid: str
) -> None:
    """A SUB the server refuses is dropped, not re-sent on every reconnection forever."""
    got: list[bytes] = []

    async def on_msg(msg: Msg) -> None:
        got.append(msg.data)

    await own_bus.nc.subscribe(f"fine.{uid}", cb=on_msg)
    await own_bus.nc.subscribe(LONG_SUBJECT, cb=on_msg)
    await eventually(lambda: _pings(own_bus), timeout=10)
    await asyncio.sleep(2)  # a re-sent oversized SUB would have closed it again by now
    assert await _pings(own_bus)
    await eventually(lambda: _received_after_publish(own_bus, f"fine.{uid}", got), timeout=10)


async def test_client_closed_underneath_bus_new_client_resubscribes(own_bus: Bus, uid: str) -> None:
    """A client closed for good is replaced; a bus subscription gets messages again."""
    got: list[bytes] = []
    renewed: list[int] = []

    async def on_msg(msg: Msg) -> None:
        got.append(msg.data)

    async def listener() -> None:
        renewed.append(1)

    await own_bus.subscribe(f"kept.{uid}", cb=on_msg)
    own_bus.on_reconnect(listener)
    kv = await own_bus.js.create_key_value(bucket=f"RENEW_{uid}")
    old = own_bus.nc
    await old.close()  # as nats-py does after an authorization error
    await eventually(lambda: own_bus.nc is not old and own_bus.connected, timeout=10)
    assert renewed
    await eventually(lambda: _received_after_publish(own_bus, f"kept.{uid}", got), timeout=10)
    await kv.put("after", b"renewed")  # a handle made before works through the new client
    assert (await kv.get("after")).value == b"renewed"


async def test_bus_subscription_unsubscribe_stops_delivery(own_bus: Bus, uid: str) -> None:
    """After unsubscribe a bus subscription receives nothing and is not made again."""
    got: list[bytes] = []

    async def on_msg(msg: Msg) -> None:
        got.append(msg.data)

    subscription = await own_bus.subscribe(f"gone.{uid}", cb=on_msg)
    await subscription.unsubscribe()
    await own_bus.nc.close()
    await eventually(lambda: own_bus.connected, timeout=10)
    await own_bus.nc.publish(f"gone.{uid}", b"x")
    await own_bus.nc.flush(timeout=2)
    await asyncio.sleep(0.2)
    assert got == []


async def test_bus_close_during_renewal_stops_it(nats_server: EmbeddedNats) -> None:
    """Closing the bus ends the replacement loop; no client is left open."""
    bus = await Bus.connect(nats_server.url, name="reconnect-close")
    await bus.nc.close()
    await bus.close()
    await asyncio.sleep(0.5)
    assert bus.nc.is_closed


async def test_connect_unreachable_server_bounded_one_line() -> None:
    """No server at the URL: ConfigError naming NATS_URL after the bound, no traceback text."""
    with pytest.raises(ConfigError) as err:
        await Bus.connect("nats://127.0.0.1:1", name="nowhere", connect_within=1)
    assert str(err.value).startswith("NATS_URL='nats://127.0.0.1:1': no NATS server answered")
    assert "\n" not in str(err.value)


async def test_connect_stop_set_retry_loop_ends_at_once() -> None:
    """With the stop event set, the first-connection retries end without waiting the bound."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(
        Bus.connect("nats://127.0.0.1:1", name="stopped", connect_within=60, stop=stop)
    )
    await asyncio.sleep(0.3)
    stop.set()
    with pytest.raises(ConnectionAbortedError):
        await asyncio.wait_for(task, 5)
    assert loop.time() - started < 5


async def test_connect_several_servers_comma_separated_connects(nats_server: EmbeddedNats) -> None:
    """A comma-separated NATS_URL with one dead server still connects to the live one."""
    bus = await Bus.connect(f"nats://127.0.0.1:1, {nats_server.url}", name="cluster")
    try:
        await bus.ping()
        assert len(bus.nc.servers) == 2
    finally:
        await bus.close()


async def test_connect_malformed_server_list_config_error() -> None:
    """A server that is not a nats:// URL is a ConfigError naming NATS_URL."""
    with pytest.raises(ConfigError, match="NATS_URL is invalid"):
        await Bus.connect("nats://127.0.0.1:4222,http://x y", name="bad")


async def test_serve_sigterm_while_nats_unreachable_exits_at_once(tmp_path: Path) -> None:
    """`nb serve` retrying its first NATS connection stops at SIGTERM, exit 0, no wait."""
    env = {
        **os.environ,
        "NATS_URL": "nats://127.0.0.1:1",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
        "METRICS_PORT": "0",
        "LOG_LEVEL": "info",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(  # noqa: ASYNC220 - a child signalled mid-start
            [sys.executable, "-m", "neuralbridge.cli.main", "serve", "scheduler"],
            env=env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        await asyncio.sleep(3)  # imports done, retrying the connection
        assert proc.poll() is None
        loop = asyncio.get_running_loop()
        started = loop.time()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 20)
        elapsed = loop.time() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert elapsed < 5
    assert "stopped_while_starting" in output
