"""The dataset-transform worker end to end: ingest → transform → Qdrant, failures → DLQ."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client import REGISTRY
from qdrant_client import models

from neuralbridge.cli import datasets
from neuralbridge.clients.datasets import list_datasets
from neuralbridge.core import dlq
from neuralbridge.core.bus import Bus
from tests.dataset_transform.helpers import (
    LOCAL,
    finished,
    ingest,
    point_ids,
    transform,
    write_corpus,
)
from tests.support.waiting import eventually

pytest.importorskip("sentence_transformers", reason="the local embedder needs the 'local' extra")

SEED_METRICS = [
    "dataset_transform_jobs_total",
    "dataset_transform_duration_seconds_count",
    "dataset_transform_active_jobs",
    "dataset_transform_batches_processed_count",
    "dataset_transform_chunks_embedded_count",
    "embedder_api_calls_total",
    "embedder_api_duration_seconds_count",
    "embedder_chunks_per_call_count",
    "qdrant_upload_total",
    "qdrant_upload_duration_seconds_count",
    "qdrant_vectors_per_batch_count",
    "worker_ready",
    "worker_active_jobs",
]


async def _dlq_letters(bus: Bus, stream: str) -> list[dlq.DeadLetter]:
    return [e async for e in dlq.entries(bus.js, stream)]


async def test_ingest_then_transform_fills_collection_with_seed_payload(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """Every chunk becomes one point with seed 004's payload; search finds the right topic."""
    async with worker() as qdrant:
        assert await ingest(client_bus, write_corpus(tmp_path / "docs"), "corpus") == 0
        state = await finished(client_bus, await transform(client_bus, "corpus", "docs"))
        assert state.status == "completed", state.error
        assert state.points == state.total_chunks == state.embedded_chunks > 3
        points, _ = await qdrant.scroll("docs", limit=1000, with_payload=True)
        payload = points[0].payload or {}
        assert {"dataset_item_id", "chunk_index", "text", "source_file", "author", "title",
                "custom_metadata"} <= set(payload)  # fmt: skip
        assert payload["custom_metadata"] == {"team": "qa"}
        query = (await _embed_query("when does lava erupt from a volcano"))[0]
        hits = await qdrant.query_points("docs", query=query, limit=1)
        assert hits.points[0].payload["source_file"] == "volcanoes.txt"  # type: ignore[index]
    for name in SEED_METRICS:
        assert any(m.name and s.name == name for m in REGISTRY.collect() for s in m.samples), name


async def _embed_query(text: str) -> list[list[float]]:
    import aiohttp

    from neuralbridge.embedders import EmbedderSettings, create_embedder

    async with aiohttp.ClientSession() as session:
        embedder = create_embedder(LOCAL, session=session, settings=EmbedderSettings(), env={})
        return await embedder.embed([text], kind="query")


