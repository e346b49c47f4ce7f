"""Streams, consumers and DLQs are declared idempotently; changes are applied."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import TopologyError
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.topology import (
    KVSpec,
    StreamSpec,
    WorkSpec,
    declare_kv,
    declare_object_store,
    declare_stream,
    declare_work,
    use_replicas,
)
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
    subjects = (await bus.js.stream_info("DATASET_TRANSFORMS")).config.subjects or []
    assert "DATASET_TRANSFORMS" in subjects
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


def reconciled(logs: list[MutableMapping[str, Any]]) -> list[tuple[object, ...]]:
    """The ``stream_reconciled`` lines: (stream, field, old, new)."""
    return [
        (e["stream"], e["field"], e["old"], e["new"])
        for e in logs
        if e["event"] == "stream_reconciled"
    ]


@pytest.mark.parametrize("replicas", [0, 6, -1, True, "3", 2.0])
async def test_use_replicas_outside_one_to_five_is_refused(bus: Bus, replicas: object) -> None:
    """A replica count JetStream cannot have is a TopologyError naming the value."""
    with pytest.raises(TopologyError, match="stream replicas must be a whole number from 1 to 5"):
        use_replicas(bus.js, replicas)  # type: ignore[arg-type]


async def test_declare_three_replicas_on_single_server_is_a_clear_error(bus: Bus, uid: str) -> None:
    """NATS_STREAM_REPLICAS=3 against one server fails at start, naming the stream."""
    use_replicas(bus.js, 3)
    with pytest.raises(TopologyError, match=f"cannot create stream EV_{uid}: .*replicas"):
        await declare_stream(bus.js, StreamSpec(name=f"EV_{uid}", subjects=(f"ev.{uid}.>",)))


async def test_declare_stream_changed_limits_are_applied_logged_and_data_kept(
    bus: Bus, uid: str
) -> None:
    """New limits are applied, one log line each; hand-set fields and messages survive."""
    spec = StreamSpec(name=f"EV_{uid}", subjects=(f"ev.{uid}.>",), max_age=3600.0)
    await declare_stream(bus.js, spec)
    info = await bus.js.stream_info(spec.name)
    info.config.description = "kept by hand"
    await bus.js.update_stream(info.config)
    await bus.js.publish(f"ev.{uid}.a", b"event")

    changed = msgspec.structs.replace(spec, max_age=7200.0, duplicate_window=30.0)
    with capture_logs() as logs:
        await declare_stream(bus.js, changed)

    assert reconciled(logs) == [
        (spec.name, "duplicate_window", 120.0, 30.0), (spec.name, "max_age", 3600.0, 7200.0),
    ]  # fmt: skip
    after = await bus.js.stream_info(spec.name)
    assert (after.config.max_age, after.config.duplicate_window) == (7200.0, 30.0)
    assert (after.config.description, after.state.messages) == ("kept by hand", 1)


async def test_declare_stream_dropping_a_subject_is_refused_and_logged(bus: Bus, uid: str) -> None:
    """Subjects are only ever added: dropping one would strand its messages."""
    spec = StreamSpec(name=f"EV_{uid}", subjects=(f"a.{uid}", f"b.{uid}"))
    await declare_stream(bus.js, spec)
    await bus.js.publish(f"b.{uid}", b"event")
    with capture_logs() as logs:
        await declare_stream(bus.js, msgspec.structs.replace(spec, subjects=(f"a.{uid}",)))
    refused = [e for e in logs if e["event"] == "stream_change_refused"]
    assert [(e["field"], e["log_level"]) for e in refused] == [("subjects", "error")]
    assert f"b.{uid}" in refused[0]["reason"]
    info = await bus.js.stream_info(spec.name)
    assert (info.config.subjects, info.state.messages) == ([f"a.{uid}", f"b.{uid}"], 1)

    await declare_stream(
        bus.js, msgspec.structs.replace(spec, subjects=(*spec.subjects, f"c.{uid}"))
    )
    assert len((await bus.js.stream_info(spec.name)).config.subjects or []) == 3


async def test_declare_work_on_limits_stream_keeps_retention_and_logs_refusal(
    bus: Bus, make_work: Callable[..., WorkSpec]
) -> None:
    """A stream that exists with Limits retention is never turned into a work queue."""
    spec = make_work()
    await declare_stream(bus.js, StreamSpec(name=spec.stream, subjects=spec.subjects))
    with capture_logs() as logs:
        await declare_work(bus.js, spec)
    refused = [(e["stream"], e["field"]) for e in logs if e["event"] == "stream_change_refused"]
    assert refused == [(spec.stream, "retention")]
    assert (await bus.js.stream_info(spec.stream)).config.retention == "limits"


async def test_declare_kv_new_ttl_is_applied_and_values_kept(bus: Bus, uid: str) -> None:
    """A bucket's TTL follows its declaration; what it holds stays."""
    await declare_kv(bus.js, KVSpec(bucket=f"state_{uid}"))
    await (await bus.js.key_value(f"state_{uid}")).put("k", b"v")
    with capture_logs() as logs:
        await declare_kv(bus.js, KVSpec(bucket=f"state_{uid}", ttl=3600.0))
    assert reconciled(logs) == [(f"KV_state_{uid}", "max_age", 0.0, 3600.0)]
    assert (await (await bus.js.key_value(f"state_{uid}")).get("k")).value == b"v"


async def test_declare_object_store_twice_creates_once_with_set_replicas(
    bus: Bus, uid: str
) -> None:
    """An object store is created with the connection's replicas, then left alone."""
    use_replicas(bus.js, 1)
    with capture_logs() as logs:
        await declare_object_store(bus.js, f"files_{uid}")
        await declare_object_store(bus.js, f"files_{uid}")
    assert [(e["event"], e.get("replicas")) for e in logs] == [("object_store_created", 1)]
    assert (await bus.js.stream_info(f"OBJ_files_{uid}")).config.num_replicas == 1


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


async def test_readiness_gate_holds_until_opened() -> None:
    """A gate keeps /readyz not ready, saying why, until the service opens it."""
    health = HealthServer("127.0.0.1", 0)
    declared = health.gate("worker.topology", "declaring its streams and buckets")
    health.mark_started()
    before = await health.readiness()
    declared()
    assert before == {"worker.topology": "ConnectionError: declaring its streams and buckets"}
    assert await health.readiness() == {"worker.topology": "ok"}
