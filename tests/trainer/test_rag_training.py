"""The rag_training job end to end: rated answers in, a measured adapter out (or not).

The trainer runs its real main in-process with a Qdrant local-mode client
holding the generated two-topic corpus (:mod:`tests.learning.topic_corpus`),
the query embedder pointed at a fake OpenAI-compatible server that answers
the corpus's query vectors, and query logs and feedback arriving on their
real streams.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest
from nats.js.errors import KeyNotFoundError
from qdrant_client import AsyncQdrantClient

from neuralbridge.cli.trainer import jobs_cancel
from neuralbridge.core.bus import Bus
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.schemas import decode
from neuralbridge.core.service import ServiceSpec, open_deps
from neuralbridge.core.settings import load_settings
from neuralbridge.core.subjects import (
    RAG_ADAPTERS_KV,
    RAG_ADAPTERS_OBJECT_STORE,
    feedback_subject,
    query_log_subject,
)
from neuralbridge.learning.adapter import RetrievalMetrics as M
from neuralbridge.learning.adapter import decode_adapter
from neuralbridge.messages.proxy import QueryLogged, SourceRef
from neuralbridge.messages.training import FeedbackGiven, RagAdapterPointer
from neuralbridge.trainer import SERVICE, TrainerSettings, make_main, rag_store
from neuralbridge.trainer.rag_registry import (
    declare_adapter_buckets,
    judge,
    publish_active,
    upload_weights,
)
from neuralbridge.trainer.rag_store import NewAdapter
from neuralbridge.trainer.rag_training import NO_QDRANT
from tests.learning.topic_corpus import (
    DIMS,
    TableEmbedderServer,
    TopicCorpus,
    confusing_corpus,
    fitted_adapter,
    seed_qdrant,
)
from tests.support.waiting import eventually
from tests.trainer.helpers import NOW, FakeClock, enqueue, job_request, request_id, wait_run

COLLECTION = "kb_topics"
RAG = "rag_training"


@pytest.fixture
def corpus(request: pytest.FixtureRequest) -> TopicCorpus:
    """Two topics the base embedding confuses (how much: the indirect parameter, if any)."""
    return confusing_corpus(lean=getattr(request, "param", 0.9))


@pytest.fixture
async def qdrant(
    tmp_path: Path, corpus: TopicCorpus
) -> AsyncIterator[tuple[AsyncQdrantClient, list[str]]]:
    """A local-mode Qdrant holding the corpus; yields the client and the point ids."""
    client = AsyncQdrantClient(path=str(tmp_path / "qdrant"))
    ids = await seed_qdrant(client, COLLECTION, corpus)
    yield client, ids
    await client.close()


@pytest.fixture
async def embedder(corpus: TopicCorpus) -> AsyncIterator[TableEmbedderServer]:
    """The query embedder: the corpus's query vectors over the OpenAI wire format."""
    server = await TableEmbedderServer(corpus.table()).start()
    yield server
    await server.close()


@pytest.fixture
def rag_env(trainer_env: dict[str, str], embedder: TableEmbedderServer) -> dict[str, str]:
    """The trainer's test env plus the RAG collection and its query embedder."""
    return {
        **trainer_env,
        "RAG_COLLECTION": COLLECTION,
        "RAG_EMBEDDER_PROVIDER": "openai_compatible",
        "RAG_EMBEDDER_MODEL": "table",
        "RAG_EMBEDDER_BASE_URL": embedder.base_url,
        "RAG_TRAINING_MIN_SAMPLES": "100",
        "EMBEDDER_MAX_RETRIES": "0",
    }


@asynccontextmanager
async def trainer_with_qdrant(
    env: dict[str, str], clock: FakeClock, qdrant: AsyncQdrantClient
) -> AsyncIterator[None]:
    """The trainer's real main, given the Qdrant client as the composition root gives it."""
    spec = ServiceSpec(
        name=SERVICE.name, settings_type=TrainerSettings, schema=SERVICE.schema,
        migrations=SERVICE.migrations, main=make_main(clock=clock),
    )  # fmt: skip
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        deps = await open_deps(
            spec, load_settings(TrainerSettings, env), HealthServer("127.0.0.1", 0), stack,
            env=env, qdrant=qdrant,
        )  # fmt: skip
        task = asyncio.create_task(spec.main(deps, stop))
        await _consuming(deps.bus)
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def _consuming(bus: Bus) -> None:
    for _ in range(400):
        try:
            info = await bus.js.consumer_info("JOBS_LEARNING", "trainer-learning")
            assert info.num_waiting
            await bus.js.consumer_info("QUERY_LOGS", "trainer-query-logs")
        except Exception:  # not declared or not pulling yet
            await asyncio.sleep(0.05)
        else:
            return
    raise AssertionError("trainer did not start consuming")


