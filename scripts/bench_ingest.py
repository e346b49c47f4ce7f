"""Ingestion pipeline benchmarks, each measured side by side in one run.

    python scripts/bench_ingest.py [--local-chunks 2000] [--fake-chunks 6000] [--rss 10000 100000]

(a) The offline model (all-MiniLM-L6-v2, CPU) embedding N chunks alone, vs the
    whole worker pipeline with that model (PostgreSQL → embed → Qdrant → progress).
    Goal: pipeline ≥ 0.9x the embedder alone.
(b) A fast fake remote embedder (OpenAI wire format, fixed latency per request):
    the worker pipeline vs a naive sequential loop (fetch a batch, embed it, upsert
    it, next). Goal ≥ 3x.
(c) Peak RSS (VmHWM) of the worker process after transforming 10k vs 100k chunks.
    Goal: flat.

The worker runs as its own process (`nb serve dataset_transform`) against an
embedded nats-server and PostgreSQL, with QDRANT_URL pointing at a Qdrant REST
stand-in (scripts/qdrant_sink.py) so that Qdrant's storage is not counted in the
worker's time or memory. Chunks are written to PostgreSQL by the worker's own
store code, ~400 distinct characters each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from qdrant_client import AsyncQdrantClient, models  # noqa: E402
from tests.support.fake_embedders import FakeEmbedderServer  # noqa: E402

from neuralbridge.cli import datasets  # noqa: E402
from neuralbridge.core.bus import Bus  # noqa: E402
from neuralbridge.core.db import create_pool, load_migrations, migrate  # noqa: E402
from neuralbridge.core.embedded import EmbeddedNats, EmbeddedPostgres, free_port  # noqa: E402
from neuralbridge.core.observability import configure_logging  # noqa: E402
from neuralbridge.dataset_transform import store  # noqa: E402
from neuralbridge.embedders import EmbedderProfile, EmbedderSettings, create_embedder  # noqa: E402
from qdrant_sink import QdrantSink  # noqa: E402

BATCH = 100
LOCAL = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2")
WORDS = [
    "river",
    "stone",
    "harbor",
    "lantern",
    "meadow",
    "copper",
    "violet",
    "engine",
    "orbit",
    "canyon",
    "signal",
    "ember",
    "quartz",
    "willow",
    "beacon",
    "thunder",
    "atlas",
    "prism",
    "mosaic",
    "glacier",
]


def fake_profile(fake: FakeEmbedderServer) -> EmbedderProfile:
    """An OpenAI profile pointed at the fake server."""
    return EmbedderProfile(
        provider="openai",
        model="text-embedding-3-small",
        base_url=fake.base_url,
        dimensions=384,
        credential="BENCH_KEY",
    )


def chunk_text(i: int) -> str:
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(55)]
    return f"Record {i}: " + " ".join(words)


async def load_chunks(dsn: str, name: str, count: int) -> None:
    """Write `count` chunks (100 per item) with the worker's own store code."""
    pool = await create_pool(dsn, schema="dataset_transform")
    await migrate(
        pool,
        "dataset_transform",
        load_migrations(ROOT / "services/neuralbridge/dataset_transform/migrations"),
    )
    async with pool.acquire() as conn:
        dataset = await store.ensure_dataset(conn, name)
        for first in range(0, count, 100):
            texts = [chunk_text(i) for i in range(first, min(count, first + 100))]
            rows = [
                (k, t, 0, len(t), hashlib.sha256(t.encode()).hexdigest())
                for k, t in enumerate(texts)
            ]
            await store.replace_item(
                conn,
                dataset,
                source_file=f"doc-{first}.txt",
                document_type="txt",
                title=None,
                author=None,
                custom_metadata={},
                sha256=str(first),
                chunks=rows,
            )
    await pool.close()


