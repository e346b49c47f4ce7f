"""Error messages built from provider answers: the provider's own text, never a secret.

Providers put their error text in different JSON shapes (OpenAI
``{"error": {"message"}}``, Ollama/TEI ``{"error"}``, Cohere ``{"message"}``,
Jina/Voyage ``{"detail"}`` or FastAPI's ``{"detail": [{"msg"}]}``).
:func:`provider_error_message` finds it; :func:`redact` masks the API key and
anything the log scrubber recognises, and bounds the length.
"""

from __future__ import annotations

from typing import Any

import msgspec

from neuralbridge.core.observability.logs import scrub

__all__ = ["MAX_MESSAGE", "provider_error_message", "provider_text", "redact"]

#: The longest message an error carries (DLQ headers and log lines stay small).
MAX_MESSAGE = 500

_MASK = "********"
_MAX_RAW = 200


class _ErrorBody(msgspec.Struct):
    """Every error body shape we know, read leniently."""

    error: Any = None
    message: Any = None
    detail: Any = None


def redact(text: str, *, secret: str | None) -> str:
    """Mask ``secret`` and whatever the log scrubber recognises; cut to :data:`MAX_MESSAGE`.

    Args:
        text: The message to clean.
        secret: The API key in use, masked literally even when it has no known shape.
    """
    if secret:
        text = text.replace(secret, _MASK)
    return scrub(text)[:MAX_MESSAGE]


def provider_text(body: bytes) -> str:
    """Extract the provider's own error text from its (JSON) error body.

    Args:
        body: The raw answer body.

    Returns:
        The provider's message, or the start of the raw body when no known
        shape holds one (``(empty body)`` for nothing at all).
    """
    try:
        decoded = msgspec.json.decode(body, type=_ErrorBody)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return body.decode("utf-8", "replace").strip()[:_MAX_RAW] or "(empty body)"
    error = decoded.error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    for candidate in (error, decoded.message, decoded.detail):
        if isinstance(candidate, str):
            return candidate
    if isinstance(decoded.detail, list):
        return "; ".join(
            str(item.get("msg", item) if isinstance(item, dict) else item)
            for item in decoded.detail
        )
    return body.decode("utf-8", "replace").strip()[:_MAX_RAW]


def provider_error_message(provider: str, status: int, body: bytes, *, secret: str | None) -> str:
    """Return ``"<provider>: HTTP <status>: <provider's text>"``, redacted.

    Args:
        provider: The provider name that starts the message.
        status: The HTTP status of the answer.
        body: The raw answer body.
        secret: The API key in use (masked if the provider echoed it).
    """
    return redact(f"{provider}: HTTP {status}: {provider_text(body)}", secret=secret)
