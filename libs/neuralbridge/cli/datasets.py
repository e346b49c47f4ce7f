"""``nb ingest``, ``nb transforms …`` and ``nb datasets …``: datasets over the bus.

The CLI never touches the worker's tables: files go into the uploads object
store with an :class:`IngestJob` each, transforms are :class:`TransformJob`
messages, progress is read from the KV buckets the worker keeps, and reads
(list, export) are NATS requests the worker answers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from nats.js.errors import BucketNotFoundError

from neuralbridge.clients import ClientError, StateUnavailableError
from neuralbridge.clients import datasets as client
from neuralbridge.clients.datasets import SUPPORTED, IngestFile, kv_state
from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import TRANSFORMS_KV, UPLOADS_KV
from neuralbridge.embedders import EmbedderProfile
from neuralbridge.messages.datasets import IngestState, TransformState

__all__ = ["datasets_export", "datasets_list", "ingest", "transforms_create", "transforms_list",
           "transforms_status", "transforms_watch"]  # fmt: skip


class Progress:
    """A one-line progress bar on stderr (plain text when not a terminal)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = max(total, 1), label, 0
        self._tty = sys.stderr.isatty()
        self._last = 0.0

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        now = time.monotonic()
        if not self._tty and now - self._last < 2 and done < self.total:
            return
        self._last = now
        width = 30
        filled = int(width * min(done, self.total) / self.total)
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {note}"
        print(("\r" if self._tty else "") + line, end="" if self._tty else "\n", file=sys.stderr)

    def close(self) -> None:
        if self._tty:
            print(file=sys.stderr)


def _files(paths: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED
            )
        else:
            found.append(path)
    return found


async def ingest(
    bus: Bus,
    paths: Sequence[str],
    *,
    dataset: str,
    metadata: dict[str, str],
    chunk_size: int | None,
    chunk_overlap: int | None,
    chunk_unit: str,
    timeout: float,
) -> int:
    """Upload files for ingestion and wait for each file's outcome."""
    try:
        store = await client.uploads_store(bus)
        states = await bus.js.key_value(UPLOADS_KV)
    except (StateUnavailableError, BucketNotFoundError):
        print("the dataset_transform service has not started yet (no uploads store); "
              "start it (`make up`) and retry", file=sys.stderr)  # fmt: skip
        return 2
    files, failures = _files(paths), 0
    pending: dict[str, Path] = {}
    for path in files:
        problem = _unreadable(path)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            failures += 1
            continue
        file = IngestFile(
            filename=path.name, content=path.read_bytes(), metadata=dict(metadata),
            chunk_size=chunk_size, chunk_overlap=chunk_overlap,
            chunk_unit="tokens" if chunk_unit == "tokens" else "chars",
        )  # fmt: skip
        pending[await client.publish_ingest(bus, store, dataset, file)] = path
    failures += await _await_uploads(states, pending, len(files), timeout)
    return 1 if failures else 0


def _unreadable(path: Path) -> str | None:
    if not path.is_file():
        return f"{path}: no such file"
    if path.suffix.lower() not in SUPPORTED:
        kinds = ", ".join(sorted(SUPPORTED))
        return f"{path}: unsupported type {path.suffix or '(none)'}; supported: {kinds}"
    return None


async def _await_uploads(states: Any, pending: dict[str, Path], total: int, timeout: float) -> int:
    bar, failures, chunks = Progress(total, "ingest"), 0, 0
    done = total - len(pending)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for upload_id in list(pending):
            state = await kv_state(states, upload_id, IngestState)
            if state is None or state.status == "pending":
                continue
            path = pending.pop(upload_id)
            done += 1
            if state.status == "failed":
                failures += 1
                bar.close()
                print(f"error: {state.error or path.name + ': failed'}", file=sys.stderr)
            chunks += state.chunks
            bar.update(done, f"{chunks} chunks")
        await asyncio.sleep(0.2)
    bar.update(done, f"{chunks} chunks")
    bar.close()
    for path in pending.values():
        print(f"error: {path.name}: no result within {timeout:.0f}s (is the worker running?)",
              file=sys.stderr)  # fmt: skip
    print(f"ingested {done - failures} of {total} files, {chunks} chunks")
    return failures + len(pending)


async def transforms_create(
    bus: Bus, *, dataset: str, collection: str, embedder: str | EmbedderProfile,
    source_file: str | None, chunk_index: int | None, switch_alias: str | None,
) -> str:  # fmt: skip
    """Publish a TransformJob; return its id (see :func:`client.publish_transform`)."""
    return await client.publish_transform(
        bus, dataset=dataset, collection=collection, embedder=embedder,
        source_file=source_file, chunk_index=chunk_index, switch_alias=switch_alias,
    )  # fmt: skip


async def transforms_status(bus: Bus, transform_id: str, *, as_json: bool) -> int:
    """Print a transform's live state."""
    state = await client.transform_state(bus, transform_id)
    if state is None:
        print(f"no transform {transform_id} (not started yet, or unknown)", file=sys.stderr)
        return 1
    data = msgspec.to_builtins(state)
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        for key, value in data.items():
            print(f"{key:16} {value}")
    return 0 if state.status != "failed" else 1


async def transforms_list(bus: Bus, *, as_json: bool) -> int:
    """Every transform the KV bucket knows, newest first."""
    rows = [msgspec.to_builtins(s) for s in await client.list_transforms(bus)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        progress = f"{r['embedded_chunks']:>7}/{r['total_chunks']:<7}"
        print(f"{r['transform_id']}  {r['status']:9} {progress} "
              f"{r['dataset']} -> {r['collection']}  {r['error'] or ''}")  # fmt: skip
    return 0


async def transforms_watch(bus: Bus, transform_id: str, *, timeout: float) -> int:
    """A live progress bar until the transform completes or fails."""
    kv = await bus.js.key_value(TRANSFORMS_KV)
    bar: Progress | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = await kv_state(kv, transform_id, TransformState)
        if state is not None:
            bar = bar or Progress(state.total_chunks, "embed")
            bar.total = max(state.total_chunks, 1)
            bar.update(state.embedded_chunks, f"chunks, {state.embedder_calls} embedder calls")
            if state.status in ("completed", "failed"):
                bar.close()
                print(f"{state.status}: {state.points} points in {state.collection}"
                      + (f" — {state.error}" if state.error else ""))  # fmt: skip
                return 0 if state.status == "completed" else 1
        await asyncio.sleep(0.5)
    print(f"still running after {timeout:.0f}s; check `nb transforms status {transform_id}`",
          file=sys.stderr)  # fmt: skip
    return 1


async def datasets_list(bus: Bus, *, as_json: bool) -> int:
    """Datasets with their item and chunk counts (asked of the worker)."""
    try:
        rows = await client.list_datasets(bus)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(msgspec.to_builtins(rows), indent=2))
    else:
        for r in rows:
            print(f"{r.name:30} {r.items:>6} items {r.chunks:>8} chunks")
    return 0


async def datasets_export(bus: Bus, dataset: str, output: Path) -> int:
    """Write a dataset's chunks as CSV (the worker builds it into the object store)."""
    try:
        data, rows = await client.export_dataset(bus, dataset)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    await asyncio.to_thread(output.write_bytes, data)
    print(f"wrote {rows} chunks to {output}")
    return 0
