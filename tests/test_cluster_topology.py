"""Every service's topology on a 3-node JetStream cluster: replicas applied and reconciled.

One cluster for the module; each test starts from an empty JetStream (every
stream deleted) and declares the services' topologies the way their ``main``
does, each service on its own connection to the comma-separated server list.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import PubAck
from nats.js.errors import NoStreamResponseError
from structlog.testing import capture_logs

from neuralbridge.core import subjects
from neuralbridge.core.bus import Bus
from neuralbridge.core.reconcile import wait_for_replicas
from neuralbridge.core.streams import DATASET_EVENTS
from neuralbridge.core.topology import declare_stream
from neuralbridge.dataset_transform.topology import declare_all as declare_dataset_transform
from neuralbridge.dataset_transform.topology import ingest_work, transforms_work
from neuralbridge.gateway.topology import declare_all as declare_gateway
from neuralbridge.proxy_pipeline.topology import declare_all as declare_proxy_pipeline
from neuralbridge.proxy_pipeline.topology import requests_work
from neuralbridge.scheduler.topology import declare_all as declare_scheduler
from neuralbridge.trainer.topology import declare_all as declare_trainer
from tests.support.cluster import NatsCluster

pytestmark = pytest.mark.timeout(120)

#: Every KV bucket and object store the services use.
KV_BUCKETS = (
    subjects.TRANSFORMS_KV, subjects.UPLOADS_KV, subjects.PROXY_SESSIONS_KV,
    subjects.SCHEDULER_KV, subjects.JOB_RESULTS_KV, subjects.FEEDBACK_KV,
    subjects.TRAINER_RUNS_KV, subjects.TRAINER_CANCELS_KV, subjects.AB_EXPERIMENTS_KV,
    subjects.RAG_ADAPTERS_KV, subjects.ANSWER_MEMORY_KV,
)  # fmt: skip
OBJECT_STORES = (
    subjects.UPLOADS_OBJECT_STORE, subjects.AGENT_UPLOADS_OBJECT_STORE,
    subjects.RAG_ADAPTERS_OBJECT_STORE, subjects.ANSWER_MEMORY_OBJECT_STORE,
)  # fmt: skip
SERVICES = ("gateway", "proxy-pipeline", "dataset-transform", "scheduler", "trainer")
#: Events that mean a declaration changed something on the server.
CHANGES = {"stream_created", "stream_reconciled", "kv_bucket_created", "object_store_created"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """Three nats-server nodes with JetStream, routed together on loopback."""
    nodes = NatsCluster(Path(tmp_path_factory.mktemp("cluster")))
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture
async def admin(cluster: NatsCluster) -> AsyncIterator[Bus]:
    """A connection to the cluster that first deletes every stream (a clean JetStream)."""
    bus = await Bus.connect(cluster.urls, name="cluster-admin")
    for name in await stream_names(bus):
        await bus.js.delete_stream(name)
    yield bus
    await bus.close()


async def declare_service(cluster: NatsCluster, service: str, replicas: int) -> None:
    """Declare one service's topology on a connection of its own, as its main does."""
    bus = await Bus.connect(cluster.urls, name=service)
    js = bus.js
    try:
        match service:
            case "gateway":
                await declare_gateway(js, replicas=replicas)
            case "proxy-pipeline":
                await declare_proxy_pipeline(
                    js, requests_work(), session_ttl=3600.0, replicas=replicas
                )
            case "dataset-transform":
                await declare_dataset_transform(
                    js, transforms_work(), ingest_work(), replicas=replicas
                )
            case "scheduler":
                await declare_scheduler(js, replicas=replicas)
            case "trainer":
                await declare_trainer(js, replicas=replicas)
            case _:
                raise AssertionError(f"unknown service {service}")
    finally:
        await bus.close()


async def declare_everything(cluster: NatsCluster, replicas: int) -> None:
    """Declare every service's topology, in the order ``nb up`` starts them."""
    for service in SERVICES:
        await declare_service(cluster, service, replicas)


