"""``nb ab create|list|stop``: A/B experiments (the trainer owns them; the CLI only asks).

A variant is ``NAME[:key=value,...]`` with keys ``weight``, ``provider``,
``model``, ``temperature`` (provider experiments), ``prompt_version`` and
``instructions_file`` (prompt experiments: the file's text replaces the
built-in answer instructions). The first ``--variant`` is the control::

    nb ab create --name cheaper-model --kind provider \\
        --variant control --variant mini:provider=openai,model=gpt-4o-mini
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from neuralbridge.clients import ClientError
from neuralbridge.clients.jobs import ask_trainer
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import Message
from neuralbridge.core.subjects import TRAINER_AB_SUBJECT
from neuralbridge.messages.experiments import (
    Experiment,
    ExperimentList,
    ExperimentReply,
    ExperimentSpec,
    StopExperiment,
    Variant,
)
from neuralbridge.messages.trainer_queries import ListExperiments

__all__ = ["ab_create", "ab_list", "ab_stop", "add_ab_commands", "parse_variant", "run_ab"]

R = TypeVar("R", bound=Message)

_KEYS = frozenset({"weight", "provider", "model", "temperature", "prompt_version"})


def parse_variant(text: str) -> Variant:
    """``NAME[:key=value,...]`` → :class:`Variant`.

    Raises:
        ValueError: an unknown key, a pair without ``=``, or an unreadable file.
        msgspec.ValidationError: a value of the wrong type or range.
    """
    name, _, options = text.partition(":")
    fields: dict[str, Any] = {"name": name}
    for pair in filter(None, options.split(",")):
        key, eq, value = pair.partition("=")
        if not eq:
            raise ValueError(f"expected key=value, got {pair!r}")
        if key == "instructions_file":
            fields["instructions"] = Path(value).read_text(encoding="utf-8").strip()
        elif key in _KEYS:
            fields[key] = value
        else:
            raise ValueError(f"unknown key {key!r} (use {sorted(_KEYS | {'instructions_file'})})")
    return msgspec.convert(fields, Variant, strict=False)


async def ab_create(bus: Bus, *, name: str, kind: str, variants: Sequence[str]) -> int:
    """Start an experiment; print its id."""
    try:
        parsed = [parse_variant(v) for v in variants]
        spec = msgspec.convert({"name": name, "kind": kind, "variants": parsed}, ExperimentSpec)
    except (ValueError, OSError, msgspec.ValidationError) as exc:
        print(f"invalid experiment: {exc}", file=sys.stderr)
        return 2
    reply = await _ask(bus, "create", spec, ExperimentReply)
    if reply is None:
        return 1
    return _print_reply(reply)


async def ab_stop(bus: Bus, experiment_id: str, *, reason: str) -> int:
    """Stop a running experiment without a winner."""
    request = StopExperiment(id=experiment_id, reason=reason)
    reply = await _ask(bus, "stop", request, ExperimentReply)
    if reply is None:
        return 1
    return _print_reply(reply)


async def ab_list(bus: Bus, *, as_json: bool) -> int:
    """Every experiment, newest first: status, winner, running p-value, reason."""
    listing = await _ask(bus, "list", ListExperiments(), ExperimentList)
    if listing is None:
        return 1
    if as_json:
        print(json.dumps(msgspec.to_builtins(listing.experiments), indent=2))
        return 0
    if not listing.experiments:
        print("no experiments")
    for e in listing.experiments:
        print(_line(e))
    return 0


def _line(e: Experiment) -> str:
    variants = ", ".join(f"{v.name}({v.weight:g})" for v in e.variants)
    winner = f" winner={e.winner}" if e.winner else ""
    return (f"{e.id}  {e.name:24} {e.kind:8} {e.status:9}{winner}  p={e.always_valid_p:.4g}"
            f"  [{variants}]  {e.reason or ''}")  # fmt: skip


def _print_reply(reply: ExperimentReply) -> int:
    if reply.error is not None or reply.experiment is None:
        print(f"refused: {reply.error}", file=sys.stderr)
        return 1
    print(_line(reply.experiment))
    return 0


async def _ask(bus: Bus, action: str, body: Message, reply_type: type[R]) -> R | None:
    try:
        return await ask_trainer(bus, f"{TRAINER_AB_SUBJECT}.{action}", body, reply_type)
    except ClientError as exc:
        print(str(exc), file=sys.stderr)
        return None


def add_ab_commands(sub: Any) -> None:
    """The ``nb ab`` sub-commands."""
    ab = sub.add_parser("ab", help="A/B experiments over prompts or providers")
    asub = ab.add_subparsers(dest="ab_command", required=True)
    create = asub.add_parser("create", help="start an experiment (one runs at a time)")
    create.add_argument("--name", required=True)
    create.add_argument("--kind", required=True, choices=("prompt", "provider"))
    create.add_argument("--variant", action="append", required=True, dest="variants",
                        metavar="NAME[:key=value,...]",
                        help="twice: the control first (keys: weight, provider, model, "
                        "temperature, prompt_version, instructions_file)")  # fmt: skip
    alist = asub.add_parser("list", help="experiments: status, winner, p-value, reason")
    alist.add_argument("--json", action="store_true")
    stop = asub.add_parser("stop", help="stop a running experiment without a winner")
    stop.add_argument("experiment_id")
    stop.add_argument("--reason", default="stopped from the command line")


async def run_ab(bus: Bus, args: Any) -> int:
    """Dispatch ``nb ab`` to its command."""
    if args.ab_command == "create":
        return await ab_create(bus, name=args.name, kind=args.kind, variants=args.variants)
    if args.ab_command == "stop":
        return await ab_stop(bus, args.experiment_id, reason=args.reason)
    return await ab_list(bus, as_json=args.json)
