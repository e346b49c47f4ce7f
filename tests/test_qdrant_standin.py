"""The Qdrant REST test stand-in answers as qdrant-client's local mode does.

Every test runs the same operations, through the project's own vector helpers
where it has them, on ``AsyncQdrantClient(url=<stand-in>)`` and on
``AsyncQdrantClient(path=...)``, and compares what comes back. The last one runs
the dataset-transform worker and the proxy pipeline as two processes sharing the
stand-in through ``QDRANT_URL``, which local mode cannot do.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.common.version_check import get_server_version, is_compatible
from qdrant_client.http.exceptions import UnexpectedResponse

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import (
    DATASET_TRANSFORMS_CONSUMER,
    DATASET_TRANSFORMS_STREAM,
    UPLOADS_OBJECT_STORE,
    proxy_request_subject,
)
from neuralbridge.messages.proxy import ProxyAnswer, ProxyFailure, ProxyReply, ProxyRequest
from neuralbridge.vectors import (
    CollectionSpec,
    count_points,
    delete_stale_points,
    ensure_collection,
    search_points,
    switch_alias,
    upload_points,
)
from tests.dataset_transform.helpers import finished, ingest, transform
from tests.support.fake_llm import FakeLLMServer
from tests.support.qdrant_server import QdrantStandIn
from tests.support.services import service_process
from tests.support.waiting import eventually

DIM = 4
Op = Callable[[AsyncQdrantClient], Awaitable[Any]]


@pytest.fixture
async def clients(tmp_path: Path) -> AsyncIterator[tuple[AsyncQdrantClient, AsyncQdrantClient]]:
    """(remote through the stand-in, local mode), each over its own empty directory."""
    with QdrantStandIn(tmp_path / "served") as server:
        # The version check runs in a thread that may outlive a short test: checked below.
        remote = AsyncQdrantClient(url=server.url, timeout=10, check_compatibility=False)
        local = AsyncQdrantClient(path=str(tmp_path / "local"))
        try:
            yield remote, local
        finally:
            await remote.close()
            await local.close()


async def both(pair: tuple[AsyncQdrantClient, AsyncQdrantClient], op: Op) -> tuple[Any, Any]:
    """``op`` run on the remote client, then on the local one."""
    remote, local = pair
    return await op(remote), await op(local)


def _points(count: int, dataset: str = "d1") -> list[models.PointStruct]:
    """Deterministic points: unit-ish vectors, payload as the transform worker writes it."""
    return [
        models.PointStruct(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{dataset}/{i}")),
            vector=[math.sin(i + k) for k in range(DIM)],
            payload={
                "dataset_id": dataset,
                "dataset_item_id": f"{dataset}-item{i // 2}",
                "chunk_index": i % 2,
                "text": f"chunk {i}",
            },
        )
        for i in range(count)
    ]


async def _seeded(client: AsyncQdrantClient, name: str = "kb") -> None:
    await ensure_collection(client, CollectionSpec(name=name, size=DIM), create=True)
    await upload_points(client, name, _points(10), batch_size=4)
    await upload_points(client, name, _points(4, dataset="d2"), batch_size=4)


async def test_create_collection_through_standin_same_collections_and_size(
    clients: tuple[AsyncQdrantClient, AsyncQdrantClient],
) -> None:
    """Creating a collection: both list it with the same vector size and distance."""
    await both(clients, _seeded)
    remote, local = await both(clients, lambda c: c.get_collections())
    assert [c.name for c in remote.collections] == [c.name for c in local.collections] == ["kb"]
    remote_info, local_info = await both(clients, lambda c: c.get_collection("kb"))
    assert remote_info.config.params.vectors == local_info.config.params.vectors
    assert remote_info.points_count == local_info.points_count == 14
    exists = await both(clients, lambda c: c.collection_exists("kb"))
    missing = await both(clients, lambda c: c.collection_exists("nope"))
    assert exists == (True, True)
    assert missing == (False, False)


async def test_query_points_after_upsert_same_ids_scores_and_payloads(
    clients: tuple[AsyncQdrantClient, AsyncQdrantClient],
) -> None:
    """A vector query returns the same hits, in order, with the same scores and payloads."""
    await both(clients, _seeded)
    vector = [0.3, -0.2, 0.9, 0.1]
    remote, local = await both(clients, lambda c: search_points(c, "kb", vector, limit=6))
    assert [h.id for h in remote] == [h.id for h in local]
    assert len(remote) == 6
    for r, loc in zip(remote, local, strict=True):
        assert r.score == pytest.approx(loc.score, abs=1e-6)
        assert r.payload == loc.payload
    threshold = await both(
        clients, lambda c: search_points(c, "kb", vector, limit=10, score_threshold=0.5)
    )
    assert [h.id for h in threshold[0]] == [h.id for h in threshold[1]]


async def test_count_and_delete_stale_same_counts(
    clients: tuple[AsyncQdrantClient, AsyncQdrantClient],
) -> None:
    """Filtered counts, and the worker's filtered delete, leave the same counts."""
    await both(clients, _seeded)
    assert await both(clients, lambda c: count_points(c, "kb", "d1")) == (10, 10)
    await both(clients, lambda c: delete_stale_points(c, "kb", {"d1-item0": 1, "d1-item1": 0}))
    assert await both(clients, lambda c: count_points(c, "kb", "d1")) == (7, 7)
    by_ids = models.PointIdsList(points=[p.id for p in _points(4, dataset="d2")[:2]])
    await both(clients, lambda c: c.delete("kb", points_selector=by_ids, wait=True))
    assert await both(clients, lambda c: count_points(c, "kb", "d2")) == (2, 2)


