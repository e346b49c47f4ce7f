"""Streams, consumers and DLQs are declared idempotently; changes are applied."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from structlog.testing import capture_logs

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import TopologyError
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.topology import KVSpec, WorkSpec, declare_kv, declare_work
from neuralbridge.dataset_transform import SEED_RETRY_SCHEDULE, transforms_work


async def test_declare_work_twice_creates_once(
    bus: Bus, make_work: Callable[..., WorkSpec]
) -> None:
    """Re-declaring changes nothing and duplicates nothing."""
    spec = make_work(backoff=(1.0, 2.0), max_deliver=3)
    await declare_work(bus.js, spec)
    with capture_logs() as logs:
        await declare_work(bus.js, spec)
    assert [e["event"] for e in logs] == []
    consumers = await bus.js.consumers_info(spec.stream)
    assert [c.name for c in consumers] == [spec.consumer]
    info = consumers[0].config
    assert (info.max_deliver, info.backoff) == (4, [1.0, 2.0])
    dlq = await bus.js.stream_info(spec.dlq_stream)
    assert dlq.config.retention == "limits"


async def test_declare_work_changed_config_is_updated_not_ignored(
    bus: Bus, make_work: Callable[..., WorkSpec]
) -> None:
    """A new max_ack_pending or backoff reaches the server."""
    spec = make_work(max_ack_pending=100)
    await declare_work(bus.js, spec)
    changed = msgspec.structs.replace(spec, max_ack_pending=7, backoff=(0.5,), max_deliver=2)
    with capture_logs() as logs:
        await declare_work(bus.js, changed)
    assert [(e["event"], e.get("changed")) for e in logs] == [
        ("consumer_updated", ["max_deliver", "backoff", "max_ack_pending"])
    ]
    info = await bus.js.consumer_info(spec.stream, spec.consumer)
    assert (info.config.max_ack_pending, info.config.backoff) == (7, [0.5])


async def test_declare_work_impossible_change_is_a_clear_error(
    bus: Bus, make_work: Callable[..., WorkSpec]
) -> None:
    """Changing storage of an existing stream is refused with the server's reason."""
    spec = make_work()
    await declare_work(bus.js, spec)
    with pytest.raises(TopologyError, match=f"cannot update stream {spec.stream}"):
        await declare_work(bus.js, msgspec.structs.replace(spec, storage="memory"))


async def test_dataset_transforms_contract_matches_design(bus: Bus) -> None:
    """DATASET_TRANSFORMS: bare subject, worker-datasets, seed backoff, DLQ consumer."""
    await declare_work(bus.js, transforms_work())
    info = await bus.js.consumer_info("DATASET_TRANSFORMS", "worker-datasets")
    assert info.config.backoff == list(SEED_RETRY_SCHEDULE)
    assert "DATASET_TRANSFORMS" in (await bus.js.stream_info("DATASET_TRANSFORMS")).config.subjects
    dlq = await bus.js.consumer_info("DLQ_DATASET_TRANSFORMS", "worker-datasets-dlq")
    assert dlq.name == "worker-datasets-dlq"


async def test_declare_kv_twice_is_idempotent(bus: Bus, uid: str) -> None:
    """A KV bucket is created once and usable."""
    spec = KVSpec(bucket=f"state_{uid}", history=1)
    await declare_kv(bus.js, spec)
    await declare_kv(bus.js, spec)
    kv = await bus.js.key_value(spec.bucket)
    await kv.put("k", b"v")
    assert (await kv.get("k")).value == b"v"


async def test_kv_buckets_allow_direct_gets_new_and_existing(bus: Bus, uid: str) -> None:
    """A new bucket allows direct gets; one made without is switched on, its data kept."""
    await declare_kv(bus.js, KVSpec(bucket=f"new_{uid}"))
    old = await bus.js.create_key_value(bucket=f"old_{uid}", history=1)
    await old.put("k", b"v")
    assert not (await old.status()).stream_info.config.allow_direct

    await declare_kv(bus.js, KVSpec(bucket=f"old_{uid}"))

    for bucket in (f"new_{uid}", f"old_{uid}"):
        kv = await bus.js.key_value(bucket)
        assert (await kv.status()).stream_info.config.allow_direct, bucket
    assert (await (await bus.js.key_value(f"old_{uid}")).get("k")).value == b"v"


async def test_readiness_reports_failing_dependency() -> None:
    """/readyz lists each check; one failing check makes the whole answer not ready."""
    health = HealthServer("127.0.0.1", 0)

    async def ok() -> None:
        return None

    async def down() -> None:
        raise ConnectionRefusedError("postgres is not answering")

    health.add_check("nats", ok)
    health.add_check("postgres", down)
    assert await health.readiness() == {"startup": "starting"}
    health.mark_started()
    result = await health.readiness()
    assert result == {
        "nats": "ok", "postgres": "ConnectionRefusedError: postgres is not answering",
    }  # fmt: skip


async def test_readiness_reason_never_shows_a_credential() -> None:
    """A failing check whose error names a URL with its password is reported masked."""
    health = HealthServer("127.0.0.1", 0)

    async def down() -> None:
        raise ConnectionError("cannot reach postgresql://postgres:s3cret-pw@db:5432/nb")

    health.add_check("postgres", down)
    health.mark_started()
    reason = (await health.readiness())["postgres"]
    assert "s3cret-pw" not in reason
    assert reason.startswith("ConnectionError: cannot reach postgresql://")
