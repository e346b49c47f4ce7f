"""``nb agents create|upload|status|train``: agents and their training documents (seed 002).

The CLI only asks; the trainer owns agents (``trainer.agents.*`` request/reply,
:mod:`neuralbridge.messages.agents`). ``upload`` puts each file's bytes into
the ``agent_uploads`` object store, then asks the trainer to take it — so the
files need not be on the trainer's machine. When an upload completes the
agent's ``--expected-documents``, or on ``train``, the trainer enqueues the
``agent_training`` job; ``status`` shows its progress and outcome.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from nats.js.errors import BucketNotFoundError

from neuralbridge.clients import ClientError
from neuralbridge.clients.jobs import TrainerUnavailableError, ask_trainer
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import Message
from neuralbridge.core.subjects import AGENT_UPLOADS_OBJECT_STORE, TRAINER_AGENTS_SUBJECT
from neuralbridge.messages.agents import (
    DOCUMENT_CATEGORIES,
    AgentCreate,
    AgentRef,
    AgentReply,
    AgentState,
    AgentUpload,
    ModelConfig,
)

__all__ = ["add_agent_commands", "ask", "parse_model_config", "run_agents", "upload_files"]

#: Seconds to wait for the trainer's answer (an upload writes the file first).
REQUEST_TIMEOUT = 60.0


def add_agent_commands(sub: Any) -> None:
    """Add ``nb agents …`` to the top-level sub-parsers."""
    agents = sub.add_parser("agents", help="agents trained on uploaded documents (seed 002)")
    asub = agents.add_subparsers(dest="agents_command", required=True)
    create = asub.add_parser("create", help="a new agent (prints its id)")
    create.add_argument("--name", required=True)
    create.add_argument("--expected-documents", type=int,
                        help="training starts when this many documents are uploaded")  # fmt: skip
    create.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help="model_config for the trainer (repeatable; JSON scalars)")  # fmt: skip
    upload = asub.add_parser("upload", help="add documents (.txt .md .html .pdf .docx)")
    upload.add_argument("agent_id")
    upload.add_argument("paths", nargs="+", type=Path)
    upload.add_argument("--category", choices=DOCUMENT_CATEGORIES, default="reference",
                        help="seed 002's folder: work_product (step 1), communication "
                        "(step 3), reference (step 4, default)")  # fmt: skip
    status = asub.add_parser("status", help="the agent's status, documents and training")
    status.add_argument("agent_id")
    train = asub.add_parser("train", help="documents complete: train now (or again)")
    train.add_argument("agent_id")
    for p in (create, upload, status, train):
        p.add_argument("--json", action="store_true", help="machine-readable output")


async def run_agents(bus: Bus, args: argparse.Namespace) -> int:
    """Run one ``nb agents`` command; return the exit code."""
    try:
        replies = await _replies(bus, args)
    except ClientError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = False
    for reply in replies:
        failed |= _show(reply, as_json=args.json, command=args.agents_command)
    return 1 if failed else 0


async def _replies(bus: Bus, args: argparse.Namespace) -> list[AgentReply]:
    match args.agents_command:
        case "create":
            request = msgspec.convert(
                {"name": args.name, "expected_documents": args.expected_documents,
                 "model_config": parse_model_config(args.config)},
                AgentCreate,
            )  # fmt: skip
            return [await ask(bus, "create", request)]
        case "upload":
            return await upload_files(bus, args.agent_id, args.paths, category=args.category)
        case verb:
            return [await ask(bus, verb, AgentRef(agent_id=args.agent_id))]


async def ask(bus: Bus, verb: str, request: Message) -> AgentReply:
    """Send ``trainer.agents.<verb>`` and decode the answer.

    Raises:
        TrainerUnavailableError: no trainer answered.
    """
    return await ask_trainer(
        bus, f"{TRAINER_AGENTS_SUBJECT}.{verb}", request, AgentReply, timeout=REQUEST_TIMEOUT
    )


async def upload_files(
    bus: Bus, agent_id: str, paths: Sequence[Path], *, category: str = "reference"
) -> list[AgentReply]:
    """Put each file into the uploads store and ask the trainer to take it, in order.

    Raises:
        TrainerUnavailableError: the trainer has not started (no store) or does not answer.
        OSError: a file cannot be read.
    """
    try:
        store = await bus.js.object_store(AGENT_UPLOADS_OBJECT_STORE)
    except BucketNotFoundError:
        raise TrainerUnavailableError(
            "the trainer has not started yet (no agent_uploads object store)", timed_out=False
        ) from None
    replies = []
    for path in paths:
        data = path.read_bytes()
        object_name = f"{agent_id}/{uuid.uuid4()}/{path.name}"
        await store.put(object_name, data)
        request = msgspec.convert(
            {"agent_id": agent_id, "category": category, "filename": path.name,
             "object_name": object_name, "sha256": hashlib.sha256(data).hexdigest()},
            AgentUpload,
        )  # fmt: skip
        reply = await ask(bus, "upload", request)
        if reply.error is not None:
            await store.delete(object_name)  # refused: nothing will take it
        replies.append(reply)
    return replies


def parse_model_config(items: Sequence[str]) -> ModelConfig:
    """``KEY=VALUE`` items; a value that is a JSON number or boolean is taken as one.

    Raises:
        ValueError: an item has no ``=``.
    """
    config: ModelConfig = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--config {item!r}: expected KEY=VALUE")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        config[key] = value if isinstance(value, bool | int | float) else raw
    return config


def _show(reply: AgentReply, *, as_json: bool, command: str) -> bool:
    """Print one reply; return whether it was an error."""
    if as_json:
        print(json.dumps(msgspec.to_builtins(reply), indent=2))
    elif reply.agent is not None and command == "create" and reply.error is None:
        print(reply.agent.agent_id)
    elif reply.agent is not None:
        _print_agent(reply.agent)
    if reply.enqueued_run_id and not as_json:
        print(f"documents complete: training enqueued (run {reply.enqueued_run_id})")
    if reply.error is not None:
        print(f"error: {reply.error}", file=sys.stderr)
    return reply.error is not None


def _print_agent(agent: AgentState) -> None:
    expected = agent.expected_documents if agent.expected_documents is not None else "-"
    print(f"agent {agent.agent_id} {agent.name!r}: {agent.status} "
          f"{agent.progress_percentage:.0f}% {agent.step or ''}".rstrip())  # fmt: skip
    print(f"  documents {len(agent.documents)}/{expected}")
    for doc in agent.documents:
        print(f"    {doc.category:13} {doc.filename} ({doc.size_bytes} bytes)")
    if agent.run_id:
        print(f"  run {agent.run_id}")
    if agent.csv_path:
        print(f"  csv {agent.csv_path} ({agent.chunk_count} chunks)")
    if agent.results is not None:
        print(f"  results {json.dumps(agent.results)}")
    if agent.error_message:
        print(f"  error {agent.error_message}")