def _source(ids: list[str], chunk: int, collection: str | None = COLLECTION) -> SourceRef:
    return SourceRef(
        document="topics.md", chunk_index=chunk, score=0.5, text=f"passage {chunk}",
        collection=collection, point_id=ids[chunk] if collection else None,
    )  # fmt: skip


async def _rated(bus: Bus, query: str, sources: list[SourceRef], answer: str, score: int,
                 *, minutes_ago: float = 5.0) -> None:  # fmt: skip
    rid = request_id()
    event = QueryLogged(
        request_id=rid, session_id="s1", query=query, answer=answer, provider="openai",
        model="m", confidence=0.8, fallback_used=False, cached=False, latency_ms=5.0,
        sources=sources, logged_at=(NOW - timedelta(minutes=minutes_ago)).timestamp(),
    )  # fmt: skip
    await bus.publish(query_log_subject(rid), event)
    await bus.publish(
        feedback_subject(rid), FeedbackGiven(request_id=rid, score=score, given_at=NOW)
    )


async def _publish_history(bus: Bus, corpus: TopicCorpus, ids: list[str]) -> int:
    """What users rated: the right passage cited → 5; a wrong-topic one cited → 1.

    Returns the number of events that should count (160 pairs; 3 that must not).
    """
    rng = random.Random(5)
    others = {t: [i for i, ct in enumerate(corpus.chunk_topics) if ct != t] for t in (0, 1)}
    for n, q in enumerate(corpus.queries):
        wrong = rng.sample(others[q.topic], 2)
        sources = [_source(ids, wrong[0]), _source(ids, wrong[1]), _source(ids, q.chunk)]
        await _rated(bus, q.text, sources, "It is so [source 3].", 5, minutes_ago=n + 1)
        if n % 3 == 0:  # a second phrasing of the moment: the wrong passage, rated poorly
            await _rated(bus, q.text.upper(), sources[:2], "It is so [source 1].", 1)
    q = corpus.queries[0]
    await _rated(bus, q.text, [_source(ids, q.chunk)], "x [source 1]", 5,
                 minutes_ago=8 * 24 * 60)  # outside the 7-day window  # fmt: skip
    await _rated(bus, q.text, [_source(ids, q.chunk)], "x [source 1]", 3)  # neutral: ignored
    await _rated(bus, q.text, [_source(ids, q.chunk, None)], "x [source 1]", 5)  # no point id
    return len(corpus.queries) + len(corpus.queries) // 3 + 3


async def _wait_logged(db: asyncpg.Pool, count: int) -> None:
    for _ in range(400):
        rows = await db.fetchval(
            "SELECT count(*) FROM query_logs q JOIN feedback f USING (request_id)"
        )
        if rows == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} rated query logs")


async def _kv_pointer(bus: Bus) -> RagAdapterPointer:
    kv = await bus.js.key_value(RAG_ADAPTERS_KV)
    entry = await kv.get(COLLECTION)
    assert entry.value is not None
    return decode(entry.value, RagAdapterPointer)


async def test_training_activates_an_adapter_that_fixes_the_topic_confusion(
    *,
    rag_env: dict[str, str], clock: FakeClock, qdrant: tuple[AsyncQdrantClient, list[str]],
    corpus: TopicCorpus, client_bus: Bus, db: asyncpg.Pool,
) -> None:  # fmt: skip
    """160 pairs → held-out recall@5 and MRR@10 jump; v1 is registered, stored and pointed at."""
    client, ids = qdrant
    async with trainer_with_qdrant(rag_env, clock, client):
        await _wait_logged(db, await _publish_history(client_bus, corpus, ids))
        row = await wait_run(db, await enqueue(client_bus, job_request(RAG, queue="learning")))
        pointer = await _kv_pointer(client_bus)
        store = await client_bus.js.object_store(RAG_ADAPTERS_OBJECT_STORE)
        artifact = (await store.get(pointer.object_name)).data or b""
    assert row["status"] == "completed", row["error_message"]
    results = row["results"]
    assert results["pairs"] | {"corpus": 0} == {
        "positive": 120, "negative": 40, "total": 160, "queries": 120, "missing_chunks": 0,
        "train_pairs": 96, "train_queries": 96, "heldout_queries": 24, "corpus": 0,
    }  # fmt: skip
    base, candidate = results["metrics"]["base"], results["metrics"]["candidate"]
    assert base["recall_at_5"] == 0.0
    assert base["mrr_at_10"] < 0.1
    assert candidate["recall_at_5"] >= 0.8
    assert candidate["mrr_at_10"] >= base["mrr_at_10"] + 0.6
    assert (results["decision"], results["version"], results["active_version"]) == (
        "activated", 1, 1,
    )  # fmt: skip
    adapters = await db.fetch("SELECT * FROM rag_adapters")
    assert [(a["version"], a["status"], a["collection"]) for a in adapters] == [
        (1, "active", COLLECTION)
    ]
    assert (pointer.version, pointer.dimensions) == (1, 32)
    assert hashlib.sha256(artifact).hexdigest() == pointer.sha256 == adapters[0]["sha256"]
    assert not np.allclose(decode_adapter(artifact, 32), np.eye(32))
    assert row["progress_percentage"] == 100


