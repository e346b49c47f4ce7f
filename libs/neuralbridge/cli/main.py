"""Entry point of ``nb`` / ``neuralbridge``: parse arguments, dispatch, map errors to exit codes.

Exit codes: 0 success, 1 failure, 2 bad usage or configuration (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from nats.js.errors import NotFoundError

from neuralbridge.cli import admin
from neuralbridge.cli.registry import SERVICE_NAMES
from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import NeuralBridgeError
from neuralbridge.core.observability import configure_logging

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="nb", description="NeuralBridge command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run the whole system on its embedded default, in one process")
    serve = sub.add_parser("serve", help="run one service against configured servers")
    serve.add_argument("service", choices=SERVICE_NAMES)
    streams = sub.add_parser("streams", help="messages, pending, ack-pending, redelivered, DLQ")
    streams.add_argument("--json", action="store_true", help="machine-readable output")

    dlq = sub.add_parser("dlq", help="inspect, replay and purge dead-letter streams")
    dsub = dlq.add_subparsers(dest="dlq_command", required=True)
    d_list = dsub.add_parser("list", help="DLQ streams, or the messages of one")
    d_list.add_argument("stream", nargs="?")
    d_show = dsub.add_parser("show", help="headers and body of one DLQ message")
    d_show.add_argument("stream")
    d_show.add_argument("seq", type=int)
    d_replay = dsub.add_parser("replay", help="re-publish to the original subject")
    d_replay.add_argument("stream")
    d_replay.add_argument("seqs", nargs="*", help="sequence numbers and/or one range A-B")
    d_replay.add_argument("--all", action="store_true", help="replay every message")
    d_replay.add_argument("--keep", action="store_true", help="keep the DLQ copies")
    d_purge = dsub.add_parser("purge", help="delete every message of a DLQ stream")
    d_purge.add_argument("stream")
    d_purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for p in (d_list, d_show, d_replay, d_purge):
        p.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    from neuralbridge.cli import stack

    if args.command == "up":
        return stack.run_up()
    if args.command == "serve":
        return stack.run_serve(args.service)
    configure_logging(level="warning", fmt="console")
    if args.command == "streams":
        return asyncio.run(admin.with_bus(lambda bus: admin.streams(bus, as_json=args.json)))
    return asyncio.run(admin.with_bus(lambda bus: _dlq(bus, args)))


async def _dlq(bus: Bus, args: argparse.Namespace) -> int:
    match args.dlq_command:
        case "list":
            return await admin.dlq_list(bus, args.stream, as_json=args.json)
        case "show":
            return await admin.dlq_show(bus, args.stream, args.seq, as_json=args.json)
        case "replay":
            return await admin.dlq_replay(
                bus, args.stream, args.seqs, all_=args.all, keep=args.keep, as_json=args.json
            )
        case _:
            return await admin.dlq_purge(bus, args.stream, yes=args.yes, as_json=args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except NeuralBridgeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except NotFoundError:
        print("not found: no such stream or message", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
