"""``trainer.agents.*``: create agents, take their documents, start their training.

Request/reply through the shared responder (queue group ``trainer``), one
:class:`AgentReply` per request (a refusal sets its ``error``; a request that
does not decode, or a failure, is an ``ErrorReply``); the messages are in
:mod:`neuralbridge.messages.agents`. Document bytes come
through the JetStream object store ``agent_uploads`` (so ``nb agents upload``
works from any machine that reaches NATS, with files of any size): the trainer
checks the SHA-256, writes the file atomically to
``<AGENTS_DIR>/<agent_id>/<category>/<filename>`` (seed 002's layout), records
it, then deletes the object.

"Documents complete" (seed 002's step 4 → step 5) is either the upload of the
agent's ``expected_documents``-th document while it is ``pending``, or an
explicit ``train`` request. Either one, in the same transaction that locks the
agent, moves it to ``queued`` with a new ``generation``, and after the commit
publishes a :class:`JobRequest` for ``agent_training`` on the ``training`` queue
with ``Nats-Msg-Id = agent_training:<agent_id>:<generation>`` (a repeated
publish is one job). Uploads and training requests are refused while the agent
is ``queued``, ``processing`` or ``training`` — except ``train`` on a ``queued``
agent, which re-enqueues (the older job then finds itself superseded).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

import asyncpg
import structlog
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.responder import serve
from neuralbridge.core.schemas import Message
from neuralbridge.core.subjects import AGENT_UPLOADS_OBJECT_STORE, TRAINER_AGENTS_SUBJECT
from neuralbridge.documents import UnsupportedFormatError, detect_format
from neuralbridge.messages.agents import (
    AgentCreate,
    AgentRef,
    AgentReply,
    AgentState,
    AgentUpload,
)
from neuralbridge.messages.jobs import JobRequest, job_subject
from neuralbridge.trainer import agent_store
from neuralbridge.trainer.agents import AGENT_TRAINING
from neuralbridge.trainer.errors import TrainerError
from neuralbridge.trainer.recovery import TRAINING_QUEUE
from neuralbridge.trainer.runs import Clock, run_id_for
from neuralbridge.trainer.settings import TrainerSettings

if TYPE_CHECKING:
    from neuralbridge.core.db import Connection

__all__ = ["AgentRequestError", "AgentRequests", "serve_agents"]

log = structlog.get_logger()

Q = TypeVar("Q", bound=Message)

#: Time the run gets beyond the trainer's own limit: reading documents, writing the CSV.
PROCESSING_ALLOWANCE_SECONDS = 600.0


class AgentRequestError(TrainerError):
    """A ``trainer.agents.*`` request the trainer refuses; the message says why."""


async def serve_agents(
    bus: Bus, pool: asyncpg.Pool, settings: TrainerSettings, clock: Clock, root: Path
) -> list[BusSubscription]:
    """Answer ``trainer.agents.<verb>`` requests (the uploads store is declared first)."""
    uploads = await bus.js.object_store(AGENT_UPLOADS_OBJECT_STORE)
    handler = AgentRequests(bus, pool, settings, clock, root=root, uploads=uploads)
    subject = TRAINER_AGENTS_SUBJECT
    return [
        await serve(bus, f"{subject}.create", AgentCreate, _refusing(handler.create),
                    queue="trainer"),
        await serve(bus, f"{subject}.upload", AgentUpload, _refusing(handler.upload),
                    queue="trainer"),
        await serve(bus, f"{subject}.train", AgentRef, _refusing(handler.train), queue="trainer"),
        await serve(bus, f"{subject}.status", AgentRef, _refusing(handler.status),
                    queue="trainer"),
    ]  # fmt: skip


def _refusing(
    handler: Callable[[Q], Awaitable[AgentReply]],
) -> Callable[[Q], Awaitable[AgentReply]]:
    """Answer the trainer's refusals as ``AgentReply.error`` (the CLI prints it)."""

    async def on_request(request: Q) -> AgentReply:
        try:
            return await handler(request)
        except AgentRequestError as exc:
            return AgentReply(error=str(exc))

    return on_request


