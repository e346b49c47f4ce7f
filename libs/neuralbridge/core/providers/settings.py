"""The settings every provider client has, in one shape: a timeout, retries, a backoff base.

Client packages declare their own frozen settings structs (each reads its own
environment variables) with these field types, and the shared HTTP layer reads
them through :class:`CallSettings`::

    class EmbedderSettings(msgspec.Struct, frozen=True, kw_only=True):
        timeout: Seconds = msgspec.field(default=60.0, name="EMBEDDER_TIMEOUT")
        max_retries: Retries = msgspec.field(default=3, name="EMBEDDER_MAX_RETRIES")
"""

from __future__ import annotations

from typing import Annotated, Protocol

import msgspec

__all__ = ["CallSettings", "Milliseconds", "Retries", "Seconds"]

#: A positive duration in seconds (timeouts).
Seconds = Annotated[float, msgspec.Meta(gt=0)]
#: Retries after the first attempt (0: try once).
Retries = Annotated[int, msgspec.Meta(ge=0)]
#: A duration in milliseconds, possibly 0 (backoff bases).
Milliseconds = Annotated[int, msgspec.Meta(ge=0)]


class CallSettings(Protocol):
    """The settings fields the shared HTTP layer reads."""

    @property
    def timeout(self) -> float:
        """Seconds one HTTP call may take."""
        ...

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        ...

    @property
    def retry_delay_ms(self) -> int:
        """Backoff base when the server sends no hint."""
        ...
