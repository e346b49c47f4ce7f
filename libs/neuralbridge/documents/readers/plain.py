"""Plain-text files (``.txt``)."""

from __future__ import annotations

from pathlib import Path

from neuralbridge.documents.readers.content import Content
from neuralbridge.documents.readers.encoding import decode_text

__all__ = ["read_plain"]


def read_plain(path: Path, data: bytes) -> Content:
    """Decode a text file; plain text has no title or author."""
    del path
    return Content(text=decode_text(data))
