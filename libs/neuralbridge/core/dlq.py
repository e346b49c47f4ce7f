"""Dead-letter copies, and the operations SREs run on DLQ streams.

A DLQ copy's body is the original payload byte for byte; its headers say where
it came from and why it failed (``X-Dlq-*``), and carry the trace context. Its
``Nats-Msg-Id`` is ``<stream>:<seq>`` so that the same job is dead-lettered
once even when two paths (the runner, a max-deliveries advisory) race.
Re-publishing the body to ``X-Dlq-Original-Subject`` replays the job; that is
what :func:`replay` does, with a fresh message id so dedup does not drop it.
The one exception to "byte for byte": a work stream whose jobs may carry a
secret passes a :data:`Redactor`, and :func:`dead_letter_body` stores the copy
with the secret masked and ``X-Dlq-Redacted`` naming the masked field;
:func:`replay` puts a secret the operator supplies back into that field.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from neuralbridge.core.observability.logs import scrub

__all__ = [
    "DLQ_HEADERS",
    "H_REDACTED",
    "DeadLetter",
    "Redactor",
    "dead_letter_body",
    "dead_letter_headers",
    "entries",
    "get_entry",
    "list_dlq_streams",
    "purge",
    "replay",
    "restore_secret",
]

H_SUBJECT = "X-Dlq-Original-Subject"
H_STREAM = "X-Dlq-Original-Stream"
H_SEQ = "X-Dlq-Original-Seq"
H_DELIVERIES = "X-Dlq-Deliveries"
H_CONSUMER = "X-Dlq-Consumer"
H_ERROR_CLASS = "X-Dlq-Error-Class"
H_ERROR = "X-Dlq-Error"
H_FAILED_AT = "X-Dlq-Failed-At"
H_REPLAYED_FROM = "X-Dlq-Replayed-From"
H_REDACTED = "X-Dlq-Redacted"

#: Masks secrets in a job body: ``body -> (masked body, masked field or None)``.
Redactor = Callable[[bytes], tuple[bytes, str | None]]

DLQ_HEADERS = (
    H_SUBJECT,
    H_STREAM,
    H_SEQ,
    H_DELIVERIES,
    H_CONSUMER,
    H_ERROR_CLASS,
    H_ERROR,
    H_FAILED_AT,
)
_TRACE_HEADERS = ("traceparent", "tracestate")
_MAX_ERROR = 1024


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One message of a DLQ stream, as shown by ``nb dlq``."""

    seq: int
    stored_at: str
    headers: dict[str, str]
    body: bytes

    @property
    def original_subject(self) -> str:
        """Where replaying sends the body."""
        return self.headers.get(H_SUBJECT, "")


def dead_letter_headers(
    *,
    subject: str,
    stream: str,
    seq: int,
    deliveries: int,
    consumer: str,
    error_class: str,
    error: str,
    original_headers: Mapping[str, str] | None,
) -> dict[str, str]:
    """The headers of a DLQ copy, secrets scrubbed and one line each."""
    headers = {
        H_SUBJECT: subject,
        H_STREAM: stream,
        H_SEQ: str(seq),
        H_DELIVERIES: str(deliveries),
        H_CONSUMER: consumer,
        H_ERROR_CLASS: error_class,
        H_ERROR: _one_line(scrub(error))[:_MAX_ERROR] or error_class,
        H_FAILED_AT: datetime.now(UTC).isoformat(timespec="milliseconds"),
        "Nats-Msg-Id": f"{stream}:{seq}",
    }
    for name in _TRACE_HEADERS:
        if original_headers and name in original_headers:
            headers[name] = original_headers[name]
    return headers


def dead_letter_body(data: bytes, headers: dict[str, str], redact: Redactor | None) -> bytes:
    """The body of a DLQ copy: the original, or with a secret masked by ``redact``.

    When ``redact`` masks something, ``headers`` gains ``X-Dlq-Redacted``
    naming the masked field (for example ``embedder.api_key``).
    """
    if redact is None:
        return data
    body, masked = redact(data)
    if masked is None:
        return data
    headers[H_REDACTED] = masked
    return body


def _one_line(text: str) -> str:
    # Header values cannot hold CR or LF; keep the message readable on one line.
    return " ".join(text.split())


