"""The extracted document: the text of one file plus what we know about it."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["DocumentFormat", "ExtractedDocument"]

DocumentFormat = Literal["txt", "md", "html", "pdf", "docx"]


class ExtractedDocument(msgspec.Struct, frozen=True, kw_only=True):
    """The normalised text of one file and its metadata.

    Attributes:
        source_file: The file's name (no directories), as in the ingest payload.
        path: The path the document was read from, as given.
        format: Which reader produced it.
        text: Unicode NFC text with ``\\n`` line ends, no trailing spaces and at
            most one blank line in a row; never empty.
        title: The document's own title (metadata, front matter, ``<title>``,
            first heading), or ``None``.
        author: The author from the document's metadata, or ``None``.
        pages: The page count for PDFs; ``None`` for other formats.
        sha256: Hex SHA-256 of the file's bytes, for de-duplication.
    """

    source_file: str
    path: str
    format: DocumentFormat
    text: str
    title: str | None
    author: str | None
    pages: int | None
    sha256: str