async def test_scroll_and_retrieve_same_points_and_vectors(
    clients: tuple[AsyncQdrantClient, AsyncQdrantClient],
) -> None:
    """Paging through a collection and retrieving by id give the same points."""
    await both(clients, _seeded)

    async def scroll_all(client: AsyncQdrantClient) -> list[tuple[str, list[float]]]:
        seen: list[tuple[str, list[float]]] = []
        offset = None
        while True:
            points, offset = await client.scroll("kb", limit=3, offset=offset, with_vectors=True)
            seen += [(str(p.id), list(p.vector)) for p in points]  # type: ignore[arg-type]
            if offset is None:
                return seen

    remote, local = await both(clients, scroll_all)
    assert [i for i, _ in remote] == [i for i, _ in local]
    assert len(remote) == 14
    for (_, rv), (_, lv) in zip(remote, local, strict=True):
        assert rv == pytest.approx(lv, abs=1e-6)
    ids = [str(p.id) for p in _points(3)]
    got = await both(clients, lambda c: c.retrieve("kb", ids=ids, with_payload=True))
    assert sorted((str(p.id), p.payload["text"]) for p in got[0]) == sorted(
        (str(p.id), p.payload["text"]) for p in got[1]
    )


async def test_switch_alias_same_aliases_and_search_through_alias(
    clients: tuple[AsyncQdrantClient, AsyncQdrantClient],
) -> None:
    """Aliases switch the same way, and a search through an alias finds the same hits."""
    await both(clients, _seeded)
    await both(clients, lambda c: _seeded(c, "kb_v2"))
    await both(clients, lambda c: switch_alias(c, "kb_live", "kb"))
    await both(clients, lambda c: switch_alias(c, "kb_live", "kb_v2"))
    remote, local = await both(clients, lambda c: c.get_aliases())
    pairs = [(a.alias_name, a.collection_name) for a in remote.aliases]
    assert pairs == [(a.alias_name, a.collection_name) for a in local.aliases]
    assert pairs == [("kb_live", "kb_v2")]
    hits = await both(clients, lambda c: search_points(c, "kb_live", [1.0, 0.0, 0.0, 0.0], limit=3))
    assert [h.id for h in hits[0]] == [h.id for h in hits[1]]


async def test_unknown_collection_standin_answers_qdrant_404(
    clients: tuple[AsyncQdrantClient, AsyncQdrantClient],
) -> None:
    """Reading a collection that does not exist is Qdrant's 404 with its error body."""
    remote, local = clients
    with pytest.raises(UnexpectedResponse) as caught:
        await remote.count("absent", exact=True)
    assert caught.value.status_code == 404
    assert "Not found: Collection `absent` doesn't exist!" in caught.value.content.decode()
    with pytest.raises(ValueError, match="absent not found"):
        await local.count("absent", exact=True)


async def test_malformed_body_standin_answers_400_naming_format_error(tmp_path: Path) -> None:
    """A body that is not a Qdrant request is a 400, not a crash of the stand-in."""

    with QdrantStandIn(tmp_path / "served") as server:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{server.url}/collections/kb/points/count", data=b'{"exact": "many"}'
            ) as response,
        ):
            body = await response.json()
    assert response.status == 400
    assert body["status"]["error"].startswith("Format error in JSON body")


