"""``nb streams`` and ``nb dlq``: what SREs look at and do on the bus."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from nats.js.api import ConsumerInfo

from neuralbridge.core import dlq
from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import read_endpoints, read_secrets
from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import (
    CommonSettings,
    NatsAuth,
    load_env,
    load_settings,
    nats_auth,
)

__all__ = [
    "dlq_list",
    "dlq_purge",
    "dlq_replay",
    "dlq_show",
    "nats_target",
    "nats_url",
    "streams",
    "with_bus",
]


def nats_target() -> tuple[str, NatsAuth]:
    """Where to connect and with which credentials.

    ``NATS_URL`` with ``NATS_USER``/``NATS_PASSWORD``, ``NATS_TOKEN`` or
    ``NATS_CREDS_FILE``; else the running ``nb up`` in ``NB_DATA_DIR`` with the
    credentials it generated there.

    Raises:
        ConfigError: neither is there.
    """
    common = load_settings(CommonSettings, load_env())
    if common.nats_url:
        return common.nats_url, nats_auth(common)
    data_dir = Path(common.nb_data_dir).resolve()
    running = read_endpoints(data_dir)
    if running and "NATS_URL" in running:
        secrets = read_secrets(data_dir)
        if secrets is None:
            return running["NATS_URL"], NatsAuth()
        return running["NATS_URL"], NatsAuth(user=secrets.nats_user, password=secrets.nats_password)
    raise ConfigError(
        "configuration error: NATS_URL is not set and no embedded stack is running "
        "(start one with `make up`, or set NATS_URL)"
    )


def nats_url() -> str:
    """``NATS_URL``, else the URL of a running ``nb up`` in ``NB_DATA_DIR``."""
    return nats_target()[0]


async def with_bus(action: Callable[[Bus], Awaitable[int]]) -> int:
    """Connect (see :func:`nats_target`), run ``action``, close."""
    url, auth = nats_target()
    bus = await Bus.connect(url, name="neuralbridge-cli", connect_within=5, auth=auth)
    try:
        return await action(bus)
    finally:
        await bus.close()


def _emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


async def streams(bus: Bus, *, as_json: bool) -> int:
    """Per work stream and consumer: messages, pending, ack-pending, redelivered, DLQ depth."""
    infos = await bus.js.streams_info()
    depth = {i.config.name: i.state.messages for i in infos}
    rows: list[dict[str, Any]] = []
    for info in sorted(infos, key=lambda i: i.config.name or ""):
        name = info.config.name or ""
        if name.startswith(("DLQ_", "KV_", "OBJ_")):
            continue
        consumers: list[ConsumerInfo | None] = [*await bus.js.consumers_info(name)] or [None]
        rows.extend(
            {
                "stream": name,
                "messages": info.state.messages,
                "consumer": c.name if c else "-",
                "pending": c.num_pending if c else "-",
                "ack_pending": c.num_ack_pending if c else "-",
                "redelivered": c.num_redelivered if c else "-",
                "dlq_depth": depth.get(f"DLQ_{name}", "-"),
            }
            for c in consumers
        )
    _emit(rows, ["stream", "messages", "consumer", "pending", "ack_pending", "redelivered",
                 "dlq_depth"], as_json)  # fmt: skip
    return 0


async def dlq_list(bus: Bus, stream: str | None, *, as_json: bool) -> int:
    """Without a stream: every DLQ with its depth. With one: its messages."""
    if stream is None:
        rows = [{"dlq": n, "messages": c} for n, c in await dlq.list_dlq_streams(bus.js)]
        _emit(rows, ["dlq", "messages"], as_json)
        return 0
    rows = [_letter_row(letter, full=as_json) async for letter in dlq.entries(bus.js, stream)]
    _emit(rows, ["seq", "failed_at", "subject", "deliveries", "error_class", "error"], as_json)
    return 0


def _letter_row(letter: dlq.DeadLetter, *, full: bool) -> dict[str, Any]:
    h = letter.headers
    error = h.get(dlq.H_ERROR, "")
    return {
        "seq": letter.seq,
        "failed_at": h.get(dlq.H_FAILED_AT, ""),
        "subject": h.get(dlq.H_SUBJECT, ""),
        "deliveries": h.get(dlq.H_DELIVERIES, ""),
        "error_class": h.get(dlq.H_ERROR_CLASS, ""),
        "error": error if full else error[:70],
    }


async def dlq_show(bus: Bus, stream: str, seq: int, *, as_json: bool) -> int:
    """One DLQ message: every header and the body."""
    letter = await dlq.get_entry(bus.js, stream, seq)
    body = letter.body.decode("utf-8", errors="backslashreplace")
    if as_json:
        print(json.dumps({"seq": letter.seq, "stored_at": letter.stored_at,
                          "headers": letter.headers, "body": body}, indent=2))  # fmt: skip
        return 0
    print(f"{stream} #{letter.seq}  stored {letter.stored_at}")
    for key in sorted(letter.headers):
        print(f"  {key}: {letter.headers[key]}")
    print("body:")
    print(body)
    return 0


def parse_selection(seqs: list[str], all_: bool) -> tuple[list[int], tuple[int, int] | None]:
    """``["3", "7-9"]`` → explicit seqs and one optional range."""
    explicit: list[int] = []
    span: tuple[int, int] | None = None
    for item in seqs:
        if "-" in item:
            first, last = (int(x) for x in item.split("-", 1))
            span = (first, last)
        else:
            explicit.append(int(item))
    if all_:
        span = (1, 2**63)
    return explicit, span


async def dlq_replay(
    bus: Bus, stream: str, seqs: list[str], *, all_: bool, keep: bool, as_json: bool,
    credential: str | None = None,
) -> int:  # fmt: skip
    """Re-publish DLQ bodies to their original subjects (fresh message ids).

    ``credential`` names the environment variable whose value goes back into a
    copy whose key was masked (``X-Dlq-Redacted``); it is never printed.
    """
    explicit, span = parse_selection(seqs, all_)
    if span is not None:
        explicit += [e.seq async for e in dlq.entries(bus.js, stream, start=span[0], end=span[1])]
    if not explicit:
        print("nothing to replay: give sequence numbers, a range A-B, or --all", file=sys.stderr)
        return 2
    secret = None
    if credential is not None:
        secret = load_env().get(credential, "").strip()
        if not secret:
            print(
                f"--credential {credential}: that environment variable is not set", file=sys.stderr
            )
            return 2
    try:
        done = await dlq.replay(bus.js, stream, sorted(set(explicit)), keep=keep, secret=secret)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    rows = [{"seq": s, "replayed_to": subj} for s, subj in done]
    _emit(rows, ["seq", "replayed_to"], as_json)
    return 0


async def dlq_purge(bus: Bus, stream: str, *, yes: bool, as_json: bool) -> int:
    """Empty a DLQ stream after confirmation."""
    if not yes:
        if not sys.stdin.isatty():
            print(f"refusing to purge {stream} without --yes (no terminal to confirm)",
                  file=sys.stderr)  # fmt: skip
            return 2
        prompt = f"Purge every message of {stream}? Type the stream name to confirm: "
        answer = await asyncio.to_thread(input, prompt)
        if answer.strip() != stream:
            print("not purged", file=sys.stderr)
            return 1
    count = await dlq.purge(bus.js, stream)
    _emit([{"dlq": stream, "purged": count}], ["dlq", "purged"], as_json)
    return 0