async def stream_names(bus: Bus) -> list[str]:
    """Every stream's name, from the JetStream API (the meta layer's complete list).

    Asked again while a new meta leader settles (after a node was killed).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20.0
    while True:
        try:
            answer = await bus.nc.request("$JS.API.STREAM.NAMES", b"{}", timeout=2.0)
            break
        except NatsTimeoutError:
            if loop.time() > deadline:
                raise
    body = json.loads(answer.data)
    assert body["total"] <= body["limit"], body  # one page holds them all
    return list(body["streams"] or [])


async def replicas_by_stream(bus: Bus) -> dict[str, tuple[int, int]]:
    """Each stream's configured replicas and the peers the cluster reports for it.

    Names come from the meta layer (complete); the stream list API leaves out
    streams whose leader is busy, so each is asked for by name, once its new
    peers (if any) have caught up.
    """
    names = await stream_names(bus)
    settled = await asyncio.gather(*(settle(bus, name) for name in names))
    assert all(settled), [name for name, ok in zip(names, settled, strict=True) if not ok]
    found = {}
    for name in names:
        info = await bus.js.stream_info(name)
        peers = 1 + len(info.cluster.replicas or []) if info.cluster else 1
        found[name] = (info.config.num_replicas or 1, peers)
    return found


async def settle(bus: Bus, name: str) -> bool:
    """Wait until the stream's peers match its configured replicas."""
    replicas = (await bus.js.stream_info(name)).config.num_replicas or 1
    return await wait_for_replicas(bus.js, name, replicas, timeout=60.0)