def test_version_standin_compatible_with_installed_client(tmp_path: Path) -> None:
    """``GET /`` answers a version the installed client accepts (no start-up warning)."""
    with QdrantStandIn(tmp_path / "served") as server:
        version = get_server_version(server.url, {}, None, 10)
    assert version is not None
    assert is_compatible(importlib.metadata.version("qdrant-client"), version)


ACME = "Acme Rockets was founded in 1990 by Jane Doe. The company builds reusable rockets."
PLANTS = "Tomatoes need six hours of sun per day and regular watering in summer."


async def _pipeline_answer(bus: Bus, query: str, timeout: float) -> ProxyAnswer | ProxyFailure:
    """Publish one request as the gateway does; the final reply."""
    inbox = bus.nc.new_inbox()
    final: asyncio.Future[ProxyAnswer | ProxyFailure] = asyncio.get_running_loop().create_future()

    async def on_reply(msg: Any) -> None:
        reply: ProxyReply = decode(msg.data, ProxyReply)  # type: ignore[arg-type]
        if isinstance(reply, ProxyAnswer | ProxyFailure) and not final.done():
            final.set_result(reply)

    sub = await bus.nc.subscribe(inbox, cb=on_reply)
    request = ProxyRequest(request_id=str(uuid.uuid4()), session_id="standin", query=query,
                           reply_to=inbox, deadline=time.time() + timeout)  # fmt: skip
    try:
        await bus.publish(proxy_request_subject(request.session_id), request)
        return await asyncio.wait_for(final, timeout)
    finally:
        await sub.unsubscribe()


async def _declared(bus: Bus, stream: str, consumer: str, *stores: str) -> bool:
    """Whether a service has declared its consumer (and object stores) yet."""
    try:
        await bus.js.consumer_info(stream, consumer)
        for store in stores:
            await bus.js.object_store(store)
    except Exception:  # not declared yet
        return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_worker_and_pipeline_processes_share_standin_transform_points_retrieved(
    private_nats: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    """Worker and pipeline as two processes on QDRANT_URL: the pipeline retrieves the points."""
    primary = await FakeLLMServer("openai", answer="Jane Doe founded it [source 1].").start()
    common = {"NATS_URL": private_nats.url, "DATABASE_URL": database_url, "LOG_LEVEL": "info",
              "SHUTDOWN_GRACE_SECONDS": "5"}  # fmt: skip
    pipeline_env = common | {
        "LLM_PROVIDER": "openai", "OPENAI_BASE_URL": primary.base_url,
        "OPENAI_DEFAULT_MODEL": "gpt-test", "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT": "10",
        "RAG_COLLECTION": "kb_standin", "RAG_TOP_K": "1", "RAG_SCORE_THRESHOLD": "0.2",
    }  # fmt: skip
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "acme.md").write_text(ACME)
    (docs / "plants.md").write_text(PLANTS)
    bus = await Bus.connect(private_nats.url, name="standin-test")
    try:
        with (
            QdrantStandIn(tmp_path / "qdrant") as server,
            service_process("dataset_transform", common | {"QDRANT_URL": server.url},
                            tmp_path / "worker.log"),
            service_process("proxy_pipeline", pipeline_env | {"QDRANT_URL": server.url},
                            tmp_path / "pipeline.log"),
        ):  # fmt: skip
            worker_ready = partial(
                _declared, bus, DATASET_TRANSFORMS_STREAM, DATASET_TRANSFORMS_CONSUMER,
                UPLOADS_OBJECT_STORE,
            )  # fmt: skip
            await eventually(worker_ready, timeout=90)
            assert await ingest(bus, sorted(docs.iterdir()), "kb") == 0
            state = await finished(bus, await transform(bus, "kb", "kb_standin"), timeout=150)
            assert state.status == "completed", (tmp_path / "worker.log").read_text()[-3000:]
            await eventually(partial(_declared, bus, "PROXY_REQUESTS", "proxy-pipeline"), 90)
            answer = await _pipeline_answer(bus, "Who founded Acme Rockets?", timeout=120)
            local_view = AsyncQdrantClient(url=server.url, check_compatibility=False)
            try:
                stored = await local_view.count("kb_standin", exact=True)
            finally:
                await local_view.close()
    finally:
        await bus.close()
        await primary.close()
    assert isinstance(answer, ProxyAnswer), answer
    assert [s.document for s in answer.sources] == ["acme.md"]
    assert answer.sources[0].collection == "kb_standin"
    assert stored.count == state.total_chunks >= 2