async def test_rerun_of_completed_transform_makes_zero_embedder_calls(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """A second transform of an unchanged dataset embeds nothing and changes no point."""
    async with worker() as qdrant:
        await ingest(client_bus, write_corpus(tmp_path / "docs"), "corpus")
        first = await finished(client_bus, await transform(client_bus, "corpus", "docs"))
        before = await point_ids(qdrant, "docs")
        second = await finished(client_bus, await transform(client_bus, "corpus", "docs"))
        after = await point_ids(qdrant, "docs")
    assert first.embedder_calls > 0
    assert (second.status, second.embedder_calls) == ("completed", 0)
    assert second.cache_hits == second.total_chunks
    assert before == after


async def test_rechunking_item_into_fewer_chunks_removes_its_stale_points(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """Re-ingesting a file with bigger chunks leaves exactly the new chunks' points."""
    paths = write_corpus(tmp_path / "docs")
    async with worker() as qdrant:
        await ingest(client_bus, paths, "corpus", chunk_size=80, chunk_overlap=10)
        small = await finished(client_bus, await transform(client_bus, "corpus", "docs"))
        await ingest(client_bus, paths, "corpus", chunk_size=400, chunk_overlap=10)
        large = await finished(client_bus, await transform(client_bus, "corpus", "docs"))
        remaining = await qdrant.count("docs", exact=True)
    assert large.total_chunks < small.total_chunks
    assert remaining.count == large.total_chunks == large.points


async def test_missing_dataset_goes_to_dlq_and_replay_after_ingest_completes(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """An unknown dataset: DLQ at once with the reason; replayed after ingest, it runs."""
    async with worker() as qdrant:
        transform_id = await transform(client_bus, "later", "docs")
        await eventually(lambda: _depth(client_bus, "DLQ_DATASET_TRANSFORMS", 1))
        letter = (await _dlq_letters(client_bus, "DLQ_DATASET_TRANSFORMS"))[0]
        assert letter.headers["X-Dlq-Deliveries"] == "1"
        assert "dataset 'later' does not exist" in letter.headers["X-Dlq-Error"]
        assert (await finished(client_bus, transform_id)).status == "failed"
        await ingest(client_bus, write_corpus(tmp_path / "docs"), "later")
        await dlq.replay(client_bus.js, "DLQ_DATASET_TRANSFORMS", [letter.seq])
        await eventually(lambda: _completed(client_bus, transform_id), timeout=60)
        assert (await qdrant.count("docs")).count > 0


async def _depth(bus: Bus, stream: str, n: int) -> bool:
    return (await bus.js.stream_info(stream)).state.messages == n


async def _completed(bus: Bus, transform_id: str) -> bool:
    from tests.dataset_transform.helpers import state_of

    state = await state_of(bus, transform_id)
    return state is not None and state.status == "completed"


async def test_malformed_transform_job_goes_to_dlq_at_once(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """A body that is not a TransformJob is dead-lettered on its first delivery."""
    async with worker():
        await client_bus.publish("DATASET_TRANSFORMS", b'{"dataset": 3, "collection": "x"}')
        await eventually(lambda: _depth(client_bus, "DLQ_DATASET_TRANSFORMS", 1))
    letter = (await _dlq_letters(client_bus, "DLQ_DATASET_TRANSFORMS"))[0]
    assert letter.headers["X-Dlq-Error-Class"] == "PayloadError"
    assert letter.body == b'{"dataset": 3, "collection": "x"}'


async def test_dimension_mismatch_goes_to_dlq_without_writing(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """An existing collection of another size is a clear permanent error; nothing is written."""
    async with worker() as qdrant:
        await qdrant.create_collection(
            "docs", vectors_config=models.VectorParams(size=7, distance=models.Distance.COSINE)
        )
        await ingest(client_bus, write_corpus(tmp_path / "docs"), "corpus")
        state = await finished(client_bus, await transform(client_bus, "corpus", "docs"))
        assert (await qdrant.count("docs")).count == 0
    assert state.status == "failed"
    assert "holds vectors of size 7 but the embedder produces 384" in (state.error or "")
    letter = (await _dlq_letters(client_bus, "DLQ_DATASET_TRANSFORMS"))[0]
    assert letter.headers["X-Dlq-Error-Class"] == "DimensionMismatch"


async def test_max_chunks_per_job_is_enforced_with_a_clear_error(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """A dataset larger than MAX_CHUNKS_PER_JOB fails at once, naming the limit."""
    async with worker(MAX_CHUNKS_PER_JOB="3"):
        await ingest(client_bus, write_corpus(tmp_path / "docs"), "corpus")
        state = await finished(client_bus, await transform(client_bus, "corpus", "docs"))
    assert state.status == "failed"
    assert "MAX_CHUNKS_PER_JOB=3" in (state.error or "")


async def test_ingest_bad_file_is_reported_and_others_are_stored(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt PDF fails with its name and reason; the good files are ingested."""
    paths = write_corpus(tmp_path / "docs")
    broken = tmp_path / "docs" / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj <<")
    async with worker():
        code = await ingest(client_bus, [*paths, broken], "corpus")
        assert code == 1
        rows = await _datasets(client_bus)
    err = capsys.readouterr().err
    assert "broken.pdf" in err
    assert rows == [{"name": "corpus", "items": 3, "chunks": rows[0]["chunks"]}]


async def _datasets(bus: Bus) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = msgspec.to_builtins(await list_datasets(bus))
    return rows


async def test_export_csv_has_seed_columns_for_every_chunk(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """`nb datasets export` writes document id, type, filename, chunk index and text per chunk."""
    async with worker():
        await ingest(client_bus, write_corpus(tmp_path / "docs"), "corpus")
        out = tmp_path / "export.csv"
        assert await datasets.datasets_export(client_bus, "corpus", out) == 0
        chunks = (await _datasets(client_bus))[0]["chunks"]
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0])[:5] == ["document_id", "document_type", "filename", "chunk_index", "text"]
    assert len(rows) == chunks
    assert {r["document_type"] for r in rows} == {"txt", "md", "html"}


async def test_reprocess_into_new_collection_switches_alias_when_complete(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """Reprocessing fills a new collection and only then points the alias at it."""
    async with worker() as qdrant:
        await ingest(client_bus, write_corpus(tmp_path / "docs"), "corpus")
        await finished(client_bus, await transform(client_bus, "corpus", "docs_v1",
                                                   switch_alias="docs"))  # fmt: skip
        v2 = await transform(client_bus, "corpus", "docs_v2", switch_alias="docs")
        state = await finished(client_bus, v2)
        aliases = {a.alias_name: a.collection_name for a in (await qdrant.get_aliases()).aliases}
    assert state.status == "completed"
    assert aliases == {"docs": "docs_v2"}


async def test_single_document_and_single_chunk_operations(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """Seed 000's EmbedJob: one document, then one chunk of it."""
    async with worker() as qdrant:
        await ingest(client_bus, write_corpus(tmp_path / "docs"), "corpus")
        one_doc = await transform(client_bus, "corpus", "one", source_file="baking.md")
        doc = await finished(client_bus, one_doc)
        one_chunk = await transform(
            client_bus, "corpus", "single", source_file="baking.md", chunk_index=1
        )
        chunk = await finished(client_bus, one_chunk)
        points, _ = await qdrant.scroll("one", limit=500)
        files = {(p.payload or {})["source_file"] for p in points}
        assert (await qdrant.count("single")).count == 1
    assert (doc.status, chunk.status, chunk.total_chunks) == ("completed", "completed", 1)
    assert files == {"baking.md"}