async def list_dlq_streams(js: JetStreamContext) -> list[tuple[str, int]]:
    """Return ``(stream, messages)`` for every ``DLQ_*`` stream."""
    infos = await js.streams_info()
    return sorted(
        (i.config.name, i.state.messages)
        for i in infos
        if i.config.name and i.config.name.startswith("DLQ_")
    )


async def get_entry(js: JetStreamContext, stream: str, seq: int) -> DeadLetter:
    """Read one DLQ message by sequence.

    Raises:
        NotFoundError: no message with that sequence.
    """
    raw = await js.get_msg(stream, seq)
    return _to_dead_letter(raw)


async def entries(
    js: JetStreamContext, stream: str, *, start: int = 1, end: int | None = None
) -> AsyncIterator[DeadLetter]:
    """Yield the DLQ messages with ``start <= seq <= end`` in order."""
    info = await js.stream_info(stream)
    seq = max(start, info.state.first_seq)
    last = info.state.last_seq if end is None else min(end, info.state.last_seq)
    while seq <= last:
        try:
            raw = await js.get_msg(stream, seq, subject=">", next=True)
        except NotFoundError:
            return
        if raw.seq is None or raw.seq > last:
            return
        yield _to_dead_letter(raw)
        seq = raw.seq + 1


async def replay(
    js: JetStreamContext,
    stream: str,
    seqs: list[int],
    *,
    keep: bool = False,
    secret: str | None = None,
) -> list[tuple[int, str]]:
    """Re-publish each message's body to its original subject.

    Each replay gets a fresh ``Nats-Msg-Id``; the DLQ copy is deleted after the
    PubAck unless ``keep``. A copy whose secret was masked (``X-Dlq-Redacted``)
    gets ``secret`` back in that field (:func:`restore_secret`); without one, no
    message is replayed. Returns ``(seq, original subject)`` per replay.

    Raises:
        ValueError: a copy has no original subject, or had a secret masked and
            ``secret`` is ``None`` (checked for every copy before any is replayed).
    """
    letters = [await get_entry(js, stream, seq) for seq in seqs]
    for letter in letters:
        if not letter.original_subject:
            raise ValueError(f"{stream} #{letter.seq} has no {H_SUBJECT} header; cannot replay it")
        masked = letter.headers.get(H_REDACTED)
        if masked and secret is None:
            raise ValueError(
                f"{stream} #{letter.seq} had {masked} masked; replay it with a credential "
                "(nb dlq replay --credential VARIABLE) so the job has its key again"
            )
    done: list[tuple[int, str]] = []
    for letter in letters:
        masked = letter.headers.get(H_REDACTED)
        body = restore_secret(letter.body, masked, secret) if masked and secret else letter.body
        headers = {k: v for k, v in letter.headers.items() if k in _TRACE_HEADERS}
        headers[H_REPLAYED_FROM] = f"{stream}:{letter.seq}"
        headers["Nats-Msg-Id"] = f"replay:{stream}:{letter.seq}:{uuid.uuid4().hex}"
        await js.publish(letter.original_subject, body, headers=headers)
        if not keep:
            await js.delete_msg(stream, letter.seq)
        done.append((letter.seq, letter.original_subject))
    return done


def restore_secret(body: bytes, field: str, secret: str) -> bytes:
    """``body`` (a JSON object) with the dotted ``field`` set to ``secret`` again.

    Raises:
        ValueError: the body is not a JSON object holding that field's parent object.
    """
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise ValueError(f"the body is not JSON: {field} cannot be restored") from None
    *parents, name = field.split(".")
    target = document
    for part in parents:
        target = target.get(part) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        raise ValueError(f"the body has no {field} to restore")  # noqa: TRY004 - bad data, not a bad call
    target[name] = secret
    return msgspec.json.encode(document)


async def purge(js: JetStreamContext, stream: str) -> int:
    """Delete every message of a DLQ stream; return how many there were."""
    if not stream.startswith("DLQ_"):
        raise ValueError(f"{stream} is not a DLQ stream (names start with DLQ_)")
    info = await js.stream_info(stream)
    await js.purge_stream(stream)
    return int(info.state.messages)


def _to_dead_letter(raw: object) -> DeadLetter:
    headers = {str(k): str(v) for k, v in (getattr(raw, "headers", None) or {}).items()}
    stored = getattr(raw, "time", None)
    return DeadLetter(
        seq=int(getattr(raw, "seq", 0) or 0),
        stored_at=stored.isoformat() if stored else "",
        headers=headers,
        body=getattr(raw, "data", None) or b"",
    )
