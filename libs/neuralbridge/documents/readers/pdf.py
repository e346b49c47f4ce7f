"""PDF files, read with pypdf (pure Python, BSD licence).

Every page's text is joined with a blank line; ``/Title`` and ``/Author`` come
from the document information dictionary. A PDF that the empty password opens
(the common "owner password only" case) is read normally; one that needs a user
password raises :class:`EncryptedDocumentError`.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pypdf
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from neuralbridge.documents.errors import CorruptDocumentError, EncryptedDocumentError
from neuralbridge.documents.readers.content import Content, clean_field

__all__ = ["read_pdf"]

# pypdf reports damage through its own errors, but broken object graphs also
# surface as plain Python errors from deep inside its parser.
_DAMAGE = (
    PyPdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
    zlib.error,
    struct.error,
)
_ENCRYPTED = "the PDF is encrypted; decrypt it or supply it unprotected"


def read_pdf(path: Path, data: bytes) -> Content:
    """Text of every page, page count, title and author of a PDF.

    Raises:
        EncryptedDocumentError: the PDF needs a password.
        CorruptDocumentError: the file is not a PDF, is truncated or damaged.
    """
    if b"%PDF-" not in data[:1024]:
        raise CorruptDocumentError(path, "this is not a PDF file (no %PDF header)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        _unlock(path, reader)
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
    except (FileNotDecryptedError, DependencyError):
        raise EncryptedDocumentError(path, _ENCRYPTED) from None
    except _DAMAGE as exc:
        raise CorruptDocumentError(
            path, f"the PDF is damaged or truncated and cannot be read ({_describe(exc)})"
        ) from None
    return Content(
        text="\n\n".join(page.strip("\n") for page in pages),
        title=clean_field(metadata.title) if metadata else None,
        author=clean_field(metadata.author) if metadata else None,
        pages=len(pages),
    )


def _unlock(path: Path, reader: pypdf.PdfReader) -> None:
    """Open an encrypted PDF with the empty password, as viewers do."""
    if reader.is_encrypted and not reader.decrypt(""):
        raise EncryptedDocumentError(path, _ENCRYPTED)


def _describe(exc: BaseException) -> str:
    detail = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
