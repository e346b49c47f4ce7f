"""Chunks as CSV rows: the training-data file handed to the trainer.

Columns, in order: ``document_id, document_type, filename, chunk_index, text``
(what the training pipeline asks for) then ``title, author, char_start,
char_end``. The dialect is RFC 4180 as written by the :mod:`csv` module (comma,
``"`` quoting only where needed, CRLF row ends), UTF-8 without a byte-order
mark, one header row; a missing title or author is an empty field.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from neuralbridge.documents.chunking import Chunk
from neuralbridge.documents.document import ExtractedDocument

__all__ = ["CHUNK_CSV_COLUMNS", "ChunkRow", "chunk_rows", "chunks_csv_bytes", "write_chunks_csv"]

#: The CSV header, in column order.
CHUNK_CSV_COLUMNS = (
    "document_id",
    "document_type",
    "filename",
    "chunk_index",
    "text",
    "title",
    "author",
    "char_start",
    "char_end",
)


class ChunkRow(msgspec.Struct, frozen=True, kw_only=True):
    """One CSV row: a chunk and the document it came from.

    Attributes:
        document_id: The caller's id for the document (for example its upload id).
        document_type: The caller's category for it (for example ``"reference"``),
            or the file format when the caller has none.
        filename: The document's file name.
        chunk_index: The chunk's position in its document, from 0.
        text: The chunk's text.
        title: The document's title, if known.
        author: The document's author, if known.
        char_start: Offset of the chunk in the document's extracted text.
        char_end: Offset just past its end.
    """

    document_id: str
    document_type: str
    filename: str
    chunk_index: int
    text: str
    title: str | None = None
    author: str | None = None
    char_start: int
    char_end: int


def chunk_rows(
    document: ExtractedDocument,
    chunks: Iterable[Chunk],
    *,
    document_id: str,
    document_type: str | None = None,
) -> Iterator[ChunkRow]:
    """Pair each chunk of ``document`` with the document's identity and metadata.

    Args:
        document: The extracted document the chunks were cut from.
        chunks: Its chunks, from :func:`chunk_text`.
        document_id: The caller's id for the document.
        document_type: The caller's category; defaults to the document's format.

    Yields:
        One :class:`ChunkRow` per chunk.
    """
    for chunk in chunks:
        yield ChunkRow(
            document_id=document_id,
            document_type=document_type or document.format,
            filename=document.source_file,
            chunk_index=chunk.index,
            text=chunk.text,
            title=document.title,
            author=document.author,
            char_start=chunk.start,
            char_end=chunk.end,
        )


def write_chunks_csv(rows: Iterable[ChunkRow], path: Path) -> int:
    """Stream rows into a CSV file, replacing it atomically when done.

    Rows are written one at a time to a temporary file beside ``path``, which
    is renamed over ``path`` only after the last row, so readers never see a
    half-written file and a failure leaves any previous file untouched.

    Args:
        rows: The rows, consumed lazily.
        path: Where to write the CSV.

    Returns:
        The number of data rows written (the header not counted).
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            count = _write_rows(stream, rows)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return count


def chunks_csv_bytes(rows: Iterable[ChunkRow]) -> bytes:
    """Return the CSV (header and rows) as UTF-8 bytes, for small outputs.

    Args:
        rows: The rows to encode.

    Returns:
        The whole CSV file's bytes.
    """
    buffer = io.StringIO(newline="")
    _write_rows(buffer, rows)
    return buffer.getvalue().encode("utf-8")


def _write_rows(stream: Any, rows: Iterable[ChunkRow]) -> int:
    writer = csv.writer(stream, dialect="excel", lineterminator="\r\n")
    writer.writerow(CHUNK_CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(
            (
                row.document_id,
                row.document_type,
                row.filename,
                row.chunk_index,
                row.text,
                row.title or "",
                row.author or "",
                row.char_start,
                row.char_end,
            )
        )
        count += 1
    return count