async def new_database(pg: EmbeddedPostgres) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg.url.rsplit("/", 1)[0] + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return pg.url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.asynccontextmanager
async def worker(
    nats: EmbeddedNats, dsn: str, sink: QdrantSink, **env: str
) -> AsyncIterator[subprocess.Popen[bytes]]:
    full = {
        **os.environ,
        "NATS_URL": nats.url,
        "DATABASE_URL": dsn,
        "QDRANT_URL": sink.url,
        "METRICS_PORT": str(free_port()),
        "BIND_HOST": "127.0.0.1",
        "LOG_LEVEL": "warning",
        "EMBEDDING_BATCH_SIZE": str(BATCH),
        "QDRANT_UPLOAD_BATCH_SIZE": str(BATCH),
        "MAX_EMBEDDER_REQUESTS_PER_SECOND": "1000",
        **env,
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child process
        [sys.executable, "-m", "neuralbridge.cli.main", "serve", "dataset_transform"],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(60)


async def run_transform(bus: Bus, dataset: str, collection: str, profile: EmbedderProfile) -> float:
    """Publish a transform and wait for it; return seconds from publish to completed."""
    await wait_worker(bus)
    started = time.perf_counter()
    transform_id = await datasets.transforms_create(
        bus,
        dataset=dataset,
        collection=collection,
        embedder=profile,
        source_file=None,
        chunk_index=None,
        switch_alias=None,
    )
    kv = None
    while True:
        with contextlib.suppress(Exception):
            kv = kv or await bus.js.key_value("dataset_transforms")
            entry = await kv.get(transform_id)
            if b'"status":"completed"' in (entry.value or b""):
                return time.perf_counter() - started
            if b'"status":"failed"' in (entry.value or b""):
                raise RuntimeError((entry.value or b"").decode())
        await asyncio.sleep(0.05)


async def wait_worker(bus: Bus) -> None:
    for _ in range(600):
        with contextlib.suppress(Exception):
            await bus.js.consumer_info("DATASET_TRANSFORMS", "worker-datasets")
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("worker did not start")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def local_alone(count: int) -> float:
    texts = [chunk_text(i) for i in range(count)]
    async with aiohttp.ClientSession() as session:
        embedder = create_embedder(LOCAL, session=session, settings=EmbedderSettings(), env={})
        await embedder.embed(texts[:BATCH], kind="document")  # load the model
        started = time.perf_counter()
        for first in range(0, count, BATCH):
            await embedder.embed(texts[first : first + BATCH], kind="document")
        return count / (time.perf_counter() - started)


async def naive_loop(dsn: str, name: str, fake: FakeEmbedderServer, sink: QdrantSink) -> float:
    """Fetch a batch, embed it, upsert it, next — no overlap, no cache."""
    pool = await create_pool(dsn, schema="dataset_transform")
    qdrant = AsyncQdrantClient(url=sink.url)
    profile = fake_profile(fake)
    await qdrant.create_collection(
        "naive", vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE)
    )
    async with aiohttp.ClientSession() as session:
        embedder = create_embedder(
            profile,
            session=session,
            settings=EmbedderSettings(requests_per_second=1000),
            env={"BENCH_KEY": "bench"},
        )
        async with pool.acquire() as conn:
            dataset = await store.dataset_id(conn, name)
        assert dataset is not None
        started, total = time.perf_counter(), 0
        async for batch in store.chunk_batches(pool, store.Scope(dataset), BATCH):
            vectors = await embedder.embed([c.text for c in batch], kind="document")
            points = [
                models.PointStruct(id=str(uuid.uuid4()), vector=v, payload={"text": c.text})
                for c, v in zip(batch, vectors, strict=True)
            ]
            await qdrant.upsert("naive", points=points, wait=True)
            total += len(batch)
        elapsed = time.perf_counter() - started
    await qdrant.close()
    await pool.close()
    return total / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local-chunks", type=int, default=2000)
    parser.add_argument("--fake-chunks", type=int, default=6000)
    parser.add_argument("--fake-latency", type=float, default=0.05)
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--rss", type=int, nargs=2, default=(10_000, 100_000))
    parser.add_argument("--skip", nargs="*", default=[], choices=["a", "b", "c"])
    args = parser.parse_args()
    configure_logging(level="error", fmt="console")
    print(f"machine: {os.cpu_count()} CPUs; batch {BATCH} chunks; chunks ~400 chars")
    with tempfile.TemporaryDirectory() as tmp:
        nats, pg = EmbeddedNats(Path(tmp) / "nats"), EmbeddedPostgres(Path(tmp) / "pg")
        nats.start()
        pg.start()
        sink = QdrantSink()
        await sink.start()
        bus = await Bus.connect(nats.url, name="bench")
        try:
            if "a" not in args.skip:
                await scenario_a(args, nats, pg, sink, bus)
            if "b" not in args.skip:
                await scenario_b(args, nats, pg, sink, bus)
            if "c" not in args.skip:
                await scenario_c(args, nats, pg, sink, bus)
        finally:
            await bus.close()
            await sink.close()
            pg.stop()
            nats.stop()