async def publish_until_acked(bus: Bus, subject: str, *, within: float) -> PubAck:
    """Publish, retrying while the stream elects a new leader (as a producer would)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await bus.js.publish(subject, b"event", timeout=1.0)
        except (NoStreamResponseError, NatsTimeoutError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)


def reconciled(logs: list[MutableMapping[str, Any]]) -> list[tuple[object, ...]]:
    """The ``stream_reconciled`` lines: (stream, field, old, new)."""
    return [
        (e["stream"], e["field"], e["old"], e["new"])
        for e in logs
        if e["event"] == "stream_reconciled"
    ]


async def test_declare_every_service_with_three_replicas_every_stream_has_three(
    cluster: NatsCluster, admin: Bus
) -> None:
    """Every stream, DLQ, KV bucket and object store of the five services is R3."""
    await declare_everything(cluster, replicas=3)
    found = await replicas_by_stream(admin)
    kv = [name for name in found if name.startswith("KV_")]
    objects = [name for name in found if name.startswith("OBJ_")]
    dlqs = [name for name in found if name.startswith("DLQ_")]
    print(f"{len(found)} streams, {len(kv)} KV, {len(objects)} object stores, {len(dlqs)} DLQs")
    assert {"DATASET_EVENTS", "QUERY_LOGS", "FEEDBACK", "DATASET_TRANSFORMS"} <= set(found)
    assert {name.removeprefix("KV_") for name in kv} == set(KV_BUCKETS)
    assert {name.removeprefix("OBJ_") for name in objects} == set(OBJECT_STORES)
    assert {name.removeprefix("DLQ_") for name in dlqs} <= set(found)
    assert {name: r for name, r in found.items() if r != (3, 3)} == {}


async def test_declare_again_with_same_replicas_changes_nothing(
    cluster: NatsCluster, admin: Bus
) -> None:
    """A second start of every service with the same setting creates and updates nothing."""
    await declare_everything(cluster, replicas=3)
    before = await replicas_by_stream(admin)
    with capture_logs() as logs:
        await declare_everything(cluster, replicas=3)
    assert [e for e in logs if e["event"] in CHANGES or e["log_level"] != "info"] == []
    assert await replicas_by_stream(admin) == before


async def test_declare_with_one_on_stream_raised_to_three_setting_wins_and_logs(
    cluster: NatsCluster, admin: Bus
) -> None:
    """A stream raised to R3 by hand goes back to the setting (1), logged, its messages kept."""
    await declare_service(cluster, "dataset-transform", replicas=1)
    info = await admin.js.stream_info("DATASET_EVENTS")
    info.config.num_replicas = 3
    await admin.js.update_stream(info.config)
    assert await wait_for_replicas(admin.js, "DATASET_EVENTS", 3)
    for n in range(5):
        await admin.js.publish(f"dataset.events.d{n}", b"event")

    with capture_logs() as logs:
        await declare_service(cluster, "dataset-transform", replicas=1)

    changes = reconciled(logs)
    assert changes == [("DATASET_EVENTS", "num_replicas", 3, 1)]
    after = await admin.js.stream_info("DATASET_EVENTS")
    assert (after.config.num_replicas, after.state.messages) == (1, 5)


async def test_declare_with_three_on_existing_r1_topology_raises_all_keeping_data(
    cluster: NatsCluster, admin: Bus
) -> None:
    """Services started with 1, then with 3: every stream is raised, messages and keys kept."""
    await declare_everything(cluster, replicas=1)
    await admin.js.publish("dataset.events.kept", b"event")
    await (await admin.js.key_value(subjects.FEEDBACK_KV)).put("kept", b"value")

    with capture_logs() as logs:
        await declare_everything(cluster, replicas=3)

    raised = {e["stream"] for e in logs if e["event"] == "stream_reconciled"}
    found = await replicas_by_stream(admin)
    assert raised == set(found), (sorted(raised - set(found)), sorted(set(found) - raised))
    assert {name: r for name, r in found.items() if r != (3, 3)} == {}
    assert (await admin.js.stream_info("DATASET_EVENTS")).state.messages == 1
    assert (await (await admin.js.key_value(subjects.FEEDBACK_KV)).get("kept")).value == b"value"


async def test_shared_streams_declared_by_two_services_keep_one_config(
    cluster: NatsCluster, admin: Bus
) -> None:
    """Services that share QUERY_LOGS and FEEDBACK, in any order, never update each other."""
    await declare_service(cluster, "trainer", replicas=3)
    with capture_logs() as logs:
        for service in ("proxy-pipeline", "gateway", "trainer", "gateway", "proxy-pipeline"):
            await declare_service(cluster, service, replicas=3)
    assert [e for e in logs if e["event"] == "stream_reconciled"] == []
    for name in ("QUERY_LOGS", "FEEDBACK"):
        assert (await admin.js.stream_info(name)).config.num_replicas == 3


async def test_dataset_events_edited_by_hand_keeps_replicas_and_gets_its_window_back(
    cluster: NatsCluster, admin: Bus
) -> None:
    """DATASET_EVENTS at R3 with another duplicate window: only the window changes."""
    await declare_stream(admin.js, DATASET_EVENTS)
    info = await admin.js.stream_info("DATASET_EVENTS")
    info.config.num_replicas, info.config.duplicate_window = 3, 600.0
    await admin.js.update_stream(info.config)
    assert await wait_for_replicas(admin.js, "DATASET_EVENTS", 3)

    with capture_logs() as logs:
        await declare_service(cluster, "dataset-transform", replicas=3)
        await declare_service(cluster, "dataset-transform", replicas=3)

    changes = reconciled(logs)
    assert changes == [("DATASET_EVENTS", "duplicate_window", 600.0, 120.0)]
    config = (await admin.js.stream_info("DATASET_EVENTS")).config
    assert (config.num_replicas, config.duplicate_window) == (3, 120.0)


async def test_kill_one_node_r3_streams_keep_working_and_node_rejoins(
    cluster: NatsCluster, admin: Bus
) -> None:
    """With one node killed -9, R3 streams take writes and a service start changes nothing."""
    await declare_service(cluster, "dataset-transform", replicas=3)
    url = admin.nc.connected_url
    assert url is not None
    victim = next(i for i, node in enumerate(cluster.nodes) if node.port != url.port)
    cluster.kill(victim)
    try:
        await asyncio.to_thread(cluster.wait_ready, 30.0)  # a new meta leader, if it was there
        ack = await publish_until_acked(admin, "dataset.events.during", within=15.0)
        assert ack.stream == "DATASET_EVENTS"
        names = await stream_names(admin)
        led = await asyncio.gather(*(wait_for_replicas(admin.js, name) for name in names))
        assert all(led), names
        with capture_logs() as logs:
            await declare_service(cluster, "dataset-transform", replicas=3)
        assert [e for e in logs if e["event"] in CHANGES] == []
    finally:
        cluster.restart(victim)
    info = await admin.js.stream_info("DATASET_EVENTS")
    assert (info.config.num_replicas, info.state.messages) == (3, 1)
