"""The provider's own error text, from every known body shape, with secrets masked."""

from __future__ import annotations

import pytest

from neuralbridge.core.providers.messages import (
    MAX_MESSAGE,
    provider_error_message,
    provider_text,
    redact,
)

KEY = "nbtest-9f2c4e7a1b3d5f60"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"error": {"message": "bad model", "type": "invalid_request_error"}}', "bad model"),
        (b'{"error": "model not found"}', "model not found"),
        (b'{"id": "x", "message": "invalid api token"}', "invalid api token"),
        (b'{"detail": "Invalid API key"}', "Invalid API key"),
        (
            b'{"detail": [{"msg": "field required"}, {"msg": "too long"}]}',
            "field required; too long",
        ),
        (b"upstream timed out", "upstream timed out"),
        (b"", "(empty body)"),
    ],
    ids=["openai", "ollama-tei", "cohere", "jina-voyage", "fastapi", "plain", "empty"],
)
def test_provider_text_known_shapes_return_the_provider_message(body: bytes, text: str) -> None:
    """Each provider's error shape yields its own message."""
    assert provider_text(body) == text


def test_provider_text_unknown_json_returns_the_raw_start() -> None:
    """JSON without a known message field is shown raw, bounded."""
    assert provider_text(b'{"oops": 1}') == '{"oops": 1}'


def test_provider_error_message_names_provider_and_status() -> None:
    """The message reads provider, HTTP status, then the provider's text."""
    message = provider_error_message("cohere", 400, b'{"message": "bad input"}', secret=None)

    assert message == "cohere: HTTP 400: bad input"


def test_provider_error_message_echoed_key_is_masked() -> None:
    """A provider that echoes the key back never gets it into our message."""
    body = f'{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}'.encode()

    message = provider_error_message("openai", 401, body, secret=KEY)

    assert KEY not in message
    assert "HTTP 401" in message


def test_redact_bearer_header_is_scrubbed_without_a_known_secret() -> None:
    """The log scrubber's patterns apply too (an Authorization header in an echo)."""
    assert "abc.def.ghi" not in redact("Authorization: Bearer abc.def.ghi", secret=None)


def test_redact_long_text_is_bounded() -> None:
    """Messages stay short enough for DLQ headers."""
    assert len(redact("x" * 5000, secret=None)) == MAX_MESSAGE
