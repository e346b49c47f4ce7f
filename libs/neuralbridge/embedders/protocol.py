"""The one interface every embedder client implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

__all__ = ["EmbedKind", "Embedder"]

EmbedKind = Literal["document", "query"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors with one model at one provider.

    Attributes:
        provider: The provider name (``openai``, ``cohere``, ...), also the metrics label.
        model: The model name.
        max_batch: The most inputs one API request carries.
    """

    provider: str
    model: str
    max_batch: int

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> list[list[float]]:
        """Return one vector per text, in input order.

        Args:
            texts: The inputs; split into as many API requests as the provider's
                limits require.
            kind: ``document`` for stored chunks, ``query`` for search queries;
                mapped onto the provider's own field where it has one.

        Raises:
            EmbedderError: the provider refused the request (permanent).
            EmbedderResponseError: the provider answered with a malformed body.
            EmbedderUnavailable: the provider stayed unavailable through every retry.
        """
        ...

    async def aclose(self) -> None:
        """Release what the embedder owns (the injected HTTP session is not its own)."""
        ...
