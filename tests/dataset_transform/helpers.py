"""Driving the worker the way other services and the CLI do: over the bus."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.js.errors import KeyNotFoundError
from qdrant_client import AsyncQdrantClient

from neuralbridge.cli import datasets
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import decode
from neuralbridge.embedders import EmbedderProfile
from neuralbridge.messages.datasets import TransformState

LOCAL = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2")

TOPICS = {
    "volcanoes.txt": (
        "Volcanoes form where magma reaches the surface. Lava flows and ash clouds follow "
        "an eruption. Basalt is the most common volcanic rock. "
    ),
    "baking.md": (
        "# Baking bread\n\nBread dough needs flour, water, yeast and salt. Knead the dough, "
        "let it rise, then bake it in a hot oven until the crust is brown. "
    ),
    "finance.html": (
        "<html><head><title>Interest rates</title></head><body><p>Central banks raise "
        "interest rates to slow inflation. Bond prices fall when rates rise.</p></body></html>"
    ),
}


def write_corpus(directory: Path, repeat: int = 6) -> list[Path]:
    """Three small documents on unrelated topics (each repeated to make several chunks)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in TOPICS.items():
        path = directory / name
        # Numbered repetitions: every chunk text is distinct (no cache hits within a run).
        if name.endswith(".html"):
            more = "".join(f"More on rates and bonds, note {i}. " for i in range(repeat))
            path.write_text(text.replace("</p>", f"</p><p>{more}</p>"))
        else:
            path.write_text("".join(f"{text}(Part {i}.) " for i in range(repeat)))
        paths.append(path)
    return paths


async def ingest(bus: Bus, paths: list[Path], dataset: str, **options: object) -> int:
    """What `nb ingest` does; returns its exit code."""
    return await datasets.ingest(
        bus,
        [str(p) for p in paths],
        dataset=dataset,
        metadata={"team": "qa"},
        chunk_size=options.get("chunk_size", 120),  # type: ignore[arg-type]
        chunk_overlap=options.get("chunk_overlap", 20),  # type: ignore[arg-type]
        chunk_unit="chars",
        timeout=60,
    )


async def transform(
    bus: Bus,
    dataset: str,
    collection: str,
    profile: str | EmbedderProfile = "local",
    **options: object,
) -> str:
    """What `nb transforms create` does (a profile name, or a full profile); returns the id."""
    return await datasets.transforms_create(
        bus,
        dataset=dataset,
        collection=collection,
        embedder=profile,
        source_file=options.get("source_file"),  # type: ignore[arg-type]
        chunk_index=options.get("chunk_index"),  # type: ignore[arg-type]
        switch_alias=options.get("switch_alias"),  # type: ignore[arg-type]
    )


async def state_of(bus: Bus, transform_id: str) -> TransformState | None:
    """The transform's live state from KV."""
    kv = await bus.js.key_value("dataset_transforms")
    try:
        entry = await kv.get(transform_id)
    except KeyNotFoundError:
        return None
    return decode(entry.value or b"", TransformState)


async def finished(bus: Bus, transform_id: str, timeout: float = 60) -> TransformState:
    """Wait for completed/failed and return the final state."""
    for _ in range(int(timeout * 10)):
        state = await state_of(bus, transform_id)
        if state is not None and state.status in ("completed", "failed"):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"transform {transform_id} did not finish within {timeout}s")


async def point_ids(qdrant: AsyncQdrantClient, collection: str) -> set[str]:
    """Every point id in the collection."""
    ids: set[str] = set()
    offset = None
    while True:
        points, offset = await qdrant.scroll(collection, limit=256, offset=offset)
        ids.update(str(p.id) for p in points)
        if offset is None:
            return ids