async def scenario_a(
    args: argparse.Namespace, nats: EmbeddedNats, pg: EmbeddedPostgres, sink: QdrantSink, bus: Bus
) -> None:
    n = args.local_chunks
    alone = await local_alone(n)
    dsn = await new_database(pg)
    await load_chunks(dsn, "warm", BATCH)
    await load_chunks(dsn, "a", n)
    async with worker(nats, dsn, sink):
        await run_transform(bus, "warm", "warm", LOCAL)  # the worker loads the model once
        seconds = await run_transform(bus, "a", "a", LOCAL)
    pipeline = n / seconds
    print(f"\n(a) local model, {n} chunks")
    print(f"  embedder alone   {alone:8.0f} chunks/s")
    ratio = pipeline / alone
    print(f"  whole pipeline   {pipeline:8.0f} chunks/s   ratio {ratio:.2f}x (goal >= 0.9x)")


async def scenario_b(
    args: argparse.Namespace, nats: EmbeddedNats, pg: EmbeddedPostgres, sink: QdrantSink, bus: Bus
) -> None:
    n = args.fake_chunks
    fake = await FakeEmbedderServer(
        "openai", native_dimensions=384, latency=args.fake_latency
    ).start()
    dsn = await new_database(pg)
    await load_chunks(dsn, "b", n)
    naive = await naive_loop(dsn, "b", fake, sink)
    profile = fake_profile(fake)
    results = {}
    for concurrency in map(str, args.lanes):
        dsn_run = await new_database(pg)
        await load_chunks(dsn_run, "b", n)
        async with worker(nats, dsn_run, sink, BENCH_KEY="bench", EMBEDDER_CONCURRENCY=concurrency):
            results[concurrency] = n / await run_transform(bus, "b", f"b{concurrency}", profile)
    await fake.close()
    print(f"\n(b) fake remote embedder ({args.fake_latency * 1000:.0f} ms per request), {n} chunks")
    print(f"  naive sequential loop       {naive:8.0f} chunks/s")
    for concurrency, rate in results.items():
        label = f"pipeline, EMBEDDER_CONCURRENCY={concurrency}"
        print(f"  {label:<34} {rate:8.0f} chunks/s   ratio {rate / naive:.1f}x (goal >= 3x)")


async def scenario_c(
    args: argparse.Namespace, nats: EmbeddedNats, pg: EmbeddedPostgres, sink: QdrantSink, bus: Bus
) -> None:
    fake = await FakeEmbedderServer("openai", native_dimensions=384).start()
    profile = fake_profile(fake)
    print("\n(c) peak RSS of the worker process")
    peaks = []
    for n in args.rss:
        dsn = await new_database(pg)
        await load_chunks(dsn, "c", n)
        async with worker(nats, dsn, sink, BENCH_KEY="bench") as proc:
            seconds = await run_transform(bus, "c", f"c{n}", profile)
            peaks.append(peak_rss_mb(proc.pid))
        print(f"  {n:>7} chunks  peak RSS {peaks[-1]:7.1f} MB   ({n / seconds:.0f} chunks/s)")
    await fake.close()
    growth = args.rss[1] // args.rss[0]
    print(f"  ratio {peaks[-1] / peaks[0]:.2f}x for {growth}x the chunks (goal: flat)")


if __name__ == "__main__":
    asyncio.run(main())
