"""Turn a file into an :class:`ExtractedDocument`: pick the reader, normalise, check."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import structlog

from neuralbridge.documents.document import DocumentFormat, ExtractedDocument
from neuralbridge.documents.errors import (
    DocumentError,
    EmptyDocumentError,
    UnsupportedFormatError,
)
from neuralbridge.documents.normalization import normalize_text
from neuralbridge.documents.readers import READERS, SUFFIXES

__all__ = ["detect_format", "extract", "extract_many"]

log = structlog.get_logger()


def detect_format(path: str | Path) -> DocumentFormat:
    """Return the format a file's suffix declares (case-insensitive).

    Raises:
        UnsupportedFormatError: the suffix is not one we read.
    """
    suffix = Path(path).suffix.lower()
    found = SUFFIXES.get(suffix)
    if found is None:
        supported = ", ".join(sorted(SUFFIXES))
        what = f"'{suffix}' files are" if suffix else "files without a suffix are"
        raise UnsupportedFormatError(path, f"{what} not supported; use one of {supported}")
    return found


def extract(path: str | Path) -> ExtractedDocument:
    """Read a document and return its normalised text and metadata.

    Args:
        path: A ``.txt``, ``.md``/``.markdown``, ``.html``/``.htm``, ``.pdf`` or
            ``.docx`` file (suffix case does not matter).

    Returns:
        The document; its ``text`` is never empty.

    Raises:
        UnsupportedFormatError: the suffix is not one we read.
        EncryptedDocumentError: a PDF that needs a password.
        CorruptDocumentError: a truncated, damaged or mislabelled file.
        EmptyDocumentError: the file holds no extractable text.
        DocumentError: the file cannot be read at all (missing, no permission).
    """
    path = Path(path)
    document_format = detect_format(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(path, f"the file cannot be read ({exc.strerror or exc})") from None
    content = READERS[document_format](path, data)
    text = normalize_text(content.text)
    if not text.strip():
        raise EmptyDocumentError(path, _empty_reason(document_format))
    document = ExtractedDocument(
        source_file=path.name,
        path=str(path),
        format=document_format,
        text=text,
        title=content.title,
        author=content.author,
        pages=content.pages,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    log.debug(
        "document_extracted",
        source_file=path.name,
        format=document_format,
        chars=len(text),
        pages=content.pages,
    )
    return document


def extract_many(paths: Iterable[str | Path]) -> Iterator[ExtractedDocument | DocumentError]:
    """Extract each file in turn, yielding the document or the error it raised.

    A bad file never stops the others: its :class:`DocumentError` is yielded
    (and logged) in its place, in input order.

    Args:
        paths: The files to read.

    Yields:
        An :class:`ExtractedDocument`, or the :class:`DocumentError` for that file.
    """
    for path in paths:
        try:
            yield extract(path)
        except DocumentError as exc:
            log.warning(
                "document_skipped",
                source_file=Path(path).name,
                error_class=exc.error_class,
                error=str(exc),
            )
            yield exc


def _empty_reason(document_format: DocumentFormat) -> str:
    if document_format == "pdf":
        return (
            "the PDF has no extractable text; it is probably a scanned image,"
            " so run OCR on it first or supply the text version"
        )
    return "the file contains no text"
