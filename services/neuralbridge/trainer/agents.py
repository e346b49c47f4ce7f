"""The ``agent_training`` job (seed 002): an agent's documents → CSV → external trainer.

Config ``{"agent_id": <uuid>, "generation": <n>}`` (enqueued by
:mod:`.agent_requests` when the agent's documents are complete). One run:

1. claims the agent's generation (status ``processing``; a superseded
   generation ends ``cancelled``);
2. extracts and chunks every document with the shared ingestion code
   (:mod:`neuralbridge.documents`: 512 characters, 50 overlap) and writes
   ``<AGENTS_DIR>/<agent_id>/processed/training_data_<UTC timestamp>.csv``
   (columns :data:`~neuralbridge.documents.CHUNK_CSV_COLUMNS`; ``document_type``
   is the upload folder). A document that cannot be read is skipped and listed
   in the results; no usable text at all fails the run;
3. writes the seed's payload (``agent_id``, ``agent_name``, ``csv_path``,
   ``model_config``) to ``processed/payload_<timestamp>.json`` and runs the
   external trainer on it (status ``training``; contract, timeout and
   cancellation in :mod:`.agent_trainer_process`);
4. stores the trainer's results JSON on the agent: ``completed``.

Progress: 0-10 % documents, 10-100 % the trainer's own progress scaled, both
on the run (``nb jobs watch``) and on the agent (``nb agents status``). A
failure ends the agent ``failed`` with the reason, ``nb jobs cancel <run id>``
ends it ``cancelled``; the run is on the ``training`` queue, so it is not
retried automatically: ``nb agents train <agent id>`` runs it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import structlog

from neuralbridge.documents import (
    ChunkRow,
    DocumentError,
    chunk_rows,
    chunk_text,
    extract,
    write_chunks_csv,
)
from neuralbridge.trainer import agent_store
from neuralbridge.trainer.agent_store import AgentRow, StoredDocument
from neuralbridge.trainer.agent_trainer_process import (
    AgentTrainerError,
    TrainerCommand,
    run_trainer,
)
from neuralbridge.trainer.errors import CancelRunError
from neuralbridge.trainer.runs import JobDef, RunContext
from neuralbridge.trainer.settings import TrainerSettings

__all__ = [
    "AGENT_TRAINING",
    "AGENT_TRAINING_JOB",
    "CHUNK_OVERLAP",
    "CHUNK_SIZE",
    "agents_root",
    "run_agent_training",
    "trainer_argv",
]

log = structlog.get_logger()

AGENT_TRAINING = "agent_training"
#: Seed 002: "Splits text into 512-character segments with 50-character overlap".
CHUNK_SIZE = 512
CHUNK_OVERLAP = 50
_DOCUMENTS_SHARE = 10.0  # percent of the run spent on documents; the trainer gets the rest


class _Config(msgspec.Struct, frozen=True, kw_only=True):
    agent_id: str
    generation: int


def agents_root(settings: TrainerSettings) -> Path:
    """``AGENTS_DIR``, else ``<NB_DATA_DIR>/agents`` (absolute: the trainer gets the paths)."""
    root = settings.agents_dir or str(Path(settings.nb_data_dir) / "agents")
    return Path(root).resolve()


def trainer_argv(settings: TrainerSettings) -> tuple[str, ...]:
    """The external trainer's command, without the payload path.

    Raises:
        AgentTrainerError: neither ``AGENT_TRAINER_COMMAND`` nor ``AGENT_TRAINER_SCRIPT``
            is set, or the command is not valid shell words.
    """
    if settings.agent_trainer_command:
        try:
            argv = tuple(shlex.split(settings.agent_trainer_command))
        except ValueError as exc:
            raise AgentTrainerError(f"AGENT_TRAINER_COMMAND cannot be parsed: {exc}") from None
        if argv:
            return argv
    if settings.agent_trainer_script:
        return (settings.python_path, settings.agent_trainer_script)
    raise AgentTrainerError(
        "no external trainer is configured: set AGENT_TRAINER_COMMAND, or AGENT_TRAINER_SCRIPT"
        " (the seed's train_model_wrapper.py, run with PYTHON_PATH)"
    )


async def run_agent_training(run: RunContext) -> dict[str, Any]:
    """The ``agent_training`` job."""
    try:
        config = msgspec.convert(run.request.config, _Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"agent_training needs config {{agent_id, generation}}: {exc}") from None
    agent = await agent_store.claim_training(
        run.pool, config.agent_id, config.generation, run.run_id
    )
    if agent is None:
        raise CancelRunError(
            f"agent {config.agent_id} no longer exists or was queued for training again "
            f"(generation {config.generation} superseded)"
        )
    structlog.contextvars.bind_contextvars(agent_id=agent.agent_id)
    try:
        return await _train(run, agent, config.generation)
    except CancelRunError as exc:
        await _finish(run, agent, config.generation, "cancelled", str(exc))
        raise
    except Exception as exc:
        await _finish(run, agent, config.generation, "failed", str(exc) or type(exc).__name__)
        raise
    except asyncio.CancelledError:
        reason = "interrupted before the trainer finished (time limit or shutdown)"
        await _finish(run, agent, config.generation, "failed", reason)
        raise
    finally:
        structlog.contextvars.unbind_contextvars("agent_id")


async def _finish(
    run: RunContext, agent: AgentRow, generation: int, status: str, error: str
) -> None:
    await agent_store.finish_training(run.pool, agent.agent_id, generation, status, error=error)
    log.info("agent_training_finished", status=status, error=error)


async def _train(run: RunContext, agent: AgentRow, generation: int) -> dict[str, Any]:
    command = TrainerCommand(
        argv=trainer_argv(run.settings), timeout=run.settings.agent_trainer_timeout_seconds
    )
    folder = agents_root(run.settings) / agent.agent_id
    processed = folder / "processed"
    stamp = _now_stamp(run.clock())
    documents = await agent_store.list_documents(run.pool, agent.agent_id)
    if not documents:
        raise AgentTrainerError(
            f"agent {agent.agent_id} has no documents: upload some with `nb agents upload`"
        )

    async def progress(percentage: float, step: str) -> None:
        await run.progress(percentage, step)
        await agent_store.set_agent_progress(
            run.pool, agent.agent_id, generation, run.progress_percentage, step
        )

    rows, skipped = await _process(documents, progress)
    await asyncio.to_thread(processed.mkdir, parents=True, exist_ok=True)
    csv_path = processed / f"training_data_{stamp}.csv"
    chunks = await asyncio.to_thread(write_chunks_csv, rows, csv_path)
    await agent_store.set_training(run.pool, agent.agent_id, generation, str(csv_path), chunks)
    await progress(_DOCUMENTS_SHARE, "training")
    payload = processed / f"payload_{stamp}.json"
    body = msgspec.json.format(msgspec.json.encode({
        "agent_id": agent.agent_id, "agent_name": agent.name, "csv_path": str(csv_path),
        "model_config": agent.model_config,
    }))  # fmt: skip
    await asyncio.to_thread(payload.write_bytes, body)

    async def trainer_progress(percentage: float, step: str | None) -> None:
        scaled = _DOCUMENTS_SHARE + percentage * (100.0 - _DOCUMENTS_SHARE) / 100.0
        await progress(scaled, f"training: {step}" if step else "training")

    results = await run_trainer(
        dataclasses.replace(command, cwd=folder), payload,
        on_progress=trainer_progress, check_cancelled=run.check_cancelled,
    )  # fmt: skip
    await agent_store.finish_training(
        run.pool, agent.agent_id, generation, "completed", results=results
    )
    log.info("agent_training_completed", chunks=chunks, csv_path=str(csv_path))
    return {
        "agent_id": agent.agent_id, "generation": generation, "csv_path": str(csv_path),
        "payload_path": str(payload), "chunk_count": chunks,
        "documents": len(documents) - len(skipped), "skipped_documents": skipped,
        "trainer_results": results,
    }  # fmt: skip


async def _process(
    documents: list[StoredDocument], progress: Callable[[float, str], Awaitable[None]]
) -> tuple[list[ChunkRow], list[dict[str, str]]]:
    """Extract and chunk each document (in a thread); return the rows and the skipped files."""
    rows: list[ChunkRow] = []
    skipped: list[dict[str, str]] = []
    for number, doc in enumerate(documents, start=1):
        try:
            found = await asyncio.to_thread(_rows, doc)
        except DocumentError as exc:
            log.warning("agent_document_skipped", filename=doc.filename, error=str(exc))
            skipped.append({"category": doc.category, "filename": doc.filename, "error": str(exc)})
        else:
            rows += found
        share = _DOCUMENTS_SHARE * number / (len(documents) + 1)
        await progress(share, f"processing documents ({number}/{len(documents)})")
    if not rows:
        reasons = "; ".join(s["error"] for s in skipped)
        raise AgentTrainerError(f"none of the agent's documents has usable text: {reasons}")
    return rows, skipped


def _rows(doc: StoredDocument) -> list[ChunkRow]:
    document = extract(Path(doc.path))
    chunks = chunk_text(document.text, size=CHUNK_SIZE, overlap=CHUNK_OVERLAP)
    return list(chunk_rows(document, chunks, document_id=doc.document_id,
                           document_type=doc.category))  # fmt: skip


def _now_stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


AGENT_TRAINING_JOB = JobDef(name=AGENT_TRAINING, run=run_agent_training)