class AgentRequests:
    """The handlers behind ``trainer.agents.*``."""

    def __init__(
        self, bus: Bus, pool: asyncpg.Pool, settings: TrainerSettings, clock: Clock, *,
        root: Path, uploads: ObjectStore,
    ) -> None:  # fmt: skip
        self._bus, self._pool, self._settings, self._clock = bus, pool, settings, clock
        self._root, self._uploads = root, uploads

    async def create(self, request: AgentCreate) -> AgentReply:
        """A new agent, ``pending`` until its documents are complete."""
        agent_id = str(uuid.uuid4())
        await agent_store.insert_agent(
            self._pool, agent_id, request.name, request.expected_documents, request.model_config
        )
        log.info("agent_created", agent_id=agent_id, expected=request.expected_documents)
        return AgentReply(agent=await agent_store.load_agent(self._pool, agent_id))

    async def upload(self, request: AgentUpload) -> AgentReply:
        """Store one document; enqueue training when it completes the agent's set."""
        filename = _check_filename(request.filename)
        data = await self._object(request)
        destination = self._root / request.agent_id / request.category / filename
        generation = None
        async with self._pool.acquire() as conn, conn.transaction():
            status, expected = await self._lock_idle(conn, request.agent_id, "upload documents")
            await asyncio.to_thread(_write_atomically, destination, data)
            await agent_store.upsert_document(
                conn, request.agent_id, category=request.category, filename=filename,
                path=str(destination), sha256=request.sha256, size=len(data),
            )  # fmt: skip
            count = await agent_store.count_documents(conn, request.agent_id)
            if status == "pending" and expected is not None and count >= expected:
                generation = await self._queue(conn, request.agent_id)
        await self._uploads.delete(request.object_name)
        log.info("agent_document_stored", agent_id=request.agent_id, filename=filename,
                 documents=count)  # fmt: skip
        return await self._enqueue_and_reply(request.agent_id, generation)

    async def status(self, request: AgentRef) -> AgentReply:
        """The agent as it is now."""
        return AgentReply(agent=await self._existing(request.agent_id))

    async def train(self, request: AgentRef) -> AgentReply:
        """The documents are complete: enqueue ``agent_training`` now."""
        agent_id = request.agent_id
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock_idle(conn, agent_id, "start training", allow_queued=True)
            if await agent_store.count_documents(conn, agent_id) == 0:
                raise AgentRequestError(
                    f"agent {agent_id} has no documents yet: upload some with `nb agents upload`"
                )
            generation = await self._queue(conn, agent_id)
        return await self._enqueue_and_reply(agent_id, generation)

    async def _existing(self, agent_id: str) -> AgentState:
        agent = await agent_store.load_agent(self._pool, agent_id)
        if agent is None:
            raise AgentRequestError(f"no agent {agent_id}")
        return agent

    async def _lock_idle(
        self, conn: Connection, agent_id: str, action: str, *, allow_queued: bool = False
    ) -> tuple[str, int | None]:
        row = await agent_store.lock_agent(conn, agent_id)
        if row is None:
            raise AgentRequestError(f"no agent {agent_id}")
        status = str(row["status"])
        busy = agent_store.BUSY_STATUSES - ({"queued"} if allow_queued else set())
        if status in busy:
            raise AgentRequestError(
                f"cannot {action}: agent {agent_id} is {status}; wait for its training to end "
                "or cancel it with `nb jobs cancel <run id>`"
            )
        return status, row["expected_documents"]

    async def _object(self, request: AgentUpload) -> bytes:
        try:
            blob = await self._uploads.get(request.object_name)
        except ObjectNotFoundError:
            raise AgentRequestError(
                f"{request.filename}: {request.object_name!r} is not in the "
                f"{AGENT_UPLOADS_OBJECT_STORE} object store (upload it first)"
            ) from None
        data = blob.data or b""
        if hashlib.sha256(data).hexdigest() != request.sha256:
            raise AgentRequestError(f"{request.filename}: its bytes do not match its sha256")
        return data

    async def _queue(self, conn: Connection, agent_id: str) -> int:
        generation = await agent_store.queue_training(conn, agent_id)
        request = self._job_request(agent_id, generation)
        run_id = run_id_for(request, _msg_id(agent_id, generation), "")
        await agent_store.set_run_id(conn, agent_id, generation, run_id)
        return generation

    async def _enqueue_and_reply(self, agent_id: str, generation: int | None) -> AgentReply:
        if generation is None:
            return AgentReply(agent=await agent_store.load_agent(self._pool, agent_id))
        request = self._job_request(agent_id, generation)
        msg_id = _msg_id(agent_id, generation)
        try:
            await self._bus.publish(job_subject(TRAINING_QUEUE, AGENT_TRAINING), request,
                                    msg_id=msg_id)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - reported; `nb agents train` enqueues again
            log.warning("agent_training_enqueue_failed", agent_id=agent_id, error=str(exc))
            return AgentReply(
                agent=await agent_store.load_agent(self._pool, agent_id),
                error=f"the documents are complete but enqueueing the training failed "
                f"({type(exc).__name__}: {exc}); run `nb agents train {agent_id}`",
            )
        log.info("agent_training_enqueued", agent_id=agent_id, generation=generation)
        return AgentReply(
            agent=await agent_store.load_agent(self._pool, agent_id),
            enqueued_run_id=run_id_for(request, msg_id, ""),
        )

    def _job_request(self, agent_id: str, generation: int) -> JobRequest:
        return JobRequest(
            job=AGENT_TRAINING, queue=TRAINING_QUEUE, trigger="manual", tick=None,
            requested_at=self._clock().isoformat(),
            timeout_seconds=self._settings.agent_trainer_timeout_seconds
            + PROCESSING_ALLOWANCE_SECONDS,
            config={"agent_id": agent_id, "generation": generation},
        )  # fmt: skip


def _msg_id(agent_id: str, generation: int) -> str:
    return f"{AGENT_TRAINING}:{agent_id}:{generation}"


def _check_filename(filename: str) -> str:
    """The name itself (no folders), of a format the documents code reads."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    if name != filename or name in ("", ".", "..") or name.startswith("."):
        raise AgentRequestError(
            f"{filename!r}: give a plain file name (no folders, not hidden), e.g. 'report.pdf'"
        )
    try:
        detect_format(name)
    except UnsupportedFormatError as exc:
        raise AgentRequestError(str(exc)) from None
    return name


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