async def test_candidate_worse_than_the_active_version_is_rejected_and_active_kept(
    *,
    rag_env: dict[str, str], clock: FakeClock, qdrant: tuple[AsyncQdrantClient, list[str]],
    corpus: TopicCorpus, client_bus: Bus, db: asyncpg.Pool,
) -> None:  # fmt: skip
    """An undertrained v2 scores below v1 on the held-out set: v2 rejected, v1 stays active."""
    client, ids = qdrant
    async with trainer_with_qdrant(rag_env, clock, client):
        await _wait_logged(db, await _publish_history(client_bus, corpus, ids))
        first = await wait_run(db, await enqueue(client_bus, job_request(RAG, queue="learning")))
        weak = {"epochs": 1, "learning_rate": 0.0001, "min_improvement": 0.0}
        request = job_request(RAG, queue="learning", tick=None, config=weak)
        second = await wait_run(db, await enqueue(client_bus, request))
        pointer = await _kv_pointer(client_bus)
    assert first["results"]["decision"] == "activated", first["error_message"]
    assert second["status"] == "completed", second["error_message"]
    results = second["results"]
    assert (results["decision"], results["version"], results["active_version"]) == (
        "rejected", 2, 1,
    )  # fmt: skip
    assert "regresses against active v1" in results["reason"]
    assert results["metrics"]["candidate"]["mrr_at_10"] < results["metrics"]["active"]["mrr_at_10"]
    statuses = await db.fetch("SELECT version, status, reason FROM rag_adapters ORDER BY version")
    assert [(r["version"], r["status"]) for r in statuses] == [(1, "active"), (2, "rejected")]
    assert statuses[1]["reason"] == results["reason"]
    assert pointer.version == 1


async def _register(db: asyncpg.Pool, bus: Bus, version: int, weights: np.ndarray,
                    status: str) -> None:  # fmt: skip
    """Put an adapter version in place as an earlier run would have."""
    await declare_adapter_buckets(bus.js)
    name = f"{COLLECTION}/v{version}.npy"
    new = NewAdapter(
        collection=COLLECTION, run_id=str(uuid.uuid4()), object_name=name,
        sha256=await upload_weights(bus.js, name, weights), dimensions=DIMS, train_pairs=1,
        heldout_queries=1, config={}, metrics_before={}, metrics_after={},
    )  # fmt: skip
    async with db.acquire() as conn:
        await rag_store.insert_adapter(conn, new, version, status, "set up by the test")
    await publish_active(bus.js, db, COLLECTION)


@pytest.mark.parametrize("corpus", [0.4], indirect=True)
@pytest.mark.parametrize("earlier_good_version", [True, False])
async def test_active_version_worse_than_base_is_rolled_back(
    *,
    rag_env: dict[str, str], clock: FakeClock, qdrant: tuple[AsyncQdrantClient, list[str]],
    corpus: TopicCorpus, client_bus: Bus, db: asyncpg.Pool, earlier_good_version: bool,
) -> None:  # fmt: skip
    """Active v2 (-I, reversed ranking) loses to base: rolled back to v1, or to no adapter."""
    client, ids = qdrant
    async with trainer_with_qdrant(rag_env, clock, client):
        await _wait_logged(db, await _publish_history(client_bus, corpus, ids))
        if earlier_good_version:
            await _register(db, client_bus, 1, fitted_adapter(corpus), "superseded")
        await _register(db, client_bus, 2, -np.eye(DIMS), "active")
        assert (await _kv_pointer(client_bus)).version == 2
        weak = {"epochs": 1, "learning_rate": 1e-6}
        request = job_request(RAG, queue="learning", config=weak)
        row = await wait_run(db, await enqueue(client_bus, request))
        kv = await client_bus.js.key_value(RAG_ADAPTERS_KV)
        try:
            pointed: int | None = decode((await kv.get(COLLECTION)).value or b"",
                                         RagAdapterPointer).version  # fmt: skip
        except KeyNotFoundError:
            pointed = None
        statuses = dict(await db.fetch("SELECT version, status FROM rag_adapters"))
    assert row["status"] == "completed", row["error_message"]
    results = row["results"]
    base, active = results["metrics"]["base"], results["metrics"]["active"]
    assert active["mrr_at_10"] < base["mrr_at_10"]
    restored = 1 if earlier_good_version else None
    assert (results["decision"], results["rolled_back"], results["restored"]) == (
        "rejected", 2, restored,
    )  # fmt: skip
    assert results["active_version"] == pointed == restored
    expected = {2: "rolled_back", 3: "rejected"} | ({1: "active"} if earlier_good_version else {})
    assert statuses == expected


