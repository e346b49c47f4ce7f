"""``nb learning examples list|approve|reject``: the examples prompt optimization learns from.

An agent execution rated >= 4 becomes a ``pending`` learning example; only
``approved`` ones feed ``prompt_optimization`` (the trainer owns them; the CLI
only asks, over ``trainer.query.learning_examples`` and
``trainer.command.review_example``)::

    nb learning examples list --status pending
    nb learning examples approve <example id> [<example id> ...]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import msgspec

from neuralbridge.clients import ClientError
from neuralbridge.clients.jobs import ask_trainer
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import Message
from neuralbridge.core.subjects import (
    TRAINER_LEARNING_EXAMPLES_SUBJECT,
    TRAINER_REVIEW_EXAMPLE_SUBJECT,
)
from neuralbridge.messages.agent_learning import (
    EXAMPLE_STATUSES,
    LearningExample,
    LearningExampleList,
    LearningExampleQuery,
    LearningExampleReply,
    LearningExampleReview,
)

__all__ = ["add_learning_commands", "examples_list", "examples_review", "run_learning"]

R = TypeVar("R", bound=Message)


async def examples_list(
    bus: Bus, *, agent_id: str | None, status: str | None, limit: int, as_json: bool
) -> int:
    """Print learning examples, newest first."""
    try:
        query = msgspec.convert(
            {"agent_id": agent_id, "status": status, "limit": limit}, LearningExampleQuery
        )
    except msgspec.ValidationError as exc:
        print(f"invalid arguments: {exc}", file=sys.stderr)
        return 2
    listing = await _ask(bus, TRAINER_LEARNING_EXAMPLES_SUBJECT, query, LearningExampleList)
    if listing is None:
        return 1
    if listing.error is not None:
        print(f"refused: {listing.error}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(msgspec.to_builtins(listing.examples), indent=2))
        return 0
    if not listing.examples:
        print("no learning examples")
    for example in listing.examples:
        print(_line(example))
    return 0


async def examples_review(
    bus: Bus, example_ids: Sequence[str], decision: Literal["approved", "rejected"]
) -> int:
    """Approve or reject each example; exit 1 when any was refused."""
    code = 0
    for example_id in example_ids:
        try:
            review = msgspec.convert({"id": example_id, "decision": decision},
                                     LearningExampleReview)  # fmt: skip
        except msgspec.ValidationError:
            print(f"refused: {example_id!r} is not an example id (a UUID)", file=sys.stderr)
            code = 1
            continue
        reply = await _ask(bus, TRAINER_REVIEW_EXAMPLE_SUBJECT, review, LearningExampleReply)
        if reply is None:
            return 1
        if reply.error is not None or reply.example is None:
            print(f"refused: {reply.error}", file=sys.stderr)
            code = 1
            continue
        print(_line(reply.example))
    return code


def _line(e: LearningExample) -> str:
    quality = "-" if e.quality_score is None else f"{e.quality_score:.2f}"
    text = " ".join(e.input.split())
    shown = text if len(text) <= 60 else text[:57] + "..."
    return f"{e.id}  agent={e.agent_id}  {e.status:8}  quality={quality}  {shown}"


async def _ask(bus: Bus, subject: str, body: Message, reply_type: type[R]) -> R | None:
    try:
        return await ask_trainer(bus, subject, body, reply_type)
    except ClientError as exc:
        print(str(exc), file=sys.stderr)
        return None


def add_learning_commands(sub: Any) -> None:
    """The ``nb learning`` sub-commands."""
    learning = sub.add_parser("learning", help="learning examples of agents (prompt optimization)")
    lsub = learning.add_subparsers(dest="learning_command", required=True)
    examples = lsub.add_parser("examples", help="list, approve or reject learning examples")
    esub = examples.add_subparsers(dest="examples_command", required=True)
    elist = esub.add_parser("list", help="learning examples, newest first")
    elist.add_argument("--agent", dest="agent_id", help="only this agent's (its id)")
    elist.add_argument("--status", choices=EXAMPLE_STATUSES)
    elist.add_argument("--limit", type=int, default=50, help="at most this many (1-1000)")
    elist.add_argument("--json", action="store_true")
    for verb in ("approve", "reject"):
        review = esub.add_parser(verb, help=f"{verb} examples (by id)")
        review.add_argument("example_ids", nargs="+", metavar="example_id")


async def run_learning(bus: Bus, args: Any) -> int:
    """Dispatch ``nb learning examples`` to its command."""
    if args.examples_command == "list":
        return await examples_list(bus, agent_id=args.agent_id, status=args.status,
                                   limit=args.limit, as_json=args.json)  # fmt: skip
    decision: Literal["approved", "rejected"] = (
        "approved" if args.examples_command == "approve" else "rejected"
    )
    return await examples_review(bus, args.example_ids, decision)
