"""What a format reader returns, before normalisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Content", "Reader", "clean_field"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Content:
    """Raw text and metadata read from one file."""

    text: str
    title: str | None = None
    author: str | None = None
    pages: int | None = None


#: A reader takes the file's path (for error messages) and its bytes.
Reader = Callable[[Path, bytes], Content]


def clean_field(value: object) -> str | None:
    """Return a metadata value as a stripped one-line string, or ``None`` when blank."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None