async def test_cancel_stops_training_between_epochs(
    *,
    rag_env: dict[str, str], clock: FakeClock, qdrant: tuple[AsyncQdrantClient, list[str]],
    corpus: TopicCorpus, client_bus: Bus, db: asyncpg.Pool,
) -> None:  # fmt: skip
    """``nb jobs cancel`` mid-training: cancelled at the next epoch, nothing registered."""
    client, ids = qdrant
    async with trainer_with_qdrant(rag_env, clock, client):
        await _wait_logged(db, await _publish_history(client_bus, corpus, ids))
        request = job_request(RAG, queue="learning", config={"epochs": 100_000})
        run_id = await enqueue(client_bus, request)

        async def training() -> bool:
            step = await db.fetchval("SELECT step FROM job_runs WHERE id = $1", uuid.UUID(run_id))
            return bool(step and step.startswith("epoch "))

        await eventually(training, timeout=30)
        assert await jobs_cancel(client_bus, run_id, reason="operator asked") == 0
        row = await wait_run(db, run_id)
        count = await db.fetchval("SELECT count(*) FROM rag_adapters")
    assert (row["status"], row["error_message"]) == ("cancelled", "operator asked")
    assert row["step"].startswith("epoch ")
    assert int(row["step"].split()[1].split("/")[0]) < 100_000
    assert count == 0


async def test_too_few_pairs_cancels_the_run_with_the_count(
    *,
    rag_env: dict[str, str], clock: FakeClock, qdrant: tuple[AsyncQdrantClient, list[str]],
    corpus: TopicCorpus, client_bus: Bus, db: asyncpg.Pool,
) -> None:  # fmt: skip
    """3 pairs against RAG_TRAINING_MIN_SAMPLES=100: cancelled, nothing registered."""
    client, ids = qdrant
    async with trainer_with_qdrant(rag_env, clock, client):
        for q in corpus.queries[:3]:
            await _rated(client_bus, q.text, [_source(ids, q.chunk)], "so [source 1]", 5)
        await _wait_logged(db, 3)
        row = await wait_run(db, await enqueue(client_bus, job_request(RAG, queue="learning")))
        count = await db.fetchval("SELECT count(*) FROM rag_adapters")
    assert row["status"] == "cancelled"
    assert row["error_message"].startswith(
        "insufficient training pairs: 3 (3 positive, 0 negative)"
    )
    assert "at least 100 needed (RAG_TRAINING_MIN_SAMPLES)" in row["error_message"]
    assert count == 0


async def test_without_qdrant_the_run_is_cancelled_with_the_reason(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """A trainer started without QDRANT_URL/QDRANT_PATH cannot train: cancelled, not failed."""
    async with trainer():
        row = await wait_run(db, await enqueue(client_bus, job_request(RAG, queue="learning")))
    assert (row["status"], row["error_message"]) == ("cancelled", NO_QDRANT)


def _m(mrr: float, recall: float) -> M:
    return M(recall_at_5=recall, mrr_at_10=mrr, queries=10)


@pytest.mark.parametrize(
    ("candidate", "active", "activate", "rollback", "reason"),
    [
        (_m(0.5, 0.6), None, True, False, "held-out MRR@10 0.5000"),
        (_m(0.305, 0.6), None, False, False, "no held-out improvement"),  # gain < 0.01
        (_m(0.5, 0.4), None, False, False, "no held-out improvement"),  # recall dropped
        (_m(0.5, 0.6), (1, _m(0.6, 0.6)), False, False, "regresses against active v1"),
        (_m(0.5, 0.6), (1, _m(0.5, 0.6)), False, False, "regresses against active v1"),  # a tie
        (_m(0.7, 0.7), (1, _m(0.6, 0.6)), True, False, "and active v1"),
        (_m(0.3, 0.5), (2, _m(0.1, 0.5)), False, True, "no held-out improvement"),
    ],
)
def test_promotion_rule(
    candidate: M, active: tuple[int, M] | None, activate: bool, rollback: bool, reason: str
) -> None:
    """Activate only on a held-out gain over base and active; roll back an active below base."""
    verdict = judge(_m(0.3, 0.5), candidate, active, min_improvement=0.01)
    assert (verdict.activate, verdict.roll_back_active) == (activate, rollback)
    assert reason in verdict.reason
